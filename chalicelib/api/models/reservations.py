"""Request and response models of checkout reservations (``/reservations``)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ReservationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    option_id: str = Field(min_length=1, max_length=80, description="a quote's option")


class ReservedUnits(BaseModel):
    sku: str
    location_id: str
    quantity: int


class ReservationView(BaseModel):
    reservation_id: str
    channel: str
    status: str = Field(description="open, consumed, released or expired")
    expires_at: str
    extended: bool
    order_id: str | None = None
    option: dict[str, Any] = Field(description="the quoted option the units are kept for")
    units: list[ReservedUnits]
