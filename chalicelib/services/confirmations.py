"""Confirmations back to the sales platforms: the channel's connector is a built-in subscriber
of its own orders, whose "delivery" is a platform API call (a Shopify fulfilment, an SP-API
``confirmShipment``, a WooCommerce status and note).

They ride the webhooks queue and its back-off: on every ``order_changed`` trigger
``confirm_order`` derives the confirmations of the order's new history entries (a mark per
order; records keyed by the fact, so each is made once), one ``confirmation`` message each;
``attempt`` makes the call once. No answer, 429 or 5xx: the message comes back after the next
wait of ``RETRY_SCHEDULE`` and goes to the DLQ after the last; a refusal a retry cannot fix
(404, 422, an unknown SKU) fails the record at once with the platform's message. Capture never
waits on any of it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from chalicelib.domain.confirmations import (
    Confirmation,
    ConfirmationKind,
    ConfirmationStatus,
    PlatformRefused,
    PlatformUnavailable,
    captured_by,
    confirmation_id,
    drafts,
)
from chalicelib.domain.errors import FieldError, NotFound
from chalicelib.domain.order.model import Order
from chalicelib.domain.paging import Page
from chalicelib.domain.webhooks import MAX_ATTEMPTS_KEPT, retry_delay
from chalicelib.services.cursors import CursorSigner
from chalicelib.services.webhooks import RetryLater


class ConfirmationStore(Protocol):
    def add_confirmation(self, c: Confirmation) -> Confirmation | None:
        """Create ``c`` unless it exists: None when created, else the stored one."""

    def confirmation(self, channel: str, confirmation_id: str) -> Confirmation | None: ...
    def save_confirmation(self, c: Confirmation) -> None: ...
    def confirmations(self, channel: str, limit: int, cursor: str | None) -> Page: ...
    def confirmed(self, order_id: str) -> int:
        """How many of the order's history entries were looked at for confirmations."""

    def mark_confirmed(self, order_id: str, count: int) -> None:
        """Raise the mark to ``count`` (never lowers it)."""


class Queue(Protocol):
    def send_many(self, bodies: Sequence[dict[str, Any]]) -> None: ...
    def retry_after(self, receipt_handle: str, seconds: int) -> None: ...


class PlatformClient(Protocol):
    def unsupported(self, kind: ConfirmationKind) -> str | None:
        """Why the platform cannot take this kind of confirmation (None: it can)."""

    def send(self, c: Confirmation) -> dict[str, Any]:
        """Make the call(s); what the platform made (ids). Raises PlatformRefused,
        PlatformUnavailable or OSError."""


Platforms = Callable[[str, dict[str, Any]], PlatformClient]


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


class ConfirmationService:
    def __init__(
        self,
        *,
        store: ConfirmationStore,
        orders: Callable[[str], Order | None],
        connector: Callable[[str], dict[str, Any] | None],
        platforms: Platforms,
        queue: Queue,
        cursors: CursorSigner,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._store, self._orders, self._connector = store, orders, connector
        self._platforms, self._queue, self._cursors, self._clock = (
            platforms,
            queue,
            cursors,
            clock,
        )

    # --- derivation ----------------------------------------------------------------------

    def confirm_order(self, order_id: str, order: Order | None = None) -> int:
        """Record and queue the confirmations of the order's history entries not yet looked
        at; the number queued. Nothing for an order no connector captured (without a read or
        a mark: it never has any), a channel without a connector of that platform, or one with
        ``confirmations: false``. ``order``: the order as just read, if the caller has it."""
        order = order or self._orders(order_id)
        if order is None:
            return 0
        platform = captured_by(order)
        if platform is None:
            return 0
        since = self._store.confirmed(order_id)
        if since >= len(order.history):
            return 0
        config = self._connector(order.channel)
        queued = 0
        if (
            config
            and config.get("platform") == platform
            and config.get("confirmations", True) is not False
        ):
            queued = self._record(order, platform, config, since)
        self._store.mark_confirmed(order_id, len(order.history))
        return queued

    def _record(self, order: Order, platform: str, config: dict[str, Any], since: int) -> int:
        client = self._platforms(platform, config)
        now, messages = _iso(self._clock()), []
        for draft in drafts(order, platform, since):
            c = Confirmation(
                confirmation_id=confirmation_id(order.channel, draft),
                channel=order.channel,
                platform=platform,
                order_id=order.order_id,
                channel_order_id=order.channel_order_id,
                kind=draft.kind,
                data=draft.data,
                at=draft.at,
                created_at=now,
            )
            if why := client.unsupported(draft.kind):
                c.status, c.error = ConfirmationStatus.SKIPPED, why
            stored = self._store.add_confirmation(c)
            if (stored or c).status == ConfirmationStatus.PENDING:
                messages.append(_message(stored or c))  # new, or queued not yet
        self._queue.send_many(messages)
        return len(messages)

    # --- reading and retrying --------------------------------------------------------------

    def list(self, channel: str, limit: int, cursor: str | None) -> Page:
        """The channel's confirmations, newest first, with a signed cursor."""
        scope = f"confirmations:{channel}:{limit}"
        page = self._store.confirmations(channel, limit, self._cursors.open(cursor, scope))
        return Page(page.items, self._cursors.seal(page.cursor, scope))

    def get(self, channel: str, confirmation_id: str) -> Confirmation:
        found = self._store.confirmation(channel, confirmation_id)
        if found is None:
            raise NotFound(
                f"no confirmation {confirmation_id}",
                fields=[FieldError("confirmation_id", "unknown")],
            )
        return found

    def retry(self, channel: str, confirmation_id: str) -> Confirmation:
        """Queue one more attempt now (a manual one: if it fails, nothing more follows)."""
        found = self.get(channel, confirmation_id)
        self._queue.send_many([_message(found, manual=True)])
        return found

    # --- one attempt -------------------------------------------------------------------------

    def attempt(
        self,
        channel: str,
        confirmation_id: str,
        *,
        receive_count: int = 1,
        receipt_handle: str | None = None,
        manual: bool = False,
    ) -> ConfirmationStatus:
        """Call the platform once and record the attempt. A retryable failure raises
        RetryLater after setting when SQS brings the message back; a refusal fails the record
        for good (the message is done); a manual attempt that fails is only recorded."""
        c = self._store.confirmation(channel, confirmation_id)
        if c is None or c.status == ConfirmationStatus.SENT:
            return c.status if c else ConfirmationStatus.FAILED
        config = self._connector(channel)
        started = self._clock()
        code: str | None = None
        error: str | None = None
        result: dict[str, Any] = {}
        try:
            if not config or config.get("platform") != c.platform:
                raise PlatformRefused(f"channel {channel} has no {c.platform} connector now")
            result = self._platforms(c.platform, config).send(c)
        except PlatformRefused as exc:
            code, error = "refused", str(exc)
        except PlatformUnavailable as exc:
            code, error = "unavailable", str(exc)
        except OSError as exc:
            code, error = "unavailable", f"no answer: {type(exc).__name__}: {exc}"[:500]
        c.attempt_count += 1
        record = {
            "attempt": c.attempt_count,
            "at": _iso(started),
            "outcome": code or "sent",
            "error": error if code else None,
            "duration_ms": int((self._clock() - started).total_seconds() * 1000),
            "manual": manual,
        }
        c.attempts = [*c.attempts, record][-MAX_ATTEMPTS_KEPT:]
        c.error = error if code else None
        if code is None:
            c.status, c.next_retry_at, c.result = ConfirmationStatus.SENT, None, result
            self._store.save_confirmation(c)
            return c.status
        if code == "refused" or manual:
            if code == "refused" or c.status == ConfirmationStatus.PENDING:
                c.status, c.next_retry_at = ConfirmationStatus.FAILED, None
            self._store.save_confirmation(c)
            return c.status
        wait = retry_delay(receive_count)
        if wait is None:
            c.status, c.next_retry_at = ConfirmationStatus.FAILED, None
            self._store.save_confirmation(c)
            if receipt_handle:
                self._queue.retry_after(receipt_handle, 0)  # the next receive dead-letters it
            raise RetryLater(f"{c.error}; attempt {receive_count} was the last: to the DLQ")
        c.status = ConfirmationStatus.RETRYING
        c.next_retry_at = _iso(started + timedelta(seconds=wait))
        self._store.save_confirmation(c)
        if receipt_handle:
            self._queue.retry_after(receipt_handle, wait)
        raise RetryLater(f"{c.error}; attempt {receive_count + 1} in {wait} s")


def _message(c: Confirmation, *, manual: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "confirmation",
        "channel": c.channel,
        "confirmation_id": c.confirmation_id,
    }
    return {**body, "manual": True} if manual else body
