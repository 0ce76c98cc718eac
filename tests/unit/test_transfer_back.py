"""A pick-up store's ``transfer_back`` policy, pure domain: the units of a cancelled or
expired transfer are held at the store, then moved store -> in transit -> source, once each
whatever order and however often the store and the source report it."""

from __future__ import annotations

import itertools

import pytest

from chalicelib.domain.network import StockLevel
from chalicelib.domain.order.cancel import cancel, confirm
from chalicelib.domain.order.model import ShipmentStatus
from chalicelib.domain.order.stock import release_moves, transfer_back_moves
from tests.unit.test_order_state import step
from tests.unit.test_transfers import E, reserved_stock, run, transfer


def at_store(*, ready: bool = True):
    order, stock = transfer(), reserved_stock()
    run(stock, step(order, "p1", E.SHIPPED, carrier="own", tracking_number="TR-1").moves)
    if ready:
        run(stock, step(order, "p1", E.READY_FOR_PICKUP).moves)
    return order, stock


def test_units_waiting_at_the_store_are_held_there_reserved_for_the_way_back():
    order, stock = at_store()
    p1 = order.shipment("p1")
    assert release_moves(p1, p1.lines, back=True) == []  # reserved at the store already
    order.cancel_shipment("p1", at="2026-05-12T00:00:00Z", source="t", reason="expired")
    assert (p1.back, p1.back_lines, p1.back_sent) == ("held", {"A": 2}, False)
    assert order.open_reservations() == [("A", "st", 2)]
    assert stock[("A", "st")] == StockLevel("A", "st", on_hand=2, reserved=2)


def test_units_in_transit_when_cancelled_are_held_at_the_store_not_sellable():
    order, stock = at_store(ready=False)
    p1 = order.shipment("p1")
    run(stock, release_moves(p1, p1.lines, back=True))
    assert stock[("A", "st")] == StockLevel("A", "st", on_hand=2, reserved=2, in_transit=0)
    assert p1.back == "held"


def test_without_the_policy_the_units_stay_sellable_at_the_store():
    order, stock = at_store()
    p1 = order.shipment("p1")
    run(stock, release_moves(p1, p1.lines))
    assert stock[("A", "st")] == StockLevel("A", "st", on_hand=2, reserved=0)
    assert p1.back == ""


def test_units_still_at_the_source_are_freed_there():
    order, stock = transfer(), reserved_stock()
    p1 = order.shipment("p1")
    run(stock, release_moves(p1, p1.lines, back=True))
    assert stock[("A", "dc")] == StockLevel("A", "dc", on_hand=10, reserved=0)
    assert p1.back == "" and ("A", "st") not in stock


def test_a_confirmed_cancel_at_the_store_holds_the_units_back():
    order, stock = at_store()
    p1 = order.shipment("p1")
    p1.dispatched = True
    cancel(order, None, at="2026-05-05T00:00:00Z", source="t")
    run(stock, confirm(order, p1, back=True))
    assert p1.status == ShipmentStatus.CANCELLED and p1.back_lines == {"A": 2}
    assert order.open_reservations() == [("A", "st", 2)]
    assert stock[("A", "st")] == StockLevel("A", "st", on_hand=2, reserved=2)


@pytest.mark.parametrize(
    "steps",
    [
        *itertools.permutations(["in_transit", "returned"]),
        ("in_transit", "in_transit", "returned", "returned", "in_transit"),
    ],
)
def test_the_way_back_books_each_step_once_in_any_order(steps):
    order, stock = at_store()
    p1 = order.shipment("p1")
    release_moves(p1, p1.lines, back=True)
    order.cancel_shipment("p1", at="2026-05-12T00:00:00Z", source="t", reason="expired")
    for name in steps:
        run(stock, transfer_back_moves(p1, name))
    assert p1.back == "returned" and order.open_reservations() == []
    assert stock[("A", "st")] == StockLevel("A", "st", on_hand=0, reserved=0)
    assert stock[("A", "dc")] == StockLevel("A", "dc", on_hand=10, reserved=0)


def test_on_the_way_back_the_units_are_in_transit_at_the_source():
    order, stock = at_store()
    p1 = order.shipment("p1")
    release_moves(p1, p1.lines, back=True)
    order.cancel_shipment("p1", at="2026-05-12T00:00:00Z", source="t", reason="expired")
    run(stock, transfer_back_moves(p1, "in_transit"))
    assert stock[("A", "st")] == StockLevel("A", "st", on_hand=0, reserved=0)
    assert stock[("A", "dc")] == StockLevel("A", "dc", on_hand=8, reserved=0, in_transit=2)
    assert order.open_reservations() == []


def test_no_transfer_back_no_moves():
    order, _ = at_store()
    assert transfer_back_moves(order.shipment("p1"), "returned") == []
