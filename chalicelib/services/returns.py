"""Returns: request an RMA, read it, and apply the locations' return events once each.

Every change writes the RMA and its order (the order keeps a summary of its returns, checked
by the policy) in ONE versioned transaction; a return event adds its marker
(``EVENT#<event_id>``) and the stock it moves to that transaction, as shipment events do
(``chalicelib.services.order_events``). A duplicate finds its marker and changes nothing; a
lost race reads again. The mail and the ``stock_arrived`` announcement follow the commit.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from aws_lambda_powertools import Logger

from chalicelib.domain.access import Principal
from chalicelib.domain.channel import Channel
from chalicelib.domain.errors import FieldError, NotFound, StaleOrder, StockRace, WriteConflict
from chalicelib.domain.inventory import Movement
from chalicelib.domain.network import CarrierService, Location, Product, StockLevel
from chalicelib.domain.order.model import Order
from chalicelib.domain.order.writes import EventMarker, OrderWrite, ReturnedStock, RmaSaved
from chalicelib.domain.returns.model import Condition, RequestedLine, Rma, RmaStatus, summary
from chalicelib.domain.returns.options import rank_options
from chalicelib.domain.returns.policy import (
    Receipt,
    cancel_rma,
    check_request,
    mark_in_transit,
    new_rma,
    receive,
)
from chalicelib.services.fulfilment import iso
from chalicelib.services.order_events import EventLog, Outcome
from chalicelib.services.ports import OrderEvents, OrderStore

logger = Logger(service="dirigent")

DEFAULT_RETURN_WINDOW_DAYS = 30


class ReturnNetwork(Protocol):
    def channel(self, name: str) -> Channel | None: ...
    def location(self, location_id: str) -> Location | None: ...
    def locations(self) -> list[Location]: ...
    def carrier_services(self) -> list[CarrierService]: ...
    def products(self, skus: Iterable[str]) -> dict[str, Product]: ...


class RmaStore(Protocol):
    """Reads RMAs; they are written with their order (``RmaSaved``)."""

    def get(self, rma_id: str) -> Rma | None: ...


class ReturnStock(Protocol):
    """Which of the ``(sku, location_id)`` stock items exist (``ReturnedStock.exists``)."""

    def existing(self, keys: list[tuple[str, str]]) -> set[tuple[str, str]]: ...


class Levels(Protocol):
    def get_many(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], StockLevel]: ...


class ReturnMails(Protocol):
    def return_received(self, order: Order, rma: Rma, receipt: Receipt) -> None: ...


@dataclass(frozen=True)
class RequestReturn:
    order_id: str
    lines: Sequence[RequestedLine]
    token: str | None = None  # the customer's tracking token, or
    principal: Principal | None = None  # customer service (service or admin key)
    request_key: str = ""  # the caller's Idempotency-Key: a retry after a crash finds its RMA


@dataclass(frozen=True)
class ReturnEvent:
    event_id: str
    location_id: str
    occurred_at: str  # ISO 8601 UTC, the orders' format
    rma_id: str
    lines: tuple[tuple[str, int, Condition], ...] = ()  # return_received only
    carrier: str | None = None
    tracking_number: str | None = None


def _unknown_order(order_id: str) -> NotFound:
    return NotFound(f"order {order_id} not found", fields=[FieldError("order_id", "unknown")])


def _rma_id(order_id: str, request_key: str) -> str:
    """A new RMA's id; derived from the request's key when it has one (idempotent)."""
    if not request_key:
        return "rma_" + secrets.token_hex(6)
    return "rma_" + hashlib.sha256(f"{order_id}\n{request_key}".encode()).hexdigest()[:12]


def _unknown_rma(rma_id: str) -> NotFound:
    return NotFound(f"return {rma_id} not found", fields=[FieldError("rma_id", "unknown")])


class ReturnService:
    def __init__(
        self,
        *,
        orders: OrderStore,
        rmas: RmaStore,
        log: EventLog,
        network: ReturnNetwork,
        levels: Levels,
        stock: ReturnStock,
        mails: ReturnMails,
        token_matches: Callable[[Order, str], bool],
        events: OrderEvents,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        attempts: int = 6,
    ) -> None:
        self._orders, self._rmas, self._log, self._network = orders, rmas, log, network
        self._levels, self._stock, self._mails = levels, stock, mails
        self._token_matches, self._events = token_matches, events
        self._clock, self._attempts = clock, attempts

    # --- the customer's request --------------------------------------------------------------

    def request(self, cmd: RequestReturn) -> Rma:
        """Check the policy (InvalidInput naming the line), rank the return options and store
        a new RMA with its order. A wrong token is exactly an unknown order (404)."""
        for _ in range(self._attempts):
            order = self._order_for(cmd)
            rma_id = _rma_id(order.order_id, cmd.request_key)
            if rma_id in order.returns and (stored := self._rmas.get(rma_id)) is not None:
                return stored  # written by this request before its answer was lost
            now = self._clock()
            products = self._network.products({line.sku for line in cmd.lines})
            check_request(
                order,
                cmd.lines,
                products=products,
                window_days=self._window(order),
                now=now,
                by_customer=cmd.principal is None,
            )
            source = _source(cmd.principal)
            rma = new_rma(
                rma_id,
                order,
                cmd.lines,
                at=iso(now),
                source=source,
                options=self._options(order, cmd.lines, products),
            )
            order.returns[rma.rma_id] = summary(rma)
            order.record(at=iso(now), event="return_requested", source=source, rma_id=rma.rma_id)
            try:
                self._orders.update(order, writes=[RmaSaved(rma)], now=iso(now))
            except StaleOrder:
                continue  # the order changed (another return, an event): check again
            logger.info("return requested", rma_id=rma.rma_id, order_id=order.order_id)
            return rma
        raise StaleOrder(f"order {cmd.order_id} kept changing; try again")

    def _order_for(self, cmd: RequestReturn) -> Order:
        order = self._orders.get(cmd.order_id)
        if cmd.principal is not None:
            if order is None or not cmd.principal.sees_channel(order.channel):
                raise _unknown_order(cmd.order_id)
            return order
        if order is None or not self._token_matches(order, cmd.token or ""):
            raise _unknown_order(cmd.order_id)
        return order

    def _window(self, order: Order) -> int:
        channel = self._network.channel(order.channel)
        return channel.return_window_days if channel else DEFAULT_RETURN_WINDOW_DAYS

    def _options(
        self, order: Order, lines: Sequence[RequestedLine], products: dict[str, Product]
    ) -> list[dict[str, Any]]:
        wanted: dict[str, int] = {}
        for line in lines:
            wanted[line.sku] = wanted.get(line.sku, 0) + line.quantity
        locations = self._network.locations()
        stock = self._levels.get_many((sku, loc.location_id) for sku in wanted for loc in locations)
        options = rank_options(
            ship_to=order.ship_to,
            lines=wanted,
            locations=locations,
            stock=stock,
            carriers=self._network.carrier_services(),
            products=products,
            currency=order.currency,
        )
        return [option.as_dict() for option in options]

    # --- reading -----------------------------------------------------------------------------

    def get(
        self, rma_id: str, *, token: str | None = None, principal: Principal | None = None
    ) -> Rma:
        """The RMA for customer service, or for the customer holding the order's token (a
        wrong token is exactly an unknown RMA)."""
        rma = self._rmas.get(rma_id)
        if rma is None:
            raise _unknown_rma(rma_id)
        if principal is not None and principal.sees_channel(rma.channel):
            return rma
        order = self._orders.get(rma.order_id)
        if principal is None and order is not None and self._token_matches(order, token or ""):
            return rma
        raise _unknown_rma(rma_id)

    def cancel(
        self,
        rma_id: str,
        *,
        token: str | None = None,
        principal: Principal | None = None,
        reason: str = "",
    ) -> Rma:
        """Withdraw a return nothing has moved for yet (Conflict once the parcel travels);
        idempotent. Who may read the RMA may cancel it."""
        for _ in range(self._attempts):
            rma = self.get(rma_id, token=token, principal=principal)
            order = self._orders.get(rma.order_id)
            if order is None:
                raise _unknown_rma(rma_id)
            now, source = iso(self._clock()), _source(principal)
            if not cancel_rma(rma, at=now, source=source, reason=reason):
                return rma
            order.returns[rma.rma_id] = summary(rma)
            order.record(at=now, event="return_cancelled", source=source, rma_id=rma.rma_id)
            try:
                self._orders.update(order, writes=[RmaSaved(rma)], now=now)
            except (StaleOrder, WriteConflict):
                continue
            logger.info("return cancelled", rma_id=rma.rma_id, order_id=order.order_id)
            return rma
        raise StaleOrder(f"return {rma_id} kept changing; try again")

    # --- the locations' events ---------------------------------------------------------------

    def received(self, event: ReturnEvent) -> Outcome:
        """Apply a ``return_received`` once: units back on hand (sellable) or in quarantine
        (damaged) at the receiving location, the refund recorded, the customer mailed. Raises
        NotFound (unknown RMA or location) or InvalidInput (units the RMA does not expect):
        the record fails and, after its retries, rests in the DLQ."""
        return self._apply(event, self._receive_change)

    def in_transit(self, event: ReturnEvent) -> Outcome:
        """The carrier has the parcel; late (after the receipt) it only joins the history."""
        return self._apply(event, self._transit_change)

    def _apply(
        self,
        event: ReturnEvent,
        change: Callable[[Order, Rma, ReturnEvent], tuple[list[ReturnedStock], Any]],
    ) -> Outcome:
        for _ in range(self._attempts):
            if self._log.applied(event.event_id):
                return Outcome.DUPLICATE
            rma = self._rmas.get(event.rma_id)
            if rma is None:
                raise _unknown_rma(event.rma_id)
            order = self._orders.get(rma.order_id)
            if order is None:
                raise _unknown_order(rma.order_id)
            if self._network.location(event.location_id) is None:
                raise NotFound(
                    f"no location {event.location_id}",
                    fields=[FieldError("location_id", "unknown")],
                )
            stock_entries, receipt = change(order, rma, event)
            order.returns[rma.rma_id] = summary(rma)
            writes: list[OrderWrite] = [EventMarker(event.event_id), RmaSaved(rma), *stock_entries]
            try:
                self._orders.update(order, writes=writes, now=iso(self._clock()))
            except (StaleOrder, StockRace):
                continue
            except WriteConflict:
                if self._log.applied(event.event_id):
                    return Outcome.DUPLICATE
                continue  # the RMA or a stock item changed since it was read
            if receipt is not None:
                self._after_receipt(order, rma, receipt, event)
            return Outcome.APPLIED
        raise StaleOrder(f"return {event.rma_id} kept changing while {event.event_id} applied")

    def _receive_change(
        self, order: Order, rma: Rma, event: ReturnEvent
    ) -> tuple[list[ReturnedStock], Receipt]:
        receipt = receive(
            rma,
            order,
            event.lines,
            location_id=event.location_id,
            at=event.occurred_at,
            event_id=event.event_id,
        )
        source = f"location:{event.location_id}"
        order.record(
            at=event.occurred_at,
            event="return_received",
            source=source,
            rma_id=rma.rma_id,
            refund=receipt.refund.total,
            currency=receipt.refund.currency,
        )
        for status in receipt.entered:
            if status != RmaStatus.RECEIVED:
                order.record(
                    at=event.occurred_at,
                    event=f"return_{status.value}",
                    source=source,
                    rma_id=rma.rma_id,
                )
        return self._stock_entries(receipt), receipt

    def _transit_change(
        self, order: Order, rma: Rma, event: ReturnEvent
    ) -> tuple[list[ReturnedStock], None]:
        moved = mark_in_transit(
            rma,
            at=event.occurred_at,
            event_id=event.event_id,
            carrier=event.carrier,
            tracking_number=event.tracking_number,
        )
        order.record(
            at=event.occurred_at,
            event="return_in_transit",
            source=f"location:{event.location_id}",
            rma_id=rma.rma_id,
            late=not moved,
        )
        return [], None

    def _stock_entries(self, receipt: Receipt) -> list[ReturnedStock]:
        """One stock entry per (sku, location): sellable and damaged units together."""
        units: dict[tuple[str, str], list[int]] = {}
        for movement, (sku, location_id, quantity) in receipt.moves:
            both = units.setdefault((sku, location_id), [0, 0])
            both[0 if movement == Movement.RECEIVE else 1] += quantity
        existing = self._stock.existing(sorted(units))
        products = self._network.products({sku for sku, _ in units})
        return [
            ReturnedStock(
                sku,
                location_id,
                sellable=sellable,
                damaged=damaged,
                exists=(sku, location_id) in existing,
                reorder_point=products[sku].reorder_point if sku in products else 0,
            )
            for (sku, location_id), (sellable, damaged) in sorted(units.items())
        ]

    def _after_receipt(self, order: Order, rma: Rma, receipt: Receipt, event: ReturnEvent) -> None:
        """After the commit; failing here must not fail the record (a retry is a duplicate)."""
        logger.info(
            "return received",
            rma_id=rma.rma_id,
            event_id=event.event_id,
            location_id=event.location_id,
            refund=receipt.refund.total,
            status=rma.status.value,
        )
        arrived = {(sku, loc) for m, (sku, loc, _) in receipt.moves if m == Movement.RECEIVE}
        for sku, location_id in sorted(arrived):
            self._events.stock_arrived(sku, location_id)  # sellable units may serve backorders
        try:
            self._mails.return_received(order, rma, receipt)
        except Exception:
            logger.exception("return mail failed (the return is applied)", rma_id=rma.rma_id)


def _source(principal: Principal | None) -> str:
    return principal.source if principal is not None else "customer"
