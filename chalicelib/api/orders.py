"""Delivery options, order capture and the order desk (read, search, cancel)."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib import wiring
from chalicelib.api.http import Ctx, endpoint, json_response
from chalicelib.api.models.orders import (
    DeliveryOptions,
    DeliveryOptionsRequest,
    OrderList,
    OrderRequest,
    OrderView,
)
from chalicelib.domain.access import Principal, Role
from chalicelib.domain.errors import FieldError, Forbidden
from chalicelib.domain.order.model import Order, order_to_doc
from chalicelib.services.ordering import Cart, PlaceOrder, request_hash

bp = Blueprint(__name__)
READERS = [Role.CHANNEL, Role.SERVICE]

_PRIVATE = ("token_hash", "request_hash", "version", "aggregated")


def order_view(order: Order | dict[str, Any], **extra: Any) -> dict[str, Any]:
    doc = order_to_doc(order) if isinstance(order, Order) else dict(order)
    for key in _PRIVATE:
        doc.pop(key, None)
    return {**doc, **{k: v for k, v in extra.items() if v is not None}}


def _channel_of(principal: Principal) -> str:
    if not principal.channel:
        raise Forbidden(
            "quotes and orders are made with a channel key",
            fields=[FieldError("Authorization", "needs a channel key")],
        )
    return principal.channel


@endpoint(
    bp,
    "/delivery-options",
    method="POST",
    roles=[Role.CHANNEL],
    request=DeliveryOptionsRequest,
    response=DeliveryOptions,
)
def delivery_options(ctx: Ctx) -> dict[str, Any]:
    """Quote delivery options for a cart and an address (stored for 30 minutes)."""
    req = ctx.body(DeliveryOptionsRequest)
    cart = Cart(
        channel=_channel_of(ctx.principal),
        currency=req.currency,
        ship_to=req.ship_to.address(),
        lines=[(line.sku, line.quantity, None) for line in req.lines],
    )
    return wiring.ordering().quote(cart)


@endpoint(
    bp,
    "/orders",
    method="POST",
    roles=[Role.CHANNEL],
    request=OrderRequest,
    response=OrderView,
    status=201,
)
def place_order(ctx: Ctx) -> Any:
    """Capture an order: validated, sourced on fresh stock, reserved atomically, idempotent on
    (channel, channel_order_id)."""
    req = ctx.body(OrderRequest)
    channel = _channel_of(ctx.principal)
    cmd = PlaceOrder(
        cart=Cart(
            channel=channel,
            currency=req.currency,
            ship_to=req.ship_to.address(),
            lines=[(line.sku, line.quantity, line.unit_price) for line in req.lines],
        ),
        channel_order_id=req.channel_order_id,
        customer=req.customer.model_dump(exclude_none=True),
        delivery=req.delivery.model_dump(exclude_none=True),
        request_hash=request_hash(req.model_dump(mode="json")),
    )
    placed = wiring.ordering().place(cmd)
    view = order_view(
        placed.order, tracking_token=placed.tracking_token, promise_changed=placed.promise_changed
    )
    return json_response(view, 201 if placed.created else 200)


@endpoint(bp, "/orders/{order_id}", roles=READERS, response=OrderView)
def get_order(ctx: Ctx, order_id: str) -> dict[str, Any]:
    """One order with its shipments, status history and sourcing explanation."""
    return order_view(wiring.order_desk().get(order_id, ctx.principal))


@endpoint(bp, "/orders", roles=READERS, response=OrderList)
def list_orders(ctx: Ctx) -> dict[str, Any]:
    """Search orders: status, from, to, email, channel_order_id, channel; limit and cursor."""
    params = dict(ctx.request.query_params or {})
    page = wiring.order_desk().list(ctx.principal, params)
    return {"orders": [order_view(o) for o in page.items], "cursor": page.cursor}


@endpoint(bp, "/orders/{order_id}/cancel", method="POST", roles=READERS, response=OrderView)
def cancel_order(ctx: Ctx, order_id: str) -> dict[str, Any]:
    """Cancel what isn't shipped; its reservations are released. Idempotent."""
    reason = ""
    if ctx.request.raw_body and ctx.request.raw_body.strip():
        body = ctx.json()
        reason = str(body.get("reason", ""))[:500] if isinstance(body, dict) else ""
    return order_view(wiring.order_desk().cancel(order_id, ctx.principal, reason))
