"""Dispatch: one fulfilment request per shipment to its location's queue (a transactional outbox).

The order is written with an outbox mark; the HTTP path then only publishes ``order_placed``.
The order-events consumer calls ``dispatch``: it sends a request for every shipment not yet
sent, sends the confirmation mail once, then marks the shipments sent (``released``) and
deletes the outbox mark in one versioned order update. A crash anywhere leaves the mark, and
the sweeper (every minute) dispatches what is older than a minute the same way. Requests may
therefore go out more than once: ``message_id`` is the shipment id, stable, so locations drop
duplicates.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from aws_lambda_powertools import Logger

from chalicelib.domain.errors import FieldError, NotFound, StaleOrder
from chalicelib.domain.mail import MailRejected
from chalicelib.domain.network import address_to_doc
from chalicelib.domain.order.cancel import CancelState, cancel_message_id, cancel_target
from chalicelib.domain.order.model import Order, OrderShipment, OrderStatus, ShipmentStatus
from chalicelib.domain.order.writes import OutboxClear
from chalicelib.services.notifications import Notifier
from chalicelib.services.ports import Network, OrderStore

logger = Logger(service="dirigent")

CONFIRMATION = "confirmation"
SOURCE = "dispatcher"


class Outbox(Protocol):
    def outbox_due(self, before: str, *, limit: int = 100) -> list[tuple[str, dict[str, str]]]: ...
    def drop_mark(self, key: dict[str, str]) -> None:
        """The mark is settled (its order dispatched, or gone): what is left of it goes."""


class Sender(Protocol):
    def send_batch(self, queue_name: str, bodies: Sequence[dict[str, Any]]) -> None: ...


def iso(moment: datetime) -> str:
    """The orders' timestamp format: UTC, milliseconds, ``Z`` (sorts in time order)."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Dispatcher:
    def __init__(
        self,
        *,
        orders: OrderStore,
        outbox: Outbox,
        queues: Sender,
        network: Network,
        notifier: Notifier,
        default_queue: str,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        attempts: int = 5,
    ) -> None:
        self._orders, self._outbox, self._queues = orders, outbox, queues
        self._network, self._notifier = network, notifier
        self._default_queue, self._clock, self._attempts = default_queue, clock, attempts

    def dispatch(self, order_id: str) -> int:
        """Send what is unsent, mail the confirmation once, record it; returns how many
        requests went out. Safe to repeat."""
        return self.dispatch_order(order_id)[0]

    def dispatch_order(self, order_id: str) -> tuple[int, Order]:
        """``dispatch``, and the order as it wrote it."""
        order = self._get(order_id)
        sent: dict[str, str] = {}  # shipment id -> when its request went out
        mailed = False
        for _ in range(self._attempts):
            pending = [
                s for s in order.shipments if _sendable(order, s) and s.shipment_id not in sent
            ]
            at = iso(self._clock())  # before the send: the location may answer at once
            self._send(order, [(s.location_id, fulfilment_request(order, s)) for s in pending])
            sent.update((s.shipment_id, at) for s in pending)
            if not mailed and CONFIRMATION not in order.notified:
                mailed = self._confirm(order)
            _mark(order, sent, mailed)
            self._send_cancels(order)
            self._send_backs(order)
            try:
                self._orders.update(order, writes=[OutboxClear()], now=iso(self._clock()))
            except StaleOrder:
                order = self._get(order_id)
                continue
            return len(sent), order
        raise StaleOrder(f"order {order_id} kept changing while it was dispatched")

    def sweep(
        self,
        *,
        min_age: timedelta = timedelta(minutes=1),
        limit: int = 100,
        then: Callable[[Order], None] | None = None,
    ) -> int:
        """Dispatch every order whose outbox mark is older than ``min_age`` (the request or
        the order-events message was lost), then hand it to ``then``: what the lost message
        would have brought besides. One failing order does not stop the others."""
        before = iso(self._clock() - min_age)
        sent = 0
        for order_id, key in self._outbox.outbox_due(before, limit=limit):
            try:
                count, order = self.dispatch_order(order_id)
                sent += count
                self._outbox.drop_mark(key)  # a mark kept as an item of its own goes too
            except NotFound:
                logger.warning("outbox mark without its order: dropped", order_id=order_id)
                self._outbox.drop_mark(key)
                continue
            except Exception:
                logger.exception("outbox sweep failed for an order", order_id=order_id)
                continue
            if then is not None:
                try:
                    then(order)
                except Exception:  # dispatched and unmarked: the next change catches up
                    logger.exception("a swept order's follow-ups failed", order_id=order_id)
        if sent:
            logger.info("outbox sweep re-sent fulfilment requests", sent=sent)
        return sent

    def _get(self, order_id: str) -> Order:
        order = self._orders.get(order_id)
        if order is None:
            raise NotFound(
                f"order {order_id} not found", fields=[FieldError("order_id", "unknown")]
            )
        return order

    def _send(self, order: Order, messages: list[tuple[str, dict[str, Any]]]) -> None:
        """``(location_id, body)`` to each location's fulfilment queue."""
        if not messages:
            return
        queues = {loc.location_id: loc.fulfilment_queue for loc in self._network.locations()}
        by_queue: dict[str, list[dict[str, Any]]] = {}
        for location_id, body in messages:
            queue = queues.get(location_id) or self._default_queue
            by_queue.setdefault(queue, []).append(body)
        for queue, bodies in sorted(by_queue.items()):
            self._queues.send_batch(queue, bodies)

    def _send_cancels(self, order: Order) -> None:
        """Cancel requests (and notices) not yet sent, marked sent on the order."""
        due = [s for s in order.shipments if s.cancel in _ASKING and not s.cancel_sent]
        self._send(order, [(cancel_target(s), cancel_request(order, s)) for s in due])
        for shipment in due:
            shipment.cancel_sent = True

    def _send_backs(self, order: Order) -> None:
        """Transfer-back requests not yet sent (to the pick-up store), marked sent."""
        due = [s for s in order.shipments if s.back == "held" and not s.back_sent]
        self._send(order, [(_store(s), transfer_request(order, s)) for s in due])
        for shipment in due:
            shipment.back_sent = True

    def _confirm(self, order: Order) -> bool:
        """Mail the confirmation; True once it is done with (sent, or refused for good)."""
        if order.status == OrderStatus.CANCELLED:
            return False
        try:
            self._notifier.confirmation(order)
        except MailRejected:
            logger.warning("confirmation mail refused", order_id=order.order_id, exc_info=True)
        return True


_ASKING = (CancelState.REQUESTED, CancelState.NOTICE)


def _sendable(order: Order, shipment: OrderShipment) -> bool:
    """A request not sent yet, for an order no hold keeps back."""
    return not order.holds and not shipment.dispatched and shipment.open and bool(shipment.lines)


def _mark(order: Order, sent: dict[str, str], mailed: bool) -> None:
    """Record the requests ``sent`` (shipment id -> when) as released, at their send time (a
    location's ``picked`` may be saved first, the release retried after it)."""
    for shipment in order.shipments:
        at = sent.get(shipment.shipment_id)
        if at is None or shipment.dispatched:
            continue
        shipment.dispatched = True
        if shipment.status == ShipmentStatus.CANCELLED:
            # Cancelled while its request went out: the location is told to drop it.
            if not shipment.cancel:
                shipment.cancel, shipment.cancel_sent = CancelState.NOTICE, False
            continue
        if shipment.advance(ShipmentStatus.RELEASED):
            shipment.updated_at = at
        order.record(at=at, event="released", source=SOURCE, shipment_id=shipment.shipment_id)
    if mailed and CONFIRMATION not in order.notified:
        order.notified.append(CONFIRMATION)


def fulfilment_request(order: Order, shipment: OrderShipment) -> dict[str, Any]:
    """The message a location receives (shared/API.md, queues)."""
    body: dict[str, Any] = {
        "type": "fulfilment_request",
        "message_id": shipment.shipment_id,
        "order_id": order.order_id,
        "shipment_id": shipment.shipment_id,
        "location_id": shipment.location_id,
        "lines": [{"sku": sku, "quantity": q} for sku, q in sorted(shipment.lines.items())],
        "carrier_service": shipment.carrier_service,
        "promised_date": shipment.promised_date,
        "ship_date": shipment.ship_date,
        "mode": shipment.mode.value,
        "customer_name": order.customer.get("name", ""),
    }
    if shipment.pickup_location_id:
        body["pickup"] = {"location_id": shipment.pickup_location_id}
    else:
        body["ship_to"] = address_to_doc(order.ship_to)
    return body


def cancel_request(order: Order, shipment: OrderShipment) -> dict[str, Any]:
    """Asks the location to drop a shipment, or the units of it in ``lines`` (shared/API.md,
    queues). It answers ``cancel_confirmed`` or ``cancel_rejected``; a notice (the shipment
    is cancelled here already) needs no answer."""
    lines = shipment.cancel_lines or shipment.lines
    return {
        "type": "cancel_request",
        "message_id": cancel_message_id(shipment),
        "order_id": order.order_id,
        "shipment_id": shipment.shipment_id,
        "location_id": cancel_target(shipment),
        "lines": [{"sku": sku, "quantity": q} for sku, q in sorted(lines.items())],
        "whole": not shipment.cancel_lines
        or all(shipment.cancel_lines.get(k, 0) >= q for k, q in shipment.lines.items()),
        "notice": shipment.cancel == CancelState.NOTICE,
        "reason": shipment.cancel_reason,
    }


def transfer_request(order: Order, shipment: OrderShipment) -> dict[str, Any]:
    """Asks a pick-up store to send a cancelled pick-up's units back to their source
    (shared/API.md, queues). It answers ``transfer_back_shipped``; the source reports
    ``transfer_back_received``. The same units give the same ``message_id``."""
    lines = sorted(shipment.back_lines.items())
    text = ";".join(f"{sku}={q}" for sku, q in lines)
    digest = hashlib.blake2b(text.encode(), digest_size=4).hexdigest()
    return {
        "type": "transfer_request",
        "message_id": f"{shipment.shipment_id}:back:{digest}",
        "order_id": order.order_id,
        "shipment_id": shipment.shipment_id,
        "location_id": _store(shipment),
        "to_location_id": shipment.location_id,
        "lines": [{"sku": sku, "quantity": q} for sku, q in lines],
        "reason": shipment.cancel_reason or "pick-up cancelled",
    }


def _store(shipment: OrderShipment) -> str:
    return shipment.pickup_location_id or shipment.location_id
