"""Changes channels and customer service make to an order before its locations work on it:
holds and their release, the payment status, a new ship-to, and the auto-cancel of orders
still held at their deadline (a schedule).

Holds keep an order's reservations and keep its unsent shipments from being released (the
dispatcher sends nothing while ``order.holds`` is not empty); releasing the last hold writes the
outbox mark and announces ``order_updated``, so the requests go out. A new address re-sources
the unreleased units for it in one versioned update: the old reservations are freed and the
new ones taken in the same transaction, or nothing changes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Protocol

from aws_lambda_powertools import Logger

from chalicelib.domain.access import Principal, Role
from chalicelib.domain.errors import (
    Conflict,
    FieldError,
    InvalidInput,
    OutOfStock,
    StaleOrder,
    StockRace,
)
from chalicelib.domain.inventory import Movement
from chalicelib.domain.network import Address, CartLine, StockLevel
from chalicelib.domain.order.changes import (
    HoldKind,
    PaymentStatus,
    Reservation,
    check_address_editable,
    net_moves,
    open_lines,
    place_hold,
    release_hold,
    set_payment,
    swap_shipments,
)
from chalicelib.domain.order.model import Order, OrderStatus
from chalicelib.domain.order.writes import HoldDeadlineDone, OrderWrite, OutboxMark
from chalicelib.domain.sourcing import OptionKind, Plan, SourcingRequest, plan
from chalicelib.services.delivery_options import delivery_view, nearest_cost, new_shipment
from chalicelib.services.fulfilment import iso
from chalicelib.services.ports import Network, OrderEvents, OrderStore, Snapshots

logger = Logger(service="dirigent")

# Who cancels an order still held at its deadline, on the order's timeline.
HOLD_EXPIRY = Principal(Role.ADMIN, key_id="schedule:hold-expiry")


class Desk(Protocol):
    """The order desk (``services.order_desk.OrderDesk``): visibility and cancellation."""

    def get(self, order_id: str, principal: Principal) -> Order: ...
    def cancel(self, order_id: str, principal: Principal, reason: str = "") -> object: ...


class HoldDeadlines(Protocol):
    def holds_due(self, before: str, *, limit: int = 100) -> list[tuple[str, str]]: ...
    def drop(self, order_id: str, until: str) -> None: ...


@dataclass
class Changed:
    order: Order
    promise_changed: bool = False


class OrderChanges:
    def __init__(
        self,
        *,
        orders: OrderStore,
        desk: Desk,
        network: Network,
        snapshots: Snapshots,
        events: OrderEvents,
        deadlines: HoldDeadlines,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        attempts: int = 5,
    ) -> None:
        self._orders, self._desk, self._network = orders, desk, network
        self._snapshots, self._events, self._deadlines = snapshots, events, deadlines
        self._clock, self._attempts = clock, attempts

    # --- holds -----------------------------------------------------------------------------

    def hold(self, order_id: str, principal: Principal, kind: HoldKind, reason: str) -> Order:
        """Hold the order (a hold of that kind already there: nothing changes)."""
        for _ in range(self._attempts):
            order = self._desk.get(order_id, principal)
            now = iso(self._clock())
            if not place_hold(order, kind, reason, by=principal.source, at=now):
                return order
            try:
                self._orders.update(order, now=now)
            except StaleOrder:
                continue
            return order
        raise StaleOrder("the order keeps changing; try again")

    def release(self, order_id: str, principal: Principal, kind: HoldKind) -> Order:
        """Release a hold (none of that kind: nothing changes). The last one lets the order's
        shipments go to their locations."""
        for _ in range(self._attempts):
            order = self._desk.get(order_id, principal)
            now, deadline = iso(self._clock()), order.auto_cancel_at
            if not release_hold(order, kind, by=principal.source, at=now):
                return order
            writes: list[OrderWrite] = []
            if not order.holds:
                writes.append(OutboxMark())  # the sweeper dispatches if the event is lost
                if deadline:
                    writes.append(HoldDeadlineDone(deadline))
            try:
                self._orders.update(order, writes=writes, now=now)
            except StaleOrder:
                continue
            if not order.holds:
                self._announce(order.order_id)
            return order
        raise StaleOrder("the order keeps changing; try again")

    def expire_holds(self, *, limit: int = 100) -> int:
        """Cancel the orders still held at their auto-cancel deadline; returns how many."""
        now = iso(self._clock())
        cancelled = 0
        for order_id, until in self._deadlines.holds_due(now, limit=limit):
            try:
                cancelled += self._expire(order_id, until)
            except Exception:
                logger.exception("hold expiry failed", order_id=order_id)
        return cancelled

    def _expire(self, order_id: str, until: str) -> int:
        order = self._orders.get(order_id)
        due = (
            order is not None
            and bool(order.holds)
            and order.auto_cancel_at == until
            and order.status != OrderStatus.CANCELLED
        )
        if order is not None and due:
            kinds = ", ".join(sorted(order.holds))
            self._desk.cancel(order_id, HOLD_EXPIRY, f"still held ({kinds}) at {until}")
            logger.info("held order auto-cancelled", order_id=order_id, holds=kinds)
        self._deadlines.drop(order_id, until)  # after the cancel: a crash retries it
        return 1 if due else 0

    # --- payment and address ---------------------------------------------------------------

    def change(
        self,
        order_id: str,
        principal: Principal,
        *,
        ship_to: Address | None = None,
        payment: PaymentStatus | None = None,
    ) -> Changed:
        """Update the payment status and/or move the order to a new address, in one update.
        The same values again change nothing."""
        lost: list[str] = []
        for attempt in range(self._attempts):
            order = self._desk.get(order_id, principal)
            now = iso(self._clock())
            moves: list[tuple[Movement, Reservation]] = []
            promise_changed = False
            readdressed = ship_to is not None and ship_to != order.ship_to
            if ship_to is not None and readdressed:
                moves, promise_changed = self._readdress(
                    order, ship_to, by=principal.source, at=now, consistent=attempt > 0
                )
            paid = payment is not None and set_payment(order, payment, by=principal.source, at=now)
            if not readdressed and not paid:
                return Changed(order)
            try:
                self._orders.update(
                    order, moves=moves, writes=[OutboxMark()] if readdressed else [], now=now
                )
            except StockRace as race:
                lost = race.skus
                continue
            except StaleOrder:
                continue
            if readdressed:
                freed = [r for movement, r in moves if movement == Movement.RELEASE]
                self._announce(order.order_id, freed)
            return Changed(order, promise_changed)
        if lost:
            raise OutOfStock(lost, "the last units were taken while the address changed")
        raise StaleOrder("the order keeps changing; try again")

    def _readdress(
        self, order: Order, ship_to: Address, *, by: str, at: str, consistent: bool
    ) -> tuple[list[tuple[Movement, Reservation]], bool]:
        """Re-source the open units for ``ship_to`` on ``order``; the stock moves and whether
        the promise changed. Raises (nothing changed) when the address can't be served."""
        check_address_editable(order)
        channel = self._network.channel(order.channel)
        if channel is not None and channel.countries and ship_to.country not in channel.countries:
            raise InvalidInput(
                f"{order.channel} does not deliver to {ship_to.country}",
                fields=[FieldError("ship_to.country", f"not one of {sorted(channel.countries)}")],
            )
        before = order.open_reservations()
        old_promise = order.delivery.get("promised_date")
        units = open_lines(order)
        fresh = []
        if units:
            excluded = channel.excluded_locations if channel else frozenset()
            chosen, request = self._source(order, ship_to, units, before, excluded, consistent)
            fresh = [
                new_shipment(order.order_id, i, s, chosen) for i, s in enumerate(chosen.shipments)
            ]
            order.delivery = {
                **delivery_view(chosen),
                "kind": order.delivery.get("kind") or chosen.kind.value,
                "price": order.delivery.get("price", chosen.price),  # what the customer paid
                "nearest_cost": nearest_cost(request),
            }
            order.explanation = list(chosen.explanation)
        swap_shipments(order, fresh)
        old, order.ship_to = order.ship_to, ship_to
        promise = order.delivery.get("promised_date")
        order.record(
            at=at,
            event="address_changed",
            source=by,
            was={"country": old.country, "postal_code": old.postal_code},
            now={"country": ship_to.country, "postal_code": ship_to.postal_code},
            promised_date=promise,
            was_promised=old_promise,
        )
        return net_moves(before, order.open_reservations()), promise != old_promise

    def _source(
        self,
        order: Order,
        ship_to: Address,
        units: dict[str, int],
        own: list[Reservation],
        excluded: frozenset[str],
        consistent: bool,
    ) -> tuple[Plan, SourcingRequest]:
        locations = self._network.locations()
        snap = self._snapshots.read(
            skus=sorted(units),
            location_ids=[loc.location_id for loc in locations],
            consistent=consistent,
        )
        request = SourcingRequest(
            lines=[CartLine(sku, q) for sku, q in sorted(units.items())],
            ship_to=ship_to,
            stock=_freed(snap.stock, own),
            locations=locations,
            carrier_services=self._network.carrier_services(),
            products=dict(snap.products),
            now=self._clock(),
            rules=self._network.rules(),
            channel=order.channel,
            currency=order.currency,
            unit_prices={line.sku: line.unit_price for line in order.lines},
            excluded_location_ids=excluded,
        )
        result = plan(request)
        if result.shortages or not result.options:
            short = sorted(result.shortages or units)
            err = OutOfStock(short, f"{', '.join(short)} can't be sent to the new address")
            err.fields = [FieldError("ship_to", "not enough stock to serve this address")]
            raise err
        kind = OptionKind(order.delivery.get("kind") or OptionKind.FASTEST.value)
        pickup = order.delivery.get("pickup_location_id")
        chosen = result.first(kind, pickup)
        if chosen is None:
            why = f"pick-up store {pickup} can't be served" if pickup else f"no {kind} option"
            raise Conflict(
                f"{why} for the new address",
                fields=[FieldError("ship_to", f"{why} for this address")],
            )
        return chosen, request

    def _announce(self, order_id: str, freed: Sequence[Reservation] = ()) -> None:
        """Best effort: the outbox mark written with the change lets the sweeper dispatch;
        units freed at a location may serve waiting backorders."""
        try:
            self._events.order_updated(order_id)
            for sku, location_id, _ in freed:
                self._events.stock_arrived(sku, location_id)
        except Exception:
            logger.exception("order events not published", order_id=order_id)


def _freed(stock: list[StockLevel], own: list[Reservation]) -> list[StockLevel]:
    """The stock as it is once the order's own reservations are released."""
    mine: dict[tuple[str, str], int] = {}
    for sku, loc, q in own:
        mine[(sku, loc)] = mine.get((sku, loc), 0) + q
    return [
        replace(level, reserved=level.reserved - mine.get((level.sku, level.location_id), 0))
        for level in stock
    ]
