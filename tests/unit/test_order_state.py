"""The shipment state machine and what events do to an order (pure domain, no I/O)."""

from __future__ import annotations

import pytest

from chalicelib.domain.errors import InvalidInput, InvalidTransition, NotFound
from chalicelib.domain.inventory import Movement
from chalicelib.domain.network import Address
from chalicelib.domain.order.cancel import cancel
from chalicelib.domain.order.model import (
    DeliveryMode,
    Order,
    OrderLine,
    OrderShipment,
    OrderStatus,
    ShipmentStatus,
    order_from_doc,
    order_to_doc,
)
from chalicelib.domain.order.progress import (
    ShipmentEventType,
    advance_shipment,
    resourced_shipment_id,
    shipment_for_event,
    take_short,
)

AT = "2026-05-04T10:00:00.000Z"
E = ShipmentEventType


def shipment(sid: str, location: str, lines: dict[str, int], **kw: object) -> OrderShipment:
    return OrderShipment(
        shipment_id=sid,
        location_id=location,
        lines=dict(lines),
        mode=kw.pop("mode", DeliveryMode.SHIP),  # type: ignore[arg-type]
        carrier_service="dhl-std",
        ship_date="2026-05-04",
        promised_date="2026-05-06",
        **kw,  # type: ignore[arg-type]
    )


def an_order(*shipments: OrderShipment) -> Order:
    lines: dict[str, int] = {}
    for s in shipments:
        for sku, q in s.lines.items():
            lines[sku] = lines.get(sku, 0) + q
    return Order(
        order_id="o_1",
        channel="webshop",
        channel_order_id="W-1",
        currency="EUR",
        customer={"email": "ada@example.com", "name": "Ada"},
        ship_to=Address(country="DE", postal_code="10115"),
        lines=[OrderLine(sku, q, 1000) for sku, q in lines.items()],
        shipments=list(shipments),
        created_at=AT,
        delivery={"kind": "fastest"},
        token_hash="h",
        request_hash="r",
    )


def step(order: Order, sid: str, kind: ShipmentEventType, **kw: str):
    s = order.shipment(sid)
    return advance_shipment(order, s, kind, at=AT, source="location:x", **kw)


def test_a_shipment_walks_its_path_and_the_order_status_follows():
    order = an_order(shipment("s1", "dc", {"A": 2}), shipment("s2", "st", {"B": 1}))
    assert order.status == OrderStatus.PLACED
    step(order, "s1", E.PICKED)
    assert order.status == OrderStatus.PROCESSING
    step(order, "s1", E.SHIPPED, carrier="DHL", tracking_number="T1")
    assert order.status == OrderStatus.PARTIALLY_SHIPPED
    step(order, "s2", E.SHIPPED)
    assert order.status == OrderStatus.SHIPPED
    step(order, "s1", E.DELIVERED)
    step(order, "s2", E.DELIVERED)
    assert order.status == OrderStatus.DELIVERED


def test_stock_leaves_once_when_the_shipment_first_leaves_whichever_event_says_so():
    order = an_order(shipment("s1", "dc", {"A": 2, "B": 1}))
    first = step(order, "s1", E.DELIVERED)  # shipped never came (yet)
    assert first.moves == [(Movement.SHIP, ("A", "dc", 2)), (Movement.SHIP, ("B", "dc", 1))]
    late = step(order, "s1", E.SHIPPED, carrier="DHL", tracking_number="T9")
    assert late.moves == [] and late.entered is None
    assert order.shipment("s1").status == ShipmentStatus.DELIVERED
    assert order.shipment("s1").tracking_number == "T9"  # the late event still brings news
    assert order.history[-1].detail == {"carrier": "DHL", "tracking_number": "T9", "late": True}


def test_an_older_event_arriving_late_changes_no_state():
    order = an_order(shipment("s1", "dc", {"A": 1}))
    step(order, "s1", E.SHIPPED, carrier="DHL", tracking_number="T1")
    before = order_to_doc(order)
    progress = step(order, "s1", E.PICKED)
    assert progress.moves == [] and progress.entered is None
    after = order_to_doc(order)
    assert after["history"][-1]["detail"] == {"late": True}  # the timeline still shows it
    assert {**after, "history": None} == {**before, "history": None}


def test_a_state_off_the_shipments_path_is_an_invalid_transition():
    order = an_order(shipment("s1", "dc", {"A": 1}))
    with pytest.raises(InvalidTransition):
        step(order, "s1", E.READY_FOR_PICKUP)
    pickup = an_order(shipment("p1", "st", {"A": 1}, mode=DeliveryMode.PICKUP))
    with pytest.raises(InvalidTransition):
        step(pickup, "p1", E.DELIVERED)


def test_a_pickup_leaves_the_stock_when_collected_not_when_ready():
    order = an_order(
        shipment("p1", "dc", {"A": 1}, mode=DeliveryMode.PICKUP, pickup_location_id="st")
    )
    ready = step(order, "p1", E.READY_FOR_PICKUP)  # a transfer: the unit is now at the store
    assert ready.moves == [
        (Movement.TRANSFER_OUT, ("A", "dc", 1)),
        (Movement.TRANSFER_IN, ("A", "st", 1)),
    ]
    assert order.status == OrderStatus.READY_FOR_PICKUP
    collected = step(order, "p1", E.COLLECTED)
    assert collected.moves == [(Movement.SHIP, ("A", "st", 1))]
    assert order.status == OrderStatus.DELIVERED


def test_progress_on_a_cancelled_shipment_is_ignored_without_error():
    order = an_order(shipment("s1", "dc", {"A": 1}))
    done = cancel(order, None, at=AT, source="service:k")
    assert done.moves == [(Movement.RELEASE, ("A", "dc", 1))]
    progress = step(order, "s1", E.PICKED)
    assert progress.ignored and progress.moves == []


def test_an_event_must_come_from_the_shipments_location_or_its_pickup_store():
    order = an_order(
        shipment("p1", "dc", {"A": 1}, mode=DeliveryMode.PICKUP, pickup_location_id="st")
    )
    assert shipment_for_event(order, "p1", "st").shipment_id == "p1"
    with pytest.raises(InvalidInput):
        shipment_for_event(order, "p1", "elsewhere")
    with pytest.raises(NotFound):
        shipment_for_event(order, "nope", "dc")


def test_a_short_pick_writes_off_the_missing_units_while_they_are_reserved():
    order = an_order(shipment("s1", "dc", {"A": 3}))
    progress = take_short(order, order.shipment("s1"), sku="A", picked=1, at=AT, source="l")
    assert progress.short == 2
    assert progress.moves == [(Movement.SHORT, ("A", "dc", 2))]
    assert order.shipment("s1").lines == {"A": 1}


def test_a_short_pick_is_absolute_so_resending_it_takes_nothing_more():
    order = an_order(shipment("s1", "dc", {"A": 3}))
    take_short(order, order.shipment("s1"), sku="A", picked=1, at=AT, source="l")
    for picked in (1, 2, 3):  # the same short pick again, or one claiming more: never upwards
        again = take_short(order, order.shipment("s1"), sku="A", picked=picked, at=AT, source="l")
        assert again.short == 0 and again.moves == [] and again.ignored
    assert order.shipment("s1").lines == {"A": 1}
    assert [h.detail for h in order.history if h.event == "short_pick"] == [
        {"sku": "A", "picked_quantity": 1, "missing_quantity": 2}
    ]


def test_a_short_pick_after_the_shipment_left_moves_no_stock_but_takes_the_units_off():
    order = an_order(shipment("s1", "dc", {"A": 3}))
    step(order, "s1", E.SHIPPED, carrier="DHL", tracking_number="T")
    progress = take_short(order, order.shipment("s1"), sku="A", picked=0, at=AT, source="l")
    assert progress.moves == []  # shipping already took all 3 off on_hand
    assert progress.short == 3  # never more than the shipment holds
    assert order.shipment("s1").lines == {}
    again = take_short(order, order.shipment("s1"), sku="A", picked=0, at=AT, source="l")
    assert again.short == 0 and again.ignored


def test_a_short_pick_of_a_sku_the_shipment_never_held_is_invalid():
    order = an_order(shipment("s1", "dc", {"A": 3}))
    with pytest.raises(InvalidInput):
        take_short(order, order.shipment("s1"), sku="Z", picked=0, at=AT, source="l")


def test_an_emptied_shipment_does_not_hold_the_order_back():
    order = an_order(shipment("s1", "dc", {"A": 1}), shipment("s2", "st", {"B": 1}))
    take_short(order, order.shipment("s1"), sku="A", picked=0, at=AT, source="l")
    step(order, "s2", E.SHIPPED)
    assert order.status == OrderStatus.SHIPPED


def test_cancelling_one_pickup_shipment_releases_only_it():
    order = an_order(shipment("s1", "dc", {"A": 1}), shipment("s2", "st", {"B": 2}))
    assert order.cancel_shipment("s2", at=AT, source="schedule", reason="late") == [("B", "st", 2)]
    assert order.cancel_shipment("s2", at=AT, source="schedule", reason="late") == []
    assert order.cancelled == {"B": 2}
    assert order.status == OrderStatus.PLACED


def test_resourced_shipment_ids_depend_on_the_event_only():
    assert resourced_shipment_id("o_1-s1", "ev-1") == resourced_shipment_id("o_1-s1", "ev-1")
    assert resourced_shipment_id("o_1-s1", "ev-1") != resourced_shipment_id("o_1-s1", "ev-2")


def test_documents_round_trip_with_the_new_fields():
    order = an_order(shipment("s1", "dc", {"A": 1}, pickup_until=AT, resourced_from="s0"))
    order.notified.append("confirmation")
    again = order_from_doc(order_to_doc(order))
    assert again.shipment("s1").pickup_until == AT
    assert again.shipment("s1").resourced_from == "s0"
    assert again.notified == ["confirmation"]
