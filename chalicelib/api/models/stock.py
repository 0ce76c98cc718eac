"""Models of the quarantine route: release quarantined units to sellable, or write them off."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field

from chalicelib.api.models.common import MAX_QUANTITY, Request, StockLocationOut


class QuarantineAction(StrEnum):
    RELEASE = "release"  # the units are sellable after all: quarantine -> on_hand, available
    WRITE_OFF = "write_off"  # they are scrapped: quarantine falls


class QuarantineIn(Request):
    action: QuarantineAction
    quantity: int = Field(ge=1, le=MAX_QUANTITY)
    reason: str = Field(min_length=1, max_length=200)


class QuarantineOut(StockLocationOut):
    sku: str
    action: QuarantineAction
    quantity: int
    reason: str


class QuarantineCommand(BaseModel):
    """What the idempotency record keys on: the path and the body."""

    idempotency_key: str = Field(min_length=1, max_length=200)
    sku: str
    location_id: str
    request: QuarantineIn
