"""Holds, payment status, auto-cancel and address changes through ``OrderChanges`` on the
in-memory stores: what each changes on the order, the stock and the writes that go with it."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain.access import Principal, Role
from chalicelib.domain.channel import Channel
from chalicelib.domain.errors import Conflict, InvalidInput, OutOfStock
from chalicelib.domain.network import Address, CarrierService, StockLevel
from chalicelib.domain.order.changes import HoldKind, PaymentStatus
from chalicelib.domain.order.model import ShipmentStatus
from chalicelib.services.order_changes import OrderChanges
from chalicelib.services.order_desk import OrderDesk
from chalicelib.services.ordering import Cart, OrderService, PlaceOrder
from tests.unit.order_fakes import FakeNetwork, FakeOrders, FakeSnapshots
from tests.unit.test_ordering import FakeEvents

NOW = datetime(2026, 5, 4, 8, 0, tzinfo=UTC)  # a Monday morning
BERLIN = Address(country="DE", postal_code="10115", city="Berlin", lat=52.52, lon=13.40)
FRANKFURT = Address(country="DE", postal_code="60311", city="Frankfurt", lat=50.11, lon=8.68)
VIENNA = Address(country="AT", postal_code="1010", city="Wien", lat=48.21, lon=16.37)
AMSTERDAM = Address(country="NL", postal_code="1012 JS", city="Amsterdam", lat=52.37, lon=4.9)
SERVICE = Principal(Role.SERVICE, key_id="cs1")
SHOP = Principal(Role.CHANNEL, key_id="k1", channel="webshop")


class Network(FakeNetwork):
    """Sells to DE, AT and NL; dc-vie is in Vienna; carriers reach DE and AT, not NL."""

    def __init__(self) -> None:
        super().__init__()
        vienna = replace(self._locations[0], location_id="dc-vie", country="AT", lat=48.2, lon=16.4)
        self._locations = [*self._locations[:2], vienna]

    def channel(self, name: str) -> Channel:
        return replace(super().channel(name), countries=frozenset({"DE", "AT", "NL"}))

    def refresh(self) -> None:
        """Nothing cached."""

    def carrier_services(self) -> list[CarrierService]:
        (service,) = super().carrier_services()
        (lane,) = service.lanes
        return [replace(service, lanes=(lane, replace(lane, from_country="AT", to_country="AT")))]


class Deadlines:
    """``HoldDeadlines`` on what the fake store's writes left behind."""

    def __init__(self, orders: FakeOrders) -> None:
        self._orders = orders

    def holds_due(self, before: str, *, limit: int = 100) -> list[tuple[str, str]]:
        due = sorted((until, oid) for oid, until in self._orders.written.holds.items())
        return [(oid, until) for until, oid in due if until < before][:limit]

    def drop(self, order_id: str, until: str) -> None:
        if self._orders.written.holds.get(order_id) == until:
            del self._orders.written.holds[order_id]


class World:
    def __init__(self, stock: dict[tuple[str, str], int]) -> None:
        self.now = NOW
        self.stock = {k: StockLevel(k[0], k[1], on_hand=q) for k, q in stock.items()}
        self.orders = FakeOrders(self.stock, clock=lambda: self.now.timestamp())
        self.snapshots = FakeSnapshots(self.stock, ["A", "B"], self.orders)
        self.events = FakeEvents()
        network = Network()
        self.ordering = OrderService(
            network=network,
            snapshots=self.snapshots,
            orders=self.orders,
            events=self.events,
            token_secret=b"s",
            clock=lambda: self.now,
        )
        self.desk = OrderDesk(
            orders=self.orders,
            search=None,  # type: ignore[arg-type]
            events=self.events,
            clock=lambda: self.now,
        )
        self.changes = OrderChanges(
            orders=self.orders,
            desk=self.desk,
            network=network,
            snapshots=self.snapshots,
            events=self.events,
            deadlines=Deadlines(self.orders),
            clock=lambda: self.now,
        )

    def place(self, *lines: tuple[str, int], coid: str = "W-1", **kw: object) -> str:
        cmd = PlaceOrder(
            cart=Cart("webshop", "EUR", BERLIN, [(s, q, 1000) for s, q in lines]),
            channel_order_id=coid,
            customer={"email": "ada@example.com", "name": "Ada"},
            delivery={"kind": "fastest"},
            request_hash=coid,
            **kw,  # type: ignore[arg-type]
        )
        return self.ordering.place(cmd).order.order_id

    def reserved(self) -> dict[tuple[str, str], int]:
        return {k: v.reserved for k, v in self.stock.items() if v.reserved}


@pytest.fixture
def world() -> World:
    return World({("A", "dc-a"): 5, ("A", "dc-vie"): 5, ("B", "dc-a"): 2, ("B", "dc-vie"): 2})


def test_a_hold_is_recorded_with_who_and_placing_it_again_changes_nothing(world):
    order_id = world.place(("A", 2))
    held = world.changes.hold(order_id, SERVICE, HoldKind.FRAUD, "velocity check")
    assert held.holds["fraud"]["by"] == "service:cs1"
    assert held.history[-1].event == "hold_placed" and held.history[-1].source == "service:cs1"
    version = world.orders.orders[order_id].version
    again = world.changes.hold(order_id, SERVICE, HoldKind.FRAUD, "other reason")
    assert again.holds["fraud"]["reason"] == "velocity check"
    assert world.orders.orders[order_id].version == version


def test_releasing_the_last_hold_marks_the_outbox_and_announces_the_order(world):
    order_id = world.place(("A", 1))
    world.orders.written.outbox.discard(order_id)  # the dispatcher ran and sent nothing
    world.changes.hold(order_id, SHOP, HoldKind.PAYMENT, "not captured")
    world.changes.hold(order_id, SHOP, HoldKind.MANUAL, "call customer")
    world.changes.release(order_id, SHOP, HoldKind.PAYMENT)
    assert ("order_updated", order_id) not in world.events.calls
    assert order_id not in world.orders.written.outbox
    order = world.changes.release(order_id, SHOP, HoldKind.MANUAL)
    assert order.holds == {}
    assert ("order_updated", order_id) in world.events.calls
    assert order_id in world.orders.written.outbox
    assert world.reserved() == {("A", "dc-a"): 1}  # the reservation never moved
    version = world.orders.orders[order_id].version
    world.changes.release(order_id, SHOP, HoldKind.MANUAL)  # none left: nothing changes
    assert world.orders.orders[order_id].version == version


def test_a_hold_on_an_order_released_everywhere_is_409_naming_the_shipment(world):
    order_id = world.place(("A", 1))
    stored = world.orders.orders[order_id]
    stored.shipments[0].dispatched = True
    stored.shipments[0].status = ShipmentStatus.RELEASED
    with pytest.raises(Conflict) as err:
        world.changes.hold(order_id, SERVICE, HoldKind.MANUAL, "x")
    assert f"{order_id}-s1 to dc-a" in err.value.message


def test_capture_holds_and_auto_cancel_an_order_still_held_at_its_deadline(world):
    order_id = world.place(
        ("A", 2),
        holds={"payment": "not captured yet"},
        payment_status="pending",
        auto_cancel_after_hours=2,
        by="channel:webshop:k1",
    )
    order = world.orders.orders[order_id]
    assert order.payment_status == "pending" and "payment" in order.holds
    assert order.auto_cancel_at == "2026-05-04T10:00:00.000Z"
    assert world.orders.written.holds == {order_id: order.auto_cancel_at}

    world.now = NOW + timedelta(hours=1)
    assert world.changes.expire_holds() == 0
    world.now = NOW + timedelta(hours=2, minutes=1)
    assert world.changes.expire_holds() == 1
    cancelled = world.orders.orders[order_id]
    assert cancelled.status.value == "cancelled"
    assert cancelled.history[-1].source == "admin:schedule:hold-expiry"
    assert world.reserved() == {}
    assert world.orders.written.holds == {}
    assert world.changes.expire_holds() == 0  # the deadline is gone: nothing repeats


def test_releasing_every_hold_drops_the_auto_cancel_deadline(world):
    order_id = world.place(("A", 1), holds={"payment": "pending"}, auto_cancel_after_hours=1)
    world.changes.release(order_id, SHOP, HoldKind.PAYMENT)
    assert world.orders.written.holds == {}
    assert world.orders.orders[order_id].auto_cancel_at is None
    world.now = NOW + timedelta(hours=3)
    assert world.changes.expire_holds() == 0
    assert world.orders.orders[order_id].status.value == "placed"


def test_payment_status_is_recorded_once_and_failed_cancels_nothing(world):
    order_id = world.place(("A", 1))
    changed = world.changes.change(order_id, SHOP, payment=PaymentStatus.FAILED)
    assert changed.order.payment_status == "failed"
    assert changed.order.history[-1].event == "payment_updated"
    assert changed.order.history[-1].source == "channel:webshop:k1"
    again = world.changes.change(order_id, SHOP, payment=PaymentStatus.FAILED)
    assert len(again.order.history) == len(changed.order.history)
    assert again.order.status.value == "placed"


def test_a_new_address_resources_in_one_update_and_frees_the_old_units(world):
    order_id = world.place(("A", 3), ("B", 1))
    assert world.reserved() == {("A", "dc-a"): 3, ("B", "dc-a"): 1}
    changed = world.changes.change(order_id, SERVICE, ship_to=VIENNA)
    order = changed.order
    assert order.ship_to == VIENNA
    assert world.reserved() == {("A", "dc-vie"): 3, ("B", "dc-vie"): 1}
    assert world.stock[("A", "dc-a")].available == 5
    assert order.unaccounted() == {}
    live = [s for s in order.shipments if s.status != ShipmentStatus.CANCELLED]
    assert {s.location_id for s in live} == {"dc-vie"}
    assert live[0].shipment_id == f"{order_id}-s1"  # it takes the place of the old one
    assert order.delivery["promised_date"] == live[0].promised_date
    assert order.history[-1].event == "address_changed"
    assert order.history[-1].source == "service:cs1"
    assert ("stock_arrived", "A", "dc-a") in world.events.calls
    assert ("order_updated", order_id) in world.events.calls
    assert order_id in world.orders.written.outbox
    assert world.orders.orders[order_id].version == 1  # one update


def test_a_new_address_takes_the_orders_own_units_when_the_shelf_is_empty(world):
    world.stock[("A", "dc-a")] = StockLevel("A", "dc-a", on_hand=2)
    order_id = world.place(("A", 2))
    world.changes.change(order_id, SERVICE, ship_to=FRANKFURT)  # all the stock is its own
    assert world.reserved() == {("A", "dc-a"): 2}
    assert world.orders.orders[order_id].ship_to == FRANKFURT


def test_the_same_address_again_changes_nothing(world):
    order_id = world.place(("A", 1))
    world.changes.change(order_id, SERVICE, ship_to=BERLIN)
    assert world.orders.orders[order_id].version == 0


def test_an_address_after_release_is_409_and_changes_nothing(world):
    order_id = world.place(("A", 1))
    world.orders.orders[order_id].shipments[0].dispatched = True
    before = dict(world.reserved())
    with pytest.raises(Conflict) as err:
        world.changes.change(order_id, SERVICE, ship_to=FRANKFURT)
    assert "dc-a" in err.value.message and err.value.fields[0].path == "ship_to"
    assert world.reserved() == before
    assert world.orders.orders[order_id].ship_to == BERLIN


def test_an_address_no_carrier_reaches_is_409_naming_ship_to_and_changes_nothing(world):
    order_id = world.place(("A", 2))
    with pytest.raises(OutOfStock) as err:
        world.changes.change(order_id, SERVICE, ship_to=AMSTERDAM)
    assert err.value.fields[0].path == "ship_to"
    assert world.reserved() == {("A", "dc-a"): 2}
    assert world.orders.orders[order_id].version == 0


def test_an_address_in_a_country_the_channel_does_not_sell_to_names_the_country(world):
    order_id = world.place(("A", 1))
    paris = Address(country="FR", postal_code="75001", lat=48.86, lon=2.35)  # not sold there
    with pytest.raises(InvalidInput) as err:
        world.changes.change(order_id, SERVICE, ship_to=paris)
    assert err.value.fields[0].path == "ship_to.country"
