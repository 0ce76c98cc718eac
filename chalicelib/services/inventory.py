"""Stock use cases: absolute levels (import), manual adjustments, receipts and counts from the
warehouses, and the stock of a SKU across locations.

Units that become available (receipts, positive adjustments) are announced through the
``OrderEvents`` port (``stock_arrived``), after the write: waiting backorders may take them.
Every stock report of a location (levels, adjustment, receipt, count) records its feed time
through the ``FeedMarks`` port (see ``domain.freshness``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from aws_lambda_powertools import Logger

from chalicelib.domain.errors import FieldError, InsufficientStock, InvalidInput, NotFound
from chalicelib.domain.freshness import FRESH, FeedStatus, Freshness, of_location, status
from chalicelib.domain.inventory import MAX_ON_HAND, Movement, count_refusal
from chalicelib.domain.network import Location, Product, StockLevel
from chalicelib.services.ports import OrderEvents

logger = Logger(service="dirigent")


class StockStore(Protocol):
    """Stock per SKU per location: ``DynamoStock`` and ``MemoryStock`` (same contract)."""

    def get(self, sku: str, location_id: str) -> StockLevel | None: ...
    def get_many(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], StockLevel]: ...
    def for_sku(self, sku: str) -> list[StockLevel]: ...
    def by_location(self, location_id: str) -> list[StockLevel]: ...
    def set_shards(self, sku: str, shards: int) -> None: ...
    def set_levels(
        self, sku: str, location_id: str, *, on_hand: int, safety_stock: int, reorder_point: int
    ) -> StockLevel: ...
    def put_new_many(self, levels: Iterable[StockLevel]) -> int: ...
    def set_levels_many(self, levels: Sequence[StockLevel]) -> None: ...
    def apply(
        self, sku: str, location_id: str, movement: Movement, quantity: int
    ) -> StockLevel: ...
    def apply_once(
        self,
        event_id: str | None,
        sku: str,
        location_id: str,
        movement: Movement,
        quantity: int,
        *,
        reorder_point: int = 0,
    ) -> bool: ...
    def adjust(
        self, sku: str, location_id: str, delta: int, *, reorder_point: int = 0
    ) -> StockLevel: ...
    def count(
        self,
        sku: str,
        location_id: str,
        counted_on_hand: int,
        counted_at: str,
        *,
        event_id: str | None = None,
        reorder_point: int = 0,
    ) -> bool: ...


class FeedMarks(Protocol):
    """The last stock report of each location (the catalog: ``DynamoCatalog.mark_feed``)."""

    def mark_feed(self, location_id: str, at: datetime) -> bool:
        """Record ``at``; False (normal) when a mark under a minute older exists already."""


def mark_feeds(feeds: FeedMarks, location_ids: Iterable[str], at: datetime) -> None:
    """Record a stock report of each location. A failed mark is logged, never fails the
    report: the location only looks older than it is until its next report."""
    for location_id in sorted(set(location_ids)):
        try:
            feeds.mark_feed(location_id, at)
        except Exception:
            logger.exception("feed time not recorded", location_id=location_id)


class MasterData(FeedMarks, Protocol):
    """What inventory needs of the catalog (``services.catalog.CatalogService``)."""

    def location(self, location_id: str) -> Location | None: ...
    def product(self, sku: str) -> Product | None: ...
    def products(self, skus: Iterable[str]) -> dict[str, Product]: ...
    def locations(self) -> list[Location]: ...


@dataclass(frozen=True)
class SkuStock:
    sku: str
    levels: list[StockLevel]
    feeds: Mapping[str, Freshness] = field(default_factory=dict)  # by location; absent: fresh

    def sellable_at(self, level: StockLevel) -> int:
        """What sourcing would take of ``level``: its available units, a stale feed discounted."""
        return self.feeds.get(level.location_id, FRESH).sellable(level.available)

    def feed_status(self, level: StockLevel) -> FeedStatus:
        return status(self.feeds.get(level.location_id, FRESH))

    @property
    def sellable(self) -> int:
        return sum(self.sellable_at(level) for level in self.levels)

    @property
    def on_hand(self) -> int:
        return sum(level.on_hand for level in self.levels)

    @property
    def reserved(self) -> int:
        return sum(level.reserved for level in self.levels)

    @property
    def in_transit(self) -> int:
        return sum(level.in_transit for level in self.levels)

    @property
    def quarantine(self) -> int:
        return sum(level.quarantine for level in self.levels)

    @property
    def available(self) -> int:
        """What can still be sold: negative levels (after a short count) count as 0."""
        return sum(max(level.available, 0) for level in self.levels)


def utc_stamp(moment: datetime) -> str:
    """A fixed-width UTC ISO string, so stored stamps compare in time order."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


class InventoryService:
    def __init__(
        self,
        stock: StockStore,
        catalog: MasterData,
        *,
        events: OrderEvents,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.stock = stock
        self._catalog = catalog
        self._events = events
        self._clock = clock

    def set_levels(
        self,
        sku: str,
        location_id: str,
        *,
        on_hand: int,
        safety_stock: int = 0,
        reorder_point: int | None = None,
    ) -> StockLevel:
        """Absolute levels; ``reorder_point`` defaults to the product's. Announced when units
        are available (waiting backorders may take them)."""
        product = self._known(sku, location_id)
        point = product.reorder_point if reorder_point is None else reorder_point
        level = self.stock.set_levels(
            sku, location_id, on_hand=on_hand, safety_stock=safety_stock, reorder_point=point
        )
        self._reported(location_id)
        if level.available > 0:
            self._announce(sku, location_id)
        else:
            self._changed(sku)
        return level

    def set_hot_shards(self, sku: str, shards: int) -> None:
        """A hot product's stock at every location split over ``shards`` items (1: not hot);
        every unit is kept (see ``domain.shards``)."""
        self.stock.set_shards(sku, shards)

    def adjust(self, sku: str, location_id: str, delta: int, *, reason: str) -> StockLevel:
        """A manual correction by ``delta`` units (``InsufficientStock`` if it would take more
        than is available)."""
        product = self._known(sku, location_id)
        current = self.stock.get(sku, location_id) if delta > 0 else None
        if current is not None and current.on_hand + delta > MAX_ON_HAND:
            raise InvalidInput(
                "the adjustment would take on_hand past its limit",
                fields=[
                    FieldError("delta", f"on_hand {current.on_hand} + {delta} > {MAX_ON_HAND}")
                ],
            )
        level = self.stock.adjust(sku, location_id, delta, reorder_point=product.reorder_point)
        self._reported(location_id)
        logger.info("stock adjusted", sku=sku, location_id=location_id, delta=delta, reason=reason)
        if delta > 0:
            self._announce(sku, location_id)
        else:
            self._changed(sku)
        return level

    def receive(self, sku: str, location_id: str, quantity: int, *, event_id: str) -> bool:
        """Units arrived (once per event): False for a duplicate."""
        product = self._known(sku, location_id)
        applied = self.stock.apply_once(
            event_id,
            sku,
            location_id,
            Movement.RECEIVE,
            quantity,
            reorder_point=product.reorder_point,
        )
        self._reported(location_id)  # a redelivery too: marks are idempotent
        if applied:
            self._announce(sku, location_id)
        return applied

    def count(
        self,
        sku: str,
        location_id: str,
        counted_on_hand: int,
        counted_at: datetime,
        *,
        event_id: str,
    ) -> bool:
        """An absolute count (once per event), reconciled with the movements recorded after
        ``counted_at``; False when a later count was applied already. ``InvalidInput`` naming
        ``counted_at`` for a count too far in the future or too old to reconcile."""
        if refusal := count_refusal(counted_at, self._clock()):
            raise InvalidInput(
                f"count of {sku} at {location_id} refused: counted_at {refusal}",
                fields=[FieldError("counted_at", refusal)],
            )
        product = self._known(sku, location_id)
        applied = self.stock.count(
            sku,
            location_id,
            counted_on_hand,
            utc_stamp(counted_at),
            event_id=event_id,
            reorder_point=product.reorder_point,
        )
        self._reported(location_id)  # a count superseded by a later one reports all the same
        if applied:  # it may have freed units for waiting backorders
            self._announce(sku, location_id)
        return applied

    def quarantine(
        self, sku: str, location_id: str, *, release: bool, quantity: int, reason: str
    ) -> StockLevel:
        """Release quarantined units to sellable stock (announced: backorders may take them)
        or write them off; ``InsufficientStock`` naming ``quantity`` when fewer are there."""
        self._known(sku, location_id)
        movement = Movement.UNQUARANTINE if release else Movement.QUARANTINE_OUT
        try:
            level = self.stock.apply(sku, location_id, movement, quantity)
        except InsufficientStock:
            held = self.stock.get(sku, location_id)
            have = held.quarantine if held else 0
            raise InsufficientStock(
                f"only {have} of {sku} in quarantine at {location_id}",
                fields=[FieldError("quantity", f"at most {have} in quarantine")],
            ) from None
        logger.info(
            "quarantine " + ("released" if release else "written off"),
            sku=sku,
            location_id=location_id,
            quantity=quantity,
            reason=reason,
        )
        if release:
            self._announce(sku, location_id)
        return level

    def stock_of(self, sku: str) -> SkuStock:
        if self._catalog.product(sku) is None:
            raise NotFound(f"no product {sku!r}", fields=[FieldError("sku", "unknown")])
        levels = sorted(self.stock.for_sku(sku), key=lambda lvl: lvl.location_id)
        now, at = self._clock(), {lvl.location_id for lvl in levels}
        feeds = {
            loc.location_id: of_location(loc, now)
            for loc in self._catalog.locations()
            if loc.location_id in at
        }
        return SkuStock(sku, levels, feeds)

    def _reported(self, location_id: str) -> None:
        mark_feeds(self._catalog, [location_id], self._clock())

    def _announce(self, sku: str, location_id: str) -> None:
        """The stock is written: a failed announcement is logged, never undoes it."""
        try:
            self._events.stock_arrived(sku, location_id)
        except Exception:
            logger.exception("stock_arrived not announced", sku=sku, location_id=location_id)

    def _changed(self, sku: str) -> None:
        """Fewer units: the availability feed hears it (``stock_arrived`` tells it of more)."""
        try:
            self._events.stock_changed([sku])
        except Exception:
            logger.exception("stock_changed not announced", sku=sku)

    def _known(self, sku: str, location_id: str) -> Product:
        if self._catalog.location(location_id) is None:
            raise NotFound(
                f"no location {location_id!r}", fields=[FieldError("location_id", "unknown")]
            )
        product = self._catalog.product(sku)
        if product is None:
            raise NotFound(f"no product {sku!r}", fields=[FieldError("sku", "unknown")])
        return product
