"""Webhook subscriptions, the fan-out of events to them and each delivery attempt.

Nothing here runs on the order path: consumers send a trigger (``order_changed``) to the
webhooks queue after their commit; its consumer announces the order's new history entries
(``announce_order``: one delivery per subscription and event, then one queue message each) and
attempts the deliveries (``attempt``). A failed attempt is retried by SQS itself: the message's
visibility is set to the next wait of ``RETRY_SCHEDULE`` and the record reported failed, so the
queue's ``maxReceiveCount`` (``MAX_ATTEMPTS``) sends it to the DLQ after the last attempt.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from aws_lambda_powertools import Logger
from standardwebhooks.webhooks import Webhook

from chalicelib.domain.errors import FieldError, NotFound
from chalicelib.domain.order.model import Order
from chalicelib.domain.paging import Page
from chalicelib.domain.webhooks import (
    MAX_ATTEMPTS_KEPT,
    BadWebhook,
    Delivery,
    DeliveryStatus,
    Subscription,
    WebhookEvent,
    availability_event,
    check_url,
    delivery_id,
    order_events,
    refused_address,
    retry_delay,
    webhook_id,
)
from chalicelib.services.cursors import CursorSigner

logger = Logger(service="dirigent")

SECRET_BYTES = 32


class WebhookStore(Protocol):
    def put_subscription(self, sub: Subscription) -> None: ...
    def subscription(self, subscription_id: str) -> Subscription | None: ...
    def subscriptions(self) -> list[Subscription]: ...
    def add_delivery(self, delivery: Delivery) -> Delivery | None:
        """Create ``delivery`` unless it exists: None when created, else the stored one."""

    def delivery(self, subscription_id: str, delivery_id: str) -> Delivery | None: ...
    def save_delivery(self, delivery: Delivery) -> None: ...
    def deliveries(self, subscription_id: str, limit: int, cursor: str | None) -> Page: ...
    def announced(self, order_id: str) -> int:
        """How many of the order's history entries were announced."""

    def mark_announced(self, order_id: str, count: int) -> None:
        """Raise the mark to ``count`` (never lowers it)."""


class WebhookQueue(Protocol):
    def send_many(self, bodies: Sequence[dict[str, Any]]) -> None: ...
    def retry_after(self, receipt_handle: str, seconds: int) -> None:
        """Make the received message visible again in ``seconds`` (best effort)."""


class Transport(Protocol):
    def post(
        self, url: str, address: str, headers: dict[str, str], body: bytes, timeout: float
    ) -> int:
        """POST ``body`` to ``url`` connecting to ``address`` only; the status code. Raises
        OSError when no answer came."""


Resolver = Callable[[str, int], list[str]]


class RetryLater(Exception):
    """The attempt failed; SQS brings the message back after the next wait (or dead-letters
    it after the last attempt)."""


@dataclass(frozen=True)
class PutResult:
    subscription: Subscription
    created: bool
    secret: str | None  # shown once: on creation, or when a new one was given


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def sign(secret: str, msg_id: str, at: datetime, body: str) -> dict[str, str]:
    """The Standard Webhooks headers for ``body`` (signed with the ``standardwebhooks``
    package)."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, at, body),
    }


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


class WebhookService:
    def __init__(
        self,
        *,
        store: WebhookStore,
        orders: Callable[[str], Order | None],
        order_of_rma: Callable[[str], str | None],
        queue: WebhookQueue,
        resolver: Resolver,
        transport: Transport,
        cursors: CursorSigner,
        local: bool = False,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        timeout_s: float = 10.0,
    ) -> None:
        self._store, self._orders, self._order_of_rma = store, orders, order_of_rma
        self._queue, self._resolver, self._transport = queue, resolver, transport
        self._cursors, self._local, self._clock, self._timeout = cursors, local, clock, timeout_s

    # --- subscriptions -----------------------------------------------------------------------

    def put(
        self, subscription_id: str, url: str, events: list[str], secret: str | None
    ) -> PutResult:
        """Create or change a subscription. The URL must be allowed (``check_target``); a
        given secret must be a Standard Webhooks one; without one a new subscription gets a
        generated secret and an existing one keeps its own."""
        self.check_target(url)
        if secret is not None:
            _check_secret(secret)
        now = _iso(self._clock())
        existing = self._store.subscription(subscription_id)
        shown: str | None = secret
        if existing is None:
            created = secret or new_secret()
            shown = created
            sub = Subscription(subscription_id, url, sorted(set(events)), created, now, now)
        else:
            sub = Subscription(
                subscription_id,
                url,
                sorted(set(events)),
                secret or existing.secret,
                existing.created_at,
                now,
            )
        self._store.put_subscription(sub)
        return PutResult(sub, existing is None, shown)

    def get(self, subscription_id: str) -> Subscription:
        sub = self._store.subscription(subscription_id)
        if sub is None:
            raise NotFound(
                f"no webhook subscription {subscription_id}",
                fields=[FieldError("subscription_id", "unknown")],
            )
        return sub

    def check_target(self, url: str) -> list[str]:
        """The addresses ``url`` may be reached at; BadWebhook naming ``url`` when it is not
        https (locally http too), does not resolve, or resolves to any address that is not
        public (loopback is allowed on the local stage, for its recording receiver)."""
        host, port = check_url(url, local=self._local)
        try:
            addresses = self._resolver(host, port)
        except OSError:
            addresses = []
        if not addresses:
            raise BadWebhook(
                "the webhook URL does not resolve",
                fields=[FieldError("url", f"{host}: no address")],
            )
        for address in addresses:
            if reason := refused_address(address, allow_loopback=self._local):
                raise BadWebhook(
                    "the webhook URL resolves to an address that is not allowed",
                    fields=[FieldError("url", f"{host} resolves to a refused address: {reason}")],
                )
        return addresses

    # --- deliveries --------------------------------------------------------------------------

    def deliveries(self, subscription_id: str, limit: int, cursor: str | None) -> Page:
        """The subscription's deliveries, newest first, with a signed cursor."""
        self.get(subscription_id)
        scope = f"webhook-deliveries:{subscription_id}:{limit}"
        page = self._store.deliveries(subscription_id, limit, self._cursors.open(cursor, scope))
        return Page(page.items, self._cursors.seal(page.cursor, scope))

    def delivery(self, subscription_id: str, delivery_id: str) -> Delivery:
        found = self._store.delivery(subscription_id, delivery_id)
        if found is None:
            raise NotFound(
                f"no delivery {delivery_id}", fields=[FieldError("delivery_id", "unknown")]
            )
        return found

    def retry(self, subscription_id: str, delivery_id: str) -> Delivery:
        """Queue one more attempt now (a manual one: if it fails, nothing more follows it)."""
        self.get(subscription_id)
        found = self.delivery(subscription_id, delivery_id)
        self._queue.send_many([_message(found, manual=True)])
        return found

    # --- fan-out -----------------------------------------------------------------------------

    def announce_order(self, order_id: str, order: Order | None = None) -> int:
        """Queue a delivery of every history entry of the order not yet announced, to every
        subscription that wants it; the number queued. Safe to repeat: deliveries are keyed by
        (subscription, event), and the mark only rises once they are queued. ``order``: the
        order as just read, if the caller has it."""
        order = order or self._orders(order_id)
        if order is None:
            return 0
        since = self._store.announced(order_id)
        if since >= len(order.history):
            return 0
        queued = self.announce(order_events(order, since))
        self._store.mark_announced(order_id, len(order.history))
        return queued

    def announce_rma(self, rma_id: str) -> int:
        order_id = self._order_of_rma(rma_id)
        return self.announce_order(order_id) if order_id else 0

    def order_of_rma(self, rma_id: str) -> str | None:
        return self._order_of_rma(rma_id)

    def order(self, order_id: str) -> Order | None:
        return self._orders(order_id)

    def availability_changed(self, channel: str, sku: str, available: int, version: int) -> int:
        """Announce ``stock.availability_changed`` (the availability feed calls this)."""
        event = availability_event(channel, sku, available, at=_iso(self._clock()), version=version)
        return self.announce([event])

    def announce(self, events: Sequence[WebhookEvent]) -> int:
        if not events:
            return 0
        subs = self._store.subscriptions()
        now, messages = _iso(self._clock()), []
        for event in events:
            for sub in subs:
                if not sub.wants(event.type.value):
                    continue
                delivery = Delivery(
                    delivery_id=delivery_id(sub.subscription_id, event),
                    subscription_id=sub.subscription_id,
                    webhook_id=webhook_id(sub.subscription_id, event),
                    event_type=event.type.value,
                    payload=event.payload(),
                    created_at=now,
                )
                stored = self._store.add_delivery(delivery)
                if stored is None or stored.status == DeliveryStatus.PENDING:
                    messages.append(_message(stored or delivery))  # new, or queued not yet
        self._queue.send_many(messages)
        return len(messages)

    # --- one attempt -------------------------------------------------------------------------

    def attempt(
        self,
        subscription_id: str,
        delivery_id: str,
        *,
        receive_count: int = 1,
        receipt_handle: str | None = None,
        manual: bool = False,
    ) -> DeliveryStatus:
        """POST the delivery once, signed; record the attempt. A failure raises RetryLater
        after setting when SQS brings the message back (``RETRY_SCHEDULE``); a manual attempt
        that fails is only recorded."""
        delivery = self._store.delivery(subscription_id, delivery_id)
        if delivery is None or delivery.status == DeliveryStatus.DELIVERED:
            return delivery.status if delivery else DeliveryStatus.FAILED
        sub = self._store.subscription(subscription_id)
        if sub is None:
            delivery.status, delivery.next_retry_at = DeliveryStatus.FAILED, None
            self._store.save_delivery(delivery)
            return delivery.status
        started = self._clock()
        code, error = self._post(sub, delivery, started)
        delivery.attempt_count += 1
        record = {
            "attempt": delivery.attempt_count,
            "at": _iso(started),
            "status_code": code,
            "error": error,
            "duration_ms": int((self._clock() - started).total_seconds() * 1000),
            "manual": manual,
        }
        delivery.attempts = [*delivery.attempts, record][-MAX_ATTEMPTS_KEPT:]
        if code is not None and 200 <= code < 300:
            delivery.status, delivery.next_retry_at = DeliveryStatus.DELIVERED, None
            self._store.save_delivery(delivery)
            return delivery.status
        if manual:
            if delivery.status == DeliveryStatus.PENDING:
                delivery.status = DeliveryStatus.FAILED
            self._store.save_delivery(delivery)
            return delivery.status
        wait = retry_delay(receive_count)
        why = error or f"the receiver answered {code}"
        if wait is None:
            delivery.status, delivery.next_retry_at = DeliveryStatus.FAILED, None
            self._store.save_delivery(delivery)
            if receipt_handle:
                self._queue.retry_after(receipt_handle, 0)  # the next receive dead-letters it
            raise RetryLater(f"{why}; attempt {receive_count} was the last: to the DLQ")
        delivery.status = DeliveryStatus.RETRYING
        delivery.next_retry_at = _iso(started + timedelta(seconds=wait))
        self._store.save_delivery(delivery)
        if receipt_handle:
            self._queue.retry_after(receipt_handle, wait)
        raise RetryLater(f"{why}; attempt {receive_count + 1} in {wait} s")

    def _post(
        self, sub: Subscription, delivery: Delivery, at: datetime
    ) -> tuple[int | None, str | None]:
        """The status code, or the reason there is none (refused or unreachable)."""
        try:
            addresses = self.check_target(sub.url)  # again: DNS may have changed since
        except BadWebhook as exc:
            return None, "; ".join(f.reason for f in exc.fields) or str(exc)
        body = json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True)
        headers = {
            "content-type": "application/json",
            "user-agent": "Dirigent-Webhooks/1",
            **sign(sub.secret, delivery.webhook_id, at, body),
        }
        begun = time.monotonic()
        try:
            code = self._transport.post(
                sub.url, addresses[0], headers, body.encode(), self._timeout
            )
        except OSError as exc:
            took = time.monotonic() - begun
            return None, f"no answer after {took:.1f} s: {type(exc).__name__}"
        return code, None


def _message(delivery: Delivery, *, manual: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "delivery",
        "subscription_id": delivery.subscription_id,
        "delivery_id": delivery.delivery_id,
    }
    return {**body, "manual": True} if manual else body


def _check_secret(secret: str) -> None:
    reason = ""
    if not secret.startswith("whsec_"):
        reason = "must start with whsec_ (Standard Webhooks form)"
    else:
        try:
            raw = base64.b64decode(secret.removeprefix("whsec_"), validate=True)
        except ValueError:
            raw = b""
        if not 24 <= len(raw) <= 64:
            reason = "must be whsec_ and the base64 of 24 to 64 random bytes"
    if reason:
        raise BadWebhook("the webhook secret is not valid", fields=[FieldError("secret", reason)])
