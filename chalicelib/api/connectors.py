"""Connectors: a channel's connector configuration, the Shopify and WooCommerce order
webhooks (authenticated by their signature alone) and the orders they could not capture."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.api.http import Ctx, PayloadTooLarge, endpoint
from chalicelib.domain.access import Role
from chalicelib.domain.errors import FieldError, NotFound

bp = Blueprint(__name__)
STAFF = [Role.ADMIN, Role.SERVICE]
MAX_WEBHOOK_BYTES = 300_000  # a rejected order keeps its body in one item (400 KB at most)
_CONTENT_TYPES = ["application/json", "application/x-www-form-urlencoded"]


def _service() -> Any:
    from chalicelib.wiring.connectors import connectors

    return connectors()


def _visible(ctx: Ctx, channel: str) -> None:
    """A channel key sees only its own channel's rejected orders (404 for another's)."""
    if not ctx.principal.sees_channel(channel):
        raise NotFound(f"channel {channel} not found", fields=[FieldError("channel", "unknown")])


@endpoint(
    bp,
    "/channels/{channel}/connector",
    method="PUT",
    roles=[Role.ADMIN],
    request="connectors:ConnectorRequest",
    response="connectors:ConnectorView",
)
def put_connector(ctx: Ctx, channel: str) -> dict[str, Any]:
    """Configure the channel's connector: platform, webhook secret, SKU map, delivery."""
    from chalicelib.api.models.connectors import ConnectorRequest

    return dict(_service().configure(channel, ctx.body(ConnectorRequest).doc()))


@endpoint(bp, "/channels/{channel}/connector", roles=STAFF, response="connectors:ConnectorView")
def get_connector(ctx: Ctx, channel: str) -> dict[str, Any]:
    """The channel's connector, without its secret."""
    return dict(_service().config(channel))


_HEADERS = {  # topic, signature, webhook (delivery) id
    "shopify": ("X-Shopify-Topic", "X-Shopify-Hmac-Sha256", "X-Shopify-Webhook-Id"),
    "woocommerce": ("X-WC-Webhook-Topic", "X-WC-Webhook-Signature", "X-WC-Webhook-Delivery-ID"),
}


def _webhook(ctx: Ctx, platform: str, channel: str) -> dict[str, Any]:
    raw = ctx.request.raw_body or b""
    if len(raw) > MAX_WEBHOOK_BYTES:
        raise PayloadTooLarge(
            f"the body is larger than {MAX_WEBHOOK_BYTES} bytes",
            fields=[FieldError("body", "too large")],
        )
    topic, signature, webhook_id = (ctx.header(name) for name in _HEADERS[platform])
    return dict(
        _service().receive(
            platform, channel, raw, topic=topic, signature=signature, webhook_id=webhook_id
        )
    )


@endpoint(
    bp,
    "/connectors/shopify/{channel}",
    method="POST",
    response="connectors:WebhookResult",
    content_types=_CONTENT_TYPES,
)
def shopify_webhook(ctx: Ctx, channel: str) -> dict[str, Any]:
    """Shopify's orders/create, orders/updated and orders/cancelled (X-Shopify-Hmac-Sha256)."""
    return _webhook(ctx, "shopify", channel)


@endpoint(
    bp,
    "/connectors/woocommerce/{channel}",
    method="POST",
    response="connectors:WebhookResult",
    content_types=_CONTENT_TYPES,
)
def woocommerce_webhook(ctx: Ctx, channel: str) -> dict[str, Any]:
    """WooCommerce's order.created and order.updated (X-WC-Webhook-Signature), and its ping."""
    return _webhook(ctx, "woocommerce", channel)


@endpoint(
    bp,
    "/channels/{channel}/rejected-orders",
    roles=[*STAFF, Role.CHANNEL],
    response="connectors:RejectedOrderList",
)
def list_rejected(ctx: Ctx, channel: str) -> dict[str, Any]:
    """The channel's orders a connector could not capture, with the reason (at most 100)."""
    _visible(ctx, channel)
    return {"rejected_orders": _service().rejected_orders(channel)}


@endpoint(
    bp,
    "/channels/{channel}/rejected-orders/{rejected_id}",
    roles=[*STAFF, Role.CHANNEL],
    response="connectors:RejectedOrderView",
)
def get_rejected(ctx: Ctx, channel: str, rejected_id: str) -> dict[str, Any]:
    """One rejected order, with the webhook body it came in."""
    _visible(ctx, channel)
    return dict(_service().rejected_order(channel, rejected_id))


@endpoint(
    bp,
    "/channels/{channel}/rejected-orders/{rejected_id}/retry",
    method="POST",
    roles=[*STAFF, Role.CHANNEL],
    response="connectors:WebhookResult",
)
def retry_rejected(ctx: Ctx, channel: str, rejected_id: str) -> dict[str, Any]:
    """Map and capture a rejected order again (after its SKU map or stock was fixed); it
    leaves the list once captured. Still refused: 409 with the reason."""
    _visible(ctx, channel)
    return dict(_service().retry(channel, rejected_id))
