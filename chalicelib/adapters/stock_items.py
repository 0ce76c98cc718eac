"""Stock items and their update expressions as plain dicts: the builders ``DynamoStock`` and
the other adapters write stock with. ``movement_update`` and ``event_marker`` are
TransactWriteItems entries, so a use case can write them together with an order in one
transaction.

DynamoDB conditions can't do arithmetic, so ``available`` is stored and every expression keeps
``available = on_hand - reserved - safety_stock`` and ``headroom = available - reorder_point``
(see ``dynamo_stock``).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from chalicelib.adapters.dynamo_tx import put_new, serialize
from chalicelib.domain.inventory import Movement
from chalicelib.domain.network import StockLevel

EVENT_MARKER_TTL_SECONDS = 14 * 24 * 3600

# One update per movement: (expression, condition). ``:q`` is the quantity, ``:now`` a timestamp.
_UPDATES: dict[Movement, tuple[str, str | None]] = {
    Movement.RESERVE: (
        "SET reserved = reserved + :q, available = available - :q, updated_at = :now "
        "ADD headroom :minus_q",
        "available >= :q",
    ),
    Movement.RELEASE: (
        "SET reserved = reserved - :q, available = available + :q, updated_at = :now "
        "ADD headroom :q",
        "reserved >= :q",
    ),
    Movement.SHIP: (
        "SET on_hand = on_hand - :q, reserved = reserved - :q, updated_at = :now",
        "reserved >= :q",
    ),
    Movement.SHORT: (
        "SET on_hand = on_hand - :q, reserved = reserved - :q, updated_at = :now",
        "reserved >= :q",
    ),
    Movement.RECEIVE: (
        "SET on_hand = on_hand + :q, available = available + :q, updated_at = :now ADD headroom :q",
        "attribute_exists(sku)",
    ),
    Movement.QUARANTINE: (
        "SET quarantine = if_not_exists(quarantine, :zero) + :q, updated_at = :now",
        "attribute_exists(sku)",
    ),
}


def movement_update(
    table: str, sku: str, location_id: str, movement: Movement, quantity: int, now: str
) -> dict[str, Any]:
    """A TransactWriteItems ``Update`` entry for one movement (low-level client format)."""
    expression, condition = _UPDATES[movement]
    values: dict[str, Any] = {":q": quantity, ":now": now}
    if ":zero" in expression:
        values[":zero"] = 0
    if ":minus_q" in expression:
        values[":minus_q"] = -quantity
    update: dict[str, Any] = {
        "TableName": table,
        "Key": serialize({"sku": sku, "location_id": location_id}),
        "UpdateExpression": expression,
        "ExpressionAttributeValues": serialize(values),
    }
    if condition:
        update["ConditionExpression"] = condition
    return {"Update": update}


def now_iso() -> str:
    """UTC, fixed width, so that ISO strings compare in time order."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


def level_from_item(item: dict[str, Any]) -> StockLevel:
    return StockLevel(
        sku=item["sku"],
        location_id=item["location_id"],
        on_hand=int(item.get("on_hand", 0)),
        reserved=int(item.get("reserved", 0)),
        safety_stock=int(item.get("safety_stock", 0)),
        reorder_point=int(item.get("reorder_point", 0)),
        quarantine=int(item.get("quarantine", 0)),
    )


def new_item(
    sku: str, location_id: str, *, on_hand: int, safety_stock: int = 0, reorder_point: int = 0
) -> dict[str, Any]:
    """A complete stock item with nothing reserved."""
    return {
        "sku": sku,
        "location_id": location_id,
        "on_hand": on_hand,
        "reserved": 0,
        "safety_stock": safety_stock,
        "available": on_hand - safety_stock,
        "reorder_point": reorder_point,
        "headroom": on_hand - safety_stock - reorder_point,
        "quarantine": 0,
        "updated_at": now_iso(),
    }


def stock_violations(items: Iterable[dict[str, Any]]) -> list[str]:
    """Items breaking ``available = on_hand - reserved - safety_stock`` or ``reserved >= 0``."""
    out = []
    for item in items:
        on_hand, reserved, safety, available = (
            int(item.get(k, 0)) for k in ("on_hand", "reserved", "safety_stock", "available")
        )
        where = f"{item['sku']}@{item['location_id']}"
        if available != on_hand - reserved - safety:
            out.append(f"{where}: available {available} != {on_hand} - {reserved} - {safety}")
        if reserved < 0:
            out.append(f"{where}: reserved {reserved} < 0")
        rop = int(item.get("reorder_point", 0))
        if "headroom" in item and int(item["headroom"]) != available - rop:
            out.append(f"{where}: headroom {item['headroom']} != {available} - {rop}")
    return out


def event_marker(table: str, event_id: str) -> dict[str, Any]:
    """A Put that fails when the event was applied before (kept 14 days)."""
    return put_new(
        table,
        {
            "pk": f"EVENT#{event_id}",
            "sk": "EVENT",
            "applied_at": now_iso(),
            "expires_at": int(time.time()) + EVENT_MARKER_TTL_SECONDS,
        },
    )
