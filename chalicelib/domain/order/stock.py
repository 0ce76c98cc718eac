"""Which stock movements follow from a change to a shipment: the one place that knows where a
shipment's units physically are (its location, in transit, or at the pick-up store).

A click & collect transfer (``OrderShipment.transfer``) takes its units from its location to the
pick-up store: reserved at the source until it leaves (``in_transit``), then counted as
``in_transit`` on the store's stock item (reserved nowhere), then, once the store reports
``ready_for_pickup``, on the store's ``on_hand`` and reserved there until ``collected``. Events
come out of order: the moves depend only on where the units were and where they are now, so a
state skipped (``ready_for_pickup`` before ``shipped``) moves them straight to where they are.
Units freed while in transit (a cancel) land at the store at once, sellable there: they will
arrive there.

When the store's policy is ``transfer_back`` (``Location.collect_unclaimed``), units freed at
the store or on their way there are held instead: reserved at the store (``back = "held"``,
``back_lines``) until the store sends them back (``transfer_back_shipped``: in transit to the
source) and the source books them in (``transfer_back_received``: sellable there). Units still
at the source are freed there: nothing to send.
"""

from __future__ import annotations

from enum import IntEnum

from chalicelib.domain.inventory import Movement
from chalicelib.domain.order.model import OrderShipment, ShipmentStatus

Move = tuple[Movement, tuple[str, str, int]]  # movement, (sku, location_id, quantity)


_GONE = frozenset({ShipmentStatus.SHIPPED, ShipmentStatus.DELIVERED, ShipmentStatus.COLLECTED})


class Place(IntEnum):
    """Where a shipment's units are, in the order they get there."""

    SOURCE = 0  # reserved at ``location_id``
    TRANSIT = 1  # on the way to the pick-up store: its ``in_transit``
    STORE = 2  # reserved at the pick-up store
    GONE = 3  # left the network (shipped to or collected by the customer)


def place_of(shipment: OrderShipment, status: ShipmentStatus) -> Place:
    """Where the units of ``shipment`` are in ``status`` (not ``cancelled``)."""
    if status in _GONE:
        return Place.GONE
    if not shipment.transfer:
        return Place.SOURCE
    if status == ShipmentStatus.READY_FOR_PICKUP:
        return Place.STORE
    return Place.TRANSIT if status == ShipmentStatus.IN_TRANSIT else Place.SOURCE


def release_moves(
    shipment: OrderShipment, lines: dict[str, int], *, back: bool = False
) -> list[Move]:
    """Free ``lines`` of an open ``shipment`` where its reserved units are now (call it before
    the shipment is marked cancelled). Units in transit land at the store, sellable there; with
    ``back`` (the store's policy) a transfer's units at or bound for the store are held there
    for a transfer back instead (recorded on the shipment)."""
    if back and shipment.transfer and shipment.back in ("", "held"):
        place = place_of(shipment, shipment.status)
        if place in (Place.TRANSIT, Place.STORE):
            return _hold_back(shipment, lines, arriving=place == Place.TRANSIT)
    movement = Movement.LAND if shipment.status == ShipmentStatus.IN_TRANSIT else Movement.RELEASE
    return [
        (movement, (sku, shipment.stock_at, quantity))
        for sku, quantity in sorted(lines.items())
        if quantity > 0
    ]


def progress_moves(shipment: OrderShipment, before: ShipmentStatus) -> list[Move]:
    """The units of ``shipment`` moved on from where they were in ``before`` to where they are
    in its current status: the movements that say so (none when they did not move). Sets
    ``held_at`` to the pick-up store once a transfer left its location."""
    if before == ShipmentStatus.CANCELLED or shipment.status == ShipmentStatus.CANCELLED:
        return []
    was, now = place_of(shipment, before), place_of(shipment, shipment.status)
    if now <= was:
        return []
    store = shipment.pickup_location_id or shipment.location_id
    at = {Place.SOURCE: shipment.location_id, Place.TRANSIT: store, Place.STORE: store}
    if shipment.transfer and was == Place.SOURCE and now != Place.GONE:
        shipment.held_at = store
    steps: list[tuple[Movement, str]] = {
        (Place.SOURCE, Place.TRANSIT): [
            (Movement.TRANSFER_OUT, shipment.location_id),
            (Movement.TRANSIT, store),
        ],
        (Place.SOURCE, Place.STORE): [
            (Movement.TRANSFER_OUT, shipment.location_id),
            (Movement.TRANSFER_IN, store),
        ],
        (Place.TRANSIT, Place.STORE): [(Movement.ARRIVE, store)],
        (Place.TRANSIT, Place.GONE): [(Movement.TRANSIT_OUT, store)],
    }.get((was, now), [(Movement.SHIP, at[was])])
    return [
        (movement, (sku, location_id, quantity))
        for movement, location_id in steps
        for sku, quantity in sorted(shipment.lines.items())
        if quantity > 0
    ]


def short_moves(shipment: OrderShipment, sku: str, quantity: int) -> list[Move]:
    """Write off ``quantity`` reserved units of ``sku`` of an open ``shipment`` that are not
    there, where they are now (lost in transit: they leave ``in_transit``)."""
    if not shipment.open or quantity < 1:
        return []
    if shipment.status == ShipmentStatus.IN_TRANSIT:
        return [(Movement.TRANSIT_OUT, (sku, shipment.stock_at, quantity))]
    return [(Movement.SHORT, (sku, shipment.stock_at, quantity))]


def _hold_back(shipment: OrderShipment, lines: dict[str, int], *, arriving: bool) -> list[Move]:
    store = shipment.pickup_location_id or shipment.location_id
    held = sorted((sku, q) for sku, q in lines.items() if q > 0)
    for sku, quantity in held:
        shipment.back_lines[sku] = shipment.back_lines.get(sku, 0) + quantity
    if held:
        shipment.back, shipment.back_sent = "held", False
    if not arriving:
        return []  # reserved at the store already: they stay so
    return [(Movement.ARRIVE, (sku, store, quantity)) for sku, quantity in held]


BACK_STEPS = ("held", "in_transit", "returned")


def transfer_back_moves(shipment: OrderShipment, step: str) -> list[Move]:
    """The units held for a transfer back moved on to ``step`` (``in_transit``: they left the
    store; ``returned``: the source booked them in, sellable there). Sets ``back``. None when
    they are there already or further (a duplicate, or events crossed)."""
    was = shipment.back
    if was not in BACK_STEPS or BACK_STEPS.index(step) <= BACK_STEPS.index(was):
        return []
    shipment.back = step
    store = shipment.pickup_location_id or shipment.location_id
    source = shipment.location_id
    steps: list[tuple[Movement, str]] = {
        ("held", "in_transit"): [(Movement.TRANSFER_OUT, store), (Movement.TRANSIT, source)],
        ("held", "returned"): [(Movement.TRANSFER_OUT, store), (Movement.TRANSFER_FREE, source)],
        ("in_transit", "returned"): [(Movement.LAND, source)],
    }[(was, step)]
    return [
        (movement, (sku, location_id, quantity))
        for movement, location_id in steps
        for sku, quantity in sorted(shipment.back_lines.items())
        if quantity > 0
    ]
