"""Finding, reading and cancelling orders: what channels and customer service do after capture."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from chalicelib.domain.access import Principal, Role
from chalicelib.domain.errors import FieldError, InvalidInput, NotFound, StaleOrder, StockRace
from chalicelib.domain.order.cancel import Cancellation, cancel
from chalicelib.domain.order.model import Order, OrderStatus, order_to_doc
from chalicelib.domain.order.writes import OutboxMark
from chalicelib.domain.paging import Page, whole_number
from chalicelib.services.cursors import CursorSigner
from chalicelib.services.ports import OrderEvents, OrderSearch, OrderStore

MAX_DAYS = 366


class OrderDesk:
    def __init__(
        self,
        *,
        orders: OrderStore,
        search: OrderSearch,
        events: OrderEvents,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        by_tracking_number: Callable[[str], list[str]] = lambda number: [],
        cursors: CursorSigner | None = None,
    ) -> None:
        """``by_tracking_number`` gives the ids of the orders a carrier's tracking number
        belongs to; ``cursors`` signs listing cursors (with the server's secret)."""
        self._orders, self._search, self._events, self._clock = orders, search, events, clock
        self._by_tracking_number = by_tracking_number
        self._cursors = cursors or CursorSigner()

    def get(self, order_id: str, principal: Principal) -> Order:
        """The order, if it exists and the caller may see it (else 404, never 403: a channel
        must not learn that another channel's order id exists)."""
        order = self._orders.get(order_id)
        if order is None or not principal.sees_channel(order.channel):
            raise NotFound(
                f"order {order_id} not found", fields=[FieldError("order_id", "unknown")]
            )
        return order

    def cancel(
        self,
        order_id: str,
        principal: Principal,
        reason: str = "",
        lines: dict[str, int] | None = None,
    ) -> tuple[Order, Cancellation]:
        """Cancel ``lines`` (``sku -> units``) or everything still cancellable. Units no
        location holds a request for are cancelled at once, their reservations released in
        one transaction with the order; the others are asked back from their locations
        (``cancel_request``, sent by the dispatcher). Idempotent without lines; retried when
        the order changed meanwhile."""
        for _ in range(5):
            order = self.get(order_id, principal)
            now = _now(self._clock)
            done = cancel(order, lines, at=now, source=principal.source, reason=reason)
            if not done:
                return order, done
            try:
                self._orders.update(
                    order,
                    moves=done.moves,
                    writes=[OutboxMark()] if done.requested else [],
                    drop_backorders=done.dropped_backorders,
                    now=now,
                )
            except (StaleOrder, StockRace):
                continue
            self._announce(order, done)
            return order, done
        raise StaleOrder("the order keeps changing; try again")

    def _announce(self, order: Order, done: Cancellation) -> None:
        if done.requested:
            self._events.order_updated(order.order_id)  # the dispatcher sends the requests
        if order.status == OrderStatus.CANCELLED:
            self._events.order_cancelled(order.order_id)
        for sku, location_id in sorted({(sku, loc) for _, (sku, loc, _) in done.moves}):
            self._events.stock_arrived(sku, location_id)  # backorders may take the units

    def list(self, principal: Principal, params: dict[str, str]) -> Page:
        """Orders by channel, e-mail, channel order id or day range, newest first. The cursor
        is signed and bound to the query: a forged or foreign one is a 400 naming ``cursor``."""
        scope = _scope(principal, params)
        inner = self._cursors.open(params.get("cursor"), scope) or ""
        page = self._list(principal, {**params, "cursor": inner})
        return Page(page.items, self._cursors.seal(page.cursor, scope))

    def _list(self, principal: Principal, params: dict[str, str]) -> Page:
        limit = whole_number(params.get("limit") or "50", "limit", 1, 200)
        start, end = _range(params.get("from"), params.get("to"), self._clock)
        status, cursor = params.get("status"), params.get("cursor")
        if status is not None and status not in {s.value for s in OrderStatus}:
            raise InvalidInput(
                "unknown order status",
                fields=[FieldError("status", f"one of {', '.join(s.value for s in OrderStatus)}")],
            )
        channel = principal.channel if principal.role == Role.CHANNEL else params.get("channel")
        common: dict[str, Any] = {
            "status": status,
            "limit": limit,
            "cursor": cursor,
            "start": start.isoformat(),
            "end": end.isoformat(),
        }
        if params.get("tracking_number"):
            return self._tracked(params["tracking_number"], principal, status)
        if params.get("channel_order_id"):
            return self._search.search(
                index="gsi4",
                partition=f"COID#{params['channel_order_id']}",
                channel=channel,
                **{**common, "start": "!", "end": "~"},
            )
        if params.get("email"):
            return self._search.search(
                index="gsi3", partition=f"EM#{params['email'].lower()}", channel=channel, **common
            )
        if channel:
            return self._search.search(
                index="gsi1", partition=f"CH#{channel}", channel=None, **common
            )
        return self._by_days(start, end, common)

    def _tracked(self, number: str, principal: Principal, status: str | None) -> Page:
        """The orders shipped under a carrier's tracking number (usually one)."""
        found = [self._orders.get(order_id) for order_id in self._by_tracking_number(number)]
        return Page(
            [
                order_to_doc(order)
                for order in found
                if order is not None
                and principal.sees_channel(order.channel)
                and status in (None, order.status.value)
            ],
            None,
        )

    def _by_days(self, start: date, end: date, common: dict[str, Any]) -> Page:
        """All channels: one index partition per day, walked newest first. The cursor carries
        the day it stopped in."""
        cursor = common.pop("cursor")
        day = end
        if cursor:
            day_text, _, cursor = cursor.partition(":")
            day = _date(day_text, "cursor")
        items: list[dict[str, Any]] = []
        limit = common.pop("limit")
        while day >= start and len(items) < limit:
            page = self._search.search(
                index="gsi2",
                partition=f"DAY#{day.isoformat()}",
                channel=None,
                limit=limit - len(items),
                cursor=cursor or None,
                **common,
            )
            items.extend(page.items)
            if page.cursor:
                return Page(items, f"{day.isoformat()}:{page.cursor}")
            day, cursor = day - timedelta(days=1), ""
        return Page(items, f"{day.isoformat()}:" if day >= start and items else None)


def _scope(principal: Principal, params: dict[str, str]) -> str:
    """What a cursor continues: the caller's channel and every parameter but the page's."""
    channel = principal.channel if principal.role == Role.CHANNEL else params.get("channel")
    keys = ("status", "from", "to", "email", "channel_order_id", "tracking_number")
    return json.dumps([channel, *((params.get(k) or "").lower() for k in keys)])


def _now(clock: Callable[[], datetime]) -> str:
    return clock().isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _date(text: str, name: str) -> date:
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        raise InvalidInput(
            f"{name} must be a date", fields=[FieldError(name, "not YYYY-MM-DD")]
        ) from None


def _range(start: str | None, end: str | None, clock: Callable[[], datetime]) -> tuple[date, date]:
    last = _date(end, "to") if end else clock().date()
    first = _date(start, "from") if start else last - timedelta(days=30)
    if first > last:
        raise InvalidInput("from is after to", fields=[FieldError("from", "after to")])
    if (last - first).days > MAX_DAYS:
        raise InvalidInput(
            "the range is too long",
            fields=[FieldError("from", f"more than {MAX_DAYS} days before to")],
        )
    return first, last
