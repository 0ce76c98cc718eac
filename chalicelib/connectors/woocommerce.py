"""WooCommerce's order webhooks (``order.created``, ``order.updated``; the payload is the REST
API v3 order) mapped to a ``MappedOrder``, and its ping.

A line's unit price is its ``subtotal`` (before coupons, a decimal string) over its quantity:
WooCommerce's own ``price`` is a float. When the subtotal does not divide by the quantity the
unit price is rounded half to even, with a note. A line without a SKU is known by its
variation id, else its product id.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

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

TOPICS = ("order.created", "order.updated")
CANCELLED = frozenset({"cancelled", "refunded", "failed", "trash"})
_PAYMENT = {
    "pending": "pending",
    "on-hold": "pending",
    "processing": "captured",
    "completed": "captured",
}


def ping_id(raw: bytes) -> str | None:
    """The webhook id of WooCommerce's ping (``webhook_id=12``, form-encoded, sent unsigned
    when a webhook is saved), or None when ``raw`` is not a ping."""
    try:
        fields = parse_qs(raw.decode("ascii"), strict_parsing=True)
    except (UnicodeDecodeError, ValueError):
        return None
    ids = fields.get("webhook_id")
    return ids[0] if set(fields) == {"webhook_id"} and ids and ids[0].isdigit() else None


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
        channel_sku = text(line, "sku", f"{path}.sku", required=False) or _product_key(line, path)
        units = quantity(line, f"{path}.quantity")
        subtotal = minor_units(line.get("subtotal"), currency, f"{path}.subtotal")
        unit_price, rest = divmod(subtotal, units)
        if rest:
            unit_price = round(subtotal / units)  # half to even
            notes.append(f"{path}: subtotal {subtotal} over {units} units rounded")
        lines.append(MappedLine(channel_sku, our_sku(channel_sku, sku_map), units, unit_price))
    status = text(payload, "status", "status", required=False)
    shipping = obj(payload, "shipping", "shipping")
    ship_to = postal_checked(_address(shipping), "shipping.postcode", notes)
    return MappedOrder(
        platform=Platform.WOOCOMMERCE,
        platform_order_id=oid,
        currency=currency,
        customer=_customer(payload),
        ship_to=ship_to,
        lines=merge_lines(lines),
        payment_status=_PAYMENT.get(status, ""),
        cancelled=status in CANCELLED,
        notes=tuple(notes),
    )


def _product_key(line: dict[str, Any], path: str) -> str:
    for key in ("variation_id", "product_id"):
        value = line.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return str(value)
    raise PayloadError(f"{path} names no product", fields=[FieldError(f"{path}.sku", "required")])


def _customer(payload: dict[str, Any]) -> dict[str, str]:
    billing = obj(payload, "billing", "billing")
    shipping = payload.get("shipping")
    shipping = shipping if isinstance(shipping, dict) else {}
    email = text(billing, "email", "billing.email")
    name = _name(shipping) or _name(billing) or email
    out = {"email": email, "name": name}
    if phone := text(billing, "phone", "", required=False):
        out["phone"] = phone
    return out


def _name(doc: dict[str, Any]) -> str:
    parts = (text(doc, key, "", required=False) for key in ("first_name", "last_name"))
    return " ".join(p for p in parts if p)


def _address(doc: dict[str, Any]) -> Address:
    p = "shipping"
    return Address(
        country=text(doc, "country", f"{p}.country").upper(),
        postal_code=text(doc, "postcode", f"{p}.postcode"),
        city=text(doc, "city", f"{p}.city", required=False) or None,
        line1=text(doc, "address_1", f"{p}.address_1", required=False) or None,
        line2=text(doc, "address_2", f"{p}.address_2", required=False) or None,
        name=_name(doc) or None,
    )
