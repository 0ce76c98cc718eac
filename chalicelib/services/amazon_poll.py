"""Amazon orders in by polling: for each channel with an Amazon connector, when it is due
(``poll_minutes``), ``getOrders`` since the channel's watermark (following ``NextToken``) and,
for each order ready to ship that we do not have yet, ``getOrderItems``; each order goes
through the connectors' normal capture (``ConnectorService.capture_polled``).

The watermark only moves when every page of a window was applied, to the window's start less
``OVERLAP`` (``LastUpdatedAfter`` is eventually consistent: an order updated just before may
show up late); capture is idempotent on the Amazon order id, so the overlap is safe. A run
saves its progress after each page it finished (the page's ``NextToken``), so a long backlog
goes on in the next run; a run that fails keeps the state it had (nothing lost), and a run that
has used its time budget (the Lambda has 30 s) stops before its next order.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from aws_lambda_powertools import Logger

from chalicelib.connectors import Platform, amazon

logger = Logger(service="dirigent")

OVERLAP = timedelta(minutes=5)
FIRST_LOOKBACK = timedelta(days=1)  # how far back a channel's first poll looks
DUE_SLACK_S = 30  # a schedule firing a little early still polls
MAX_FAILURES = 3


class Api(Protocol):
    def get_orders(
        self, last_updated_after: str, next_token: str | None = None
    ) -> dict[str, Any]: ...
    def get_order_items(self, amazon_order_id: str) -> list[dict[str, Any]]: ...


class PollState(Protocol):
    def get(self, channel: str) -> dict[str, Any] | None: ...
    def save(self, channel: str, doc: dict[str, Any]) -> None: ...


class Connectors(Protocol):
    def connectors(self, platform: str) -> list[dict[str, Any]]: ...
    def captured(self, channel: str, platform: str, platform_order_id: str) -> bool: ...
    def capture_polled(self, config: dict[str, Any], doc: dict[str, Any]) -> dict[str, Any]: ...


@dataclass
class ChannelPoll:
    channel: str
    pages: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    watermark: str = ""
    done: bool = False  # the window was read to its end
    error: str = ""

    def count(self, status: str) -> None:
        self.statuses[status] = self.statuses.get(status, 0) + 1


class AmazonPoller:
    def __init__(
        self,
        *,
        connectors: Connectors,
        state: PollState,
        api: Callable[[Mapping[str, Any]], Api],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        monotonic: Callable[[], float] = time.monotonic,
        budget_s: float = 10.0,
    ) -> None:
        self._connectors, self._state, self._api = connectors, state, api
        self._clock, self._monotonic, self._budget = clock, monotonic, budget_s

    def run(self) -> list[ChannelPoll]:
        """Poll every channel that is due, within the time budget."""
        started = self._monotonic()
        out: list[ChannelPoll] = []
        for config in self._connectors.connectors(Platform.AMAZON):
            if self._monotonic() - started > self._budget:
                break
            state = self._state.get(config["channel"]) or {}
            if self._due(config, state):
                out.append(self.poll(config, state, deadline=started + self._budget))
        return out

    def poll(
        self, config: dict[str, Any], state: dict[str, Any], *, deadline: float
    ) -> ChannelPoll:
        """One channel: page on from where its state says until the window ends, the
        deadline passes or something fails (then the state stays as the last page left it)."""
        channel, now = config["channel"], self._clock()
        result = ChannelPoll(channel)
        after = state.get("watermark") or _iso(now - FIRST_LOOKBACK)
        token = state.get("next_token")
        window_end = state.get("window_end") if token else _iso(now - OVERLAP)
        api = self._api(config)
        try:
            while True:
                page = api.get_orders(after, token)
                for order in page.get("Orders") or []:
                    if self._monotonic() > deadline:
                        return result  # this page again next run; what was captured is skipped
                    result.count(self._apply(api, config, order))
                result.pages += 1
                token = page.get("NextToken") or None
                progress: dict[str, Any] = {"watermark": window_end or after}
                if token:
                    progress = {"watermark": after, "next_token": token, "window_end": window_end}
                self._state.save(channel, {**progress, "polled_at": now.timestamp()})
                result.watermark = str(progress["watermark"])
                if not token:
                    result.done = True
                    return result
                if self._monotonic() > deadline:
                    return result
        except Exception as exc:  # noqa: BLE001 - one channel's trouble never stops the others
            result.error = f"{type(exc).__name__}: {exc}"
            logger.warning("amazon poll failed", extra={"channel": channel, "error": result.error})
            self._failed(channel)
            return result

    def _failed(self, channel: str) -> None:
        """Count the failure; a window that failed ``MAX_FAILURES`` times in a row starts
        again from its watermark (its NextToken may have expired)."""
        state = self._state.get(channel) or {}
        failures = int(state.get("failures", 0)) + 1
        if failures >= MAX_FAILURES and state.get("next_token"):
            state = {k: v for k, v in state.items() if k not in ("next_token", "window_end")}
            failures = 0
        self._state.save(channel, {**state, "failures": failures})

    def _apply(self, api: Api, config: dict[str, Any], order: dict[str, Any]) -> str:
        act = amazon.action(order)
        if act in (amazon.Action.WAIT, amazon.Action.SKIP):
            return "waiting" if act == amazon.Action.WAIT else "skipped"
        order_id = str(order.get("AmazonOrderId", ""))
        if act == amazon.Action.CAPTURE:
            if self._connectors.captured(config["channel"], Platform.AMAZON, order_id):
                return "exists"  # no getOrderItems call for what we have
            items = api.get_order_items(order_id)
        else:
            items = []
        return str(
            self._connectors.capture_polled(config, {"order": order, "items": items})["status"]
        )

    def _due(self, config: dict[str, Any], state: dict[str, Any]) -> bool:
        if state.get("next_token"):
            return True  # an unfinished window goes on
        last = state.get("polled_at")
        every = int(config.get("poll_minutes") or 5) * 60
        return last is None or self._clock().timestamp() - float(last) >= every - DUE_SLACK_S


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
