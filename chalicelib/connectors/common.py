"""What every connector shares: the mapped order, exact JSON and money, signatures.

Pure: no I/O. A connector turns a platform's order payload into a ``MappedOrder``; the service
(``services/connectors.py``) resolves its SKUs and captures it through the normal order path.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from typing import Any

from chalicelib.domain.errors import FieldError, InvalidInput
from chalicelib.domain.network import Address, address_to_doc
from chalicelib.domain.postal import normalized, postal_code_problem

# ISO 4217 minor-unit exponents that are not 2.
_ZERO = ("BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI")
_EXPONENTS = {
    **dict.fromkeys((*_ZERO, "VND", "VUV", "XAF", "XOF", "XPF"), 0),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
}


class PayloadError(InvalidInput):
    """The platform's payload lacks a field we need or holds one we cannot read."""


@dataclass(frozen=True)
class MappedLine:
    channel_sku: str  # the platform's SKU (or variant/product id when it has none)
    sku: str  # ours: through the channel's SKU map, else the platform's own
    quantity: int
    unit_price: int  # minor units


@dataclass(frozen=True)
class MappedOrder:
    platform: str
    platform_order_id: str  # the capture's channel_order_id: a string, exact
    currency: str
    customer: dict[str, str]
    ship_to: Address
    lines: tuple[MappedLine, ...]
    payment_status: str = ""
    cancelled: bool = False
    notes: tuple[str, ...] = field(default=())

    def to_doc(self) -> dict[str, Any]:
        """Plain data: what a rejected order shows and what the capture's hash covers."""
        return {
            "platform": self.platform,
            "platform_order_id": self.platform_order_id,
            "currency": self.currency,
            "customer": dict(self.customer),
            "ship_to": address_to_doc(self.ship_to),
            "lines": [
                {
                    "channel_sku": line.channel_sku,
                    "sku": line.sku,
                    "quantity": line.quantity,
                    "unit_price": line.unit_price,
                }
                for line in self.lines
            ],
            "payment_status": self.payment_status,
            "cancelled": self.cancelled,
        }


def postal_checked(address: Address, path: str, notes: list[str]) -> Address:
    """``address`` with its postal code ``normalized``, and a note naming ``path`` when the code
    is not of its country's shape. The order is captured all the same: the platform took it and
    the customer paid; a label is mended by a person, a dropped order is not."""
    code = normalized(address.postal_code)
    if problem := postal_code_problem(address.country, code):
        notes.append(f"{path}: {problem}")
    return address if code == address.postal_code else replace(address, postal_code=code)


def parse_exact(raw: bytes | str) -> Any:
    """JSON with every number exact: integers as ``int`` (ids beyond 2^53 intact) and
    fractions as ``Decimal`` (never a float)."""
    try:
        return json.loads(raw, parse_float=Decimal)
    except ValueError as exc:
        raise PayloadError(
            "the webhook body is not JSON", fields=[FieldError("body", f"malformed: {exc}")]
        ) from exc


def signature(secret: str, raw: bytes) -> str:
    """Base64 HMAC-SHA256 of the raw body: what Shopify and WooCommerce send."""
    return base64.b64encode(hmac.new(secret.encode(), raw, hashlib.sha256).digest()).decode()


def signed(secret: str, raw: bytes, given: str | None) -> bool:
    """Whether ``given`` is the body's signature with ``secret`` (constant time)."""
    if not given or not secret:
        return False
    return hmac.compare_digest(signature(secret, raw).encode(), given.strip().encode())


def order_id(payload: Any) -> str:
    """The platform's order id as an exact string (Shopify ids exceed 2^53)."""
    value = payload.get("id") if isinstance(payload, dict) else None
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).strip():
        raise PayloadError("the order has no id", fields=[FieldError("id", "required")])
    return str(value).strip()


def minor_units(amount: Any, currency: str, path: str) -> int:
    """A decimal amount (``"199.00"``) in the currency's minor units, exactly; an amount
    finer than the currency's unit (``"1.005"`` EUR) or not a number is refused."""
    if isinstance(amount, bool | float) or amount is None:
        raise PayloadError(f"{path} is not a decimal amount", fields=[FieldError(path, "missing")])
    try:
        value = Decimal(str(amount))
    except InvalidOperation:
        raise PayloadError(
            f"{path} is not a decimal amount", fields=[FieldError(path, f"not a number: {amount}")]
        ) from None
    # no real amount reaches 10^30, and scaling "1e999999" would overflow the context
    if not value.is_finite() or value < 0 or value.adjusted() >= 30:
        raise PayloadError(f"{path} is out of range", fields=[FieldError(path, str(amount)[:40])])
    scaled = value.scaleb(_EXPONENTS.get(currency, 2))
    if scaled != scaled.to_integral_value():
        raise PayloadError(
            f"{path} is finer than the smallest unit of {currency}",
            fields=[FieldError(path, f"{amount} {currency}")],
        )
    return int(scaled)


def text(data: Any, key: str, path: str, *, required: bool = True) -> str:
    """``data[key]`` as text (ints become their exact digits); PayloadError when required
    and missing or empty."""
    value = data.get(key) if isinstance(data, dict) else None
    if isinstance(value, bool | Decimal):
        value = None
    if value is None or str(value).strip() == "":
        if required:
            raise PayloadError(f"{path} is missing", fields=[FieldError(path, "required")])
        return ""
    return str(value).strip()


def obj(data: Any, key: str, path: str) -> dict[str, Any]:
    value = data.get(key) if isinstance(data, dict) else None
    if not isinstance(value, dict):
        raise PayloadError(f"{path} is missing", fields=[FieldError(path, "required object")])
    return value


def items(data: Any, key: str, path: str) -> list[Any]:
    value = data.get(key) if isinstance(data, dict) else None
    if not isinstance(value, list) or not value:
        raise PayloadError(f"{path} is missing", fields=[FieldError(path, "at least one line")])
    return value


def quantity(line: Any, path: str) -> int:
    value = line.get("quantity") if isinstance(line, dict) else None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise PayloadError(f"{path} is not a positive count", fields=[FieldError(path, "≥ 1")])
    return value


def our_sku(channel_sku: str, sku_map: dict[str, str]) -> str:
    return sku_map.get(channel_sku, channel_sku)


def merge_lines(lines: list[MappedLine]) -> tuple[MappedLine, ...]:
    """One line per SKU (capture refuses repeats): quantities added, the first price kept
    when the prices agree; differing prices take the quantity-weighted unit price only if
    it is exact, else the lines are refused."""
    merged: dict[str, MappedLine] = {}
    for line in lines:
        seen = merged.get(line.sku)
        if seen is None:
            merged[line.sku] = line
            continue
        units = seen.quantity + line.quantity
        total = seen.quantity * seen.unit_price + line.quantity * line.unit_price
        if total % units:
            raise PayloadError(
                f"two lines map to {line.sku} at prices that do not merge exactly",
                fields=[FieldError("line_items", f"{line.sku} repeats at another price")],
            )
        merged[line.sku] = MappedLine(seen.channel_sku, line.sku, units, total // units)
    return tuple(merged.values())
