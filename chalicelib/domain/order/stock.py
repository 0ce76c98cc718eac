"""Which stock movements follow from a change to a shipment: the one place that knows where a
shipment's units physically are (its location, in transit, or at the pick-up store)."""

from __future__ import annotations

from chalicelib.domain.inventory import Movement
from chalicelib.domain.order.model import OrderShipment

Move = tuple[Movement, tuple[str, str, int]]  # movement, (sku, location_id, quantity)


def release_moves(shipment: OrderShipment, lines: dict[str, int]) -> list[Move]:
    """Free ``lines`` of an open ``shipment`` where its reserved units are now."""
    return [
        (Movement.RELEASE, (sku, shipment.stock_at, quantity))
        for sku, quantity in sorted(lines.items())
        if quantity > 0
    ]
