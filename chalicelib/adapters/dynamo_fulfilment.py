"""The fulfilment side's small items in the orders table, beside the orders themselves.

- ``EVENT#<event_id>``: a warehouse event was applied (written in the event's transaction with
  ``attribute_not_exists``, kept 14 days).
- the outbox: orders whose fulfilment requests may be unsent carry ``obpk`` / ``obsk``
  (``OUTBOX#<shard>`` / ``<created_at>#<order_id>``), the keys of the sparse ``outbox`` index
  (set with the order, removed with the dispatch marks; ``dynamo_order_writes``). Items
  ``OUTBOX#<shard>`` / ``<created_at>#<order_id>`` are marks of the earlier layout: swept too,
  and deleted once their order is dispatched.
- ``TRACK#<tracking_number>`` / ``ORDER#<order_id>``: customer service finds orders by the
  carrier's tracking number.
- ``PICKUP`` / ``<pickup_until>#<order_id>#<shipment_id>``: a click & collect shipment waits at
  a store; the expiry schedule reads the due ones, oldest first.

They are written with the order (``chalicelib.domain.order.writes``, translated by
``dynamo_order_writes``); this adapter reads them.
"""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.conditions import Key

from chalicelib.adapters.dynamo_order_writes import (
    OUTBOX_INDEX,
    OUTBOX_SHARDS,
    PICKUP_PK,
    event_key,
    pickup_key,
)
from chalicelib.domain.order.model import Order, OrderShipment


class DynamoFulfilmentLog:
    def __init__(self, table: Any) -> None:
        self._table = table

    # --- applied events ----------------------------------------------------------------------

    def applied(self, event_id: str) -> bool:
        return "Item" in self._table.get_item(Key=event_key(event_id), ConsistentRead=True)

    # --- the outbox --------------------------------------------------------------------------

    def outbox_due(self, before: str, *, limit: int = 100) -> list[tuple[str, dict[str, str]]]:
        """``(order_id, mark key)`` of orders marked in the outbox that were created before
        ``before`` (ISO 8601), oldest first per shard. The index is eventually consistent:
        a mark of the last instant shows on a later sweep (the sweeper waits a minute)."""
        due: list[tuple[str, dict[str, str]]] = []
        for shard in range(OUTBOX_SHARDS):
            resp = self._table.query(
                IndexName=OUTBOX_INDEX,
                KeyConditionExpression=Key("obpk").eq(f"OUTBOX#{shard}") & Key("obsk").lt(before),
                Limit=limit,
            )
            due += [(item["obsk"].rsplit("#", 1)[1], _key(item)) for item in resp["Items"]]
            legacy = self._table.query(
                KeyConditionExpression=Key("pk").eq(f"OUTBOX#{shard}") & Key("sk").lt(before),
                Limit=limit,
                ConsistentRead=True,
            )
            due += [(item["sk"].rsplit("#", 1)[1], _key(item)) for item in legacy["Items"]]
        return due

    def drop_mark(self, key: dict[str, str]) -> None:
        """The mark's own item goes (the earlier layout's; a mark on the order item goes with
        the dispatch's update): its order was dispatched, or does not exist."""
        if key["pk"].startswith("OUTBOX#"):
            self._table.delete_item(Key=key)

    # --- tracking numbers --------------------------------------------------------------------

    def order_ids(self, tracking_number: str) -> list[str]:
        resp = self._table.query(
            KeyConditionExpression=Key("pk").eq(f"TRACK#{tracking_number}"), Limit=50
        )
        return [item["order_id"] for item in resp["Items"]]

    # --- pick-ups waiting at a store ---------------------------------------------------------

    def pickups_due(self, before: str, *, limit: int = 100) -> list[tuple[str, str]]:
        """``(order_id, shipment_id)`` of pick-ups whose window closed before ``before``."""
        resp = self._table.query(
            KeyConditionExpression=Key("pk").eq(PICKUP_PK) & Key("sk").lt(before),
            Limit=limit,
            ConsistentRead=True,
        )
        out = []
        for item in resp["Items"]:
            _until, order_id, shipment_id = item["sk"].split("#")
            out.append((order_id, shipment_id))
        return out

    def drop_pickup(self, order: Order, shipment: OrderShipment) -> None:
        key = pickup_key(order.order_id, shipment.shipment_id, shipment.pickup_until)
        self._table.delete_item(Key=key)


def _key(item: dict[str, Any]) -> dict[str, str]:
    return {"pk": item["pk"], "sk": item["sk"]}
