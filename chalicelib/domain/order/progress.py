"""What a location's event does to an order: pure rules, no I/O.

Events arrive at least once and in any order. Each one moves a shipment forward along its path
(a later state arriving first is accepted, an older one arriving late changes no state; it
only adds its line to the history) and says
which stock movements follow. Units leave ``on_hand`` exactly once per shipment: when the
shipment first reaches a state past its location (``shipped``, or ``collected`` for a pick-up),
whichever event brings it there. A short pick takes units off the shipment; while they are
still reserved at the location it also says to write them off there (``Movement.SHORT``), and
once the shipment has left, shipping already took them off ``on_hand``. A later ``shipped``
with another tracking number corrects the shipment's (``tracking_corrected``); an earlier one
arriving late changes nothing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from chalicelib.domain.errors import FieldError, InvalidInput, NotFound
from chalicelib.domain.inventory import stamp
from chalicelib.domain.order.model import Order, OrderShipment, ShipmentStatus
from chalicelib.domain.order.stock import Move, progress_moves, short_moves


class ShipmentEventType(StrEnum):
    PICKED = "picked"  # the location picked and packed the shipment
    SHIPPED = "shipped"  # handed to the carrier, with carrier and tracking number
    DELIVERED = "delivered"  # the carrier delivered it
    READY_FOR_PICKUP = "ready_for_pickup"  # it waits at the pick-up store's counter
    COLLECTED = "collected"  # the customer took it at the store
    SHORT_PICK = "short_pick"  # units of a line were not found on the shelf
    CANCEL_CONFIRMED = "cancel_confirmed"  # the location agreed to a cancel request
    CANCEL_REJECTED = "cancel_rejected"  # the location refused it: the shipment goes on
    # A transfer back (domain.order.stock): the store sent the units, the source received them.
    TRANSFER_BACK_SHIPPED = "transfer_back_shipped"
    TRANSFER_BACK_RECEIVED = "transfer_back_received"


TARGETS = {
    ShipmentEventType.PICKED: ShipmentStatus.PICKED,
    ShipmentEventType.SHIPPED: ShipmentStatus.SHIPPED,
    ShipmentEventType.DELIVERED: ShipmentStatus.DELIVERED,
    ShipmentEventType.READY_FOR_PICKUP: ShipmentStatus.READY_FOR_PICKUP,
    ShipmentEventType.COLLECTED: ShipmentStatus.COLLECTED,
}


@dataclass
class Progress:
    """The outcome of one event on one order."""

    changed: bool = False  # the order must be saved
    moves: list[Move] = field(default_factory=list)
    ignored: str = ""  # why nothing happened (a cancelled shipment), for the log
    left_now: bool = False  # this event took the shipment out of its location
    entered: ShipmentStatus | None = None  # the state the shipment moved to, if it moved
    short: int = 0  # units taken off the shipment by a short pick


def shipment_for_event(order: Order, shipment_id: str, location_id: str) -> OrderShipment:
    """The shipment an event names, checked against the location that sent it (a pick-up's
    store may report too)."""
    try:
        shipment = order.shipment(shipment_id)
    except KeyError:
        raise NotFound(
            f"order {order.order_id} has no shipment {shipment_id}",
            fields=[FieldError("shipment_id", "unknown")],
        ) from None
    if location_id not in (shipment.location_id, shipment.pickup_location_id):
        raise InvalidInput(
            f"shipment {shipment_id} is not handled by {location_id}",
            fields=[FieldError("location_id", f"expected {shipment.location_id}")],
        )
    return shipment


def advance_shipment(
    order: Order,
    shipment: OrderShipment,
    event_type: ShipmentEventType,
    *,
    at: str,
    source: str,
    carrier: str | None = None,
    tracking_number: str | None = None,
) -> Progress:
    """Apply a progress event (everything but a short pick) to ``shipment`` of ``order``."""
    if shipment.status == ShipmentStatus.CANCELLED:
        return Progress(ignored=f"shipment {shipment.shipment_id} is cancelled")
    was_open, before = shipment.open, shipment.status
    target = TARGETS[event_type]
    if target == ShipmentStatus.SHIPPED and shipment.transfer:
        target = ShipmentStatus.IN_TRANSIT  # a transfer left for the pick-up store
    moved = shipment.advance(target)  # InvalidTransition off its path
    detail: dict[str, Any] = {}
    if carrier and not shipment.carrier:
        shipment.carrier = detail["carrier"] = carrier
    if tracking_number and not shipment.tracking_number:
        shipment.tracking_number = detail["tracking_number"] = tracking_number
    elif event_type == ShipmentEventType.SHIPPED and _corrects(
        order, shipment, tracking_number, at
    ):
        # a later ``shipped`` with another number: the location corrected it (a relabelled parcel)
        fix = {"tracking_number": tracking_number, "previous": shipment.tracking_number}
        shipment.tracking_number = tracking_number
        if carrier and carrier != shipment.carrier:
            shipment.carrier = fix["carrier"] = carrier
        order.record(
            at=at,
            event="tracking_corrected",
            source=source,
            shipment_id=shipment.shipment_id,
            **fix,
        )
        if not moved:
            return Progress(changed=True)
    if not moved and not detail and _recorded(order, event_type.value, shipment.shipment_id):
        return Progress()  # a step sent again under a new event id: nothing new to tell
    # Recorded even when late: the timeline shows every step at the time it happened, and the
    # same events give the same history whatever order they arrived in.
    progress = Progress(changed=True)
    if moved:
        progress.entered = shipment.status
        shipment.updated_at = at
    progress.left_now = was_open and shipment.left_location
    progress.moves = progress_moves(shipment, before)  # transfers move on the way too
    order.record(
        at=at,
        event=event_type.value,
        source=source,
        shipment_id=shipment.shipment_id,
        **detail,
        **({} if moved else {"late": True}),
    )
    return progress


def _corrects(order: Order, shipment: OrderShipment, number: str | None, at: str) -> bool:
    """Whether ``number``, reported ``at``, replaces the shipment's tracking number: it differs,
    and no entry that set one is as recent (events arrive in any order: the latest counts)."""
    if not number or not shipment.tracking_number or number == shipment.tracking_number:
        return False
    when = stamp(at)
    return all(
        stamp(e.at) < when
        for e in order.history
        if e.shipment_id == shipment.shipment_id and "tracking_number" in e.detail
    )


def _recorded(order: Order, event: str, shipment_id: str) -> bool:
    return any(e.event == event and e.shipment_id == shipment_id for e in order.history)


def take_short(
    order: Order,
    shipment: OrderShipment,
    *,
    sku: str,
    picked: int,
    at: str,
    source: str,
) -> Progress:
    """Only ``picked`` units of ``sku`` were found for the shipment: its line falls to that,
    never rises (a resent short pick, ``picked`` at or above what it holds, changes nothing).
    The caller re-sources ``Progress.short`` units, or backorders or cancels them."""
    if shipment.status == ShipmentStatus.CANCELLED:
        return Progress(ignored=f"shipment {shipment.shipment_id} is cancelled")
    have = shipment.lines.get(sku, 0)
    if have == 0 and sku not in _ever_in(order, shipment):
        raise InvalidInput(
            f"shipment {shipment.shipment_id} holds no {sku}",
            fields=[FieldError("sku", f"{sku} is not in this shipment")],
        )
    short = max(have - picked, 0)
    if short == 0:
        return Progress(
            ignored=f"{picked} {sku} picked, {shipment.shipment_id} holds {have}: none short"
        )
    if short == have:
        del shipment.lines[sku]
    else:
        shipment.lines[sku] = have - short
    moves = short_moves(shipment, sku, short)  # where the units are (a transfer's store)
    order.record(
        at=at,
        event="short_pick",
        source=source,
        shipment_id=shipment.shipment_id,
        sku=sku,
        picked_quantity=picked,
        missing_quantity=short,
    )
    return Progress(changed=True, moves=moves, short=short)


def _ever_in(order: Order, shipment: OrderShipment) -> set[str]:
    """SKUs the shipment held at some point (short picks may have emptied a line)."""
    return {
        h.detail.get("sku", "")
        for h in order.history
        if h.event == "short_pick" and h.shipment_id == shipment.shipment_id
    }


def resourced_shipment_id(shipment_id: str, event_id: str) -> str:
    """The id of the shipment that replaces a short pick's units: derived from the event, so
    the same event always yields the same shipment whatever arrived before it."""
    digest = hashlib.blake2b(event_id.encode(), digest_size=3).hexdigest()
    return f"{shipment_id}-r{digest}"
