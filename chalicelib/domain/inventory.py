"""Inventory rules on plain data: what a stock movement does to a stock level.

The DynamoDB adapter applies the same movements as conditional update expressions; these
functions are the reference they are tested against, and what the in-memory fake uses.
``available = on_hand - reserved - safety_stock`` holds after every movement.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from chalicelib.domain.errors import InsufficientStock
from chalicelib.domain.network import StockLevel

MAX_ON_HAND = 10_000_000  # units of a SKU at a location an admin may set or adjust it to


class Movement(StrEnum):
    RESERVE = "reserve"  # an order takes units: available -> reserved
    RELEASE = "release"  # a cancelled or re-sourced line gives them back: reserved -> available
    SHIP = "ship"  # reserved units leave the building: on_hand and reserved fall together
    RECEIVE = "receive"  # units arrive (purchase, transfer, sellable return): on_hand rises
    ADJUST = "adjust"  # a manual correction of on_hand by a signed delta
    SHORT = "short"  # a short pick: reserved units that are not there leave on_hand and reserved
    QUARANTINE = "quarantine"  # damaged returns: counted apart, never available
    # Click & collect transfers (source -> in transit -> pick-up store), and quarantine:
    TRANSFER_OUT = "transfer_out"  # reserved units leave for a store: on_hand, reserved fall
    TRANSIT = "transit"  # units on their way to this store: in_transit rises
    ARRIVE = "arrive"  # they arrived, still reserved: in_transit -> on_hand and reserved
    TRANSFER_IN = "transfer_in"  # they arrived before their departure was booked: on_hand
    # and reserved rise
    LAND = "land"  # units in transit freed (a cancel): in_transit -> on_hand, available
    TRANSIT_OUT = "transit_out"  # units in transit leave the books (collected or lost on the
    # way before their arrival was booked): in_transit falls
    UNQUARANTINE = "unquarantine"  # quarantined units found sellable: -> on_hand, available
    QUARANTINE_OUT = "quarantine_out"  # quarantined units written off: quarantine falls
    # Units left although their reservation was released (shipped after a cancel): on_hand
    # falls, and available with it (it may go negative: the units are gone either way).
    SHIP_UNRESERVED = "ship_unreserved"
    # Unreserved units arrived at a store (a cancelled transfer the source sent anyway, its
    # departure not booked): on_hand and available rise; creates the item.
    TRANSFER_FREE = "transfer_free"


def apply(level: StockLevel, movement: Movement, quantity: int) -> StockLevel:
    """The level after ``movement`` of ``quantity`` units, or ``InsufficientStock``."""
    if movement != Movement.ADJUST and quantity < 1:
        raise ValueError("quantity must be positive")
    if movement == Movement.RESERVE:
        _require(level.available >= quantity, level, f"only {level.available} available")
        return replace(level, reserved=level.reserved + quantity)
    if movement in (Movement.RELEASE, Movement.SHIP, Movement.SHORT):
        _require(level.reserved >= quantity, level, f"only {level.reserved} reserved")
        if movement == Movement.RELEASE:
            return replace(level, reserved=level.reserved - quantity)
        return replace(level, reserved=level.reserved - quantity, on_hand=level.on_hand - quantity)
    if movement == Movement.RECEIVE:
        return replace(level, on_hand=level.on_hand + quantity)
    if movement == Movement.ADJUST:
        _require(level.available + quantity >= 0, level, "would take reserved or safety stock")
        return replace(level, on_hand=level.on_hand + quantity)
    if movement == Movement.SHIP_UNRESERVED:
        return replace(level, on_hand=level.on_hand - quantity)
    if movement == Movement.QUARANTINE:
        return replace(level, quarantine=level.quarantine + quantity)
    if movement in _ELSEWHERE:
        return _elsewhere(level, movement, quantity)
    raise ValueError(f"unknown movement {movement}")


# Movements that create a missing stock item (a store that never held the SKU): from zero.
CREATES_ITEM = frozenset({Movement.TRANSIT, Movement.TRANSFER_IN, Movement.TRANSFER_FREE})
_ELSEWHERE = frozenset(
    {
        Movement.TRANSFER_OUT,
        Movement.TRANSIT,
        Movement.ARRIVE,
        Movement.TRANSFER_IN,
        Movement.TRANSFER_FREE,
        Movement.LAND,
        Movement.TRANSIT_OUT,
        Movement.UNQUARANTINE,
        Movement.QUARANTINE_OUT,
    }
)


def _elsewhere(level: StockLevel, movement: Movement, quantity: int) -> StockLevel:
    """Units between locations (transfers) or set apart (quarantine)."""
    q = quantity
    if movement == Movement.TRANSFER_OUT:
        _require(level.reserved >= q, level, f"only {level.reserved} reserved")
        return replace(level, reserved=level.reserved - q, on_hand=level.on_hand - q)
    if movement == Movement.TRANSIT:
        return replace(level, in_transit=level.in_transit + q)
    if movement == Movement.TRANSFER_IN:
        return replace(level, on_hand=level.on_hand + q, reserved=level.reserved + q)
    if movement == Movement.TRANSFER_FREE:
        return replace(level, on_hand=level.on_hand + q)
    if movement in (Movement.UNQUARANTINE, Movement.QUARANTINE_OUT):
        _require(level.quarantine >= q, level, f"only {level.quarantine} in quarantine")
        on_hand = level.on_hand + (q if movement == Movement.UNQUARANTINE else 0)
        return replace(level, quarantine=level.quarantine - q, on_hand=on_hand)
    _require(level.in_transit >= q, level, f"only {level.in_transit} in transit")
    level = replace(level, in_transit=level.in_transit - q)
    if movement == Movement.ARRIVE:
        return replace(level, on_hand=level.on_hand + q, reserved=level.reserved + q)
    if movement == Movement.LAND:
        return replace(level, on_hand=level.on_hand + q)
    return level  # TRANSIT_OUT


# --- counts and the on_hand journal ------------------------------------------------------------

# Per unit moved, what a movement does to ``on_hand``. The stores journal every movement with an
# effect on its stock item (``[stamp, delta]``): a count taken before later movements is
# reconciled with them (``reconcile``). Every movement is listed (a test checks it against
# ``apply``).
ON_HAND_EFFECT: dict[Movement, int] = {
    Movement.RESERVE: 0,
    Movement.RELEASE: 0,
    Movement.SHIP: -1,
    Movement.RECEIVE: 1,
    Movement.ADJUST: 1,  # its quantity is the signed delta
    Movement.SHORT: -1,
    Movement.QUARANTINE: 0,
    Movement.TRANSFER_OUT: -1,
    Movement.TRANSIT: 0,
    Movement.ARRIVE: 1,
    Movement.TRANSFER_IN: 1,
    Movement.LAND: 1,
    Movement.TRANSIT_OUT: 0,
    Movement.UNQUARANTINE: 1,
    Movement.QUARANTINE_OUT: 0,
    Movement.SHIP_UNRESERVED: -1,
    Movement.TRANSFER_FREE: 1,
}

# Journal entries older than this are dropped when a count or an absolute level rewrites the
# item; a count older than this cannot be reconciled and is refused.
JOURNAL_RETENTION = timedelta(days=7)
COUNT_LEEWAY = timedelta(minutes=5)  # how far ahead of the server clock a count may be stamped

Journal = list[tuple[str, int]]  # (stamp, on_hand delta), oldest first


def stamp(moment: datetime | str) -> str:
    """Fixed-width UTC ISO (microseconds, ``+00:00``), so stamps compare as strings in time
    order; ISO strings in other forms (``Z``, milliseconds, offsets) are normalised. The format
    of ``services.inventory.utc_stamp`` and ``stock_items.now_iso``."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def on_hand_delta(movement: Movement, quantity: int) -> int:
    return ON_HAND_EFFECT[movement] * quantity


def reconcile(counted_on_hand: int, counted_at: str, journal: Iterable[tuple[str, int]]) -> int:
    """on_hand now, for a count taken at ``counted_at``: the count plus every movement
    journalled after it (never below zero: units cannot be missing twice)."""
    return max(0, counted_on_hand + sum(delta for at, delta in journal if at > counted_at))


def kept_journal(journal: Iterable[tuple[str, int]], *, after: str, now: datetime) -> Journal:
    """The entries an absolute write keeps: later than ``after`` (what a count folded in) and
    within the retention window."""
    horizon = max(after, stamp(now - JOURNAL_RETENTION))
    return [(at, delta) for at, delta in journal if at > horizon]


def count_refusal(counted_at: datetime, now: datetime) -> str | None:
    """Why a count stamped ``counted_at`` cannot be applied at ``now`` (None: it can)."""
    if counted_at.tzinfo is None:
        counted_at = counted_at.replace(tzinfo=UTC)
    if counted_at > now + COUNT_LEEWAY:
        leeway = int(COUNT_LEEWAY.total_seconds() // 60)
        return f"more than {leeway} minutes in the future (server time {stamp(now)})"
    if counted_at < now - JOURNAL_RETENTION:
        return (
            f"older than {JOURNAL_RETENTION.days} days: the movements since then are no longer "
            "journalled, so the count cannot be reconciled (count again)"
        )
    return None


def count(level: StockLevel, counted_on_hand: int) -> StockLevel:
    """An absolute count sets on_hand; reserved is never touched (available may go negative,
    which blocks new reservations until stock arrives or reservations are released)."""
    if counted_on_hand < 0:
        raise ValueError("a count cannot be negative")
    return replace(level, on_hand=counted_on_hand)


def _require(ok: bool, level: StockLevel, reason: str) -> None:
    if not ok:
        raise InsufficientStock(f"{level.sku} at {level.location_id}: {reason}")
