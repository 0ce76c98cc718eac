"""Request and response models of webhook subscriptions (``/webhook-subscriptions``)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from chalicelib.api.models.common import Request
from chalicelib.domain.webhooks import Delivery, EventType, Subscription


class SubscriptionIn(Request):
    url: str = Field(
        min_length=1,
        max_length=2048,
        description="https (http too on the local stage); must resolve to public addresses only",
    )
    events: list[EventType] = Field(min_length=1, max_length=len(EventType))
    secret: str | None = Field(
        default=None,
        max_length=200,
        description="whsec_<base64 of 24-64 bytes>; generated when left out (shown once)",
    )


class SubscriptionOut(BaseModel):
    subscription_id: str
    url: str
    events: list[str]
    created_at: str
    updated_at: str
    secret: str | None = Field(
        default=None, description="only in the answer that created or replaced it"
    )


class AttemptOut(BaseModel):
    attempt: int
    at: str
    status_code: int | None = None
    error: str | None = None
    duration_ms: int
    manual: bool = False


class DeliveryOut(BaseModel):
    delivery_id: str
    webhook_id: str = Field(description="the webhook-id header: receivers dedupe on it")
    event_type: str
    status: str = Field(description="pending, retrying, delivered or failed (in the DLQ)")
    created_at: str
    attempt_count: int
    attempts: list[AttemptOut]
    next_retry_at: str | None = None
    payload: dict[str, Any]


class DeliveryList(BaseModel):
    deliveries: list[DeliveryOut]
    cursor: str | None = None


class RetryOut(BaseModel):
    delivery_id: str
    queued: bool = True


def subscription_out(sub: Subscription, secret: str | None = None) -> SubscriptionOut:
    return SubscriptionOut(
        subscription_id=sub.subscription_id,
        url=sub.url,
        events=sub.events,
        created_at=sub.created_at,
        updated_at=sub.updated_at,
        secret=secret,
    )


def delivery_out(doc: dict[str, Any] | Delivery) -> DeliveryOut:
    if isinstance(doc, Delivery):
        doc = {**doc.__dict__, "status": doc.status.value}
    return DeliveryOut(
        delivery_id=doc["delivery_id"],
        webhook_id=doc["webhook_id"],
        event_type=doc["event_type"],
        status=doc["status"],
        created_at=doc["created_at"],
        attempt_count=doc["attempt_count"],
        attempts=[AttemptOut(**a) for a in doc["attempts"]],
        next_retry_at=doc.get("next_retry_at"),
        payload=doc["payload"],
    )
