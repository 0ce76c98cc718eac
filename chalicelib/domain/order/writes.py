"""Writes that go with an order: saved in the same transaction as the order itself (see the
``OrderStore`` port), so they happen completely with it, or not at all.

The store translates each into its own items; a write whose condition fails (an event marker
that exists, an RMA or a stock item that changed since it was read) cancels the whole
transaction with ``WriteConflict``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from chalicelib.domain.order.model import Order
from chalicelib.domain.returns.model import Rma


@dataclass(frozen=True)
class EventMarker:
    """A location's event was applied: only once (fails when it was applied before)."""

    event_id: str


@dataclass(frozen=True)
class OutboxMark:
    """The order has fulfilment requests to send: the dispatcher (or its sweeper) will."""


@dataclass(frozen=True)
class OutboxClear:
    """Every request of the order is sent: its outbox mark goes."""


@dataclass(frozen=True)
class TrackingLookup:
    """Customer service finds the order by the carrier's tracking number of a shipment."""

    shipment_id: str
    tracking_number: str


@dataclass(frozen=True)
class PickupWaiting:
    """A click & collect shipment waits at the store until ``until`` (then it expires)."""

    shipment_id: str
    until: str


@dataclass(frozen=True)
class PickupDone:
    """The shipment waiting until ``until`` no longer waits (collected, expired, cancelled)."""

    shipment_id: str
    until: str | None


@dataclass(frozen=True)
class HoldDeadline:
    """The held order is cancelled at ``until`` if it is still held then (auto-cancel)."""

    until: str


@dataclass(frozen=True)
class HoldDeadlineDone:
    """The auto-cancel deadline at ``until`` no longer applies (every hold was released)."""

    until: str


@dataclass(frozen=True)
class CustomerUnits:
    """``quantity`` units of ``sku`` a customer (``customer``: a digest of the e-mail, no PII
    in keys) orders on ``day`` through ``channel``: refused, and the order with it, when that
    takes them past ``cap`` units that day (the channel's anti-scalping limit)."""

    channel: str
    customer: str
    sku: str
    day: str  # YYYY-MM-DD
    quantity: int
    cap: int


@dataclass(frozen=True)
class ShippedUnits:
    """Units of ``sku`` that left ``location_id`` on ``day``: the low-stock velocity counts
    them. Not idempotent by itself: write it with the event's marker. One per SKU per write."""

    sku: str
    location_id: str
    day: date
    quantity: int

    def __post_init__(self) -> None:
        if self.quantity < 1:
            raise ValueError("quantity must be positive")


@dataclass(frozen=True)
class RmaSaved:
    """The RMA as changed, if nobody wrote it since it was read (``rma.version``; 0 = new).
    The store bumps ``rma.version`` when the write commits."""

    rma: Rma


@dataclass(frozen=True)
class ReturnedStock:
    """Returned units of ``sku`` at ``location_id``: sellable ones back on hand (and
    available), damaged ones into quarantine. ``exists`` is whether the location held the SKU
    when it was read (the write fails when that changed)."""

    sku: str
    location_id: str
    sellable: int
    damaged: int
    exists: bool
    reorder_point: int = 0


@dataclass(frozen=True)
class ReservationConsumed:
    """The order takes over checkout reservation ``reservation_id`` (its units are already
    reserved): fails when it is no longer open, or, with ``before`` (epoch seconds), when it
    expires at or before then."""

    reservation_id: str
    before: float | None = None


OrderWrite = (
    EventMarker
    | OutboxMark
    | OutboxClear
    | TrackingLookup
    | PickupWaiting
    | PickupDone
    | HoldDeadline
    | HoldDeadlineDone
    | CustomerUnits
    | ShippedUnits
    | RmaSaved
    | ReturnedStock
    | ReservationConsumed
)


def capture_writes(order: Order) -> list[OrderWrite]:
    """The writes that go with a new order beyond its reservations: its auto-cancel deadline."""
    return [HoldDeadline(order.auto_cancel_at)] if order.auto_cancel_at and order.holds else []


def shipped_units(
    location_id: str, day: date | str, lines: Iterable[tuple[str, int]]
) -> list[ShippedUnits]:
    """``ShippedUnits`` for a shipment's ``(sku, quantity)`` lines: one per SKU (a SKU may be
    on several lines), on ``day`` (a date, or an ISO 8601 timestamp: its UTC date)."""
    when = date.fromisoformat(day[:10]) if isinstance(day, str) else day
    totals: dict[str, int] = {}
    for sku, quantity in lines:
        totals[sku] = totals.get(sku, 0) + quantity
    return [ShippedUnits(sku, location_id, when, q) for sku, q in sorted(totals.items()) if q > 0]
