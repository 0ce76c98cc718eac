"""Delivery options, order capture and the order desk (read, search, cancel)."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib import wiring
from chalicelib.api.http import Ctx, endpoint, json_response
from chalicelib.domain.access import Principal, Role
from chalicelib.domain.errors import FieldError, Forbidden, InvalidInput
from chalicelib.domain.order.model import Order, order_to_doc

bp = Blueprint(__name__)
READERS = [Role.CHANNEL, Role.SERVICE]

_PRIVATE = ("token_hash", "request_hash", "version", "aggregated", "stock_shards")
_INTERNAL_DELIVERY = ("cost", "nearest_cost", "margin")  # what the order costs the retailer


def order_view(order: Order | dict[str, Any], principal: Principal, **extra: Any) -> dict[str, Any]:
    """The order as ``principal`` may see it: a channel never sees the retailer's costs."""
    doc = order_to_doc(order) if isinstance(order, Order) else dict(order)
    for key in _PRIVATE:
        doc.pop(key, None)
    if principal.role == Role.CHANNEL:
        doc["delivery"] = {
            k: v for k, v in (doc.get("delivery") or {}).items() if k not in _INTERNAL_DELIVERY
        }
        _strip_numbers(doc)
    return {**doc, **{k: v for k, v in extra.items() if v is not None}}


def _strip_numbers(doc: dict[str, Any]) -> None:
    """The explanations (the order's and its history's) without costs, margins and scores."""
    from chalicelib.domain.sourcing.explain import public

    if doc.get("explanation"):
        doc["explanation"] = public(doc["explanation"])
    for entry in doc.get("history") or []:
        detail = entry.get("detail") or {}
        if detail.get("explanation"):
            entry["detail"] = {**detail, "explanation": public(detail["explanation"])}


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
    request="orders:DeliveryOptionsRequest",
    response="orders:DeliveryOptions",
)
def delivery_options(ctx: Ctx) -> dict[str, Any]:
    """Quote delivery options for a cart and an address (stored for 30 minutes)."""
    from chalicelib.api.models.orders import DeliveryOptionsRequest
    from chalicelib.services.ordering import Cart  # sourcing loads with the first quote

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
    request="orders:OrderRequest",
    response="orders:OrderView",
    status=201,
)
def place_order(ctx: Ctx) -> Any:
    """Capture an order: validated, sourced on fresh stock, reserved atomically, idempotent on
    (channel, channel_order_id)."""
    from chalicelib.api.models.orders import OrderRequest
    from chalicelib.services.ordering import Cart, PlaceOrder, request_hash

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
        request_hash=request_hash(req.hashed()),
        holds={hold.kind.value: hold.reason for hold in req.holds},
        payment_status=req.payment.status.value if req.payment else "",
        auto_cancel_after_hours=req.auto_cancel_after_hours,
        by=ctx.principal.source,
    )
    placed = wiring.ordering().place(cmd)
    view = order_view(
        placed.order,
        ctx.principal,
        tracking_token=placed.tracking_token,
        promise_changed=placed.promise_changed,
    )
    return json_response(view, 201 if placed.created else 200)


@endpoint(bp, "/orders/{order_id}", roles=READERS, response="orders:OrderView")
def get_order(ctx: Ctx, order_id: str) -> dict[str, Any]:
    """One order with its shipments, status history and sourcing explanation."""
    return order_view(wiring.order_desk().get(order_id, ctx.principal), ctx.principal)


@endpoint(bp, "/orders", roles=READERS, response="orders:OrderList")
def list_orders(ctx: Ctx) -> dict[str, Any]:
    """Search orders: status, from, to, email, channel_order_id, channel; limit and cursor."""
    params = dict(ctx.request.query_params or {})
    page = wiring.order_desk().list(ctx.principal, params)
    return {"orders": [order_view(o, ctx.principal) for o in page.items], "cursor": page.cursor}


@endpoint(
    bp,
    "/orders/{order_id}/cancel",
    method="POST",
    roles=READERS,
    request="orders:CancelRequest",
    response="orders:OrderView",
)
def cancel_order(ctx: Ctx, order_id: str) -> dict[str, Any]:
    """Cancel ``lines`` (``[{sku, quantity}]``) or, without them, everything still cancellable.
    Units not yet sent to a location are cancelled at once; the others are asked back from the
    location (``cancellation.requested``) and freed when it confirms. Idempotent."""
    from chalicelib.api.models.orders import CancelRequest

    raw = ctx.request.raw_body
    req = ctx.body(CancelRequest) if raw and raw.strip() else CancelRequest()
    lines = {line.sku: line.quantity for line in req.lines} if req.lines else None
    order, done = wiring.order_desk().cancel(order_id, ctx.principal, req.reason, lines)
    return order_view(
        order,
        ctx.principal,
        cancellation={
            "cancelled": [{"sku": s, "quantity": q} for s, q in sorted(done.cancelled.items())],
            "requested": [{"sku": s, "quantity": q} for s, q in sorted(done.requested.items())],
        },
    )


# --- holds, payment status and address changes (services/order_changes.py) ------------------


@endpoint(
    bp,
    "/orders/{order_id}/holds",
    method="POST",
    roles=READERS,
    request="orders:HoldRequest",
    response="orders:OrderView",
)
def place_hold(ctx: Ctx, order_id: str) -> dict[str, Any]:
    """Hold an order (kind payment, fraud, manual or address): its reservations stay, nothing
    more is released to locations until every hold is released. Idempotent per kind."""
    from chalicelib.api.models.orders import HoldRequest

    req = ctx.body(HoldRequest)
    return order_view(
        wiring.order_changes().hold(order_id, ctx.principal, req.kind, req.reason), ctx.principal
    )


@endpoint(
    bp,
    "/orders/{order_id}/holds/{kind}/release",
    method="POST",
    roles=READERS,
    response="orders:OrderView",
)
def release_hold(ctx: Ctx, order_id: str, kind: str) -> dict[str, Any]:
    """Release a hold; the last one lets the order go to its locations. Idempotent."""
    from chalicelib.domain.order.changes import HoldKind

    try:
        hold = HoldKind(kind)
    except ValueError:
        raise InvalidInput(
            f"unknown hold kind {kind!r}",
            fields=[FieldError("kind", f"not one of {[k.value for k in HoldKind]}")],
        ) from None
    return order_view(wiring.order_changes().release(order_id, ctx.principal, hold), ctx.principal)


@endpoint(
    bp,
    "/orders/{order_id}",
    method="PATCH",
    roles=READERS,
    request="orders:OrderPatch",
    response="orders:OrderView",
)
def change_order(ctx: Ctx, order_id: str) -> dict[str, Any]:
    """Change the payment status, or the ship-to before any shipment is released (re-sourced
    for the new address; ``promise_changed`` says whether the promised date moved)."""
    from chalicelib.api.models.orders import OrderPatch

    req = ctx.body(OrderPatch)
    changed = wiring.order_changes().change(
        order_id,
        ctx.principal,
        ship_to=req.ship_to.address() if req.ship_to else None,
        payment=req.payment.status if req.payment else None,
    )
    return order_view(changed.order, ctx.principal, promise_changed=changed.promise_changed)
