"""What the order path reads in one round trip (the ``Snapshots`` port): the cart's stock at
the candidate locations, its products, the quote it names and the order it might replay."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from chalicelib.domain.network import Product, StockLevel
from chalicelib.domain.order.model import Order


@dataclass(frozen=True)
class StoredQuote:
    """A quote as stored: the channel it was made for, when it expires (epoch seconds) and
    its document (``options``, ...)."""

    channel: str
    expires_at: int
    doc: dict[str, Any]


@dataclass
class Snapshot:
    stock: list[StockLevel] = field(default_factory=list)
    products: dict[str, Product] = field(default_factory=dict)  # by SKU; unknown SKUs missing
    # the same products' documents as stored, when the reader has them (preorder dates, caps)
    product_docs: dict[str, dict[str, Any]] = field(default_factory=dict)
    quote: StoredQuote | None = None
    order: Order | None = None
