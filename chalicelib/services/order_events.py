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
from chalicelib.domain.inventory import Movement
from chalicelib.domain.mail import MailRejected
from chalicelib.domain.order.cancel import (
    AfterCancel,
    confirm,
    moved_after_cancel,
    reject,
    settle_on_leave,
)
from chalicelib.domain.order.model import Order, OrderShipment, ShipmentStatus
from chalicelib.domain.order.progress import (
    TARGETS,
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
from chalicelib.services.ports import Network, OrderEvents, OrderStore
from chalicelib.services.short_picks import Resourcer
from chalicelib.services.transfer_back import moved_back, record_held, sends_back

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
    picked: tuple[tuple[str, int], ...] = ()  # a short pick: (sku, picked_quantity) per line
    reason: str | None = None  # why a location rejected a cancel request


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
    rejected: str = ""  # a cancel did not happen: customer service is told why


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
        events: OrderEvents,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        attempts: int = 6,
    ) -> None:
        self._orders, self._log, self._network, self._events = orders, log, network, events
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
        elif event.type in _BACK:
            change = _transfer_back(order, shipment, event, source)
        elif event.type in _ANSWERS:
            change = _answer(order, shipment, event, source, back=self._sends_back(shipment))
        elif after := moved_after_cancel(order, shipment, _target(shipment, event.type)):
            change = self._moved_after_cancel(order, shipment, event, source, after)
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
            if progress.left_now and settle_on_leave(shipment):
                order.record(
                    at=event.occurred_at,
                    event="shipped_after_cancel",
                    source=source,
                    shipment_id=shipment.shipment_id,
                )
                change.rejected = shipment.cancel_reason
        if change.progress.ignored:
            order.record(
                at=event.occurred_at,
                event=f"{event.type.value}_ignored",
                source=source,
                shipment_id=shipment.shipment_id,
                reason=change.progress.ignored,
            )
        return change

    def _moved_after_cancel(
        self,
        order: Order,
        shipment: OrderShipment,
        event: ShipmentEvent,
        source: str,
        after: AfterCancel,
    ) -> _Change:
        """A cancelled shipment moved anyway: its units move where they went, once; customer
        service is told when they left the network."""
        if event.carrier and not shipment.carrier:
            shipment.carrier = event.carrier
        if event.tracking_number and not shipment.tracking_number:
            shipment.tracking_number = event.tracking_number
        shipment.updated_at = event.occurred_at
        order.record(
            at=event.occurred_at,
            event=after.event,
            source=source,
            shipment_id=shipment.shipment_id,
            type=event.type.value,
        )
        entered = shipment.status if after.left else None
        progress = Progress(changed=True, left_now=after.left, entered=entered, moves=after.moves)
        change = _Change(progress, moves=after.moves)
        change.writes = self._lookups(order, shipment, event, progress)
        if after.left:
            change.rejected = "shipped although it was cancelled"
        return change

    def _short(
        self, order: Order, shipment: OrderShipment, event: ShipmentEvent, source: str
    ) -> _Change:
        """Each line's shipment quantity falls to what was picked; the difference is written
        off and re-sourced (backordered or cancelled). Absolute, so a resent short pick finds
        nothing more to take."""
        if not event.picked:
            raise InvalidInput(
                "a short pick states what was picked",
                fields=[FieldError("lines", "required for short_pick")],
            )
        change = _Change(Progress())
        ignored = []
        for sku, picked in event.picked:
            progress = take_short(
                order, shipment, sku=sku, picked=picked, at=event.occurred_at, source=source
            )
            if progress.ignored:
                ignored.append(progress.ignored)
                continue
            change.progress.changed = True
            change.progress.short += progress.short
            change.moves += progress.moves
            resolution = self._resourcer.resolve(
                order,
                shipment,
                sku=sku,
                quantity=progress.short,
                # one event, one re-sourced shipment id per line
                event_id=event.event_id if len(event.picked) == 1 else f"{event.event_id}:{sku}",
                at=event.occurred_at,
            )
            change.moves += resolution.moves
            change.delay.resourced += resolution.delay.resourced
            change.delay.backordered.update(resolution.delay.backordered)
            change.delay.cancelled.update(resolution.delay.cancelled)
            if resolution.shipments:
                change.new_shipments = True
        if change.new_shipments:
            change.writes.append(OutboxMark())
        if not change.progress.changed:
            change.progress.ignored = "; ".join(ignored)
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
            # A transfer leaving its location is no sale: the sale is at the store, collected.
            where = shipment.pickup_location_id or shipment.location_id
            writes += shipped_units(where, event.occurred_at, sorted(shipment.lines.items()))
        return writes

    def _sends_back(self, shipment: OrderShipment) -> bool:
        """Whether the pick-up store sends a cancelled transfer's units back to their source."""
        return sends_back(self._network, shipment)

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
        freed = {(sku, loc) for m, (sku, loc, _) in change.moves if m in _FREEING}
        for sku, location_id in sorted(freed):
            self._events.stock_arrived(sku, location_id)  # a confirmed cancel freed units
        try:
            if change.rejected:
                self._notifier.cancel_failed(order, shipment, change.rejected)
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


_ANSWERS = (ShipmentEventType.CANCEL_CONFIRMED, ShipmentEventType.CANCEL_REJECTED)


def _target(shipment: OrderShipment, kind: ShipmentEventType) -> ShipmentStatus:
    """The state an event names for this shipment (a transfer's ``shipped``: in transit)."""
    target = TARGETS[kind]
    if target == ShipmentStatus.SHIPPED and shipment.transfer:
        return ShipmentStatus.IN_TRANSIT
    return target


def _answer(
    order: Order, shipment: OrderShipment, event: ShipmentEvent, source: str, *, back: bool
) -> _Change:
    """A location's answer to a cancel request."""
    if event.type == ShipmentEventType.CANCEL_CONFIRMED:
        held = dict(shipment.back_lines)
        moves = confirm(order, shipment, back=back)
        order.record(
            at=event.occurred_at,
            event="cancel_confirmed",
            source=source,
            shipment_id=shipment.shipment_id,
            freed={sku: q for m, (sku, _, q) in moves if m != Movement.ARRIVE},
        )
        change = _Change(Progress(changed=True, moves=moves), moves=moves)
        if shipment.back_lines != held:
            record_held(order, shipment, at=event.occurred_at, source=source)
            change.new_shipments = True  # the transfer request goes out with the dispatch
            change.writes.append(OutboxMark())
        return change
    reason = event.reason or "no reason given"
    waited = reject(shipment, reason)
    order.record(
        at=event.occurred_at,
        event="cancel_rejected",
        source=source,
        shipment_id=shipment.shipment_id,
        reason=reason,
        **({} if waited else {"late": True}),
    )
    change = _Change(Progress(changed=True))
    change.rejected = reason if waited else ""
    return change


_BACK = (ShipmentEventType.TRANSFER_BACK_SHIPPED, ShipmentEventType.TRANSFER_BACK_RECEIVED)
# Units that became sellable: announced, so backorders may take them.
_FREEING = frozenset({Movement.RELEASE, Movement.LAND, Movement.TRANSFER_FREE})


def _transfer_back(
    order: Order, shipment: OrderShipment, event: ShipmentEvent, source: str
) -> _Change:
    shipped = event.type == ShipmentEventType.TRANSFER_BACK_SHIPPED
    moves, why = moved_back(order, shipment, shipped=shipped, at=event.occurred_at, source=source)
    return _Change(Progress(changed=bool(moves), moves=moves, ignored=why), moves=moves)


def _parse(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
