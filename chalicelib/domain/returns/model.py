"""The RMA on plain data: its lines, states, refunds and receipts, and its stored form.

An RMA moves ``requested -> in_transit -> received -> restocked | quarantined -> refunded``; a
state is only ever left for a later one (``Rma._enter``). The rules that move it, and what a
return request must meet, are in ``policy``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class ReturnReason(StrEnum):
    CHANGED_MIND = "changed_mind"  # the customer no longer wants it
    WRONG_SIZE = "wrong_size"  # it does not fit
    NOT_AS_DESCRIBED = "not_as_described"  # it differs from its description (our fault)
    DEFECTIVE = "defective"  # it does not work (our fault)
    DAMAGED_IN_TRANSIT = "damaged_in_transit"  # it arrived broken (our fault)
    WRONG_ITEM = "wrong_item"  # we sent something else (our fault)
    OTHER = "other"  # see the free text


# Reasons that are the retailer's fault: the customer gets the shipping back too.
RETAILER_FAULT = frozenset(
    {
        ReturnReason.NOT_AS_DESCRIBED,
        ReturnReason.DEFECTIVE,
        ReturnReason.DAMAGED_IN_TRANSIT,
        ReturnReason.WRONG_ITEM,
    }
)


class RmaStatus(StrEnum):
    REQUESTED = "requested"  # the customer asked; nothing has moved yet
    IN_TRANSIT = "in_transit"  # the carrier has the parcel
    RECEIVED = "received"  # units arrived at a location; more are still expected
    RESTOCKED = "restocked"  # everything arrived; the sellable units are back on hand
    QUARANTINED = "quarantined"  # everything arrived damaged; nothing went back on sale
    REFUNDED = "refunded"  # everything arrived and its refund is recorded
    CANCELLED = "cancelled"  # withdrawn before anything moved: its units count nowhere


_RANK = {
    RmaStatus.REQUESTED: 0,
    RmaStatus.IN_TRANSIT: 1,
    RmaStatus.RECEIVED: 2,
    RmaStatus.RESTOCKED: 3,
    RmaStatus.QUARANTINED: 3,
    RmaStatus.REFUNDED: 4,
    RmaStatus.CANCELLED: 5,  # final: no event moves it on
}


class Condition(StrEnum):
    SELLABLE = "sellable"  # back on sale: on_hand at the receiving location
    DAMAGED = "damaged"  # counted in quarantine, never available


@dataclass(frozen=True, slots=True)
class RequestedLine:
    sku: str
    quantity: int
    reason: ReturnReason
    comment: str = ""


@dataclass(slots=True)
class RmaLine:
    sku: str
    quantity: int
    reason: ReturnReason
    unit_price: int  # minor units, what the customer paid
    comment: str = ""
    sellable: int = 0  # units received in sellable condition
    damaged: int = 0  # units received damaged

    @property
    def received(self) -> int:
        return self.sellable + self.damaged

    @property
    def outstanding(self) -> int:
        return self.quantity - self.received


@dataclass(slots=True)
class Refund:
    """What one receipt refunds: the units it brought and, by policy, the shipping."""

    event_id: str
    at: str
    currency: str
    items: int  # minor units
    shipping: int  # minor units
    lines: dict[str, int]  # sku -> units refunded

    @property
    def total(self) -> int:
        return self.items + self.shipping


@dataclass(slots=True)
class Rma:
    rma_id: str
    order_id: str
    channel: str
    currency: str
    created_at: str
    lines: list[RmaLine]
    source: str  # who asked: "customer" or a service key
    status: RmaStatus = RmaStatus.REQUESTED
    options: list[dict[str, Any]] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)
    receipts: list[dict[str, Any]] = field(default_factory=list)
    refunds: list[Refund] = field(default_factory=list)
    carrier: str | None = None
    tracking_number: str | None = None
    version: int = 0

    @property
    def refunded(self) -> int:
        return sum(r.total for r in self.refunds)

    @property
    def shipping_refunded(self) -> int:
        return sum(r.shipping for r in self.refunds)

    @property
    def complete(self) -> bool:
        return all(line.outstanding == 0 for line in self.lines)

    def line(self, sku: str) -> RmaLine | None:
        return next((line for line in self.lines if line.sku == sku), None)

    def _enter(self, status: RmaStatus, *, at: str, event: str, **detail: Any) -> bool:
        """Record ``event``; move to ``status`` when it is later than the current one."""
        moved = _RANK[status] > _RANK[self.status]
        if moved:
            self.status = status
        entry = {"at": at, "event": event, "status": self.status.value, **detail}
        self.history.append(entry if moved else {**entry, "late": True})
        return moved


# --- stored and summarised forms -------------------------------------------------------------


def summary(rma: Rma) -> dict[str, Any]:
    """What the order keeps of one of its RMAs (shown on the order and in tracking)."""
    return {
        "rma_id": rma.rma_id,
        "status": rma.status.value,
        "created_at": rma.created_at,
        "lines": {line.sku: line.quantity for line in rma.lines},
        "reasons": {line.sku: line.reason.value for line in rma.lines},  # for the reports
        "received": {line.sku: line.received for line in rma.lines if line.received},
        "currency": rma.currency,
        "refunded": rma.refunded,
        "shipping_refunded": rma.shipping_refunded,
    }


def rma_to_doc(rma: Rma) -> dict[str, Any]:
    doc = asdict(rma)
    doc["refunded"] = rma.refunded
    return doc


def rma_from_doc(doc: dict[str, Any]) -> Rma:
    fields = {k: v for k, v in doc.items() if k not in ("lines", "refunds", "status", "refunded")}
    return Rma(
        **fields,
        status=RmaStatus(doc["status"]),
        lines=[
            RmaLine(**{**line, "reason": ReturnReason(line["reason"])}) for line in doc["lines"]
        ],
        refunds=[Refund(**r) for r in doc.get("refunds", [])],
    )
