"""Click & collect transfers (source -> in transit -> store) and quarantine, pure domain: which
movements follow from each event, whatever order and however often the events arrive, and what
those movements do to the stock levels."""

from __future__ import annotations

import itertools

import pytest

from chalicelib.domain import inventory
from chalicelib.domain.errors import InsufficientStock, InvalidTransition
from chalicelib.domain.inventory import Movement
from chalicelib.domain.network import StockLevel
from chalicelib.domain.order.model import DeliveryMode, Order, OrderStatus, ShipmentStatus
from chalicelib.domain.order.progress import ShipmentEventType, take_short
from chalicelib.domain.order.stock import Move, release_moves
from tests.unit.test_order_state import AT, an_order, shipment, step

E = ShipmentEventType


def transfer(lines: dict[str, int] | None = None) -> Order:
    return an_order(
        shipment("p1", "dc", lines or {"A": 2}, mode=DeliveryMode.PICKUP, pickup_location_id="st")
    )


def run(stock: dict[tuple[str, str], StockLevel], moves: list[Move]) -> None:
    """Apply ``moves`` like the order store does (a missing store item starts from zero)."""
    for movement, (sku, loc, qty) in moves:
        level = stock.get((sku, loc))
        if level is None:
            assert movement in inventory.CREATES_ITEM, f"{movement} on a missing item"
            level = StockLevel(sku, loc, on_hand=0)
        stock[(sku, loc)] = inventory.apply(level, movement, qty)


def reserved_stock(quantity: int = 2) -> dict[tuple[str, str], StockLevel]:
    return {("A", "dc"): StockLevel("A", "dc", on_hand=10, reserved=quantity)}


def test_a_transfer_leaves_the_source_travels_and_waits_reserved_at_the_store():
    order, stock = transfer(), reserved_stock()
    p1 = order.shipment("p1")
    run(stock, step(order, "p1", E.PICKED).moves)
    shipped = step(order, "p1", E.SHIPPED, carrier="own", tracking_number="TR-1")
    assert p1.status == ShipmentStatus.IN_TRANSIT and order.status == OrderStatus.PROCESSING
    assert shipped.entered == ShipmentStatus.IN_TRANSIT and not shipped.left_now
    run(stock, shipped.moves)
    assert stock[("A", "dc")] == StockLevel("A", "dc", on_hand=8, reserved=0)
    assert stock[("A", "st")] == StockLevel("A", "st", on_hand=0, in_transit=2)
    assert order.open_reservations() == []  # in transit: reserved nowhere
    run(stock, step(order, "p1", E.READY_FOR_PICKUP).moves)
    assert stock[("A", "st")] == StockLevel("A", "st", on_hand=2, reserved=2)
    assert p1.held_at == "st" and order.open_reservations() == [("A", "st", 2)]
    collected = step(order, "p1", E.COLLECTED)
    assert collected.left_now
    run(stock, collected.moves)
    assert stock[("A", "st")] == StockLevel("A", "st", on_hand=0, reserved=0)
    assert stock[("A", "dc")].on_hand == 8
    assert order.status == OrderStatus.DELIVERED


def test_a_same_store_pickup_has_no_transit():
    order = an_order(
        shipment("p1", "st", {"A": 1}, mode=DeliveryMode.PICKUP, pickup_location_id="st")
    )
    with pytest.raises(InvalidTransition):
        step(order, "p1", E.SHIPPED)
    assert step(order, "p1", E.READY_FOR_PICKUP).moves == []
    assert step(order, "p1", E.COLLECTED).moves == [(Movement.SHIP, ("A", "st", 1))]


EVENTS = [E.PICKED, E.SHIPPED, E.READY_FOR_PICKUP, E.COLLECTED]


@pytest.mark.parametrize("events", list(itertools.permutations(EVENTS)))
def test_any_order_of_events_twice_ends_with_the_unit_gone_from_the_store_not_the_source(events):
    order, stock = transfer(), reserved_stock()
    for event in [*events, *events]:
        run(stock, step(order, "p1", event).moves)
    assert order.shipment("p1").status == ShipmentStatus.COLLECTED
    assert stock[("A", "dc")] == StockLevel("A", "dc", on_hand=8, reserved=0)
    store = stock.get(("A", "st"), StockLevel("A", "st", on_hand=0))
    assert (store.on_hand, store.reserved, store.in_transit) == (0, 0, 0)


@pytest.mark.parametrize("events", list(itertools.permutations(EVENTS[:3])))
def test_any_order_of_arrival_events_leaves_the_units_reserved_at_the_store(events):
    order, stock = transfer(), reserved_stock()
    for event in [*events, *reversed(events)]:
        run(stock, step(order, "p1", event).moves)
    assert stock[("A", "dc")] == StockLevel("A", "dc", on_hand=8, reserved=0)
    assert stock[("A", "st")] == StockLevel("A", "st", on_hand=2, reserved=2)
    assert order.open_reservations() == [("A", "st", 2)]


def test_units_freed_at_the_store_are_sellable_there_not_at_the_source():
    order, stock = transfer(), reserved_stock()
    for event in (E.SHIPPED, E.READY_FOR_PICKUP):
        run(stock, step(order, "p1", event).moves)
    moves = release_moves(order.shipment("p1"), {"A": 2})
    assert moves == [(Movement.RELEASE, ("A", "st", 2))]
    run(stock, moves)
    assert stock[("A", "st")].available == 2
    assert stock[("A", "dc")].available == 8  # nothing came back to the source


def test_units_freed_in_transit_land_at_the_store_sellable():
    order, stock = transfer({"A": 3}), reserved_stock(3)
    run(stock, step(order, "p1", E.SHIPPED).moves)
    moves = release_moves(order.shipment("p1"), {"A": 1})  # a partial cancel
    assert moves == [(Movement.LAND, ("A", "st", 1))]
    run(stock, moves)
    order.shipment("p1").lines["A"] = 2
    assert stock[("A", "st")] == StockLevel("A", "st", on_hand=1, in_transit=2)
    run(stock, step(order, "p1", E.READY_FOR_PICKUP).moves)
    assert stock[("A", "st")] == StockLevel("A", "st", on_hand=3, reserved=2)


def test_a_short_pick_while_in_transit_writes_the_units_off_the_transit():
    order, stock = transfer(), reserved_stock()
    run(stock, step(order, "p1", E.SHIPPED).moves)
    short = take_short(order, order.shipment("p1"), sku="A", picked=1, at=AT, source="l")
    assert short.moves == [(Movement.TRANSIT_OUT, ("A", "st", 1))]
    run(stock, short.moves)
    assert stock[("A", "st")].in_transit == 1


def test_a_short_pick_at_the_store_writes_off_there():
    order, stock = transfer(), reserved_stock()
    run(stock, step(order, "p1", E.READY_FOR_PICKUP).moves)
    short = take_short(order, order.shipment("p1"), sku="A", picked=1, at=AT, source="l")
    assert short.moves == [(Movement.SHORT, ("A", "st", 1))]


def test_the_transfer_state_survives_a_round_trip_through_its_document():
    from chalicelib.domain.order.model import order_from_doc, order_to_doc

    order = transfer()
    step(order, "p1", E.SHIPPED)
    again = order_from_doc(order_to_doc(order))
    assert again.shipment("p1").status == ShipmentStatus.IN_TRANSIT
    assert again.shipment("p1").held_at == "st"


def test_quarantine_release_and_write_off_need_the_units():
    level = StockLevel("A", "st", on_hand=1, reserved=1, quarantine=3)
    released = inventory.apply(level, Movement.UNQUARANTINE, 2)
    assert (released.on_hand, released.available, released.quarantine) == (3, 2, 1)
    written = inventory.apply(released, Movement.QUARANTINE_OUT, 1)
    assert (written.on_hand, written.quarantine) == (3, 0)
    with pytest.raises(InsufficientStock):
        inventory.apply(written, Movement.QUARANTINE_OUT, 1)


def test_transit_movements_refuse_more_than_is_in_transit():
    level = StockLevel("A", "st", on_hand=0, in_transit=1)
    for movement in (Movement.ARRIVE, Movement.LAND, Movement.TRANSIT_OUT):
        with pytest.raises(InsufficientStock):
            inventory.apply(level, movement, 2)
