"""Amazon SP-API orders (Orders API v0: an ``Order`` from ``getOrders`` and its ``OrderItems``
from ``getOrderItems``) mapped to a ``MappedOrder``.

What a poll does with an order depends on its ``OrderStatus`` (``action``): ``Unshipped`` and
``PartiallyShipped`` merchant-fulfilled orders are captured; ``Canceled`` cancels; ``Pending``
(payment not yet authorised, no address yet) and ``PendingAvailability`` wait for a later
poll; orders Amazon fulfils itself (``AFN``) or that shipped without us are left alone.

Money is ``{CurrencyCode, Amount}`` with a decimal string. ``ItemPrice`` is the line's total
(the unit price times ``QuantityOrdered``); the unit price is its exact quotient, else rounded
half to even with a note. A line with nothing left to send (``QuantityOrdered`` 0, a cancelled
item) is left out with a note.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from chalicelib.connectors import Platform
from chalicelib.connectors.common import (
    MappedLine,
    MappedOrder,
    PayloadError,
    merge_lines,
    minor_units,
    obj,
    our_sku,
    postal_checked,
    text,
)
from chalicelib.domain.errors import FieldError
from chalicelib.domain.network import Address


class Action(StrEnum):
    CAPTURE = "capture"  # ready to ship: map and capture
    CANCEL = "cancel"  # cancelled on Amazon: cancel ours, if we have it
    WAIT = "wait"  # not ready yet (payment pending): a later poll sees it again
    SKIP = "skip"  # not ours to ship (fulfilled by Amazon, or already shipped)


_WAITING = frozenset({"Pending", "PendingAvailability"})
_CAPTURED = frozenset({"Unshipped", "PartiallyShipped"})


def order_id(doc: Any) -> str:
    """The ``AmazonOrderId`` of a stored ``{"order": …, "items": […]}`` document."""
    return text(_order(doc), "AmazonOrderId", "AmazonOrderId")


def action(order: Any) -> Action:
    """What a poll does with the Order (``getOrders``' shape)."""
    status = text(order, "OrderStatus", "OrderStatus")
    if status == "Canceled":
        return Action.CANCEL
    if status in _WAITING:
        return Action.WAIT
    if status in _CAPTURED and order.get("FulfillmentChannel", "MFN") != "AFN":
        return Action.CAPTURE
    return Action.SKIP


def map_order(doc: Any, sku_map: dict[str, str]) -> MappedOrder:
    """``{"order": Order, "items": [OrderItem, …]}`` as our capture needs it; PayloadError
    naming the first field it lacks (an order without ``ShippingAddress`` among them)."""
    order = _order(doc)
    oid = text(order, "AmazonOrderId", "AmazonOrderId")
    raw_items = doc.get("items") if isinstance(doc, dict) else None
    if not isinstance(raw_items, list) or not raw_items:
        raise PayloadError("the order has no items", fields=[FieldError("OrderItems", "empty")])
    currency = _currency(order, raw_items)
    lines: list[MappedLine] = []
    notes: list[str] = []
    for i, item in enumerate(raw_items):
        path = f"OrderItems[{i}]"
        if not isinstance(item, dict):
            raise PayloadError(f"{path} is not an object", fields=[FieldError(path, "object")])
        channel_sku = text(item, "SellerSKU", f"{path}.SellerSKU", required=False) or text(
            item, "ASIN", f"{path}.SellerSKU"
        )
        units = _count(item, "QuantityOrdered", f"{path}.QuantityOrdered")
        if units == 0:
            notes.append(f"{path} ({channel_sku}) has no quantity left: left out")
            continue
        total = _money(item, "ItemPrice", currency, f"{path}.ItemPrice")
        unit_price, rest = divmod(total, units)
        if rest:
            unit_price = round(total / units)  # half to even
            notes.append(f"{path}: ItemPrice {total} over {units} units rounded")
        lines.append(MappedLine(channel_sku, our_sku(channel_sku, sku_map), units, unit_price))
    if not lines:
        raise PayloadError(
            "no item of the order has a quantity", fields=[FieldError("OrderItems", "nothing")]
        )
    address = obj(order, "ShippingAddress", "ShippingAddress")
    ship_to = postal_checked(_address(address), "ShippingAddress.PostalCode", notes)
    return MappedOrder(
        platform=Platform.AMAZON,
        platform_order_id=oid,
        currency=currency,
        customer=_customer(order, address),
        ship_to=ship_to,
        lines=merge_lines(lines),
        payment_status="captured",  # Amazon has the buyer's money once an order is Unshipped
        cancelled=text(order, "OrderStatus", "OrderStatus") == "Canceled",
        notes=tuple(notes),
    )


def _order(doc: Any) -> dict[str, Any]:
    return obj(doc, "order", "order")


def _currency(order: dict[str, Any], raw_items: list[Any]) -> str:
    total = order.get("OrderTotal")
    if isinstance(total, dict) and total.get("CurrencyCode"):
        return text(total, "CurrencyCode", "OrderTotal.CurrencyCode").upper()
    for item in raw_items:
        price = item.get("ItemPrice") if isinstance(item, dict) else None
        if isinstance(price, dict) and price.get("CurrencyCode"):
            return text(price, "CurrencyCode", "ItemPrice.CurrencyCode").upper()
    raise PayloadError(
        "the order states no currency", fields=[FieldError("OrderTotal.CurrencyCode", "required")]
    )


def _money(item: dict[str, Any], key: str, currency: str, path: str) -> int:
    money = obj(item, key, path)
    code = text(money, "CurrencyCode", f"{path}.CurrencyCode").upper()
    if code != currency:
        raise PayloadError(
            f"{path} is in {code}, the order in {currency}",
            fields=[FieldError(f"{path}.CurrencyCode", f"{code} is not {currency}")],
        )
    return minor_units(money.get("Amount"), currency, f"{path}.Amount")


def _count(item: dict[str, Any], key: str, path: str) -> int:
    value = item.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise PayloadError(f"{path} is not a count", fields=[FieldError(path, "≥ 0")])
    return value


def _customer(order: dict[str, Any], address: dict[str, Any]) -> dict[str, str]:
    buyer = order.get("BuyerInfo") if isinstance(order.get("BuyerInfo"), dict) else {}
    email = text(buyer, "BuyerEmail", "", required=False)  # Amazon's relay address
    name = text(buyer, "BuyerName", "", required=False) or text(address, "Name", "", required=False)
    out = {"email": email, "name": name or email or "Amazon buyer"}
    if phone := text(address, "Phone", "", required=False):
        out["phone"] = phone
    return out


def _address(doc: dict[str, Any]) -> Address:
    p = "ShippingAddress"
    return Address(
        country=text(doc, "CountryCode", f"{p}.CountryCode").upper(),
        postal_code=text(doc, "PostalCode", f"{p}.PostalCode"),
        city=text(doc, "City", f"{p}.City", required=False) or None,
        line1=text(doc, "AddressLine1", f"{p}.AddressLine1", required=False) or None,
        line2=text(doc, "AddressLine2", f"{p}.AddressLine2", required=False) or None,
        name=text(doc, "Name", f"{p}.Name", required=False) or None,
    )
