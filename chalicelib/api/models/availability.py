"""Response models of the availability feed (``GET /channels/{channel}/availability``)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class SkuAvailabilityOut(BaseModel):
    sku: str
    available: int = Field(description="what one order through this channel can take now")
    band: str = Field(description="out_of_stock, low (1 .. availability_low_units), in_stock")
    on_locations: int = Field(
        description="usable units summed over the channel's locations (before the parcel cap)"
    )
    promise_date: str | None = Field(
        description="earliest delivery of one unit to the channel's representative address"
    )
    promise_location_id: str | None
    backorderable: bool = Field(description="the channel accepts orders beyond available")
    changed_at: str | None = Field(default=None, description="with changed_since: the change")


class AvailabilityOut(BaseModel):
    channel: str
    as_of: str
    availability: list[SkuAvailabilityOut]
    cursor: str | None = Field(default=None, description="with changed_since: the next page")
