"""The writes that go with an order (``chalicelib.domain.order.writes``) as TransactWriteItems
entries (low-level client format), for ``DynamoOrders.update``. The item layouts:

- ``EVENT#<event_id>`` / ``EVENT``: a location's event was applied (``attribute_not_exists``,
  kept 14 days).
- the outbox mark is no item: ``obpk`` / ``obsk`` (``OUTBOX#<shard>`` / ``<created_at>#<order_id>``)
  on the order item itself, the keys of the sparse ``outbox`` index (``outbox_attributes``).
  ``OutboxMark`` / ``OutboxClear`` are therefore applied by ``DynamoOrders`` to the order's own
  entry. Marks written as items before (``OUTBOX#<shard>`` / ``<created_at>#<order_id>``) are
  still swept and dropped once their order is dispatched (``dynamo_fulfilment``).
- ``TRACK#<tracking_number>`` / ``ORDER#<order_id>``: orders by carrier tracking number.
- ``PICKUP`` / ``<pickup_until>#<order_id>#<shipment_id>``: a pick-up waiting at a store.
- ``HOLDDUE`` / ``<auto_cancel_at>#<order_id>``: a held order's auto-cancel deadline.
- ``CAP#<channel>#<customer>#<sku>`` / ``<day>``: units a customer ordered that day (kept two
  days), for the channel's anti-scalping limit.
- ``SHIPPED#<sku>#<location_id>`` / ``<day>``: shipped units (``dynamo_alerts``).
- ``RMA#<rma_id>`` / ``RMA``: the RMA, versioned (``dynamo_returns``).
- returned units into the stock table (``dynamo_returns``).
- ``RESV#<id>`` / ``RESV``: a checkout reservation taken over (``dynamo_reservations``).
"""

from __future__ import annotations

from typing import Any

from chalicelib.adapters.dynamo_alerts import shipped_units_update
from chalicelib.adapters.dynamo_reservations import consume_entry
from chalicelib.adapters.dynamo_returns import returned_stock_entry, rma_put
from chalicelib.adapters.dynamo_tx import put_new, serialize
from chalicelib.domain.order.model import Order
from chalicelib.domain.order.writes import (
    CustomerUnits,
    EventMarker,
    HoldDeadline,
    HoldDeadlineDone,
    OrderWrite,
    OutboxClear,
    OutboxMark,
    PickupDone,
    PickupWaiting,
    ReservationConsumed,
    ReturnedStock,
    RmaSaved,
    ShippedUnits,
    TrackingLookup,
)

EVENT_MARKER_TTL_SECONDS = 14 * 24 * 3600
OUTBOX_SHARDS = 4
PICKUP_PK = "PICKUP"
HOLD_PK = "HOLDDUE"


OUTBOX_INDEX = "outbox"
OUTBOX_ATTRIBUTES = ("obpk", "obsk")


def outbox_attributes(order: Order) -> dict[str, str]:
    """The outbox mark as attributes of the order item (the keys of the sparse ``outbox``
    index): set with the order, removed by the dispatcher once every request is sent; the
    sweeper finds what is left (``OUTBOX#<shard>``, oldest order first). An attribute, not an
    item: the capture transaction writes one item fewer, and the index entry costs 1 unit."""
    shard = int(order.order_id[-2:], 16) % OUTBOX_SHARDS
    return {"obpk": f"OUTBOX#{shard}", "obsk": f"{order.created_at}#{order.order_id}"}


def pickup_key(order_id: str, shipment_id: str, until: str | None) -> dict[str, str]:
    return {"pk": PICKUP_PK, "sk": f"{until}#{order_id}#{shipment_id}"}


def hold_key(order_id: str, until: str) -> dict[str, str]:
    return {"pk": HOLD_PK, "sk": f"{until}#{order_id}"}


def event_key(event_id: str) -> dict[str, str]:
    return {"pk": f"EVENT#{event_id}", "sk": "EVENT"}


def write_entry(
    write: OrderWrite, order: Order, *, table: str, stock_table: str, now: float
) -> dict[str, Any]:
    """The TransactWriteItems entry of ``write`` (``now``: epoch seconds, for the markers);
    not for the outbox mark, which is part of the order's own entry. An ``RmaSaved`` entry
    is for ``rma.version + 1``: bump the version once it committed."""
    match write:
        case EventMarker(event_id):
            item = {
                **event_key(event_id),
                "applied_at": int(now),
                "expires_at": int(now) + EVENT_MARKER_TTL_SECONDS,
            }
            return put_new(table, item)
        case OutboxMark() | OutboxClear():
            raise TypeError("the outbox mark is an attribute of the order: DynamoOrders sets it")
        case TrackingLookup(shipment_id, tracking_number):
            item = {
                "pk": f"TRACK#{tracking_number}",
                "sk": f"ORDER#{order.order_id}",
                "order_id": order.order_id,
                "shipment_id": shipment_id,
                "channel": order.channel,
            }
            return {"Put": {"TableName": table, "Item": serialize(item)}}
        case PickupWaiting(shipment_id, until):
            item = {**pickup_key(order.order_id, shipment_id, until), "order_id": order.order_id}
            return {"Put": {"TableName": table, "Item": serialize(item)}}
        case PickupDone(shipment_id, until):
            key = pickup_key(order.order_id, shipment_id, until)
            return {"Delete": {"TableName": table, "Key": serialize(key)}}
        case HoldDeadline(until):
            item = {**hold_key(order.order_id, until), "order_id": order.order_id}
            return {"Put": {"TableName": table, "Item": serialize(item)}}
        case HoldDeadlineDone(until):
            key = hold_key(order.order_id, until)
            return {"Delete": {"TableName": table, "Key": serialize(key)}}
        case CustomerUnits(channel, customer, sku, day, quantity, cap):
            return {
                "Update": {
                    "TableName": table,
                    "Key": serialize({"pk": f"CAP#{channel}#{customer}#{sku}", "sk": day}),
                    "UpdateExpression": "ADD units :q SET expires_at = :exp",
                    "ConditionExpression": "attribute_not_exists(units) OR units <= :left",
                    "ExpressionAttributeValues": serialize(
                        {":q": quantity, ":left": cap - quantity, ":exp": int(now) + 2 * 86400}
                    ),
                }
            }
        case ShippedUnits():
            return shipped_units_update(table, write)
        case RmaSaved(rma):
            return rma_put(table, rma)
        case ReturnedStock():
            return returned_stock_entry(stock_table, write)
        case ReservationConsumed(reservation_id, before):
            return consume_entry(table, reservation_id, order.order_id, before)
    raise TypeError(f"not a write that goes with an order: {write!r}")
