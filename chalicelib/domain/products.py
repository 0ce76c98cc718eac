"""A product from its catalog document (the shape the catalog API stores)."""

from __future__ import annotations

from typing import Any

from chalicelib.domain.network import Product


def product_from_doc(doc: dict[str, Any]) -> Product:
    return Product(
        sku=doc["sku"],
        weight_g=int(doc["weight_g"]),
        prices={cur: int(v) for cur, v in (doc.get("prices") or {}).items()},
        returnable=bool(doc.get("returnable", True)),
        name=doc.get("name", ""),
        reorder_point=int(doc.get("reorder_point", 0)),
    )
