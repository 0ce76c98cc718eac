"""The response model of the dashboard's figures (``GET /dashboard/data``)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class Kpis(BaseModel):
    orders_today: int
    units_today: int
    fill_rate: float | None
    on_time_rate: float | None
    open_backorders: int = Field(description="orders waiting for stock")
    open_backorder_units: int
    low_stock: int = Field(description="items at or below their reorder point")
    window_days: int = Field(description="the rates cover the orders of this many days")


class DlqDepth(BaseModel):
    queue: str
    visible: int | None = Field(description="messages waiting; null: the queue can't be read")
    in_flight: int | None


class Failure(BaseModel):
    consumer: str
    message_id: str
    reason: str = Field(description="the exception, with addresses and tokens masked")
    at: str


class Operations(BaseModel):
    dlqs: list[DlqDepth]
    failures: list[Failure] = Field(description="the newest consumer failures, newest first")


class RejectedOrder(BaseModel):
    channel: str
    platform: str
    platform_order_id: str
    reason: dict[str, Any] = Field(description="code, message and the fields at fault")
    attempts: int
    last_attempt_at: str


class DashboardData(BaseModel):
    as_of: str
    today: str
    kpis: Kpis
    orders_per_day: dict[str, Any]
    funnel: list[dict[str, Any]]
    stock_health: list[dict[str, Any]]
    low_stock: list[dict[str, Any]]
    feed_ages: list[dict[str, Any]] = Field(
        default_factory=list,
        description="per location with a feed interval: feed_at, feed_age_minutes, feed_status",
    )
    operations: Operations
    rejected_orders: list[RejectedOrder] = Field(
        default_factory=list,
        description="the newest orders connectors could not capture, over every channel",
    )
