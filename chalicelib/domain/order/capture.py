"""Capture's ledger rule: every ordered unit is in a shipment, backordered or cancelled, and no
order is born cancelled. Checked on the new order before anything is written."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

from chalicelib.domain.channel import Channel, PriceMismatch
from chalicelib.domain.errors import Conflict, FieldError, InvalidInput, OutOfStock
from chalicelib.domain.network import Product
from chalicelib.domain.order.model import Order, OrderStatus
from chalicelib.domain.order.writes import CustomerUnits

Line = tuple[str, int]  # sku, quantity


def unplaced(lines: Sequence[Line], placed: Mapping[str, int]) -> dict[str, int]:
    """``sku -> units`` the cart orders beyond what ``placed`` (a plan's lines) sends."""
    ordered: dict[str, int] = {}
    for sku, quantity in lines:
        ordered[sku] = ordered.get(sku, 0) + quantity
    return {
        sku: quantity - placed.get(sku, 0)
        for sku, quantity in ordered.items()
        if quantity > placed.get(sku, 0)
    }


def out_of_stock(lines: Sequence[Line], skus: Sequence[str], message: str = "") -> OutOfStock:
    """409 ``out_of_stock`` naming the SKUs and the quantity of every cart line holding one."""
    error = OutOfStock(skus, message)
    error.fields = [
        FieldError(f"lines[{i}].quantity", f"{sku}: not every unit can be placed")
        for i, (sku, _) in enumerate(lines)
        if sku in error.skus
    ]
    return error


def check_accounted(order: Order) -> None:
    """Raise unless ordered = in shipments + backordered + cancelled for every line and the
    order has something left to fulfil."""
    lines = [(line.sku, line.quantity) for line in order.lines]
    gaps = order.unaccounted()
    missing = sorted(sku for sku, gap in gaps.items() if gap > 0)
    if missing:
        raise out_of_stock(lines, missing)
    if gaps:
        raise Conflict(
            "the plan sends more units than were ordered",
            fields=[
                FieldError(f"lines[{i}].quantity", f"{sku}: planned {-gaps[sku]} too many")
                for i, (sku, _) in enumerate(lines)
                if sku in gaps
            ],
        )
    if order.status == OrderStatus.CANCELLED:
        raise Conflict(
            "nothing of this order can be placed",
            fields=[FieldError("lines", "no unit is in a shipment or backordered")],
        )


# --- the channel's limits: prices and anti-scalping caps -----------------------------------------


def check_line_caps(channel: Channel, lines: Sequence[Line]) -> None:
    """422 naming every line above the channel's units per line or per customer per day."""
    caps = [c for c in (channel.max_quantity_per_line, channel.max_units_per_customer_day) if c]
    cap = min(caps) if caps else None
    errors = [
        FieldError(f"lines[{i}].quantity", f"at most {cap} of {sku} per order on {channel.channel}")
        for i, (sku, quantity) in enumerate(lines)
        if cap is not None and quantity > cap
    ]
    if errors:
        raise InvalidInput("a line is above the channel's limit", fields=errors)


def price_mismatches(
    channel: Channel,
    lines: Sequence[tuple[str, int | None]],
    products: Mapping[str, Product],
    currency: str,
) -> list[FieldError]:
    """The lines whose ``unit_price`` is outside the channel's tolerance around the catalogue
    price in ``currency``, or that the catalogue prices in other currencies only (a product
    without any price is not checked)."""
    out = []
    checks = channel.price_mismatch != PriceMismatch.IGNORE
    for i, (sku, price) in enumerate(lines):
        product = products.get(sku)
        catalogue = product.prices.get(currency) if product else None
        if price is not None and checks and catalogue is None and product and product.prices:
            out.append(
                FieldError(
                    f"lines[{i}].unit_price",
                    f"{sku} has no catalogue price in {currency} to check it against",
                )
            )
        elif price is not None and channel.price_off(price, catalogue):
            out.append(
                FieldError(
                    f"lines[{i}].unit_price",
                    f"{price} is more than {channel.price_tolerance_pct}% off the catalogue "
                    f"price {catalogue}",
                )
            )
    return out


def price_policy(
    order: Order,
    channel: Channel,
    lines: Sequence[tuple[str, int | None]],
    products: Mapping[str, Product],
) -> None:
    """Prices outside the channel's tolerance: 409 naming them, or the order is captured with
    a ``manual`` hold for someone to review them (the channel's ``price_mismatch``)."""
    off = price_mismatches(channel, lines, products, order.currency)
    if not off:
        return
    if channel.price_mismatch == PriceMismatch.REJECT:
        raise Conflict("a unit_price is far from the catalogue price", fields=off)
    why = "; ".join(f"{f.path}: {f.reason}" for f in off)
    if "manual" not in order.holds:
        order.holds["manual"] = {"reason": why, "by": "price check", "at": order.created_at}
        order.record(
            at=order.created_at,
            event="hold_placed",
            source="price check",
            kind="manual",
            reason=why,
        )


def _mailbox(email: str) -> str:
    """The mailbox an address delivers to, for the cap: ``Ada+2@Example.com`` is
    ``ada@example.com`` (a ``+tag`` reaches the same inbox at every large provider)."""
    local, at, domain = email.strip().lower().rpartition("@")
    return f"{local.split('+', 1)[0]}{at}{domain}" if at else local + domain


def customer_units(order: Order, channel: Channel) -> list[CustomerUnits]:
    """What the order counts against the channel's per-customer daily cap (one per SKU)."""
    cap = channel.max_units_per_customer_day
    email = _mailbox(str(order.customer.get("email", "")))
    if not cap or not email:
        return []
    who = hashlib.sha256(email.encode()).hexdigest()[:32]
    units: dict[str, int] = {}
    for line in order.lines:
        units[line.sku] = units.get(line.sku, 0) + line.quantity
    day = order.created_at[:10]
    return [
        CustomerUnits(order.channel, who, sku, day, quantity, cap)
        for sku, quantity in sorted(units.items())
    ]


def over_daily_cap(order: Order, channel: Channel) -> Conflict:
    """409 naming the lines: the customer reached the channel's daily units of a SKU."""
    cap = channel.max_units_per_customer_day
    return Conflict(
        f"the customer reached {channel.channel}'s limit of {cap} units of a SKU per day",
        fields=[
            FieldError(f"lines[{i}].quantity", f"at most {cap} of {line.sku} per customer per day")
            for i, line in enumerate(order.lines)
        ],
    )
