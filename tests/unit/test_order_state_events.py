"""Shipment events through ``OrderEventService`` with in-memory stores: exactly once by event
id, any arrival order, stock conserved, short picks re-sourced."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from hypothesis import given, settings, strategies as st

from chalicelib.domain.channel import BackorderPolicy
from chalicelib.domain.network import Address, StockLevel
from chalicelib.domain.order.model import (
    DeliveryMode,
    Order,
    OrderLine,
    OrderShipment,
    OrderStatus,
    order_to_doc,
)
from chalicelib.domain.order.progress import ShipmentEventType
from chalicelib.domain.webhooks import order_events
from chalicelib.services.order_events import OrderEventService, Outcome, ShipmentEvent
from chalicelib.services.short_picks import Resourcer
from tests.unit.order_fakes import FakeNetwork, FakeOrders, FakeSnapshots, Recorder

NOW = datetime(2026, 5, 4, 8, 0, tzinfo=UTC)
E = ShipmentEventType
# Two shipments: 3 x A from dc-a and 2 x B from dc-b. dc-c holds plenty of both.
ORDER = "o_00000000000000a1"
S1, S2 = f"{ORDER}-s1", f"{ORDER}-s2"
SHIPMENTS = {S1: ("dc-a", {"A": 3}), S2: ("dc-b", {"B": 2})}
PATH = [E.PICKED, E.SHIPPED, E.DELIVERED]


class World:
    def __init__(self, *, policy: BackorderPolicy = BackorderPolicy.REJECT, spare: int = 50):
        self.stock = {
            ("A", "dc-a"): StockLevel("A", "dc-a", on_hand=5, reserved=3),
            ("B", "dc-b"): StockLevel("B", "dc-b", on_hand=4, reserved=2),
            ("A", "dc-c"): StockLevel("A", "dc-c", on_hand=spare),
            ("B", "dc-c"): StockLevel("B", "dc-c", on_hand=spare),
        }
        self.orders = FakeOrders(self.stock)
        self.orders.add(_order())
        self.recorder = Recorder()
        network = FakeNetwork(policy=policy)
        self.service = OrderEventService(
            orders=self.orders,
            log=self.orders,
            network=network,
            resourcer=Resourcer(
                network=network,
                snapshots=FakeSnapshots(self.stock, ["A", "B"]),
                clock=lambda: NOW,
            ),
            notifier=self.recorder,  # type: ignore[arg-type]
            dispatcher=self.recorder,
            events=self.recorder,
            clock=lambda: NOW,
        )

    def apply(self, *events: ShipmentEvent) -> list[Outcome]:
        return [self.service.apply(e) for e in events]

    def order(self) -> Order:
        order = self.orders.get(ORDER)
        assert order is not None
        return order

    def state(self) -> dict[str, Any]:
        """Everything but the history's order of entries and the version."""
        doc = order_to_doc(self.order())
        history = Counter((h["event"], h["shipment_id"]) for h in doc.pop("history"))
        doc.pop("version")
        stock = {k: (v.on_hand, v.reserved, v.available) for k, v in sorted(self.stock.items())}
        return {"order": doc, "history": history, "stock": stock}


def _order() -> Order:
    shipments = [
        OrderShipment(
            shipment_id=sid,
            location_id=loc,
            lines=dict(lines),
            mode=DeliveryMode.SHIP,
            carrier_service="std",
            ship_date="2026-05-04",
            promised_date="2026-05-05",
            status="released",  # type: ignore[arg-type]
            dispatched=True,
        )
        for sid, (loc, lines) in SHIPMENTS.items()
    ]
    return Order(
        order_id=ORDER,
        channel="webshop",
        channel_order_id="W-1",
        currency="EUR",
        customer={"email": "ada@example.com", "name": "Ada"},
        ship_to=Address(country="DE", postal_code="10115", lat=52.5, lon=13.4),
        lines=[OrderLine("A", 3, 1000), OrderLine("B", 2, 1000)],
        shipments=shipments,
        created_at="2026-05-04T07:00:00.000Z",
        delivery={"kind": "fastest", "promised_date": "2026-05-05"},
        token_hash="h",
        request_hash="r",
    )


def ev(n: int, sid: str, kind: ShipmentEventType, **kw: Any) -> ShipmentEvent:
    return ShipmentEvent(
        event_id=f"ev-{sid}-{kind.value}-{n}",
        type=kind,
        location_id=SHIPMENTS[sid][0],
        occurred_at=f"2026-05-04T{10 + n:02d}:00:00.000Z",
        order_id=ORDER,
        shipment_id=sid,
        **kw,
    )


@st.composite
def histories(draw: Any) -> list[ShipmentEvent]:
    """What the locations report, in the order it happened: per shipment a prefix of its
    path, and maybe a short pick before it is picked (at most one per shipment: two short
    picks of one SKU compete for the same spare stock, so their order would matter)."""
    events = []
    for sid, (_loc, lines) in SHIPMENTS.items():
        ((sku, quantity),) = lines.items()
        if draw(st.booleans()):
            picked = draw(st.integers(0, quantity - 1))
            events.append(ev(0, sid, E.SHORT_PICK, picked=((sku, picked),)))
        for n, kind in enumerate(PATH[: draw(st.integers(0, len(PATH)))], start=1):
            extra = {"carrier": "DHL", "tracking_number": f"T-{sid}"} if kind == E.SHIPPED else {}
            events.append(ev(n, sid, kind, **extra))
    return events


@settings(max_examples=60, deadline=None)
@given(histories(), st.randoms(use_true_random=False), st.sampled_from(list(BackorderPolicy)))
def test_events_twice_and_shuffled_end_like_once_in_order(
    events: list[ShipmentEvent], rnd: random.Random, policy: BackorderPolicy
) -> None:
    in_order = World(policy=policy)
    assert set(in_order.apply(*events)) <= {Outcome.APPLIED}
    doubled = events * 2
    rnd.shuffle(doubled)
    shuffled = World(policy=policy)
    outcomes = Counter(shuffled.apply(*doubled))
    assert outcomes[Outcome.DUPLICATE] == len(events)
    assert shuffled.state() == in_order.state()


@settings(max_examples=40, deadline=None)
@given(histories(), st.randoms(use_true_random=False))
def test_stock_is_conserved_whatever_arrives(events: list[ShipmentEvent], rnd: random.Random):
    """Per SKU, on_hand changes only by shipped units and written-off (short) units, and the
    invariant available = on_hand - reserved - safety_stock holds everywhere."""
    world = World(spare=1)  # re-sourcing may run dry: cancelled units
    before = {sku: _total(world, sku) for sku in ("A", "B")}
    shuffled = list(events)
    rnd.shuffle(shuffled)
    world.apply(*shuffled)
    order = world.order()
    for sku in ("A", "B"):
        left = sum(
            s.lines.get(sku, 0)
            for s in order.shipments
            if s.left_location  # shipped or delivered: its units are off on_hand
        )
        short = sum(
            h.detail["missing_quantity"]
            for h in order.history
            if h.event == "short_pick" and h.detail["sku"] == sku
        )
        assert _total(world, sku) == before[sku] - left - short
        reserved = sum(v.reserved for (s, _), v in world.stock.items() if s == sku)
        assert reserved == sum(q for s, _loc, q in order.open_reservations() if s == sku)
    for level in world.stock.values():
        assert level.reserved >= 0


def _total(world: World, sku: str) -> int:
    return sum(v.on_hand for (s, _), v in world.stock.items() if s == sku)


def test_a_short_pick_is_re_sourced_to_the_spare_location_and_dispatched():
    world = World()
    world.apply(ev(0, S1, E.SHORT_PICK, picked=(("A", 1),)))
    order = world.order()
    new = order.shipments[-1]
    assert new.location_id == "dc-c" and new.lines == {"A": 2}
    assert new.resourced_from == S1 and not new.dispatched
    assert world.stock[("A", "dc-c")].reserved == 2
    assert world.stock[("A", "dc-a")].on_hand == 3 and world.stock[("A", "dc-a")].reserved == 1
    assert ("dispatch", ORDER) in world.recorder.calls
    assert ORDER in world.orders.written.outbox  # the outbox mark, written with the order


def test_a_short_pick_resent_under_a_new_event_id_writes_nothing_off_again():
    world = World()
    world.apply(ev(0, S1, E.SHORT_PICK, picked=(("A", 1),)))
    stock, shipments = dict(world.stock), world.order().shipments
    resent = ev(1, S1, E.SHORT_PICK, picked=(("A", 1),))  # a new event id, same statement
    assert world.apply(resent) == [Outcome.IGNORED]
    assert world.stock == stock and world.order().shipments == shipments
    assert world.stock[("A", "dc-a")].on_hand == 3  # 2 written off once, not 4


def test_a_short_pick_without_spare_stock_follows_the_channels_policy():
    cancelled = World(spare=0)
    cancelled.apply(ev(0, S2, E.SHORT_PICK, picked=(("B", 1),)))
    assert cancelled.order().cancelled == {"B": 1}
    assert ("delayed", ORDER) in cancelled.recorder.calls

    waiting = World(spare=0, policy=BackorderPolicy.BACKORDER)
    waiting.apply(ev(0, S2, E.SHORT_PICK, picked=(("B", 0),)))
    order = waiting.order()
    assert order.backorders == {"B": 2}
    assert order.shipment(S2).lines == {}
    assert order.status == OrderStatus.BACKORDERED


def test_a_step_resent_under_a_new_event_id_adds_nothing_to_the_timeline():
    """Reproduction: a second ``delivered`` (or ``shipped``) with a new event id added a second
    timeline entry, and a second ``shipment.shipped`` webhook; a late ``picked`` still shows."""
    world = World()
    steps = [
        ev(1, S1, E.PICKED),
        ev(2, S1, E.SHIPPED, carrier="DHL", tracking_number="T-1"),
        ev(3, S1, E.DELIVERED),
    ]
    assert world.apply(*steps) == [Outcome.APPLIED] * 3
    again = [replace(step, event_id=step.event_id + "-resent") for step in steps]
    assert world.apply(*again) == [Outcome.APPLIED] * 3  # each applied once, nothing to tell
    entries = [(h.event, h.shipment_id) for h in world.order().history]
    assert entries.count(("delivered", S1)) == entries.count(("shipped", S1)) == 1
    assert world.recorder.calls.count(("shipped", S1)) == 1


def test_a_shipped_event_writes_the_tracking_lookup_and_mails_once():
    world = World()
    shipped = ev(1, S1, E.SHIPPED, carrier="DHL", tracking_number="T-1")
    assert world.apply(shipped, shipped) == [Outcome.APPLIED, Outcome.DUPLICATE]
    assert world.orders.written.tracking["T-1"] == {ORDER}
    assert world.recorder.calls.count(("shipped", S1)) == 1
    assert shipped.event_id in world.orders.written.events


def test_a_later_shipped_with_another_tracking_number_corrects_it():
    """Reproduction: a second ``shipped`` with a corrected number was dropped, so customers and
    channels kept tracking a label that was never used."""
    world = World()
    first = ev(2, S1, E.SHIPPED, carrier="DHL", tracking_number="T-1")
    fixed = ev(3, S1, E.SHIPPED, carrier="UPS", tracking_number="T-2")
    assert world.apply(ev(1, S1, E.PICKED), first, fixed) == [Outcome.APPLIED] * 3
    shipment = world.order().shipment(S1)
    assert (shipment.carrier, shipment.tracking_number) == ("UPS", "T-2")
    (entry,) = [h for h in world.order().history if h.event == "tracking_corrected"]
    assert entry.detail == {"tracking_number": "T-2", "previous": "T-1", "carrier": "UPS"}
    assert world.orders.written.tracking["T-2"] == {ORDER}
    assert world.recorder.calls.count(("shipped", S1)) == 1  # the customer is mailed once
    events = [e for e in order_events(world.order()) if e.type.value.startswith("shipment.")]
    assert [(e.type.value, e.data["tracking_number"]) for e in events] == [
        ("shipment.shipped", "T-2"),
        ("shipment.tracking_corrected", "T-2"),
    ]


def test_an_older_tracking_number_arriving_late_changes_nothing():
    world = World()
    first = ev(2, S1, E.SHIPPED, tracking_number="T-1")
    fixed = ev(3, S1, E.SHIPPED, tracking_number="T-2")
    world.apply(fixed, first)
    assert world.order().shipment(S1).tracking_number == "T-2"
    assert not [h for h in world.order().history if h.event == "tracking_corrected"]
