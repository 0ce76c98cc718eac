"""Backorder allocation through ``BackorderService`` on in-memory stores: network-wide
sourcing, the channel's exclusions, and allocations racing for the same units."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from chalicelib.domain import inventory
from chalicelib.domain.channel import BackorderPolicy
from chalicelib.domain.inventory import Movement
from chalicelib.domain.network import Address, StockLevel
from chalicelib.domain.order.model import Order
from chalicelib.services.backorders import BackorderService
from chalicelib.services.ordering import Cart, OrderService, PlaceOrder, request_hash
from tests.unit.order_fakes import FakeEvents, FakeNetwork, FakeOrders, FakeSnapshots

NOW = datetime(2026, 5, 4, 8, 0, tzinfo=UTC)
BERLIN = Address(country="DE", postal_code="10115", city="Berlin", lat=52.5, lon=13.4)


class Network:
    """Orders placed with no stock at all (all backordered), then stock put on the shelf."""

    def __init__(self, *, excluded: dict[str, frozenset[str]] | None = None) -> None:
        self.stock: dict[tuple[str, str], StockLevel] = {}
        self.orders = FakeOrders(self.stock, clock=NOW.timestamp)
        self.snapshots = FakeSnapshots(self.stock, ["A"], self.orders)
        self.network = FakeNetwork(policy=BackorderPolicy.BACKORDER, excluded=excluded)
        self.events = FakeEvents()
        self.placed = 0

    def capture(self, channel: str, coid: str, units: int) -> str:
        service = OrderService(
            network=self.network,
            snapshots=self.snapshots,
            orders=self.orders,
            events=self.events,
            token_secret=b"secret",
            clock=lambda: NOW + timedelta(minutes=self.placed),  # first come, first served
        )
        self.placed += 1
        lines = [("A", units, 1000)]
        placed = service.place(
            PlaceOrder(
                cart=Cart(channel, "EUR", BERLIN, lines),
                channel_order_id=coid,
                customer={"email": "ada@example.com"},
                delivery={"kind": "fastest"},
                request_hash=request_hash({"coid": coid}),
            )
        )
        return placed.order.order_id

    def shelve(self, location_id: str, units: int) -> None:
        self.stock[("A", location_id)] = StockLevel("A", location_id, on_hand=units)

    def allocator(self) -> BackorderService:
        return BackorderService(
            network=self.network,
            snapshots=self.snapshots,
            orders=self.orders,
            queue=self.orders,
            events=self.events,
            clock=lambda: NOW,
        )

    def order(self, order_id: str) -> Order:
        found = self.orders.get(order_id)
        assert found is not None
        return found

    def reserved(self) -> dict[str, int]:
        return {loc: lvl.reserved for (_, loc), lvl in self.stock.items() if lvl.reserved}


def test_every_eligible_location_serves_and_the_excluded_one_never_does():
    net = Network(excluded={"outlet": frozenset({"dc-b"})})
    head = net.capture("outlet", "O-1", 4)
    net.shelve("dc-b", 3)  # only for others
    net.shelve("dc-a", 1)

    assert net.allocator().allocate("A", "dc-b") == 1
    assert net.order(head).backorders == {"A": 3}
    assert [s.location_id for s in net.order(head).shipments] == ["dc-a"]
    assert net.reserved() == {"dc-a": 1}


def test_a_lost_race_reads_the_stock_again_and_never_over_reserves():
    net = Network()
    first = net.capture("webshop", "W-1", 3)
    net.shelve("dc-c", 3)

    def rival() -> None:  # another allocation took two of the units first
        net.stock[("A", "dc-c")] = inventory.apply(net.stock[("A", "dc-c")], Movement.RESERVE, 2)

    net.orders.before_update.append(rival)
    assert net.allocator().allocate("A", "dc-c") == 1
    assert net.order(first).backorders == {"A": 2}
    assert net.reserved() == {"dc-c": 3}
    assert all(level.available >= 0 for level in net.stock.values())


def test_two_allocations_racing_for_the_same_units_serve_each_unit_once():
    net = Network()
    first = net.capture("webshop", "W-1", 2)
    second = net.capture("webshop", "W-2", 2)
    net.shelve("dc-c", 2)
    rival_served: list[int] = []
    # While the first allocation is about to write, the same announcement is handled again.
    net.orders.before_update.append(lambda: rival_served.append(net.allocator().allocate("A", "")))

    served = net.allocator().allocate("A", "dc-c")
    assert served + sum(rival_served) == 2
    assert net.order(first).backorders == {} and net.order(second).backorders == {"A": 2}
    assert net.reserved() == {"dc-c": 2}
    assert [len(net.order(first).shipments), len(net.order(second).shipments)] == [1, 0]
    assert all(net.order(o).unaccounted() == {} for o in (first, second))


def test_an_order_served_meanwhile_is_not_served_twice():
    net = Network()
    first = net.capture("webshop", "W-1", 2)
    net.shelve("dc-c", 5)
    net.orders.before_update.append(lambda: net.allocator().allocate("A", "dc-c"))

    net.allocator().allocate("A", "dc-c")
    assert net.order(first).backorders == {}
    assert net.reserved() == {"dc-c": 2}
    assert len(net.order(first).shipments) == 1
