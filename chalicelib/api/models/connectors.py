"""Request and response models of connectors (``/channels/{channel}/connector``, the
platforms' webhooks and ``/channels/{channel}/rejected-orders``)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

MappedSku = Annotated[str, StringConstraints(min_length=1, max_length=64, strip_whitespace=True)]


class DefaultDelivery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["fastest", "consolidated", "cheapest", "click_collect"] = "fastest"
    pickup_location_id: str | None = Field(default=None, max_length=64)

    @model_validator(mode="after")
    def _pickup(self) -> DefaultDelivery:
        if self.pickup_location_id and self.kind != "click_collect":
            raise ValueError("pickup_location_id goes with kind click_collect")
        return self


class ConnectorRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    platform: Literal["shopify", "woocommerce"]
    webhook_secret: str = Field(
        min_length=8, max_length=256, description="signs the platform's webhooks (HMAC key)"
    )
    sku_map: dict[MappedSku, MappedSku] = Field(
        default={}, max_length=5000, description="channel SKU -> our SKU"
    )
    default_delivery: DefaultDelivery = Field(default_factory=DefaultDelivery)

    def doc(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


class ConnectorView(BaseModel):
    channel: str
    platform: str
    sku_map: dict[str, str]
    default_delivery: dict[str, Any]
    webhook_secret_set: bool = Field(description="the secret itself is never shown")
    updated_at: str


class WebhookResult(BaseModel):
    status: str = Field(
        description="captured, exists, rejected, cancelled, not_captured, duplicate, "
        "ignored or ping"
    )
    order_id: str | None = None
    rejected_id: str | None = None
    reason: dict[str, Any] | None = None
    notes: list[str] | None = None


class RejectedOrderView(BaseModel):
    id: str
    channel: str
    platform: str
    platform_order_id: str
    topic: str
    reason: dict[str, Any] = Field(description="code, message and fields, as an API error")
    mapped: dict[str, Any] | None = Field(description="the order as mapped, when it could be")
    received_at: str
    attempts: int
    last_attempt_at: str
    raw: str | None = Field(default=None, description="the webhook's body (one order only)")


class RejectedOrderList(BaseModel):
    rejected_orders: list[RejectedOrderView]
