"""Stale stock feeds in the services, on the in-memory fakes: stock reports record the feed
time, the stock of a SKU carries sourcing's discount, and the dashboard rows."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.adapters.memory import MemoryCatalog, MemoryStock
from chalicelib.domain.catalog import Kind
from chalicelib.domain.freshness import freshness
from chalicelib.domain.reports import feed_ages
from chalicelib.services.catalog import CatalogService
from chalicelib.services.inventory import InventoryService
from local.demo import network_documents

NOW = datetime(2026, 5, 5, 9, 0, tzinfo=UTC)
KASSEL = "dc-kassel"


class NoEvents:
    def stock_arrived(self, sku: str, location_id: str) -> None:
        pass

    def stock_changed(self, skus: Any, *, delay_seconds: int = 0) -> None:
        pass


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def world() -> dict[str, Any]:
    catalog = CatalogService(MemoryCatalog())
    loc = network_documents()["locations"][0]
    catalog.put(Kind.LOCATION, KASSEL, {**loc, "feed_interval_minutes": 60})
    catalog.put(Kind.PRODUCT, "MUG", {"sku": "MUG", "weight_g": 300})
    clock = Clock()
    service = InventoryService(MemoryStock(), catalog, events=NoEvents(), clock=clock)
    return {"catalog": catalog, "clock": clock, "inventory": service}


def feed_at(world: dict[str, Any]) -> datetime | None:
    location = world["catalog"].location(KASSEL)
    assert location is not None
    return location.feed_at


def test_each_stock_report_records_the_feed_time_at_most_once_a_minute(world):
    inventory, clock = world["inventory"], world["clock"]
    assert feed_at(world) is None
    inventory.set_levels("MUG", KASSEL, on_hand=10)
    assert feed_at(world) == NOW
    clock.now = NOW + timedelta(seconds=30)
    inventory.adjust("MUG", KASSEL, -1, reason="broken")
    assert feed_at(world) == NOW  # within the minute: not written again
    clock.now = NOW + timedelta(minutes=5)
    inventory.receive("MUG", KASSEL, 2, event_id="r-1")
    assert feed_at(world) == NOW + timedelta(minutes=5)
    clock.now = NOW + timedelta(minutes=10)
    inventory.count("MUG", KASSEL, 4, clock.now, event_id="c-1")
    assert feed_at(world) == NOW + timedelta(minutes=10)


def test_a_failed_mark_never_fails_the_report(world, monkeypatch):
    def broken(location_id: str, at: datetime) -> bool:
        raise RuntimeError("throttled")

    monkeypatch.setattr(world["catalog"], "mark_feed", broken)
    level = world["inventory"].set_levels("MUG", KASSEL, on_hand=3)
    assert level.on_hand == 3 and feed_at(world) is None


def test_the_stock_of_a_sku_is_discounted_like_sourcing(world):
    inventory, clock = world["inventory"], world["clock"]
    inventory.set_levels("MUG", KASSEL, on_hand=9)
    clock.now = NOW + timedelta(minutes=150)  # interval 60, default limit 240: half sellable
    stock = inventory.stock_of("MUG")
    (level,) = stock.levels
    assert stock.sellable_at(level) == freshness(60, None, NOW, clock.now).sellable(9) == 4
    assert stock.feed_status(level) == "stale" and stock.sellable == 4
    clock.now = NOW + timedelta(minutes=240)
    assert inventory.stock_of("MUG").sellable == 0


def test_the_dashboard_rows_put_the_oldest_feeds_first(world):
    kassel = world["catalog"].location(KASSEL)
    rows = feed_ages(
        [
            replace(kassel, location_id="fresh", feed_at=NOW - timedelta(minutes=5)),
            replace(kassel, location_id="never"),
            replace(kassel, location_id="old", feed_at=NOW - timedelta(minutes=100)),
            replace(kassel, location_id="untracked", feed_interval_minutes=None),
        ],
        NOW,
    )
    assert [(r["location_id"], r["feed_age_minutes"], r["feed_status"]) for r in rows] == [
        ("never", None, "skipped"),
        ("old", 100, "stale"),
        ("fresh", 5, "fresh"),
    ]
