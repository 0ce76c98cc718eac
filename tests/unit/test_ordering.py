"""Capture through ``OrderService`` on in-memory stores (no moto): the order and its
reservations written together, replays, lost races and promises that changed."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings, strategies as st

from chalicelib.domain import inventory
from chalicelib.domain.channel import BackorderPolicy
from chalicelib.domain.errors import Conflict, OutOfStock
from chalicelib.domain.inventory import Movement
from chalicelib.domain.network import Address, StockLevel
from chalicelib.domain.order.model import OrderStatus, order_id_for
from chalicelib.domain.order.snapshot import Snapshot
from chalicelib.services.delivery_options import reservations_for
from chalicelib.services.ordering import Cart, OrderService, Placed, PlaceOrder, request_hash
from tests.unit.order_fakes import FakeEvents, FakeNetwork, FakeOrders, FakeSnapshots

NOW = datetime(2026, 5, 4, 8, 0, tzinfo=UTC)  # a Monday morning, before the cut-off
BERLIN = Address(country="DE", postal_code="10115", city="Berlin", lat=52.5, lon=13.4)
ORDER_ID = order_id_for("webshop", "W-1")


class Shop:
    def __init__(
        self,
        stock: dict[tuple[str, str], int],
        *,
        strict: bool = False,
        policy: BackorderPolicy = BackorderPolicy.REJECT,
        weights: dict[str, int] | None = None,
    ) -> None:
        self.stock = {
            (sku, loc): StockLevel(sku, loc, on_hand=units) for (sku, loc), units in stock.items()
        }
        self.orders = FakeOrders(self.stock, clock=NOW.timestamp)
        self.snapshots = FakeSnapshots(self.stock, ["A", "B"], self.orders, weights=weights)
        self.events = FakeEvents()
        self.service = OrderService(
            network=FakeNetwork(strict=strict, policy=policy),
            snapshots=self.snapshots,
            orders=self.orders,
            events=self.events,
            token_secret=b"secret",
            clock=lambda: NOW,
        )

    def reserved(self) -> dict[tuple[str, str], int]:
        return {key: level.reserved for key, level in self.stock.items() if level.reserved}

    def a_rival_takes(self, sku: str, location_id: str, units: int) -> None:
        """Before the next order is written, someone else reserves ``units`` (a lost race)."""

        def take() -> None:
            key = (sku, location_id)
            self.stock[key] = inventory.apply(self.stock[key], Movement.RESERVE, units)

        self.orders.before_create.append(take)


def cart(*lines: tuple[str, int]) -> Cart:
    return Cart("webshop", "EUR", BERLIN, [(sku, q, 1000) for sku, q in lines])


def place(
    shop: Shop,
    *lines: tuple[str, int],
    delivery: dict | None = None,
    body: dict | None = None,
) -> Placed:
    the_cart = cart(*lines or (("A", 2),))
    return shop.service.place(
        PlaceOrder(
            cart=the_cart,
            channel_order_id="W-1",
            customer={"email": "ada@example.com", "name": "Ada"},
            delivery=delivery or {"kind": "fastest"},
            request_hash=request_hash(body or {"lines": list(the_cart.lines)}),
        )
    )


# --- place ----------------------------------------------------------------------------------


def test_an_order_is_written_with_its_reservations_and_hands_out_its_tracking_token():
    shop = Shop({("A", "dc-c"): 5})
    placed = place(shop, ("A", 2))

    assert placed.created and not placed.promise_changed
    stored = shop.orders.get(ORDER_ID)
    assert stored is not None and stored.order_id == placed.order.order_id
    assert [(s.location_id, s.lines) for s in stored.shipments] == [("dc-c", {"A": 2})]
    assert shop.reserved() == {("A", "dc-c"): 2}
    assert ORDER_ID in shop.orders.written.outbox  # to dispatch, written with the order
    assert shop.events.calls == [("order_placed", ORDER_ID)]
    assert shop.service.token_matches(stored, placed.tracking_token)
    assert shop.service.tracking_token(ORDER_ID) == placed.tracking_token


# --- replay ---------------------------------------------------------------------------------


def test_the_same_request_again_returns_the_same_order_without_writing_it_twice():
    shop = Shop({("A", "dc-c"): 5})
    first = place(shop, ("A", 2))
    again = place(shop, ("A", 2))

    assert not again.created
    assert again.order.order_id == first.order.order_id
    assert again.tracking_token == first.tracking_token
    assert shop.orders.creates == 1
    assert shop.reserved() == {("A", "dc-c"): 2}
    assert shop.events.calls == [("order_placed", ORDER_ID)]


def test_another_body_under_the_same_channel_order_id_is_a_conflict():
    shop = Shop({("A", "dc-c"): 5})
    place(shop, ("A", 2))

    with pytest.raises(Conflict) as raised:
        place(shop, ("A", 3), body={"lines": "something else"})
    assert [f.path for f in raised.value.fields] == ["channel_order_id"]
    assert shop.reserved() == {("A", "dc-c"): 2}


def test_an_order_written_meanwhile_by_the_same_request_is_replayed():
    shop = Shop({("A", "dc-c"): 5})
    twin = Shop({("A", "dc-c"): 5})
    place(twin, ("A", 2))  # the same request, handled by another instance
    shop.orders.before_create.append(lambda: shop.orders.add(twin.orders.orders[ORDER_ID]))

    placed = place(shop, ("A", 2))
    assert not placed.created and placed.order.order_id == ORDER_ID
    assert shop.reserved() == {}  # nothing reserved twice
    assert shop.events.calls == []


# --- lost race --------------------------------------------------------------------------------


def test_a_lost_race_reads_the_stock_again_and_sources_elsewhere():
    shop = Shop({("A", "dc-b"): 2, ("A", "dc-c"): 5})  # dc-b is the cheaper to send from
    shop.a_rival_takes("A", "dc-b", 2)

    placed = place(shop, ("A", 2))
    assert placed.created
    assert [s.location_id for s in placed.order.shipments] == ["dc-c"]
    assert shop.orders.creates == 2
    assert shop.snapshots.reads == [False, True]  # the retry reads consistently
    assert shop.reserved() == {("A", "dc-b"): 2, ("A", "dc-c"): 2}


def test_a_lost_race_for_the_last_units_is_out_of_stock_naming_the_sku():
    shop = Shop({("A", "dc-c"): 2, ("B", "dc-c"): 5})
    shop.a_rival_takes("A", "dc-c", 2)

    with pytest.raises(OutOfStock) as raised:
        place(shop, ("A", 2), ("B", 1))
    assert raised.value.skus == ["A"]
    assert shop.orders.creates == 1  # lost; read again, nothing left to source
    assert shop.orders.get(ORDER_ID) is None
    assert shop.reserved() == {("A", "dc-c"): 2}  # the rival's only
    assert shop.events.calls == []


# --- promise changed -------------------------------------------------------------------------


def quoted_option(shop: Shop, *, promised_before: str | None = None) -> str:
    """The fastest option of a fresh quote; ``promised_before`` rewrites what it promised
    (as if the network changed since the customer saw it)."""
    quote = shop.service.quote(Cart("webshop", "EUR", BERLIN, [("A", 2, None)]))
    option = quote["options"][0]
    if promised_before:
        stored = shop.orders.quotes[quote["quote_id"]]
        for shown in stored.doc["options"]:
            shown["promised_date"] = promised_before
    return option["option_id"]


def test_an_option_placed_as_quoted_keeps_its_promise():
    shop = Shop({("A", "dc-c"): 5})
    placed = place(shop, ("A", 2), delivery={"option_id": quoted_option(shop)})
    assert placed.created and not placed.promise_changed


def test_an_option_whose_promised_date_no_longer_holds_is_placed_with_the_new_promise():
    shop = Shop({("A", "dc-c"): 5})
    option_id = quoted_option(shop, promised_before="2026-05-01")

    placed = place(shop, ("A", 2), delivery={"option_id": option_id})
    assert placed.created and placed.promise_changed
    assert placed.order.delivery["promised_date"] != "2026-05-01"


def test_a_strict_channel_refuses_an_option_whose_promise_changed():
    shop = Shop({("A", "dc-c"): 5}, strict=True)
    option_id = quoted_option(shop, promised_before="2026-05-01")

    with pytest.raises(Conflict) as raised:
        place(shop, ("A", 2), delivery={"option_id": option_id})
    assert [f.path for f in raised.value.fields] == ["delivery"]
    assert shop.orders.get(ORDER_ID) is None and shop.reserved() == {}


# --- every ordered unit is placed (issue #12) ------------------------------------------------

HEAVY = {"A": 12_000}  # three 30 kg parcels (the limit) carry 7 units


def test_a_reject_channel_cart_no_plan_can_send_is_out_of_stock_naming_the_line():
    shop = Shop({("A", "dc-c"): 20}, weights=HEAVY)  # the stock is there, the parcels are not

    with pytest.raises(OutOfStock) as raised:
        place(shop, ("A", 9))
    assert raised.value.skus == ["A"]
    assert [f.path for f in raised.value.fields] == ["lines[0].quantity"]
    assert shop.orders.get(ORDER_ID) is None and shop.reserved() == {}


def test_a_backorder_channel_sends_what_fits_and_backorders_the_rest():
    shop = Shop({("A", "dc-c"): 20}, weights=HEAVY, policy=BackorderPolicy.BACKORDER)

    order = place(shop, ("A", 9)).order
    assert order.backorders == {"A": 2}
    assert [s.lines for s in order.shipments] == [{"A": 7}]
    assert order.unaccounted() == {} and shop.reserved() == {("A", "dc-c"): 7}


def test_a_cart_with_nothing_to_place_is_refused_not_born_cancelled():
    shop = Shop({("A", "dc-c"): 5}, policy=BackorderPolicy.BACKORDER)

    with pytest.raises(Conflict) as raised:
        place(shop, ("A", 0))
    assert [f.path for f in raised.value.fields] == ["lines"]
    assert shop.orders.get(ORDER_ID) is None


carts = st.lists(st.tuples(st.sampled_from(("A", "B")), st.integers(1, 40)), min_size=1, max_size=3)
stocks = st.dictionaries(
    st.tuples(st.sampled_from(("A", "B")), st.sampled_from(("dc-a", "dc-b", "dc-c"))),
    st.integers(0, 30),
    max_size=6,
)


@settings(max_examples=60, deadline=None)
@given(
    cart_lines=carts,
    stock=stocks,
    policy=st.sampled_from(BackorderPolicy),
    kind=st.sampled_from(("fastest", "cheapest", "consolidated")),
    heavy=st.booleans(),
)
def test_any_cart_at_any_stock_is_refused_or_placed_with_every_unit_accounted(
    cart_lines, stock, policy, kind, heavy
):
    shop = Shop(stock, policy=policy, weights={"A": 9_000, "B": 2_500} if heavy else None)
    before = dict(shop.stock)
    try:
        placed = place(shop, *cart_lines, delivery={"kind": kind})
    except OutOfStock as refused:  # a 409 naming the lines, and nothing was written
        assert policy == BackorderPolicy.REJECT
        assert {f.path for f in refused.fields} <= {f"lines[{i}].quantity" for i in range(3)}
        assert refused.fields and shop.orders.get(ORDER_ID) is None and shop.stock == before
        return
    order = placed.order
    assert order.unaccounted() == {}
    assert order.status != OrderStatus.CANCELLED
    assert policy == BackorderPolicy.BACKORDER or not order.backorders
    reserved = {key: level.reserved for key, level in shop.stock.items() if level.reserved}
    assert reserved == {(sku, loc): q for sku, loc, q in reservations_for(order)}
    assert all(level.available >= 0 for level in shop.stock.values())


# --- stale reads --------------------------------------------------------------------------------


class StaleSnapshots(FakeSnapshots):
    """An eventually consistent read that has not seen the stock written a moment ago."""

    def read(self, **kwargs):  # type: ignore[no-untyped-def]
        snap = super().read(**kwargs)
        if not kwargs.get("consistent", True):
            snap = Snapshot(stock=[], products=snap.products, quote=snap.quote, order=snap.order)
        return snap


def test_out_of_stock_on_a_stale_read_is_decided_again_on_fresh_data():
    """Reproduction: a quote right after the stock was set up answered out_of_stock."""
    shop = Shop({("A", "dc-c"): 5})
    shop.snapshots = StaleSnapshots(shop.stock, ["A", "B"], shop.orders)
    shop.service._snapshots = shop.snapshots
    network = shop.service._network
    quote = shop.service.quote(cart(("A", 2)))
    assert quote["options"] and shop.snapshots.reads == [False, True]
    assert network.refreshed == 1  # type: ignore[attr-defined]
    placed = place(shop, ("A", 2))
    assert placed.created and shop.reserved() == {("A", "dc-c"): 2}
    empty = Shop({("A", "dc-c"): 0})
    with pytest.raises(OutOfStock):
        empty.service.quote(cart(("A", 2)))
    assert empty.snapshots.reads == [False, True]  # really out of stock: said on fresh data
