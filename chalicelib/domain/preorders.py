"""A preorder claim: one order's units counted against a product's preorder cap."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PreorderClaim:
    sku: str
    order_id: str
    units: int
    claimed_at: str | None  # ISO instant; None on claims stored before it was recorded
