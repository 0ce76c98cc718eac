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


def still_wanted(order: Order, sku: str) -> int:
    """The units of ``sku`` an order still wants: ordered less cancelled."""
    ordered = sum(line.quantity for line in order.lines if line.sku == sku)
    return max(0, ordered - order.cancelled.get(sku, 0))


def shrink_of(claim: PreorderClaim, order: Order) -> Shrink | None:
    """The shrink of ``claim`` to what its (live) ``order`` still wants, if it claims more."""
    keep = still_wanted(order, claim.sku)
    return Shrink(claim, keep, order.version) if keep < claim.units else None
