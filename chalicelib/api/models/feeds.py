"""Stale stock feeds at the edge: a location's expected report interval and limit (mixed into
``LocationIn``), and what staff read back of its feed (``LocationOut``, ``GET /stock``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, ValidationInfo, field_validator

MAX_FEED_INTERVAL = 10_080  # minutes: a week
MAX_FEED_LIMIT = 43_200  # minutes: 30 days
FeedStatusName = Literal["fresh", "stale", "skipped"]


class FeedFieldsIn(BaseModel):
    feed_interval_minutes: int | None = Field(
        default=None,
        ge=1,
        le=MAX_FEED_INTERVAL,
        description="the location reports stock at least this often; past it its sellable "
        "units are discounted (null: never stale)",
    )
    feed_stale_limit_minutes: int | None = Field(
        default=None,
        le=MAX_FEED_LIMIT,
        description="past this feed age it is not sourced from (default: 4 x the interval)",
    )

    @field_validator("feed_stale_limit_minutes")
    @classmethod
    def _limit_past_interval(cls, limit: int | None, info: ValidationInfo) -> int | None:
        if limit is None or "feed_interval_minutes" not in info.data:  # a bad interval: named
            return limit
        interval = info.data["feed_interval_minutes"]
        if interval is None:
            raise ValueError("needs a feed_interval_minutes")
        if limit <= interval:
            raise ValueError(f"must be greater than feed_interval_minutes ({interval})")
        return limit


class FeedOut(BaseModel):
    feed_at: str | None = Field(default=None, description="the last stock report (UTC)")
    feed_age_minutes: int | None = Field(default=None, description="null: never reported")
    feed_status: FeedStatusName = "fresh"


class SellableOut(BaseModel):
    """``GET /stock`` only: what sourcing would take of a location, a stale feed discounted."""

    sellable: int | None = None
    feed_status: FeedStatusName | None = None
