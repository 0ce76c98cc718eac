"""Cancelling an order, whole or by lines, as a protocol with its locations: pure rules.

Units not yet sent to a location (backordered, or in a shipment whose request was never sent)
are cancelled at once and their reservations freed. Units a location already holds a request
for can only be asked back: the shipment gets a ``cancel_request`` (sent by the dispatcher) and
stays as it is until the location answers ``cancel_confirmed`` (the units are freed) or
``cancel_rejected`` (it ships anyway). A shipment that leaves its location after it was
cancelled is not ignored: its units come off ``on_hand`` once and the order says "shipped after
cancel".
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from chalicelib.domain.errors import Conflict, FieldError, InvalidInput
from chalicelib.domain.inventory import Movement
from chalicelib.domain.order.model import Order, OrderShipment, ShipmentStatus
from chalicelib.domain.order.stock import Move, release_moves


class CancelState(StrEnum):
    NONE = ""
    REQUESTED = "requested"  # the location was (or is about to be) asked; no answer yet
    REJECTED = "rejected"  # the location refused: the shipment goes on
    CONFIRMED = "confirmed"  # the location agreed: the units asked back were freed
    NOTICE = "notice"  # cancelled here while the location may hold its request: tell it


@dataclass
class Cancellation:
    """What one cancel did: the units cancelled at once, those asked back from locations."""

    moves: list[Move] = field(default_factory=list)
    cancelled: dict[str, int] = field(default_factory=dict)
    requested: dict[str, int] = field(default_factory=dict)
    dropped_backorders: list[str] = field(default_factory=list)  # SKUs no longer backordered

    def __bool__(self) -> bool:
        return bool(self.cancelled or self.requested)


def cancellable(order: Order) -> dict[str, int]:
    """Units per SKU a cancel can still reach (at once or by asking the location)."""
    out: dict[str, int] = {}
    for sku, quantity in order.backorders.items():
        out[sku] = out.get(sku, 0) + quantity
    for shipment in order.shipments:
        if _reachable(shipment):
            for sku, quantity in shipment.lines.items():
                out[sku] = out.get(sku, 0) + quantity
    return {sku: q for sku, q in out.items() if q > 0}


def cancel(
    order: Order, lines: dict[str, int] | None, *, at: str, source: str, reason: str = ""
) -> Cancellation:
    """Cancel ``lines`` (``sku -> units``), or everything still cancellable when None.
    Raises InvalidInput (a SKU not on the order) or Conflict (more than can be cancelled)."""
    reachable = cancellable(order)
    wanted = dict(reachable) if lines is None else _checked(order, lines, reachable)
    done = Cancellation()
    for sku in sorted(wanted):
        left = wanted[sku]
        left -= _from_backorders(order, sku, left, done)
        for shipment in _cancel_order(order):
            if left <= 0:
                break
            if _reachable(shipment) and shipment.lines.get(sku, 0):
                left -= _from_shipment(order, shipment, sku, left, done)
    if done:
        detail: dict[str, Any] = {"reason": reason}
        if done.cancelled:
            detail["cancelled"] = done.cancelled
        if done.requested:
            detail["requested"] = done.requested
        event = "cancel_requested" if done.requested else "cancelled"
        order.record(at=at, event=event, source=source, **detail)
    if done.requested:
        for shipment in order.shipments:
            if shipment.cancel == CancelState.REQUESTED and not shipment.cancel_reason:
                shipment.cancel_reason = reason
    return done


def confirm(order: Order, shipment: OrderShipment, *, back: bool = False) -> list[Move]:
    """The location agreed to a cancel request: free the units it asked back (``back``: the
    pick-up store sends a transfer's units back, see ``release_moves``). Returns the moves
    (none when the shipment left meanwhile, or for a notice: already freed)."""
    if shipment.cancel == CancelState.NOTICE:
        shipment.cancel = CancelState.CONFIRMED
        return []
    if shipment.cancel == CancelState.REJECTED and not shipment.open:
        return []  # it shipped before the location answered: nothing left to free
    if shipment.cancel != CancelState.REQUESTED:
        raise Conflict(
            f"shipment {shipment.shipment_id} has no cancellation waiting",
            fields=[FieldError("shipment_id", f"cancel state {shipment.cancel or 'none'}")],
        )
    asked, shipment.cancel_lines = shipment.cancel_lines, {}
    shipment.cancel = CancelState.CONFIRMED
    if not shipment.open:
        return []  # it left first (events crossed): shipping took the units
    asked = {sku: min(q, shipment.lines.get(sku, 0)) for sku, q in asked.items()}
    moves = release_moves(shipment, asked, back=back)
    whole = all(asked.get(sku, 0) >= q for sku, q in shipment.lines.items())
    for sku, quantity in asked.items():
        if quantity:
            order.cancelled[sku] = order.cancelled.get(sku, 0) + quantity
    if whole:
        shipment.status = ShipmentStatus.CANCELLED
    else:
        for sku, quantity in asked.items():
            shipment.lines[sku] -= quantity
            if not shipment.lines[sku]:
                del shipment.lines[sku]
    return moves


def reject(shipment: OrderShipment, reason: str) -> bool:
    """The location refused: the shipment goes on. False when nothing was waiting."""
    if shipment.cancel not in (CancelState.REQUESTED, CancelState.NOTICE):
        return False
    shipment.cancel, shipment.cancel_lines = CancelState.REJECTED, {}
    shipment.cancel_reason = reason
    return True


def cancel_message_id(shipment: OrderShipment) -> str:
    """Stable per request: a re-sent request has the same id, a new request a new one."""
    text = ";".join(f"{s}={q}" for s, q in sorted(shipment.cancel_lines.items()))
    digest = hashlib.blake2b(f"{shipment.cancel}#{text}".encode(), digest_size=4).hexdigest()
    return f"{shipment.shipment_id}:cancel:{digest}"


def cancel_target(shipment: OrderShipment) -> str:
    """The location to ask: the pick-up store once the units wait there, else the source."""
    if shipment.status == ShipmentStatus.READY_FOR_PICKUP and shipment.pickup_location_id:
        return shipment.pickup_location_id
    return shipment.held_at or shipment.location_id


def _reachable(shipment: OrderShipment) -> bool:
    return shipment.open and bool(shipment.lines) and shipment.cancel != CancelState.REJECTED


def _cancel_order(order: Order) -> list[OrderShipment]:
    """Shipments never sent first (freed at once), then the latest: re-sourced and backorder
    shipments are the least advanced."""
    ranked = sorted(enumerate(order.shipments), key=lambda p: (p[1].dispatched, -p[0]))
    return [shipment for _, shipment in ranked]


def _checked(order: Order, lines: dict[str, int], reachable: dict[str, int]) -> dict[str, int]:
    ordered = {line.sku for line in order.lines}
    for i, (sku, quantity) in enumerate(lines.items()):
        if sku not in ordered:
            raise InvalidInput(
                f"{sku} is not on order {order.order_id}",
                fields=[FieldError(f"lines[{i}].sku", "not on this order")],
            )
        can = reachable.get(sku, 0) - _pending(order, sku)
        if quantity > can:
            raise Conflict(
                f"only {can} of {sku} can still be cancelled",
                fields=[FieldError(f"lines[{i}].quantity", f"at most {can}")],
            )
    return dict(lines)


def _pending(order: Order, sku: str) -> int:
    """Units of ``sku`` already asked back and waiting for the location's answer."""
    return sum(
        s.cancel_lines.get(sku, 0) for s in order.shipments if s.cancel == CancelState.REQUESTED
    )


def _from_backorders(order: Order, sku: str, want: int, done: Cancellation) -> int:
    have = order.backorders.get(sku, 0)
    take = min(have, want)
    if not take:
        return 0
    if take == have:
        del order.backorders[sku]
        done.dropped_backorders.append(sku)
    else:
        order.backorders[sku] = have - take
    _add(order.cancelled, sku, take)
    _add(done.cancelled, sku, take)
    return take


def _from_shipment(
    order: Order, shipment: OrderShipment, sku: str, want: int, done: Cancellation
) -> int:
    if shipment.dispatched:
        free = shipment.lines[sku] - shipment.cancel_lines.get(sku, 0)
        take = min(free, want)
        if take > 0:
            _add(shipment.cancel_lines, sku, take)
            shipment.cancel, shipment.cancel_sent = CancelState.REQUESTED, False
            _add(done.requested, sku, take)
        return max(take, 0)
    take = min(shipment.lines[sku], want)
    done.moves += release_moves(shipment, {sku: take})
    _add(order.cancelled, sku, take)
    _add(done.cancelled, sku, take)
    if take == sum(shipment.lines.values()):
        shipment.status = ShipmentStatus.CANCELLED  # the whole shipment: its lines stay
    else:
        shipment.lines[sku] -= take
        if not shipment.lines[sku]:
            del shipment.lines[sku]
    return take


def _add(counts: dict[str, int], sku: str, quantity: int) -> None:
    counts[sku] = counts.get(sku, 0) + quantity


LEAVING = frozenset({ShipmentStatus.SHIPPED, ShipmentStatus.DELIVERED, ShipmentStatus.COLLECTED})
_AWAY = frozenset({ShipmentStatus.IN_TRANSIT, ShipmentStatus.READY_FOR_PICKUP})


@dataclass
class AfterCancel:
    """What a location did with a shipment that was cancelled here."""

    event: str  # for the order's history
    moves: list[Move]
    left: bool  # the units left the network: the shipment counts as shipped again


def moved_after_cancel(
    order: Order, shipment: OrderShipment, target: ShipmentStatus
) -> AfterCancel | None:
    """A cancelled shipment moved anyway (``target``, as its path names it): its units move
    where they physically went, once each, unreserved (the cancel freed their reservation).
    A transfer that leaves for its store is in transit there, and sellable there once it
    arrives; a shipment that leaves the network (shipped, collected) counts as shipped again
    and the order says "shipped after cancel". None when the event says nothing new."""
    if shipment.status != ShipmentStatus.CANCELLED or target not in shipment.path:
        return None
    done = {h.event for h in order.history if h.shipment_id == shipment.shipment_id}
    store = shipment.pickup_location_id or shipment.location_id
    lines = sorted((sku, q) for sku, q in shipment.lines.items() if q > 0)
    left = "shipped_after_cancel" in done
    if not shipment.transfer or left:
        if target not in LEAVING or left:
            return None
        _revive(order, shipment, target)
        gone = [(Movement.SHIP_UNRESERVED, (sku, shipment.stock_at, q)) for sku, q in lines]
        return AfterCancel("shipped_after_cancel", gone, left=True)
    landed = "arrived_after_cancel" in done
    sent = landed or "transferred_after_cancel" in done
    moves: list[Move] = []
    if not sent and (target in _AWAY or target in LEAVING):  # the units left the source
        moves += [(Movement.SHIP_UNRESERVED, (s, shipment.location_id, q)) for s, q in lines]
    if target == ShipmentStatus.IN_TRANSIT:
        if sent:
            return None
        shipment.held_at = store
        moves += [(Movement.TRANSIT, (sku, store, q)) for sku, q in lines]
        return AfterCancel("transferred_after_cancel", moves, left=False)
    if target == ShipmentStatus.READY_FOR_PICKUP:
        if landed:
            return None
        shipment.held_at = store
        step = Movement.LAND if sent else Movement.TRANSFER_FREE
        moves += [(step, (sku, store, q)) for sku, q in lines]
        return AfterCancel("arrived_after_cancel", moves, left=False)
    if target in LEAVING:
        if sent and not landed:
            moves += [(Movement.TRANSIT_OUT, (sku, store, q)) for sku, q in lines]
        elif landed:
            moves += [(Movement.SHIP_UNRESERVED, (sku, store, q)) for sku, q in lines]
        _revive(order, shipment, target)
        return AfterCancel("shipped_after_cancel", moves, left=True)
    return None


def _revive(order: Order, shipment: OrderShipment, target: ShipmentStatus) -> None:
    for sku, quantity in shipment.lines.items():
        order.cancelled[sku] = order.cancelled.get(sku, 0) - quantity
        if order.cancelled[sku] <= 0:
            del order.cancelled[sku]
    shipment.status = target
    shipment.after_cancel = True


def settle_on_leave(shipment: OrderShipment) -> bool:
    """A shipment left while a cancel request waited: the request is moot (the location
    shipped first). True when one waited."""
    if shipment.cancel != CancelState.REQUESTED or shipment.open:
        return False
    shipment.cancel, shipment.cancel_lines = CancelState.REJECTED, {}
    shipment.cancel_reason = "shipped before the cancel request was answered"
    shipment.after_cancel = True
    return True
