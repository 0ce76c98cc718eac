"""Stale stock feeds: the freshness policy, and sourcing skipping or discounting a location."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from chalicelib.domain.catalog import location_from_doc
from chalicelib.domain.freshness import freshness
from chalicelib.domain.sourcing import plan
from tests.unit.test_sourcing import NET, TUESDAY_MORNING, request

NOW = TUESDAY_MORNING


def ago(minutes: float):  # type: ignore[no-untyped-def]
    return NOW - timedelta(minutes=minutes)


def test_a_location_without_an_interval_is_never_stale() -> None:
    assert freshness(None, None, None, NOW).remaining == 1.0
    assert freshness(None, None, ago(100_000), NOW).sellable(7) == 7


def test_within_the_interval_every_unit_is_sellable() -> None:
    fresh = freshness(60, None, ago(60), NOW)
    assert not fresh.stale
    assert fresh.sellable(10) == 10


def test_past_the_interval_the_discount_grows_linearly_to_the_limit() -> None:
    # interval 60, limit 240 (4x): at 150 minutes half the units are sold, rounded down
    half = freshness(60, None, ago(150), NOW)
    assert half.stale and not half.skipped
    assert half.discount_pct == 50
    assert half.sellable(9) == 4
    assert freshness(60, 120, ago(90), NOW).sellable(10) == 5  # explicit limit


def test_at_the_limit_or_never_reported_nothing_is_sourced() -> None:
    assert freshness(60, None, ago(240), NOW).skipped
    assert freshness(60, None, ago(240), NOW).sellable(100) == 0
    never = freshness(60, None, None, NOW)
    assert never.skipped and never.age_minutes is None


def test_location_documents_carry_the_feed_fields() -> None:
    doc = {
        "location_id": "x",
        "type": "warehouse",
        "lat": 0,
        "lon": 0,
        "timezone": "UTC",
        "cutoff_time": "15:00",
        "feed_interval_minutes": 30,
        "feed_at": NOW.isoformat(),
    }
    loc = location_from_doc(doc)
    assert loc.feed_interval_minutes == 30 and loc.feed_at == NOW
    assert loc.feed_stale_limit_minutes is None


def _with_feed(location_id: str, minutes_ago: float):  # type: ignore[no-untyped-def]
    return tuple(
        replace(loc, feed_interval_minutes=60, feed_at=ago(minutes_ago))
        if loc.location_id == location_id
        else loc
        for loc in NET.locations
    )


def test_a_stale_location_is_skipped_and_the_explanation_says_stale_feed() -> None:
    stock = {("MUG", "dc-kassel"): 9, ("MUG", "st-berlin"): 9}
    fresh = plan(request({"MUG": 1}, stock, locations=_with_feed("dc-kassel", 10)))
    assert "dc-kassel" in {s.location_id for p in fresh.options for s in p.shipments}
    stale = plan(request({"MUG": 1}, stock, locations=_with_feed("dc-kassel", 500)))
    assert "dc-kassel" not in {s.location_id for p in stale.options for s in p.shipments}
    outcomes = {e["outcome"]: e for e in stale.options[0].explanation if "outcome" in e}
    assert outcomes["stale_feed"]["location_ids"] == ["dc-kassel"]


def test_a_half_stale_location_sells_half_its_units_and_says_so() -> None:
    locations = _with_feed("dc-kassel", 150)
    only = {("MUG", "dc-kassel"): 4}
    assert plan(request({"MUG": 2}, only, locations=locations)).fully_sourced
    short = plan(request({"MUG": 3}, only, locations=locations, allow_partial=True))
    assert short.shortages == {"MUG": 1}
    entry = next(e for e in short.options[0].explanation if e.get("outcome") == "stale_feed")
    assert entry == {
        "location_id": "dc-kassel",
        "outcome": "stale_feed",
        "discount_pct": 50,
        "feed_age_minutes": 150,
    }
