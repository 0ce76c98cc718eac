"""Capture's ledger rule: every ordered unit is in a shipment, backordered or cancelled, and no
order is born cancelled. Checked on the new order before anything is written."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from chalicelib.domain.errors import Conflict, FieldError, OutOfStock
from chalicelib.domain.order.model import Order, OrderStatus

Line = tuple[str, int]  # sku, quantity


def unplaced(lines: Sequence[Line], placed: Mapping[str, int]) -> dict[str, int]:
    """``sku -> units`` the cart orders beyond what ``placed`` (a plan's lines) sends."""
    ordered: dict[str, int] = {}
    for sku, quantity in lines:
        ordered[sku] = ordered.get(sku, 0) + quantity
    return {
        sku: quantity - placed.get(sku, 0)
        for sku, quantity in ordered.items()
        if quantity > placed.get(sku, 0)
    }


def out_of_stock(lines: Sequence[Line], skus: Sequence[str], message: str = "") -> OutOfStock:
    """409 ``out_of_stock`` naming the SKUs and the quantity of every cart line holding one."""
    error = OutOfStock(skus, message)
    error.fields = [
        FieldError(f"lines[{i}].quantity", f"{sku}: not every unit can be placed")
        for i, (sku, _) in enumerate(lines)
        if sku in error.skus
    ]
    return error


def check_accounted(order: Order) -> None:
    """Raise unless ordered = in shipments + backordered + cancelled for every line and the
    order has something left to fulfil."""
    lines = [(line.sku, line.quantity) for line in order.lines]
    gaps = order.unaccounted()
    missing = sorted(sku for sku, gap in gaps.items() if gap > 0)
    if missing:
        raise out_of_stock(lines, missing)
    if gaps:
        raise Conflict(
            "the plan sends more units than were ordered",
            fields=[
                FieldError(f"lines[{i}].quantity", f"{sku}: planned {-gaps[sku]} too many")
                for i, (sku, _) in enumerate(lines)
                if sku in gaps
            ],
        )
    if order.status == OrderStatus.CANCELLED:
        raise Conflict(
            "nothing of this order can be placed",
            fields=[FieldError("lines", "no unit is in a shipment or backordered")],
        )
