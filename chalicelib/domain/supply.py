"""Inbound supply and available-to-promise with future supply: purchase orders, their lines,
and the promise dates backorders get from them. Pure: no I/O.

A purchase order (PO) brings ``quantity`` units of a SKU per line to one location on its
``expected_date``; receipts close lines (``received``; more than ordered is accepted and
recorded as ``over_received``). Promises are derived, never hand-set: waiting demand, in the
order it was promised (the backorder queue: oldest first), takes free supply: units available
now first, then PO quantity by arrival, each piece dated by the location's calendar (receipt on
the expected date, its processing days, the fastest lane's transit). A demand's date is the
latest of its pieces; one that no supply covers has none.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from chalicelib.domain.calendar import delivery_date, ship_date, transit_days
from chalicelib.domain.errors import Conflict, FieldError
from chalicelib.domain.network import Address, Capability, CarrierService, Location, Speed

MAX_EVENTS = 200  # event ids a PO remembers for idempotency (receipts, ASNs)


class CapReached(Exception):
    """A preorder claim would take the SKU past its cap."""


class PoStatus(StrEnum):
    OPEN = "open"
    RECEIVED = "received"  # every line received in full
    CANCELLED = "cancelled"


@dataclass(slots=True)
class PoLine:
    line_id: str
    sku: str
    quantity: int
    received: int = 0
    in_transit: int = 0  # what the latest ASN says is on the truck
    over_received: int = 0

    @property
    def open(self) -> int:
        return max(self.quantity - self.received, 0)


@dataclass(slots=True)
class PurchaseOrder:
    po_id: str
    supplier: str
    location_id: str
    expected_date: str  # ISO date
    lines: list[PoLine]
    status: PoStatus = PoStatus.OPEN
    created_at: str = ""
    updated_at: str = ""
    events: list[str] = field(default_factory=list)  # applied event ids, newest last
    history: list[dict[str, Any]] = field(default_factory=list)
    version: int = 0  # 0: not stored yet

    def line(self, line_id: str) -> PoLine | None:
        return next((ln for ln in self.lines if ln.line_id == line_id), None)

    def seen(self, event_id: str) -> bool:
        return event_id in self.events

    def mark(self, event_id: str) -> None:
        self.events = [*self.events, event_id][-MAX_EVENTS:]

    def settle(self) -> None:
        if self.status != PoStatus.CANCELLED and all(ln.open == 0 for ln in self.lines):
            self.status = PoStatus.RECEIVED


def po_to_doc(po: PurchaseOrder) -> dict[str, Any]:
    doc = asdict(po)
    doc["status"] = po.status.value
    return doc


def po_from_doc(doc: dict[str, Any]) -> PurchaseOrder:
    return PurchaseOrder(
        **{k: v for k, v in doc.items() if k not in ("lines", "status")},
        lines=[PoLine(**ln) for ln in doc["lines"]],
        status=PoStatus(doc["status"]),
    )


def revise(
    po: PurchaseOrder, *, supplier: str, expected_date: str, lines: Sequence[PoLine], at: str
) -> bool:
    """Apply a PUT to a stored PO: date, supplier and quantities (never below what a line has
    received: ``Conflict`` naming it). Returns whether the expected date moved later."""
    if po.status == PoStatus.CANCELLED:
        raise Conflict(
            f"purchase order {po.po_id} is cancelled", fields=[FieldError("po_id", "cancelled")]
        )
    old = {ln.line_id: ln for ln in po.lines}
    kept = {ln.line_id for ln in lines}
    errors = [
        FieldError(f"lines[{i}].quantity", f"below the {old[ln.line_id].received} received")
        for i, ln in enumerate(lines)
        if ln.line_id in old and ln.quantity < old[ln.line_id].received
    ]
    errors += [
        FieldError("lines", f"line {line_id} has received units and can't be removed")
        for line_id, ln in old.items()
        if line_id not in kept and ln.received
    ]
    if errors:
        raise Conflict("the purchase order can't go below what was received", fields=errors)
    for ln in lines:
        if ln.line_id in old:
            was = old[ln.line_id]
            if was.sku != ln.sku:
                raise Conflict(
                    f"line {ln.line_id} is for {was.sku}",
                    fields=[FieldError("lines", f"line {ln.line_id}: sku can't change")],
                )
            ln.received, ln.in_transit = was.received, was.in_transit
            ln.over_received = max(was.received - ln.quantity, 0)
    slipped = expected_date > po.expected_date
    po.supplier, po.expected_date, po.lines, po.updated_at = (
        supplier,
        expected_date,
        list(lines),
        at,
    )
    po.status = PoStatus.OPEN
    po.settle()
    po.history.append({"at": at, "event": "revised", "expected_date": expected_date})
    return slipped


def apply_asn(
    po: PurchaseOrder,
    event_id: str,
    lines: Iterable[tuple[str, int]],
    expected: str | None,
    at: str,
) -> bool:
    """What is on the truck (``(po_line, quantity)``) and when it comes. False: seen before.
    An unknown line is a ``Conflict`` naming it."""
    if po.seen(event_id):
        return False
    for line_id, quantity in lines:
        line = po.line(line_id)
        if line is None:
            raise Conflict(
                f"{po.po_id} has no line {line_id}", fields=[FieldError("po_line", "unknown")]
            )
        line.in_transit = quantity
    if expected:
        po.expected_date = expected
    po.mark(event_id)
    po.updated_at = at
    po.history.append(
        {"at": at, "event": "asn", "event_id": event_id, "expected_date": po.expected_date}
    )
    return True


def apply_receipt(po: PurchaseOrder, event_id: str, line_id: str, quantity: int, at: str) -> bool:
    """Received units close the line; more than ordered is kept as ``over_received``."""
    if po.seen(event_id):
        return False
    line = po.line(line_id)
    if line is None:
        raise Conflict(
            f"{po.po_id} has no line {line_id}", fields=[FieldError("po_line", "unknown")]
        )
    line.received += quantity
    line.in_transit = max(line.in_transit - quantity, 0)
    line.over_received = max(line.received - line.quantity, 0)
    po.mark(event_id)
    po.updated_at = at
    po.settle()
    po.history.append({"at": at, "event": "received", "line_id": line_id, "quantity": quantity})
    return True


# --- available to promise -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Supply:
    """Free units of ``sku`` at ``location_id``: on the shelf (``expected`` None) or on a PO."""

    sku: str
    location_id: str
    quantity: int
    expected: date | None = None
    po_id: str | None = None


@dataclass(frozen=True, slots=True)
class Demand:
    key: str  # the order id
    sku: str
    quantity: int
    ship_to: Address
    excluded: frozenset[str] = frozenset()  # locations the order's channel may not use
    not_before: date | None = None  # a preorder ships no earlier than its release


@dataclass(frozen=True, slots=True)
class Promise:
    key: str
    sku: str
    date: date | None  # None: no known supply covers it
    po_ids: tuple[str, ...] = ()


def po_supply(pos: Iterable[PurchaseOrder], sku: str) -> list[Supply]:
    return [
        Supply(sku, po.location_id, ln.open, date.fromisoformat(po.expected_date), po.po_id)
        for po in pos
        if po.status == PoStatus.OPEN
        for ln in po.lines
        if ln.sku == sku and ln.open > 0
    ]


def arrival(
    location: Location,
    services: Sequence[CarrierService],
    ship_to: Address,
    now: datetime,
    expected: date | None,
) -> date | None:
    """When units at ``location`` (there now, or received on ``expected``) reach ``ship_to``
    by its fastest lane; None when no carrier lane serves that route."""
    if not location.can(Capability.SHIP):
        return None
    if expected is None:
        start = now
    else:
        local = datetime.combine(expected, time(0, 0), tzinfo=ZoneInfo(location.timezone))
        start = max(now, local)
    best: date | None = None
    for service in services:
        if service.speed == Speed.TRANSFER:
            continue
        for lane in service.lanes:
            if lane.from_country != location.country or lane.to_country != ship_to.country:
                continue
            shipped = ship_date(
                location, start, cutoff_shift_hours=service.order_cutoff_shift_hours
            )
            when = delivery_date(shipped, transit_days(service, lane, ship_to), ship_to.country)
            best = when if best is None or when < best else best
    return best


def promise(
    demands: Sequence[Demand],
    supply: Sequence[Supply],
    dated: Callable[[Supply, Demand], date | None],
) -> list[Promise]:
    """Promises for ``demands`` in their order (first promised, first served): each takes the
    earliest-arriving free pieces it may use; what it takes is gone for those behind."""
    free = {i: s.quantity for i, s in enumerate(supply)}
    out: list[Promise] = []
    for demand in demands:
        candidates = []
        for i, s in enumerate(supply):
            if s.sku != demand.sku or s.location_id in demand.excluded or free[i] <= 0:
                continue
            when = dated(s, demand)
            if when is not None:
                if demand.not_before and when < demand.not_before:
                    when = demand.not_before
                candidates.append((when, i))
        candidates.sort()
        wanted, latest, used = demand.quantity, None, list[str]()
        taking: dict[int, int] = {}
        for when, i in candidates:
            if wanted <= 0:
                break
            take = min(free[i], wanted)
            taking[i], wanted, latest = take, wanted - take, when
            po_id = supply[i].po_id
            if po_id and po_id not in used:
                used.append(po_id)
        if wanted > 0:
            out.append(Promise(demand.key, demand.sku, None))
            continue
        for i, take in taking.items():
            free[i] -= take
        out.append(Promise(demand.key, demand.sku, latest, tuple(used)))
    return out
