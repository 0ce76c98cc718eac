"""The per-channel availability feed and its coalesced pushes.

``for_skus`` answers ``GET /channels/{channel}/availability?skus=…``: one eventually consistent
Query per SKU of its stock (hot SKUs' shards folded in by the stock adapter) plus one
BatchGetItem of the products (weights, for the parcel cap), then ``domain.availability`` on
it. ``changed`` pages through the change log written after every stock change
(``stock_changed``: by the consumers in process, and from a ``stock_changed`` message for the
HTTP writers), which also decides the pushes: per (channel, SKU) a band change is announced
through ``push`` at most once per window, a change inside it re-checked when the window ends
(``rechecks``, SQS with a delay); a push that fails raises, and is sent again on the retry.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from aws_lambda_powertools import Logger

from chalicelib.domain.availability import (
    CHANGE_RETENTION_DAYS,
    Action,
    PushState,
    SkuAvailability,
    availability,
    band_of,
    candidate_locations,
    decide,
)
from chalicelib.domain.channel import Channel
from chalicelib.domain.errors import FieldError, InvalidInput, NotFound
from chalicelib.domain.network import CarrierService, Location, Product, StockLevel
from chalicelib.domain.paging import Page
from chalicelib.domain.rules import SourcingRules
from chalicelib.services.cursors import CursorSigner

logger = Logger(service="dirigent")

MAX_PAGE = 100
READERS = 8  # Queries in flight per request
_CLAIM_ATTEMPTS = 4


class AvailabilityNetwork(Protocol):
    def channel(self, name: str) -> Channel | None: ...
    def channels(self) -> list[Channel]: ...
    def locations(self) -> list[Location]: ...
    def carrier_services(self) -> list[CarrierService]: ...
    def rules(self) -> SourcingRules: ...
    def products(self, skus: Iterable[str]) -> dict[str, Product]: ...


class StockReader(Protocol):
    def for_sku(self, sku: str) -> list[StockLevel]:
        """Every location's level of ``sku`` (one Query; hot SKUs' shards folded in)."""


class AvailabilityStore(Protocol):
    def log_changes(self, skus: Iterable[str], at: datetime) -> None: ...
    def changes(
        self, since: datetime, until: datetime, limit: int, after: str | None
    ) -> tuple[list[tuple[str, str]], str | None]: ...
    def push_state(self, channel: str, sku: str) -> PushState | None: ...
    def claim_send(
        self, channel: str, sku: str, seen: PushState | None, band: Any, now: float
    ) -> int | None: ...
    def claim_defer(self, channel: str, sku: str, seen: PushState, until: float) -> bool: ...
    def confirm_sent(self, channel: str, sku: str, version: int) -> None: ...


class Rechecks(Protocol):
    def schedule(self, channel: str, sku: str, delay_seconds: int) -> None: ...


class PushFailed(RuntimeError):
    """Some pushes failed after their claims: retry the change (``decide`` sends them again)."""


Push = Callable[[str, str, int, int], int]  # channel, sku, available, version -> deliveries


def view(found: SkuAvailability) -> dict[str, Any]:
    return {
        "sku": found.sku,
        "available": found.available,
        "band": found.band.value,
        "on_locations": found.on_locations,
        "promise_date": found.promise_date.isoformat() if found.promise_date else None,
        "promise_location_id": found.promise_location_id,
        "backorderable": found.backorderable,
    }


class AvailabilityService:
    def __init__(
        self,
        *,
        network: AvailabilityNetwork,
        stock: StockReader,
        store: AvailabilityStore,
        push: Push,
        rechecks: Rechecks,
        cursors: CursorSigner,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._network, self._stock, self._store = network, stock, store
        self._push, self._rechecks, self._cursors, self._clock = push, rechecks, cursors, clock

    # --- the feed ----------------------------------------------------------------------------

    def for_skus(
        self, channel_name: str, skus: Sequence[str], *, country: str | None = None
    ) -> list[dict[str, Any]]:
        channel = self._channel(channel_name, country)
        found = self._compute([channel], skus, country)[channel.channel]
        return [view(found[sku]) for sku in dict.fromkeys(skus)]

    def changed(
        self,
        channel_name: str,
        since: datetime,
        *,
        limit: int = MAX_PAGE,
        cursor: str | None = None,
        country: str | None = None,
    ) -> Page:
        """The SKUs whose stock changed after ``since`` (in change order, a SKU once per page),
        each with its availability now; ``cursor`` continues the listing."""
        channel = self._channel(channel_name, country)
        now = self._clock()
        if since < now - timedelta(days=CHANGE_RETENTION_DAYS):
            raise InvalidInput(
                "changed_since is too far back",
                fields=[FieldError("changed_since", f"at most {CHANGE_RETENTION_DAYS} days ago")],
            )
        scope = f"availability:{channel.channel}:{since.isoformat()}:{country or ''}"
        after = self._cursors.open(cursor, scope)
        changes, rest = self._store.changes(since, now, limit, after)
        latest: dict[str, str] = {}
        for at, sku in changes:
            latest.pop(sku, None)
            latest[sku] = at
        found = self._compute([channel], list(latest), country)[channel.channel] if latest else {}
        items = [{**view(found[sku]), "changed_at": at} for sku, at in latest.items()]
        return Page(items=items, cursor=self._cursors.seal(rest, scope))

    def _channel(self, name: str, country: str | None) -> Channel:
        channel = self._network.channel(name)
        if channel is None:
            raise NotFound(f"channel {name} not found", fields=[FieldError("channel", "unknown")])
        if country is not None and country not in channel.countries:
            raise InvalidInput(
                "the channel does not sell there",
                fields=[FieldError("country", f"one of {sorted(channel.countries)}")],
            )
        return channel

    def _compute(
        self, channels: Sequence[Channel], skus: Sequence[str], country: str | None = None
    ) -> dict[str, dict[str, SkuAvailability]]:
        """Per channel, per SKU: one stock read for all of them."""
        now, rules = self._clock(), self._network.rules()
        locations = self._network.locations()
        wanted: dict[str, Location] = {}
        for channel in channels:
            for loc in candidate_locations(channel, rules, locations, now):
                wanted[loc.location_id] = loc
        stock = [level for level in self._levels(skus) if level.location_id in wanted]
        products = self._network.products(skus)
        services = self._network.carrier_services()
        return {
            channel.channel: availability(
                channel,
                skus=skus,
                stock=stock,
                locations=list(wanted.values()),
                carrier_services=services,
                products=products,
                rules=rules,
                now=now,
                country=country,
            )
            for channel in channels
        }

    def _levels(self, skus: Sequence[str]) -> list[StockLevel]:
        """One Query per SKU, a few at a time: a Query costs by the bytes it reads (0.5 read
        units per 4 KB, eventually consistent), a BatchGetItem at least 0.5 per key, found or
        not, so this is never dearer than looking up every (SKU, location)."""
        unique = list(dict.fromkeys(skus))
        if len(unique) <= 1 or READERS <= 1:
            return [lv for sku in unique for lv in self._stock.for_sku(sku)]
        with ThreadPoolExecutor(max_workers=min(READERS, len(unique))) as pool:
            return [lv for levels in pool.map(self._stock.for_sku, unique) for lv in levels]

    # --- after a stock change ----------------------------------------------------------------

    def stock_changed(self, skus: Iterable[str]) -> int:
        """Log the change of ``skus`` and announce the bands that changed; the pushes sent."""
        wanted = sorted(set(skus))
        if not wanted:
            return 0
        self._store.log_changes(wanted, self._clock())
        channels = self._network.channels()
        if not channels:
            return 0
        sent, failed = 0, 0
        for name, found in self._compute(channels, wanted).items():
            low = next(c.availability_low_units for c in channels if c.channel == name)
            for sku, level in found.items():
                try:
                    sent += self._consider(name, sku, level.available, low)
                except Exception:  # the others still go; the caller retries this one
                    logger.exception("availability push failed", channel=name, sku=sku)
                    failed += 1
        if failed:
            raise PushFailed(f"{failed} availability pushes failed; their claims stay unsent")
        return sent

    def recheck(self, channel_name: str, sku: str) -> int:
        """A deferred re-check at the end of a window: announce the band if it still differs."""
        channel = self._network.channel(channel_name)
        if channel is None:
            return 0
        level = self._compute([channel], [sku])[channel.channel][sku]
        return self._consider(
            channel.channel, sku, level.available, channel.availability_low_units, True
        )

    def _consider(self, channel: str, sku: str, units: int, low: int, recheck: bool = False) -> int:
        band = band_of(units, low)
        for _ in range(_CLAIM_ATTEMPTS):
            state = self._store.push_state(channel, sku)
            now = self._clock().timestamp()
            decision = decide(state, band, now, recheck=recheck)
            if decision.action is Action.NONE:
                return 0
            if decision.action is Action.DEFER:
                assert state is not None
                if self._store.claim_defer(channel, sku, state, decision.at):
                    self._rechecks.schedule(channel, sku, math.ceil(decision.at - now))
                    return 0
                continue
            version = self._store.claim_send(channel, sku, state, band, now)
            if version is None:
                continue  # another writer changed the state: decide again on what it wrote
            self._push(channel, sku, units, version)  # raises: the claim stays unsent
            self._store.confirm_sent(channel, sku, version)
            return 1
        return 0
