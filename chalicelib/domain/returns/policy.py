"""Returns on plain data: the policy a return request must meet, and the RMA's state machine
with its refund.

An RMA moves ``requested -> in_transit -> received -> restocked | quarantined -> refunded``.
Events arrive at least once and in any order: a state is only ever left for a later one (an
``in_transit`` arriving after the parcel was received joins the history as late), and units are
counted per receipt, so a return may arrive in several parcels. Once every unit is back the RMA
is ``restocked`` (some units were sellable) or ``quarantined`` (all damaged) and, as the refund
is recorded with that same receipt, ``refunded``. Each receipt refunds exactly the units it
brought, so no unit is ever refunded twice; the order's shipping is refunded at most once per
order (see ``shipping_refund``).

The order keeps a summary of each of its RMAs (``Order.returns``), written in the same
transaction as the RMA: the policy reads what was already returned from it. The RMA itself
and its stored form are in ``returns.model``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from chalicelib.domain.errors import Conflict, FieldError, InvalidInput
from chalicelib.domain.inventory import Movement
from chalicelib.domain.network import Product
from chalicelib.domain.order.model import Order, OrderStatus, ShipmentStatus
from chalicelib.domain.returns.model import (
    RETAILER_FAULT,
    Condition,
    Refund,
    RequestedLine,
    Rma,
    RmaLine,
    RmaStatus,
)

Move = tuple[Movement, tuple[str, str, int]]  # movement, (sku, location_id, quantity)


# --- the policy ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Delivered:
    quantity: int
    last_at: str  # ISO 8601: the latest delivery of this SKU (the window runs from it)


def delivered_units(order: Order) -> dict[str, Delivered]:
    """Per SKU, the units delivered or collected and when the last of them arrived."""
    done = (ShipmentStatus.DELIVERED, ShipmentStatus.COLLECTED)
    out: dict[str, Delivered] = {}
    for shipment in order.shipments:
        if shipment.status not in done:
            continue
        at = max(
            (
                h.at
                for h in order.history
                if h.shipment_id == shipment.shipment_id and h.event in done
            ),
            default=shipment.updated_at,
        )
        for sku, quantity in shipment.lines.items():
            before = out.get(sku, Delivered(0, ""))
            out[sku] = Delivered(before.quantity + quantity, max(before.last_at, at))
    return out


def returned_units(order: Order) -> dict[str, int]:
    """Units on their way back or back already: the lines of the order's RMAs whose parcel a
    carrier or a location has. A requested RMA with nothing moved counts nowhere (anyone who
    guessed an order must not block its customer's return), nor does a cancelled one."""
    out: dict[str, int] = {}
    for summary in order.returns.values():
        if summary.get("status") in _NOT_MOVED:
            continue
        for sku, quantity in summary.get("lines", {}).items():
            out[sku] = out.get(sku, 0) + int(quantity)
    return out


def received_units(order: Order, *, besides: str = "") -> dict[str, int]:
    """Units the order's RMAs (but ``besides``) have received."""
    out: dict[str, int] = {}
    for rma_id, summary in order.returns.items():
        if rma_id == besides:
            continue
        for sku, quantity in summary.get("received", {}).items():
            out[sku] = out.get(sku, 0) + int(quantity)
    return out


_NOT_MOVED = (RmaStatus.REQUESTED.value, RmaStatus.CANCELLED.value)


def check_request(
    order: Order,
    lines: Sequence[RequestedLine],
    *,
    products: Mapping[str, Product],
    window_days: int,
    now: datetime,
    by_customer: bool = True,
) -> None:
    """Raise InvalidInput naming every line that breaks the policy: a SKU not on the order, a
    product that is not returnable, nothing delivered yet, the window (``window_days`` from
    the last delivery of the SKU) over, or more than delivered minus already returned.
    Conflict when the order has too many RMAs (``_check_count``)."""
    _check_count(order, by_customer=by_customer)
    ordered = {line.sku for line in order.lines}
    delivered, returned = delivered_units(order), returned_units(order)
    asked: dict[str, int] = {}
    errors: list[FieldError] = []
    for i, line in enumerate(lines):
        problem = _line_problem(line, ordered, products, delivered, window_days, now)
        if problem:
            errors.append(FieldError(f"lines[{i}].{problem[0]}", problem[1]))
            continue
        asked[line.sku] = asked.get(line.sku, 0) + line.quantity
        left = delivered[line.sku].quantity - returned.get(line.sku, 0)
        if asked[line.sku] > left:
            errors.append(
                FieldError(
                    f"lines[{i}].quantity",
                    f"at most {max(left, 0)} of {line.sku} can be returned (delivered "
                    f"{delivered[line.sku].quantity}, already returned "
                    f"{returned.get(line.sku, 0)})",
                )
            )
    if errors:
        raise InvalidInput("the return breaks the return policy", fields=errors)


MAX_OPEN_REQUESTS = 5  # requested RMAs (nothing moved yet) an order may have at once
MAX_RMAS = 50  # RMAs of one order in all: each one is part of the order's item


def _check_count(order: Order, *, by_customer: bool) -> None:
    """A requested RMA holds no units (``returned_units``), so only a count bounds how many
    one tracking token can open (each grows the order's item). Customer service may open
    one past the customer's limit (who else can, when a stranger holds the token)."""
    requested = sum(1 for s in order.returns.values() if s.get("status") == RmaStatus.REQUESTED)
    if by_customer and requested >= MAX_OPEN_REQUESTS:
        raise Conflict(
            "the order has too many open return requests",
            fields=[FieldError("lines", f"{requested} requested returns open: send or cancel one")],
        )
    if len(order.returns) >= MAX_RMAS:
        raise Conflict(
            "the order has had as many returns as it may",
            fields=[FieldError("lines", f"{MAX_RMAS} returns already")],
        )


def _line_problem(
    line: RequestedLine,
    ordered: set[str],
    products: Mapping[str, Product],
    delivered: Mapping[str, Delivered],
    window_days: int,
    now: datetime,
) -> tuple[str, str] | None:
    if line.sku not in ordered:
        return "sku", f"{line.sku} is not on this order"
    product = products.get(line.sku)
    if product is not None and not product.returnable:
        return "sku", f"{line.sku} cannot be returned"
    if line.sku not in delivered:
        return "sku", f"{line.sku} has not been delivered yet"
    ends = _parse(delivered[line.sku].last_at) + timedelta(days=window_days)
    if now > ends:
        return "sku", f"the {window_days}-day return window ended on {ends.date().isoformat()}"
    return None


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# --- the RMA ---------------------------------------------------------------------------------


def new_rma(
    rma_id: str,
    order: Order,
    lines: Sequence[RequestedLine],
    *,
    at: str,
    source: str,
    options: list[dict[str, Any]],
) -> Rma:
    """An RMA for checked ``lines`` (same SKU twice is merged; the first reason wins). Each
    unit is refunded at the lowest price the order paid for the SKU: never more than paid."""
    prices: dict[str, int] = {}
    for order_line in order.lines:
        prices[order_line.sku] = min(
            prices.get(order_line.sku, order_line.unit_price), order_line.unit_price
        )
    merged: dict[str, RmaLine] = {}
    for line in lines:
        if line.sku in merged:
            merged[line.sku].quantity += line.quantity
            continue
        merged[line.sku] = RmaLine(
            line.sku, line.quantity, line.reason, prices[line.sku], line.comment
        )
    rma = Rma(
        rma_id=rma_id,
        order_id=order.order_id,
        channel=order.channel,
        currency=order.currency,
        created_at=at,
        lines=list(merged.values()),
        source=source,
        options=options,
    )
    rma.history.append({"at": at, "event": "requested", "status": rma.status.value})
    return rma


def cancel_rma(rma: Rma, *, at: str, source: str, reason: str = "") -> bool:
    """Withdraw an RMA nothing has moved for yet. False when it is cancelled already;
    Conflict once a carrier or a location has the parcel."""
    if rma.status == RmaStatus.CANCELLED:
        return False
    if rma.status != RmaStatus.REQUESTED:
        raise Conflict(
            f"return {rma.rma_id} is {rma.status.value}: it can no longer be cancelled",
            fields=[FieldError("rma_id", f"status {rma.status.value}")],
        )
    rma.status = RmaStatus.CANCELLED
    rma.history.append(
        {
            "at": at,
            "event": "cancelled",
            "status": rma.status.value,
            "source": source,
            "reason": reason,
        }
    )
    return True


def _refuse_cancelled(rma: Rma) -> None:
    if rma.status == RmaStatus.CANCELLED:
        raise InvalidInput(
            f"return {rma.rma_id} was cancelled: handle the parcel by hand",
            fields=[FieldError("rma_id", "cancelled")],
        )


def mark_in_transit(
    rma: Rma, *, at: str, event_id: str, carrier: str | None, tracking_number: str | None
) -> bool:
    """The carrier has the parcel. Returns True when the status moved (False: late)."""
    _refuse_cancelled(rma)
    rma.carrier = rma.carrier or carrier
    rma.tracking_number = rma.tracking_number or tracking_number
    return rma._enter(RmaStatus.IN_TRANSIT, at=at, event="in_transit", event_id=event_id)


@dataclass
class Receipt:
    """What one ``return_received`` does: stock movements and the refund it records."""

    moves: list[Move]
    refund: Refund
    entered: list[RmaStatus]  # the states the RMA moved through


def receive(
    rma: Rma,
    order: Order,
    lines: Sequence[tuple[str, int, Condition]],
    *,
    location_id: str,
    at: str,
    event_id: str,
) -> Receipt:
    """Count the units that arrived at ``location_id`` and refund them. Raises InvalidInput
    (the event fails, and after its retries rests in the DLQ) for a SKU that is not on the RMA
    or more units than it still expects, or than were delivered and not yet received by the
    order's other RMAs: nothing is counted then."""
    _refuse_cancelled(rma)
    _check_receipt(rma, lines)
    _check_delivered(order, rma, lines)
    moves: list[Move] = []
    refunded: dict[str, int] = {}
    for sku, quantity, condition in lines:
        line = rma.line(sku)
        assert line is not None  # checked above
        if condition == Condition.SELLABLE:
            line.sellable += quantity
            moves.append((Movement.RECEIVE, (sku, location_id, quantity)))
        else:
            line.damaged += quantity
            moves.append((Movement.QUARANTINE, (sku, location_id, quantity)))
        refunded[sku] = refunded.get(sku, 0) + quantity
    rma.receipts.append(
        {
            "event_id": event_id,
            "location_id": location_id,
            "at": at,
            "lines": [{"sku": s, "quantity": q, "condition": c.value} for s, q, c in lines],
        }
    )
    entered = _after_receipt(rma, at=at, location_id=location_id, event_id=event_id)
    prices = {line.sku: line.unit_price for line in rma.lines}
    items = sum(prices[sku] * q for sku, q in refunded.items())
    refund = Refund(event_id, at, rma.currency, items, shipping_refund(order, rma), refunded)
    rma.refunds.append(refund)
    if rma.complete and rma._enter(RmaStatus.REFUNDED, at=at, event="refunded", total=rma.refunded):
        entered.append(RmaStatus.REFUNDED)
    return Receipt(moves, refund, entered)


def _check_receipt(rma: Rma, lines: Sequence[tuple[str, int, Condition]]) -> None:
    errors: list[FieldError] = []
    counted: dict[str, int] = {}
    for i, (sku, quantity, _) in enumerate(lines):
        line = rma.line(sku)
        if line is None:
            errors.append(FieldError(f"lines[{i}].sku", f"{sku} is not on RMA {rma.rma_id}"))
            continue
        counted[sku] = counted.get(sku, 0) + quantity
        if counted[sku] > line.outstanding:
            errors.append(
                FieldError(
                    f"lines[{i}].quantity",
                    f"RMA {rma.rma_id} expects {line.outstanding} more of {sku}",
                )
            )
    if errors:
        raise InvalidInput(f"the receipt does not match RMA {rma.rma_id}", fields=errors)


def _check_delivered(order: Order, rma: Rma, lines: Sequence[tuple[str, int, Condition]]) -> None:
    """Several RMAs may ask for the same units (requested ones don't block each other): no
    more of a SKU is ever received than was delivered."""
    delivered, back = delivered_units(order), received_units(order, besides=rma.rma_id)
    counted: dict[str, int] = {}
    errors: list[FieldError] = []
    for i, (sku, quantity, _) in enumerate(lines):
        line = rma.line(sku)
        counted[sku] = counted.get(sku, 0) + quantity
        left = delivered.get(sku, Delivered(0, "")).quantity - back.get(sku, 0)
        if line is not None and line.received + counted[sku] > left:
            errors.append(
                FieldError(
                    f"lines[{i}].quantity",
                    f"only {max(left - line.received, 0)} of {sku} delivered and not returned",
                )
            )
    if errors:
        raise InvalidInput(f"the receipt exceeds what order {order.order_id} got", fields=errors)


def _after_receipt(rma: Rma, *, at: str, location_id: str, event_id: str) -> list[RmaStatus]:
    entered = []
    if rma._enter(
        RmaStatus.RECEIVED, at=at, event="received", location_id=location_id, event_id=event_id
    ):
        entered.append(RmaStatus.RECEIVED)
    if rma.complete:
        final = (
            RmaStatus.RESTOCKED
            if any(line.sellable for line in rma.lines)
            else RmaStatus.QUARANTINED
        )
        if rma._enter(final, at=at, event=final.value, location_id=location_id):
            entered.append(final)
    return entered


def shipping_refund(order: Order, rma: Rma) -> int:
    """The order's shipping price, refunded at most once per order: when a received line was
    our fault (``RETAILER_FAULT``), or when this receipt brings the last delivered unit of the
    whole order back. Call after the receipt's units are counted on ``rma``."""
    price = int(order.delivery.get("price") or 0)
    others = [s for rma_id, s in order.returns.items() if rma_id != rma.rma_id]
    if price <= 0 or rma.shipping_refunded or any(s.get("shipping_refunded") for s in others):
        return 0
    if any(line.received and line.reason in RETAILER_FAULT for line in rma.lines):
        return price
    back: dict[str, int] = {}
    for summary in others:
        for sku, quantity in summary.get("received", {}).items():
            back[sku] = back.get(sku, 0) + int(quantity)
    for line in rma.lines:
        back[line.sku] = back.get(line.sku, 0) + line.received
    delivered = delivered_units(order)
    everything = order.status == OrderStatus.DELIVERED and all(
        d.quantity <= back.get(sku, 0) for sku, d in delivered.items()
    )
    return price if everything else 0
