"""The product a PUT stores: ``ProductIn`` and whether the product is hot (``domain.shards``)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from chalicelib.api.models.common import ProductIn
from chalicelib.domain.shards import MAX_SHARDS


class HotProductIn(ProductIn):
    hot_shards: int = Field(
        default=1,
        ge=1,
        le=MAX_SHARDS,
        description=f"a hot product's stock per location split over 2..{MAX_SHARDS} items, "
        "so that its reservations are not capped by one DynamoDB partition (1: not hot)",
    )

    def doc(self, sku: str) -> dict[str, Any]:
        doc = super().doc(sku)
        if doc.get("hot_shards") == 1:
            del doc["hot_shards"]
        return doc
