"""What capture and quoting are asked to do (``services.ordering``) and what capture answers."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from chalicelib.domain.network import Address
from chalicelib.domain.order.model import Order


@dataclass(frozen=True)
class Cart:
    channel: str
    currency: str
    ship_to: Address
    lines: Sequence[tuple[str, int, int | None]]  # sku, quantity, unit price (None in quotes)


@dataclass(frozen=True)
class PlaceOrder:
    cart: Cart
    channel_order_id: str
    customer: dict[str, Any]
    delivery: dict[str, Any]  # {"option_id"} or {"kind", "pickup_location_id"?}
    request_hash: str
    holds: dict[str, str] = field(default_factory=dict)  # kind -> reason (domain.order.changes)
    payment_status: str = ""
    auto_cancel_after_hours: int | None = None  # still held then, the order is cancelled
    by: str = ""  # who placed it (Principal.source), for the timeline


@dataclass
class Placed:
    order: Order
    created: bool
    tracking_token: str
    promise_changed: bool = False
    notes: list[str] = field(default_factory=list)


def request_hash(body: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()
