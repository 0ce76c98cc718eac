"""A preorder claim: one order's units counted against a product's preorder cap."""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.domain.order.model import Order


@dataclass(frozen=True, slots=True)
class PreorderClaim:
    sku: str
    order_id: str
    units: int
    claimed_at: str | None  # ISO instant; None on claims stored before it was recorded


@dataclass(frozen=True, slots=True)
class Shrink:
    """A live order's claim above what the order still wants (a partial cancel): ``keep``
    units stay claimed, provided the order is still at ``version``."""

    claim: PreorderClaim
    keep: int
    version: int


@dataclass(frozen=True, slots=True)
class Sweepable:
    """A sweep's work on one SKU: claims to release (order absent or cancelled) and claims
    to cut (order cancelled in part)."""

    orphans: list[PreorderClaim]
    shrinks: list[Shrink]


def still_wanted(order: Order, sku: str) -> int:
    """The units of ``sku`` an order still wants: ordered less cancelled (its ledger)."""
    row = order.ledger().get(sku)
    return max(0, row["ordered"] - row["cancelled"]) if row else 0


def shrink_of(claim: PreorderClaim, order: Order) -> Shrink | None:
    """The shrink of ``claim`` to what its (live) ``order`` still wants, if it claims more."""
    keep = still_wanted(order, claim.sku)
    return Shrink(claim, keep, order.version) if keep < claim.units else None
