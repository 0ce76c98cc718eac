"""Response models of confirmations back to the platforms
(``/channels/{channel}/connector/confirmations``)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class ConfirmationAttemptOut(BaseModel):
    attempt: int
    at: str
    outcome: str = Field(description="sent, refused (for good) or unavailable (retried)")
    error: str | None = None
    duration_ms: int
    manual: bool = False


class ConfirmationOut(BaseModel):
    confirmation_id: str
    channel: str
    platform: str
    order_id: str
    channel_order_id: str
    kind: str = Field(description="shipment, cancel or refund")
    data: dict[str, Any]
    at: str
    created_at: str
    status: str = Field(description="pending, retrying, sent, failed or skipped")
    attempt_count: int
    attempts: list[ConfirmationAttemptOut]
    next_retry_at: str | None = None
    error: str | None = Field(default=None, description="the platform's message, last attempt")
    result: dict[str, Any] = Field(default_factory=dict)


class ConfirmationList(BaseModel):
    confirmations: list[ConfirmationOut]
    cursor: str | None = None


class ConfirmationRetryOut(BaseModel):
    confirmation_id: str
    queued: bool = True
