"""The ``transfer_back`` policy of a pick-up store (``Location.collect_unclaimed``): the units
of a cancelled or expired pick-up that reached the store (or were on their way) are held there
and sent back to their source (``domain.order.stock``; the request goes out with the dispatch,
``services.fulfilment.transfer_request``)."""

from __future__ import annotations

from chalicelib.domain.errors import FieldError, InvalidInput
from chalicelib.domain.order.model import Order, OrderShipment
from chalicelib.domain.order.stock import Move, transfer_back_moves
from chalicelib.services.ports import Network

TRANSFER_BACK = "transfer_back"


def sends_back(network: Network, shipment: OrderShipment) -> bool:
    """Whether the shipment is a transfer whose pick-up store sends unclaimed units back."""
    if not shipment.transfer:
        return False
    store = shipment.pickup_location_id
    return any(
        loc.location_id == store and loc.collect_unclaimed == TRANSFER_BACK
        for loc in network.locations()
    )


def record_held(order: Order, shipment: OrderShipment, *, at: str, source: str) -> None:
    """The order's timeline: the units wait at the store for their transfer back."""
    order.record(
        at=at,
        event="transfer_back_requested",
        source=source,
        shipment_id=shipment.shipment_id,
        lines=dict(shipment.back_lines),
        to_location_id=shipment.location_id,
    )


def moved_back(
    order: Order, shipment: OrderShipment, *, shipped: bool, at: str, source: str
) -> tuple[list[Move], str]:
    """The pick-up store sent the units back (``shipped``), or their source received them:
    the moves, once each and in either order, or why nothing moved (a step already passed).
    Raises InvalidInput when no transfer back was requested."""
    if not shipment.back:
        raise InvalidInput(
            f"shipment {shipment.shipment_id} has no transfer back",
            fields=[FieldError("type", "no transfer back was requested")],
        )
    was = shipment.back
    moves = transfer_back_moves(shipment, "in_transit" if shipped else "returned")
    if not moves:
        return [], f"transfer back is {was} already"
    event = "transfer_back_shipped" if shipped else "transfer_back_received"
    order.record(
        at=at,
        event=event,
        source=source,
        shipment_id=shipment.shipment_id,
        lines=dict(shipment.back_lines),
    )
    return moves, ""
