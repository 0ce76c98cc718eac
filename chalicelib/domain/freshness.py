"""Stale stock feeds: how far a location's figures are trusted, from the age of its last report.

A location with ``feed_interval_minutes`` is expected to report stock (a count, a receipt, an
adjustment, a level set) at least that often; without one it is never stale. Policy:

- age <= interval: fresh, every available unit is sellable;
- interval < age < limit: the sellable quantity shrinks linearly, from all units at the interval
  to none at the limit (rounded down: an OMS would rather undersell than oversell);
- age >= limit, or no report ever recorded: not sourced at all (``stale_feed``).

The limit is ``feed_stale_limit_minutes`` of the location, by default
``DEFAULT_LIMIT_FACTOR`` times its interval.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from chalicelib.domain.network import Location

DEFAULT_LIMIT_FACTOR = 4


@dataclass(frozen=True, slots=True)
class Freshness:
    """How much of a location's stock may be sold: ``sellable(n)`` of ``n`` available units."""

    age_minutes: float | None  # None: never reported
    remaining: float  # 1.0 fresh .. 0.0 not sourced

    @property
    def stale(self) -> bool:
        return self.remaining < 1.0

    @property
    def skipped(self) -> bool:
        return self.remaining <= 0.0

    @property
    def discount_pct(self) -> int:
        return round((1.0 - self.remaining) * 100)

    def sellable(self, available: int) -> int:
        if available <= 0 or self.remaining >= 1.0:
            return max(available, 0)
        return int(available * self.remaining)


FRESH = Freshness(age_minutes=0.0, remaining=1.0)


class FeedStatus(StrEnum):
    FRESH = "fresh"  # every available unit is sellable
    STALE = "stale"  # sellable at a discount
    SKIPPED = "skipped"  # not sourced from at all


def status(fresh: Freshness) -> FeedStatus:
    if fresh.skipped:
        return FeedStatus.SKIPPED
    return FeedStatus.STALE if fresh.stale else FeedStatus.FRESH


def of_location(location: Location, now: datetime) -> Freshness:
    """The freshness of ``location``'s feed at ``now``."""
    return freshness(
        location.feed_interval_minutes, location.feed_stale_limit_minutes, location.feed_at, now
    )


def feed_view(location: Location, now: datetime) -> dict[str, Any]:
    """What staff see of a location's feed: ``feed_at``, its age in minutes, rounded like the
    sourcing explanation (None: never reported), and its status; the age is given even
    without an interval."""
    fresh = of_location(location, now)
    age = None if location.feed_at is None else max(0.0, (now - location.feed_at).total_seconds())
    return {
        "feed_at": location.feed_at.isoformat() if location.feed_at else None,
        "feed_age_minutes": None if age is None else round(age / 60),
        "feed_status": status(fresh).value,
    }


def freshness(
    interval_minutes: int | None,
    limit_minutes: int | None,
    feed_at: datetime | None,
    now: datetime,
) -> Freshness:
    """The freshness of a location's feed at ``now`` (``feed_at``: its last report)."""
    if not interval_minutes:
        return FRESH
    if feed_at is None:
        return Freshness(age_minutes=None, remaining=0.0)
    limit = limit_minutes or interval_minutes * DEFAULT_LIMIT_FACTOR
    limit = max(limit, interval_minutes)
    age = max(0.0, (now - feed_at).total_seconds() / 60)
    if age <= interval_minutes:
        return Freshness(age_minutes=age, remaining=1.0)
    if age >= limit:
        return Freshness(age_minutes=age, remaining=0.0)
    return Freshness(age_minutes=age, remaining=(limit - age) / (limit - interval_minutes))
