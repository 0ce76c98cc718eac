"""Shopify's order webhooks (``orders/create``, ``orders/updated``, ``orders/cancelled``; the
payload is the REST Admin API's order) mapped to a ``MappedOrder``.

Prices are the line's ``price`` in the order's ``currency`` (the shop's), before discounts.
A line with ``requires_shipping: false`` (a gift card, a download) has nothing to send and is
left out, with a note. A line without a SKU is known by its variant id.
"""

from __future__ import annotations

from typing import Any

from chalicelib.connectors import Platform
from chalicelib.connectors.common import (
    MappedLine,
    MappedOrder,
    PayloadError,
    items,
    merge_lines,
    minor_units,
    obj,
    order_id,
    our_sku,
    postal_checked,
    quantity,
    text,
)
from chalicelib.domain.errors import FieldError
from chalicelib.domain.network import Address

TOPICS = ("orders/create", "orders/updated", "orders/cancelled")
_PAYMENT = {
    "pending": "pending",
    "authorized": "authorized",
    "partially_paid": "captured",
    "paid": "captured",
    "partially_refunded": "captured",
    "refunded": "refunded",
    "voided": "failed",
}


def map_order(payload: Any, sku_map: dict[str, str]) -> MappedOrder:
    """The order as our capture needs it; PayloadError naming the first field it lacks."""
    oid = order_id(payload)
    currency = text(payload, "currency", "currency").upper()
    lines: list[MappedLine] = []
    notes: list[str] = []
    for i, line in enumerate(items(payload, "line_items", "line_items")):
        path = f"line_items[{i}]"
        if not isinstance(line, dict):
            raise PayloadError(f"{path} is not an object", fields=[FieldError(path, "object")])
        channel_sku = text(line, "sku", f"{path}.sku", required=False) or text(
            line, "variant_id", f"{path}.sku"
        )
        if line.get("requires_shipping") is False:
            notes.append(f"{path} ({channel_sku}) needs no shipping: left out")
            continue
        lines.append(
            MappedLine(
                channel_sku=channel_sku,
                sku=our_sku(channel_sku, sku_map),
                quantity=quantity(line, f"{path}.quantity"),
                unit_price=minor_units(line.get("price"), currency, f"{path}.price"),
            )
        )
    if not lines:
        raise PayloadError(
            "no line of the order needs shipping",
            fields=[FieldError("line_items", "nothing to send")],
        )
    shipping = obj(payload, "shipping_address", "shipping_address")
    ship_to = postal_checked(_address(shipping), "shipping_address.zip", notes)
    return MappedOrder(
        platform=Platform.SHOPIFY,
        platform_order_id=oid,
        currency=currency,
        customer=_customer(payload),
        ship_to=ship_to,
        lines=merge_lines(lines),
        payment_status=_PAYMENT.get(text(payload, "financial_status", "", required=False), ""),
        cancelled=bool(payload.get("cancelled_at")),
        notes=tuple(notes),
    )


def _customer(payload: dict[str, Any]) -> dict[str, str]:
    customer = payload.get("customer") if isinstance(payload.get("customer"), dict) else {}
    shipping = payload.get("shipping_address") or {}
    email = text(payload, "email", "email", required=False) or text(
        customer, "email", "customer.email"
    )
    names = (text(customer, key, "", required=False) for key in ("first_name", "last_name"))
    name = " ".join(n for n in names if n) or text(shipping, "name", "", required=False)
    out = {"email": email, "name": name or email}
    phone = text(payload, "phone", "", required=False) or text(
        shipping, "phone", "", required=False
    )
    if phone:
        out["phone"] = phone
    return out


def _address(doc: dict[str, Any]) -> Address:
    p = "shipping_address"
    return Address(
        country=text(doc, "country_code", f"{p}.country_code").upper(),
        postal_code=text(doc, "zip", f"{p}.zip"),
        city=text(doc, "city", f"{p}.city", required=False) or None,
        line1=text(doc, "address1", f"{p}.address1", required=False) or None,
        line2=text(doc, "address2", f"{p}.address2", required=False) or None,
        name=text(doc, "name", f"{p}.name", required=False) or None,
        lat=_coordinate(doc.get("latitude")),
        lon=_coordinate(doc.get("longitude")),
    )


def _coordinate(value: Any) -> float | None:
    try:
        return None if value in (None, "") else float(value)
    except (TypeError, ValueError):
        return None
