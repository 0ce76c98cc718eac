"""Apply a location's shipment events to orders, each exactly once.

``picked``, ``shipped``, ``delivered``, ``ready_for_pickup``, ``collected`` and ``short_pick``
move a shipment (``chalicelib.domain.order.progress``). The order, its stock movements, the
event's marker (``EventMarker``: only once) and the writes that go with it (tracking number,
pick-up expiry, outbox mark for a re-sourced shipment, shipped units) are written in ONE
versioned transaction: either the event happened completely, or not at all and a retry applies
it. A duplicate finds its marker and changes nothing. Mails and the dispatch of re-sourced
shipments follow the commit (the outbox sweeper catches a dispatch that fails).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Protocol

from aws_lambda_powertools import Logger

from chalicelib.domain.errors import (
    FieldError,
    InvalidInput,
    NotFound,
    StaleOrder,
    StockRace,
    WriteConflict,
)
from chalicelib.domain.mail import MailRejected
from chalicelib.domain.order.model import Order, OrderShipment, ShipmentStatus
from chalicelib.domain.order.progress import (
    Move,
    Progress,
    ShipmentEventType,
    advance_shipment,
    shipment_for_event,
    take_short,
)
from chalicelib.domain.order.writes import (
    EventMarker,
    OrderWrite,
    OutboxMark,
    PickupDone,
    PickupWaiting,
    TrackingLookup,
    shipped_units,
)
from chalicelib.services.fulfilment import iso
from chalicelib.services.notifications import Delay, Notifier
from chalicelib.services.ports import Network, OrderStore
from chalicelib.services.short_picks import Resourcer

logger = Logger(service="dirigent")

DEFAULT_PICKUP_WINDOW_DAYS = 7


class Outcome(StrEnum):
    APPLIED = "applied"  # the event changed the order (and stock)
    DUPLICATE = "duplicate"  # applied before: nothing changed
    IGNORED = "ignored"  # recorded, but its shipment was cancelled: nothing moved


@dataclass(frozen=True)
class ShipmentEvent:
    event_id: str
    type: ShipmentEventType
    location_id: str
    occurred_at: str  # ISO 8601 UTC, the orders' format (see fulfilment.iso)
    order_id: str
    shipment_id: str
    carrier: str | None = None
    tracking_number: str | None = None
    sku: str | None = None
    missing_quantity: int | None = None


class EventLog(Protocol):
    def applied(self, event_id: str) -> bool:
        """Whether the event's ``EventMarker`` was written (with its order)."""


class Dispatch(Protocol):
    def dispatch(self, order_id: str) -> int: ...


@dataclass
class _Change:
    progress: Progress
    moves: list[Move] = field(default_factory=list)
    writes: list[OrderWrite] = field(default_factory=list)
    delay: Delay = field(default_factory=Delay)
    new_shipments: bool = False


class OrderEventService:
    def __init__(
        self,
        *,
        orders: OrderStore,
        log: EventLog,
        network: Network,
        resourcer: Resourcer,
        notifier: Notifier,
        dispatcher: Dispatch,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        attempts: int = 6,
    ) -> None:
        self._orders, self._log, self._network = orders, log, network
        self._resourcer, self._notifier, self._dispatcher = resourcer, notifier, dispatcher
        self._clock, self._attempts = clock, attempts

    def apply(self, event: ShipmentEvent) -> Outcome:
        """Apply ``event`` once. Raises NotFound (unknown order or shipment), InvalidInput (a
        location reporting another's shipment) or InvalidTransition (off the shipment's path):
        the caller fails that record, and after its retries it rests in the DLQ."""
        for _ in range(self._attempts):
            if self._log.applied(event.event_id):
                return Outcome.DUPLICATE
            order = self._orders.get(event.order_id)
            if order is None:
                raise NotFound(
                    f"order {event.order_id} not found", fields=[FieldError("order_id", "unknown")]
                )
            shipment = shipment_for_event(order, event.shipment_id, event.location_id)
            change = self._change(order, shipment, event)
            try:
                self._orders.update(
                    order,
                    moves=change.moves,
                    writes=[EventMarker(event.event_id), *change.writes],
                    now=iso(self._clock()),
                )
            except (StaleOrder, StockRace):
                continue  # read again: another event or a cancel won, or the stock moved
            except WriteConflict:
                if self._log.applied(event.event_id):
                    return Outcome.DUPLICATE
                raise
            self._after(order, shipment, event, change)
            return Outcome.IGNORED if change.progress.ignored else Outcome.APPLIED
        raise StaleOrder(f"order {event.order_id} kept changing while {event.event_id} applied")

    def _change(self, order: Order, shipment: OrderShipment, event: ShipmentEvent) -> _Change:
        source = f"location:{event.location_id}"
        if event.type == ShipmentEventType.SHORT_PICK:
            change = self._short(order, shipment, event, source)
        else:
            progress = advance_shipment(
                order,
                shipment,
                event.type,
                at=event.occurred_at,
                source=source,
                carrier=event.carrier,
                tracking_number=event.tracking_number,
            )
            change = _Change(progress, moves=list(progress.moves))
            change.writes = self._lookups(order, shipment, event, progress)
        if change.progress.ignored:
            order.record(
                at=event.occurred_at,
                event=f"{event.type.value}_ignored",
                source=source,
                shipment_id=shipment.shipment_id,
                reason=change.progress.ignored,
            )
        return change

    def _short(
        self, order: Order, shipment: OrderShipment, event: ShipmentEvent, source: str
    ) -> _Change:
        if not event.sku or not event.missing_quantity:
            raise InvalidInput(
                "a short pick names a sku and a missing quantity",
                fields=[FieldError("missing_quantity", "required for short_pick")],
            )
        progress = take_short(
            order,
            shipment,
            sku=event.sku,
            missing=event.missing_quantity,
            at=event.occurred_at,
            source=source,
        )
        change = _Change(progress, moves=list(progress.moves))
        if progress.short:
            resolution = self._resourcer.resolve(
                order,
                shipment,
                sku=event.sku,
                quantity=progress.short,
                event_id=event.event_id,
                at=event.occurred_at,
            )
            change.moves += resolution.moves
            change.delay = resolution.delay
            if resolution.shipments:
                change.new_shipments = True
                change.writes.append(OutboxMark())
        return change

    def _lookups(
        self, order: Order, shipment: OrderShipment, event: ShipmentEvent, progress: Progress
    ) -> list[OrderWrite]:
        """The writes that go with the order for this event."""
        writes: list[OrderWrite] = []
        if event.type == ShipmentEventType.SHIPPED and event.tracking_number and progress.changed:
            writes.append(TrackingLookup(shipment.shipment_id, str(shipment.tracking_number)))
        if progress.entered == ShipmentStatus.READY_FOR_PICKUP:
            shipment.pickup_until = iso(
                _parse(event.occurred_at) + timedelta(days=self._pickup_window(order))
            )
            writes.append(PickupWaiting(shipment.shipment_id, shipment.pickup_until))
        elif progress.entered is not None and shipment.pickup_until:
            writes.append(PickupDone(shipment.shipment_id, shipment.pickup_until))  # collected
        if progress.left_now:  # units left the location: they count for low-stock velocity
            sold = [(sku, qty) for _, (sku, _, qty) in progress.moves]
            writes += shipped_units(shipment.location_id, event.occurred_at, sold)
        return writes

    def _pickup_window(self, order: Order) -> int:
        channel = self._network.channel(order.channel)
        return channel.pickup_window_days if channel else DEFAULT_PICKUP_WINDOW_DAYS

    def _after(
        self, order: Order, shipment: OrderShipment, event: ShipmentEvent, change: _Change
    ) -> None:
        """Mails and the dispatch of re-sourced shipments, after the commit. Failing here
        must not fail the record: the event is applied, a retry would be a duplicate."""
        if change.progress.ignored:
            logger.warning(
                "event on a cancelled shipment ignored",
                event_id=event.event_id,
                order_id=order.order_id,
                shipment_id=shipment.shipment_id,
                type=event.type.value,
            )
            return
        try:
            if change.new_shipments:
                self._dispatcher.dispatch(order.order_id)
            if change.progress.entered == ShipmentStatus.SHIPPED:
                self._notifier.shipped(order, shipment)
            if change.delay:
                self._notifier.delayed(order, change.delay)
        except MailRejected:
            logger.warning("customer mail refused", order_id=order.order_id, exc_info=True)
        except Exception:
            logger.exception(
                "after applying an event: mail or dispatch failed (the outbox sweeper re-sends "
                "requests; the mail is lost)",
                event_id=event.event_id,
                order_id=order.order_id,
            )


def _parse(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
