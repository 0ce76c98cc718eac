"""Request and response models of connectors (``/channels/{channel}/connector``, the
platforms' webhooks and ``/channels/{channel}/rejected-orders``)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from chalicelib.api.http import ID_PATTERN

MappedSku = Annotated[str, StringConstraints(min_length=1, max_length=64, strip_whitespace=True)]
OurSku = Annotated[str, StringConstraints(pattern=ID_PATTERN)]  # what a SKU id here may be


class DefaultDelivery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["fastest", "consolidated", "cheapest", "click_collect"] = "fastest"
    pickup_location_id: str | None = Field(default=None, max_length=64)

    @model_validator(mode="after")
    def _pickup(self) -> DefaultDelivery:
        if self.pickup_location_id and self.kind != "click_collect":
            raise ValueError("pickup_location_id goes with kind click_collect")
        return self


Secret = Annotated[str, StringConstraints(min_length=8, max_length=2048)]
Url = Annotated[str, StringConstraints(min_length=8, max_length=2048, strip_whitespace=True)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=256, strip_whitespace=True)]
MarketplaceId = Annotated[str, StringConstraints(pattern=r"^[A-Z0-9]{1,32}$")]


class ConnectorRequest(BaseModel):
    """One model for every platform; a field of another platform than ``platform`` is 422.
    A secret left out keeps the stored one (same platform)."""

    model_config = ConfigDict(extra="forbid")
    platform: Literal["shopify", "woocommerce", "amazon"]
    webhook_secret: str | None = Field(
        default=None,
        min_length=8,
        max_length=256,
        description="shopify, woocommerce: signs the platform's webhooks (HMAC key); required",
    )
    sku_map: dict[MappedSku, OurSku] = Field(
        default={}, max_length=5000, description="channel SKU -> our SKU"
    )
    default_delivery: DefaultDelivery = Field(default_factory=DefaultDelivery)
    confirmations: bool = Field(
        default=True, description="send shipments, cancels and refunds back to the platform"
    )
    # Shopify
    shop_domain: str | None = Field(
        default=None,
        pattern=r"^[a-z0-9][a-z0-9-]*(\.[a-z0-9-]+)+$",
        max_length=255,
        description="shopify: e.g. demo.myshopify.com",
    )
    admin_access_token: Secret | None = Field(default=None, description="shopify (secret)")
    api_version: str | None = Field(
        default=None, pattern=r"^\d{4}-\d{2}$", description="shopify: default 2024-10"
    )
    api_base_url: Url | None = Field(
        default=None, description="shopify: default https://{shop_domain}"
    )
    # WooCommerce
    store_url: Url | None = Field(default=None, description="woocommerce: the shop's base URL")
    consumer_key: Name | None = Field(default=None, description="woocommerce: REST API key")
    consumer_secret: Secret | None = Field(default=None, description="woocommerce (secret)")
    # Amazon
    endpoint: Url | None = Field(
        default=None, description="amazon: default https://sellingpartnerapi-eu.amazon.com"
    )
    lwa_endpoint: Url | None = Field(
        default=None, description="amazon: default https://api.amazon.com/auth/o2/token"
    )
    lwa_client_id: Name | None = Field(default=None, description="amazon: LWA client id")
    lwa_client_secret: Secret | None = Field(default=None, description="amazon (secret)")
    refresh_token: Secret | None = Field(default=None, description="amazon (secret)")
    marketplace_ids: list[MarketplaceId] | None = Field(
        default=None, min_length=1, max_length=50, description="amazon: e.g. A1PA6795UKMFR9"
    )
    poll_minutes: int | None = Field(
        default=None, ge=1, le=60, description="amazon: minutes between polls, default 5"
    )

    def doc(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


class ConnectorView(BaseModel):
    """The stored configuration; every secret shown only as ``<name>_set``."""

    model_config = ConfigDict(extra="allow")
    channel: str
    platform: str
    sku_map: dict[str, str]
    default_delivery: dict[str, Any]
    confirmations: bool = True
    webhook_secret_set: bool | None = Field(
        default=None, description="the secret itself is never shown"
    )
    updated_at: str


class WebhookResult(BaseModel):
    status: str = Field(
        description="captured, exists, rejected, cancelled, cancelled_before_capture, "
        "duplicate, ignored or ping"
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
