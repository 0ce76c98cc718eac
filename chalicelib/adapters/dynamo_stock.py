"""Stock per SKU per location in the stock table (``sku`` + ``location_id``).

DynamoDB conditions can't do arithmetic, so ``available`` is stored and every update expression
keeps ``available = on_hand - reserved - safety_stock``. Movements are conditional updates that
refuse to make ``reserved`` negative or take more than is available. The ``*_item`` builders give
the same updates as TransactWriteItems entries, so a use case can write them together with an
order or an event marker in one transaction.
"""

from __future__ import annotations

from typing import Any

from chalicelib.adapters.dynamo_tx import serialize
from chalicelib.domain.inventory import Movement

# One update per movement: (expression, condition). ``:q`` is the quantity, ``:now`` a timestamp.
_UPDATES: dict[Movement, tuple[str, str | None]] = {
    Movement.RESERVE: (
        "SET reserved = reserved + :q, available = available - :q, updated_at = :now",
        "available >= :q",
    ),
    Movement.RELEASE: (
        "SET reserved = reserved - :q, available = available + :q, updated_at = :now",
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
        "SET on_hand = on_hand + :q, available = available + :q, updated_at = :now",
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
    update: dict[str, Any] = {
        "TableName": table,
        "Key": serialize({"sku": sku, "location_id": location_id}),
        "UpdateExpression": expression,
        "ExpressionAttributeValues": serialize(values),
    }
    if condition:
        update["ConditionExpression"] = condition
    return {"Update": update}
