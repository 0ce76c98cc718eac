"""Cancelling orders as a protocol with their locations, pure domain: what is cancelled at once
and what is asked back, the locations' answers, and shipments that move after their cancel
(once each, whatever order and however often the events come)."""

from __future__ import annotations

import itertools

import pytest

from chalicelib.domain.errors import Conflict, InvalidInput
from chalicelib.domain.inventory import Movement
from chalicelib.domain.network import StockLevel
from chalicelib.domain.order.cancel import (
    CancelState,
    cancel,
    confirm,
    moved_after_cancel,
    reject,
)
from chalicelib.domain.order.model import DeliveryMode, OrderLine, ShipmentStatus
from tests.unit.test_order_state import AT, an_order, shipment
from tests.unit.test_transfers import run

S = ShipmentStatus


def test_unsent_units_are_cancelled_at_once_and_sent_ones_asked_back():
    sent = shipment("s1", "dc-a", {"A": 2, "B": 1})
    sent.dispatched, sent.status = True, S.RELEASED
    order = an_order(sent, shipment("s2", "dc-b", {"A": 3}))
    order.backorders = {"B": 2}
    order.lines = [OrderLine("A", 5, 100), OrderLine("B", 3, 100)]

    done = cancel(order, {"A": 4, "B": 3}, at=AT, source="service:k")
    assert done.moves == [(Movement.RELEASE, ("A", "dc-b", 3))]  # the unsent shipment first
    assert done.cancelled == {"A": 3, "B": 2} and done.dropped_backorders == ["B"]
    assert done.requested == {"A": 1, "B": 1}
    assert (sent.cancel, sent.cancel_lines, sent.cancel_sent) == (
        CancelState.REQUESTED,
        {"A": 1, "B": 1},
        False,
    )
    assert order.unaccounted() == {}


def test_lines_that_are_not_on_the_order_or_too_many_are_refused_and_nothing_changes():
    order = an_order(shipment("s1", "dc-a", {"A": 2}))
    with pytest.raises(InvalidInput) as unknown:
        cancel(order, {"Z": 1}, at=AT, source="x")
    assert unknown.value.fields[0].path == "lines[0].sku"
    with pytest.raises(Conflict) as many:
        cancel(order, {"A": 3}, at=AT, source="x")
    assert many.value.fields[0].path == "lines[0].quantity"
    assert order.shipment("s1").lines == {"A": 2} and not order.cancelled


def test_a_confirmation_frees_what_was_asked_and_a_rejection_lets_it_go_on():
    s1 = shipment("s1", "dc-a", {"A": 3})
    s1.dispatched, s1.status = True, S.PICKED
    order = an_order(s1)
    cancel(order, {"A": 1}, at=AT, source="x")
    assert confirm(order, s1) == [(Movement.RELEASE, ("A", "dc-a", 1))]
    assert s1.lines == {"A": 2} and s1.status == S.PICKED and order.cancelled == {"A": 1}
    with pytest.raises(Conflict):
        confirm(order, s1)  # nothing waits any more
    cancel(order, None, at=AT, source="x")
    assert reject(s1, "already packed") and s1.cancel == CancelState.REJECTED
    assert not reject(s1, "again")
    assert order.unaccounted() == {}


def _cancelled_transfer():
    p1 = shipment("p1", "dc", {"A": 2}, mode=DeliveryMode.PICKUP, pickup_location_id="st")
    order = an_order(p1)
    cancel(order, None, at=AT, source="x")  # never sent: freed at the source at once
    return order, p1


@pytest.mark.parametrize(
    "events",
    [
        *itertools.permutations([S.IN_TRANSIT, S.READY_FOR_PICKUP, S.COLLECTED]),
        (S.IN_TRANSIT, S.IN_TRANSIT, S.READY_FOR_PICKUP, S.READY_FOR_PICKUP),
    ],
)
def test_a_cancelled_transfer_sent_anyway_moves_its_units_once_wherever_they_went(events):
    order, p1 = _cancelled_transfer()
    stock = {("A", "dc"): StockLevel("A", "dc", on_hand=10)}
    for target in events:
        after = moved_after_cancel(order, p1, target)
        if after is not None:
            order.record(at=AT, event=after.event, source="l", shipment_id="p1")
            run(stock, after.moves)
    dc, st = stock[("A", "dc")], stock.get(("A", "st"), StockLevel("A", "st", on_hand=0))
    assert (dc.on_hand, dc.reserved) == (8, 0)  # the units left the source once
    if S.COLLECTED in events:
        assert (st.on_hand, st.in_transit, st.reserved) == (0, 0, 0)  # the customer has them
        assert p1.status == S.COLLECTED and p1.after_cancel and order.cancelled == {}
    else:
        assert (st.on_hand, st.available, st.in_transit) == (2, 2, 0)  # sellable at the store
        assert p1.status == S.CANCELLED and order.cancelled == {"A": 2}
    assert order.unaccounted() == {}


def test_a_cancelled_parcel_shipped_anyway_counts_as_shipped_once():
    order = an_order(shipment("s1", "dc", {"A": 2}))
    s1 = order.shipment("s1")
    cancel(order, None, at=AT, source="x")
    after = moved_after_cancel(order, s1, S.SHIPPED)
    assert after is not None and after.left
    assert after.moves == [(Movement.SHIP_UNRESERVED, ("A", "dc", 2))]
    order.record(at=AT, event=after.event, source="l", shipment_id="s1")
    assert moved_after_cancel(order, s1, S.DELIVERED) is None  # a later step: nothing moves
    assert s1.status == S.SHIPPED and order.status.value == "shipped"
    assert order.unaccounted() == {}
