"""The fulfilment side's small items in the orders table, beside the orders themselves.

- ``EVENT#<event_id>``: a warehouse event was applied (written in the event's transaction with
  ``attribute_not_exists``, kept 14 days).
- ``OUTBOX#<shard>`` / ``<created_at>#<order_id>``: fulfilment requests may be unsent (written
  with the order, deleted with the dispatch marks; see ``dynamo_orders.outbox_key``).
- ``TRACK#<tracking_number>`` / ``ORDER#<order_id>``: customer service finds orders by the
  carrier's tracking number.
- ``PICKUP`` / ``<pickup_until>#<order_id>#<shipment_id>``: a click & collect shipment waits at
  a store; the expiry schedule reads the due ones, oldest first.

Every ``*_item`` method returns a TransactWriteItems entry (low-level format) for
``DynamoOrders.update(extra=...)``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from boto3.dynamodb.conditions import Key

from chalicelib.adapters.dynamo_orders import OUTBOX_SHARDS, outbox_key
from chalicelib.adapters.dynamo_tx import put_new, serialize
from chalicelib.domain.order.model import Order, OrderShipment

EVENT_MARKER_TTL_SECONDS = 14 * 24 * 3600
_PICKUP_PK = "PICKUP"


class DynamoFulfilmentLog:
    def __init__(self, table: Any, *, clock: Callable[[], float] = time.time) -> None:
        self._table = table
        self._clock = clock

    # --- applied events ----------------------------------------------------------------------

    def marker_item(self, event_id: str) -> dict[str, Any]:
        """A Put that cancels the transaction when the event was applied before."""
        return put_new(
            self._table.name,
            {
                "pk": f"EVENT#{event_id}",
                "sk": "EVENT",
                "applied_at": int(self._clock()),
                "expires_at": int(self._clock()) + EVENT_MARKER_TTL_SECONDS,
            },
        )

    def applied(self, event_id: str) -> bool:
        key = {"pk": f"EVENT#{event_id}", "sk": "EVENT"}
        return "Item" in self._table.get_item(Key=key, ConsistentRead=True)

    # --- the outbox --------------------------------------------------------------------------

    def outbox_put_item(self, order: Order) -> dict[str, Any]:
        return {"Put": {"TableName": self._table.name, "Item": serialize(outbox_key(order))}}

    def outbox_delete_item(self, order: Order) -> dict[str, Any]:
        return {"Delete": {"TableName": self._table.name, "Key": serialize(outbox_key(order))}}

    def outbox_due(self, before: str, *, limit: int = 100) -> list[tuple[str, dict[str, str]]]:
        """``(order_id, mark key)`` of outbox marks written before ``before`` (ISO 8601),
        oldest first per shard."""
        due: list[tuple[str, dict[str, str]]] = []
        for shard in range(OUTBOX_SHARDS):
            resp = self._table.query(
                KeyConditionExpression=Key("pk").eq(f"OUTBOX#{shard}") & Key("sk").lt(before),
                Limit=limit,
                ConsistentRead=True,
            )
            due += [
                (item["sk"].rsplit("#", 1)[1], {"pk": item["pk"], "sk": item["sk"]})
                for item in resp["Items"]
            ]
        return due

    def drop_mark(self, key: dict[str, str]) -> None:
        """Delete an outbox mark whose order does not exist (nothing to dispatch)."""
        self._table.delete_item(Key=key)

    # --- tracking numbers --------------------------------------------------------------------

    def tracking_item(self, order: Order, shipment: OrderShipment) -> dict[str, Any]:
        item = {
            "pk": f"TRACK#{shipment.tracking_number}",
            "sk": f"ORDER#{order.order_id}",
            "order_id": order.order_id,
            "shipment_id": shipment.shipment_id,
            "channel": order.channel,
        }
        return {"Put": {"TableName": self._table.name, "Item": serialize(item)}}

    def order_ids(self, tracking_number: str) -> list[str]:
        resp = self._table.query(
            KeyConditionExpression=Key("pk").eq(f"TRACK#{tracking_number}"), Limit=50
        )
        return [item["order_id"] for item in resp["Items"]]

    # --- pick-ups waiting at a store ---------------------------------------------------------

    def pickup_put_item(self, order: Order, shipment: OrderShipment) -> dict[str, Any]:
        item = {**_pickup_key(order.order_id, shipment), "order_id": order.order_id}
        return {"Put": {"TableName": self._table.name, "Item": serialize(item)}}

    def pickup_delete_item(self, order: Order, shipment: OrderShipment) -> dict[str, Any]:
        key = _pickup_key(order.order_id, shipment)
        return {"Delete": {"TableName": self._table.name, "Key": serialize(key)}}

    def pickups_due(self, before: str, *, limit: int = 100) -> list[tuple[str, str]]:
        """``(order_id, shipment_id)`` of pick-ups whose window closed before ``before``."""
        resp = self._table.query(
            KeyConditionExpression=Key("pk").eq(_PICKUP_PK) & Key("sk").lt(before),
            Limit=limit,
            ConsistentRead=True,
        )
        out = []
        for item in resp["Items"]:
            _until, order_id, shipment_id = item["sk"].split("#")
            out.append((order_id, shipment_id))
        return out

    def drop_pickup(self, order: Order, shipment: OrderShipment) -> None:
        self._table.delete_item(Key=_pickup_key(order.order_id, shipment))


def _pickup_key(order_id: str, shipment: OrderShipment) -> dict[str, str]:
    return {"pk": _PICKUP_PK, "sk": f"{shipment.pickup_until}#{order_id}#{shipment.shipment_id}"}
