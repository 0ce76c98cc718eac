"""Changes to an order before its locations work on it: holds, payment status and a new
ship-to. Pure rules on the ``Order``; ``chalicelib.services.order_changes`` stores them.

A hold keeps the shipments not yet released where they are (reserved, not sent); shipments
already released go on (a hold never recalls them: that is a cancel). Backorders of a held
order are still reserved when stock arrives, and wait like the rest.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from chalicelib.domain.errors import Conflict, FieldError
from chalicelib.domain.inventory import Movement
from chalicelib.domain.order.model import (
    Order,
    OrderShipment,
    OrderStatus,
    ShipmentStatus,
    shipment_id_for,
)

Reservation = tuple[str, str, int]  # sku, location_id, quantity


class HoldKind(StrEnum):
    PAYMENT = "payment"  # payment not yet authorized or captured
    FRAUD = "fraud"  # under fraud review
    MANUAL = "manual"  # customer service keeps it
    ADDRESS = "address"  # the address may still change (keeps the order editable)


class PaymentStatus(StrEnum):
    PENDING = "pending"
    AUTHORIZED = "authorized"
    CAPTURED = "captured"
    FAILED = "failed"  # recorded only: the channel decides to hold or cancel
    REFUNDED = "refunded"


def released(order: Order) -> list[str]:
    """``"<shipment> to <location>"`` for every shipment a location has received."""
    return [
        f"{s.shipment_id} to {s.location_id}"
        for s in order.shipments
        if s.dispatched or (s.status != ShipmentStatus.CANCELLED and s.status != s.path[0])
    ]


def holdable(order: Order) -> bool:
    """Something is still to be released: an unsent open shipment, or a backorder."""
    unsent = any(s.open and not s.dispatched and s.lines for s in order.shipments)
    return unsent or any(q > 0 for q in order.backorders.values())


def place_hold(order: Order, kind: HoldKind, reason: str, *, by: str, at: str) -> bool:
    """Hold ``order``; False (nothing changes) when a hold of that kind is there already.
    Conflict when there is nothing left to hold."""
    if kind.value in order.holds:
        return False
    if not holdable(order):
        why = (
            "the order is cancelled"
            if order.status == OrderStatus.CANCELLED
            else "every shipment was released: " + ", ".join(released(order))
        )
        raise Conflict(
            f"nothing left to hold: {why}",
            fields=[FieldError("order_id", f"nothing left to hold: {why}")],
        )
    order.holds[kind.value] = {"reason": reason, "by": by, "at": at}
    order.record(at=at, event="hold_placed", source=by, kind=kind.value, reason=reason)
    return True


def release_hold(order: Order, kind: HoldKind, *, by: str, at: str) -> bool:
    """Release a hold; False (nothing changes) when there is none of that kind. When the last
    hold goes, so does the auto-cancel deadline."""
    if order.holds.pop(kind.value, None) is None:
        return False
    if not order.holds:
        order.auto_cancel_at = None
    order.record(at=at, event="hold_released", source=by, kind=kind.value)
    return True


def hold_at_capture(
    order: Order,
    holds: dict[str, str],
    *,
    payment_status: str,
    auto_cancel_after_hours: int | None,
    by: str,
    now: datetime,
    at: str,
) -> None:
    """The holds, payment status and auto-cancel deadline a channel asked for at capture.
    The deadline only applies to a held order."""
    for kind, reason in holds.items():
        order.holds[kind] = {"reason": reason, "by": by, "at": at}
        order.record(at=at, event="hold_placed", source=by, kind=kind, reason=reason)
    order.payment_status = payment_status
    if holds and auto_cancel_after_hours:
        deadline = now + timedelta(hours=auto_cancel_after_hours)
        order.auto_cancel_at = deadline.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def set_payment(order: Order, status: PaymentStatus, *, by: str, at: str) -> bool:
    """Record the channel's payment status; False when it is the same already."""
    if order.payment_status == status.value:
        return False
    previous = order.payment_status
    order.payment_status = status.value
    order.record(at=at, event="payment_updated", source=by, status=status.value, was=previous)
    return True


def check_address_editable(order: Order) -> None:
    """Conflict naming why, unless no location has received any shipment of the order."""
    if order.status == OrderStatus.CANCELLED:
        raise Conflict(
            "the order is cancelled",
            fields=[FieldError("ship_to", "the order is cancelled")],
        )
    gone = released(order)
    if gone:
        raise Conflict(
            "the address can't change after release: " + ", ".join(gone),
            fields=[FieldError("ship_to", "released: " + ", ".join(gone))],
        )


def open_lines(order: Order) -> dict[str, int]:
    """Units in open shipments (what a new address re-sources), sku -> quantity."""
    out: dict[str, int] = {}
    for shipment in order.shipments:
        if shipment.open:
            for sku, quantity in shipment.lines.items():
                out[sku] = out.get(sku, 0) + quantity
    return out


def swap_shipments(order: Order, fresh: list[OrderShipment]) -> None:
    """Put ``fresh`` in place of the order's open (unreleased) shipments. Fresh shipments take
    the ids of the ones they replace, then new ids; a replaced shipment left over is
    cancelled empty (its units are in the fresh ones, never counted as cancelled)."""
    slots = [i for i, s in enumerate(order.shipments) if s.open]
    for j, shipment in enumerate(fresh):
        if j < len(slots):
            shipment.shipment_id = order.shipments[slots[j]].shipment_id
            order.shipments[slots[j]] = shipment
        else:
            shipment.shipment_id = shipment_id_for(order.order_id, len(order.shipments))
            order.shipments.append(shipment)
    for i in slots[len(fresh) :]:
        old = order.shipments[i]
        old.lines, old.status = {}, ShipmentStatus.CANCELLED
        old.cancel_reason = "replaced: the address changed"


def net_moves(
    before: list[Reservation], after: list[Reservation]
) -> list[tuple[Movement, Reservation]]:
    """One movement per stock item from the old reservations to the new ones (a transaction
    may touch each item once): reserve what is added, release what is freed."""
    delta: dict[tuple[str, str], int] = {}
    for sku, loc, q in before:
        delta[(sku, loc)] = delta.get((sku, loc), 0) - q
    for sku, loc, q in after:
        delta[(sku, loc)] = delta.get((sku, loc), 0) + q
    moves: list[tuple[Movement, Reservation]] = []
    for (sku, loc), q in sorted(delta.items()):
        if q > 0:
            moves.append((Movement.RESERVE, (sku, loc, q)))
        elif q < 0:
            moves.append((Movement.RELEASE, (sku, loc, -q)))
    return moves
