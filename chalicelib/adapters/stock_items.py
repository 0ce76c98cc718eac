"""Stock items and their update expressions as plain dicts: the builders ``DynamoStock`` and
the other adapters write stock with. ``movement_update`` and ``event_marker`` are
TransactWriteItems entries, so a use case can write them together with an order in one
transaction.

DynamoDB conditions can't do arithmetic, so ``available`` is stored and every expression keeps
``available = on_hand - reserved - safety_stock`` and ``headroom = available - reorder_point``
(see ``dynamo_stock``).

The low-stock flag every item at or below its reorder point has: ``low_flag`` (``flagged``).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from chalicelib.adapters.dynamo_tx import put_new, serialize
from chalicelib.adapters.low_flag import LOW_FLAG, flagged, low_flag_of
from chalicelib.domain.inventory import (
    Journal,
    Movement,
    kept_journal,
    on_hand_delta,
    reconcile,
    stamp,
)
from chalicelib.domain.network import StockLevel

EVENT_MARKER_TTL_SECONDS = 14 * 24 * 3600

# The store's item may not exist yet when a transfer heads there: every attribute from zero.
_FROM_ZERO = ", ".join(
    f"{name} = if_not_exists({name}, :zero)"
    for name in ("safety_stock", "available", "reorder_point", "headroom", "quarantine")
)
_TRANSFER_UPDATES: dict[Movement, tuple[str, str | None]] = {
    Movement.TRANSFER_OUT: (
        "SET on_hand = on_hand - :q, reserved = reserved - :q, updated_at = :now",
        "reserved >= :q",
    ),
    Movement.TRANSIT: (
        "SET in_transit = if_not_exists(in_transit, :zero) + :q, "
        "on_hand = if_not_exists(on_hand, :zero), reserved = if_not_exists(reserved, :zero), "
        f"{_FROM_ZERO}, updated_at = :now",
        None,
    ),
    Movement.TRANSFER_IN: (  # on_hand and reserved rise together: available stays
        "SET on_hand = if_not_exists(on_hand, :zero) + :q, "
        "reserved = if_not_exists(reserved, :zero) + :q, "
        f"in_transit = if_not_exists(in_transit, :zero), {_FROM_ZERO}, updated_at = :now",
        None,
    ),
    Movement.TRANSFER_FREE: (  # available rises with on_hand: nothing is reserved for them
        "SET on_hand = if_not_exists(on_hand, :zero) + :q, "
        "available = if_not_exists(available, :zero) + :q, "
        "reserved = if_not_exists(reserved, :zero), in_transit = if_not_exists(in_transit, :zero), "
        "safety_stock = if_not_exists(safety_stock, :zero), "
        "reorder_point = if_not_exists(reorder_point, :zero), "
        "quarantine = if_not_exists(quarantine, :zero), updated_at = :now ADD headroom :q",
        None,
    ),
    Movement.ARRIVE: (
        "SET in_transit = in_transit - :q, on_hand = on_hand + :q, reserved = reserved + :q, "
        "updated_at = :now",
        "in_transit >= :q",
    ),
    Movement.LAND: (
        "SET in_transit = in_transit - :q, on_hand = on_hand + :q, available = available + :q, "
        "updated_at = :now ADD headroom :q",
        "in_transit >= :q",
    ),
    Movement.TRANSIT_OUT: (
        "SET in_transit = in_transit - :q, updated_at = :now",
        "in_transit >= :q",
    ),
    Movement.UNQUARANTINE: (
        "SET quarantine = quarantine - :q, on_hand = on_hand + :q, available = available + :q, "
        "updated_at = :now ADD headroom :q",
        "quarantine >= :q",
    ),
    Movement.QUARANTINE_OUT: (
        "SET quarantine = quarantine - :q, updated_at = :now",
        "quarantine >= :q",
    ),
}

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
    Movement.SHIP_UNRESERVED: (
        "SET on_hand = on_hand - :q, available = available - :q, updated_at = :now "
        "ADD headroom :minus_q",
        "attribute_exists(sku)",
    ),
    Movement.QUARANTINE: (
        "SET quarantine = if_not_exists(quarantine, :zero) + :q, updated_at = :now",
        "attribute_exists(sku)",
    ),
    **_TRANSFER_UPDATES,
}


def movement_update(
    table: str,
    sku: str,
    location_id: str,
    movement: Movement,
    quantity: int,
    now: str,
    *,
    shard: int = 0,
) -> dict[str, Any]:
    """A TransactWriteItems ``Update`` entry for one movement (low-level client format), on
    shard item ``shard`` of a hot SKU (0: the ordinary item)."""
    expression, condition = _UPDATES[movement]
    if shard:  # shard items stay out of the low-stock index: shard 0 alone carries headroom
        expression = _HEADROOM.sub("", expression)
    values: dict[str, Any] = {":q": quantity, ":now": now}
    if delta := on_hand_delta(movement, quantity):
        expression = journalled(expression)
        values.update(journal_values(now, delta))
    if ":zero" in expression:
        values[":zero"] = 0
    if ":minus_q" in expression:
        values[":minus_q"] = -quantity
    expression = flagged(expression, values)
    update: dict[str, Any] = {
        "TableName": table,
        "Key": serialize({"sku": shard_sku(sku, shard), "location_id": location_id}),
        "UpdateExpression": expression,
        "ExpressionAttributeValues": serialize(values),
    }
    if condition:
        update["ConditionExpression"] = condition
    return {"Update": update}


# --- hot SKUs: shard items (``domain.shards``) ----------------------------------------------

# Shard k > 0 of a hot SKU is the item ``<sku>#<k>`` (a SKU never holds ``#``): its own
# partition. Shard 0 is the ordinary item; it names the shard count (``shards``) and the highest
# shard ever created (``shard_top``: retired shards are kept until they hold nothing).
SHARD_SEP = "#"
_HEADROOM = re.compile(r"\s*ADD headroom :\w+")


def shard_sku(sku: str, shard: int) -> str:
    return f"{sku}{SHARD_SEP}{shard}" if shard else sku


def shard_of(stored_sku: str) -> tuple[str, int]:
    """``(sku, shard)`` of a stored item's ``sku``."""
    base, sep, k = stored_sku.rpartition(SHARD_SEP)
    return (base, int(k)) if sep and k.isdigit() else (stored_sku, 0)


def shard_count(item: dict[str, Any] | None) -> int:
    """Shards reservations pick among (1: not hot)."""
    return max(1, int(item.get("shards", 1))) if item else 1


def shard_top(item: dict[str, Any] | None) -> int:
    """The highest shard index that may exist for the item (0: none)."""
    if not item:
        return 0
    return max(int(item.get("shard_top", 0)), shard_count(item) - 1)


def shard_keys(sku: str, location_id: str, item: dict[str, Any] | None) -> list[dict[str, str]]:
    """Keys of the shard items (1..top) of a base item."""
    return [
        {"sku": shard_sku(sku, k), "location_id": location_id}
        for k in range(1, shard_top(item) + 1)
    ]


def new_shard_item(sku: str, location_id: str, shard: int) -> dict[str, Any]:
    """An empty shard item: no safety stock, no reorder point, no headroom."""
    item = new_item(shard_sku(sku, shard), location_id, on_hand=0)
    del item["headroom"]
    item.pop(LOW_FLAG, None)
    return item


def fold(items: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Stored items with every hot SKU's shard items added into its shard 0 item (counts and
    journals summed, safety stock and reorder point its own): one item per SKU and location.
    Shards whose shard 0 is missing are dropped (nothing can reserve on them)."""
    bases: dict[tuple[str, str], dict[str, Any]] = {}
    shards: list[dict[str, Any]] = []
    for item in items:
        sku, k = shard_of(str(item["sku"]))
        if k:
            shards.append(item)
        else:
            bases[(sku, str(item["location_id"]))] = dict(item)
    for item in shards:
        base = bases.get((shard_of(str(item["sku"]))[0], str(item["location_id"])))
        if base is None:
            continue
        for name in ("on_hand", "reserved", "available", "quarantine", "in_transit"):
            base[name] = int(base.get(name, 0)) + int(item.get(name, 0))
        if item.get("journal"):
            base["journal"] = sorted([*base.get("journal", []), *item["journal"]])
    return list(bases.values())


# Every change of ``on_hand`` by a movement appends ``[stamp, delta]`` to the item's journal (a
# list, created on first use), in the same update: a count is reconciled with the movements
# journalled after it (``domain.inventory.reconcile``). Absolute writes (counts, levels) prune it.
_JOURNAL_APPEND = "journal = list_append(if_not_exists(journal, :empty), :entry)"
_SET = re.compile(r"\bSET\s+")


def journalled(expression: str) -> str:
    """``expression`` that also appends ``:entry`` to the journal (see ``journal_values``)."""
    if not _SET.search(expression):
        return f"SET {_JOURNAL_APPEND} {expression}"
    return _SET.sub(f"SET {_JOURNAL_APPEND}, ", expression, count=1)


def journal_values(now: str, delta: int) -> dict[str, Any]:
    """The values ``journalled`` expressions need: one entry for ``delta`` units at ``now``."""
    return {":empty": [], ":entry": [[stamp(now), delta]]}


def journal_of(item: dict[str, Any]) -> Journal:
    return [(str(at), int(delta)) for at, delta in item.get("journal", [])]


def count_entry(
    table: str,
    item: dict[str, Any] | None,
    *,
    counted: int,
    counted_at: str,
    now: datetime,
    reorder_point: int = 0,
    key: tuple[str, str],
) -> dict[str, Any]:
    """A count as a write conditional on the item as read (``item``; None: it must not exist):
    ``on_hand`` = the count plus the movements journalled after ``counted_at``; the journal
    keeps only those (and only within the retention window)."""
    sku, location_id = key
    if item is None:
        fresh = new_item(sku, location_id, on_hand=counted, reorder_point=reorder_point)
        return put_new(table, {**fresh, "counted_at": counted_at, "journal": []}, key="sku")
    journal = journal_of(item)
    on_hand = reconcile(counted, counted_at, journal)
    kept = kept_journal(journal, after=counted_at, now=now)
    reserved, safety = int(item.get("reserved", 0)), int(item.get("safety_stock", 0))
    unchanged = "attribute_not_exists(journal)" if "journal" not in item else "size(journal) = :n"
    values = {
        ":c": on_hand,
        ":av": on_hand - reserved - safety,
        ":zero": 0,
        ":t": counted_at,
        ":kept": [list(entry) for entry in kept],
        ":oh": int(item.get("on_hand", 0)),
        ":r": reserved,
        ":ss": safety,
        ":now": stamp(now),
        **({":n": len(journal)} if "journal" in item else {}),
    }
    expression = flagged(
        "SET on_hand = :c, available = :av, "
        "headroom = :av - if_not_exists(reorder_point, :zero), "
        "counted_at = :t, journal = :kept, updated_at = :now",
        values,
    )
    return {
        "Update": {
            "TableName": table,
            "Key": serialize({"sku": sku, "location_id": location_id}),
            "UpdateExpression": expression,
            # Anything that moved on_hand since the read changed it or the journal: read again.
            "ConditionExpression": (
                "(attribute_not_exists(counted_at) OR counted_at < :t) AND on_hand = :oh "
                f"AND reserved = :r AND safety_stock = :ss AND {unchanged}"
            ),
            "ExpressionAttributeValues": serialize(values),
        }
    }


def now_iso() -> str:
    """UTC, fixed width, so that ISO strings compare in time order."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


# What a level is read from (``level_from_item``, the shard fold): a read's projection.
_COUNTS = ("on_hand", "reserved", "safety_stock", "reorder_point", "quarantine", "in_transit")
LEVEL_ATTRIBUTES: tuple[str, ...] = (
    "sku",
    "location_id",
    *_COUNTS,
    "available",
    "shards",
    "shard_top",
)


def level_projection() -> dict[str, Any]:
    """A Query's or BatchGetItem entry's projection of ``LEVEL_ATTRIBUTES`` (``#p`` names)."""
    names = {f"#p{i}": name for i, name in enumerate(LEVEL_ATTRIBUTES)}
    return {"ProjectionExpression": ", ".join(names), "ExpressionAttributeNames": names}


def level_from_item(item: dict[str, Any]) -> StockLevel:
    return StockLevel(
        sku=item["sku"],
        location_id=item["location_id"],
        on_hand=int(item.get("on_hand", 0)),
        reserved=int(item.get("reserved", 0)),
        safety_stock=int(item.get("safety_stock", 0)),
        reorder_point=int(item.get("reorder_point", 0)),
        quarantine=int(item.get("quarantine", 0)),
        in_transit=int(item.get("in_transit", 0)),
    )


def new_item(
    sku: str, location_id: str, *, on_hand: int, safety_stock: int = 0, reorder_point: int = 0
) -> dict[str, Any]:
    """A complete stock item with nothing reserved."""
    item: dict[str, Any] = {
        "sku": sku,
        "location_id": location_id,
        "on_hand": on_hand,
        "reserved": 0,
        "safety_stock": safety_stock,
        "available": on_hand - safety_stock,
        "reorder_point": reorder_point,
        "headroom": on_hand - safety_stock - reorder_point,
        "quarantine": 0,
        "in_transit": 0,
        "updated_at": now_iso(),
    }
    return {**item, **low_flag_of(item)}


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
        if "headroom" in item and int(item["headroom"]) <= 0 and LOW_FLAG not in item:
            out.append(f"{where}: headroom {item['headroom']} <= 0 without {LOW_FLAG}")
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
