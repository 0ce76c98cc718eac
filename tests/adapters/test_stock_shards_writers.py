"""Every stock writer on a hot SKU (moto): what it writes lands on shards so that no unit is
sold twice or stranded, and the level still reads as one number."""

from __future__ import annotations

import time
from typing import Any

import pytest

from chalicelib.adapters.dynamo_reservations import DynamoReservations
from chalicelib.adapters.stock_items import now_iso
from chalicelib.adapters.stock_shards import HINTS
from chalicelib.domain.errors import StockRace
from chalicelib.domain.inventory import Movement
from chalicelib.domain.network import StockLevel
from chalicelib.domain.order.writes import ReservationConsumed, ReturnedStock
from chalicelib.domain.reservations import CheckoutReservation
from tests.adapters.test_stock_shards import LOC, SKU, Stack, make_order


@pytest.fixture
def stack(aws: Any) -> Stack:
    HINTS._by_key.clear()
    return Stack(aws)


def hot(stack: Stack, on_hand: int, shards: int = 4) -> None:
    stack.stock.set_levels(SKU, LOC, on_hand=on_hand, safety_stock=0, reorder_point=0)
    stack.stock.set_shards(SKU, shards)


def sell_all(stack: Stack, prefix: str = "0") -> int:
    """Orders of one unit until the last one is refused; how many were placed."""
    for sold in range(64):
        try:
            stack.place(f"{prefix}a{sold:02d}", 1)
        except StockRace:
            stack.read()
            try:
                stack.place(f"{prefix}b{sold:02d}", 1)  # a stale hint only loses a race once
            except StockRace:
                return sold
    raise AssertionError("never ran out")


def test_units_shipped_after_a_cancel_leave_the_shards_that_have_them(stack: Stack):
    hot(stack, 8)  # 2 per shard
    order = make_order("ua1")
    stack.orders.create(order, [], order.created_at)
    stack.read()
    gone = (Movement.SHIP_UNRESERVED, (SKU, LOC, 3))
    stack.orders.update(order, moves=[gone], now=now_iso())
    assert all(s["available"] >= 0 for s in stack.shards()), stack.shards()
    assert stack.stock.get(SKU, LOC).available == 5
    assert sell_all(stack) == 5  # a deficit on one shard would let the others sell it again
    assert stack.stock.violations() == []


def test_a_short_pick_writes_off_the_shards_the_order_holds(stack: Stack):
    hot(stack, 8)
    order = stack.place("pb1", 5)
    stack.orders.update(order, moves=[(Movement.SHORT, (SKU, LOC, 2))], now=now_iso())
    stack.orders.update(order, moves=[(Movement.RELEASE, (SKU, LOC, 3))], now=now_iso())
    assert [s["reserved"] for s in stack.shards()] == [0, 0, 0, 0]
    level = stack.stock.get(SKU, LOC)
    assert (level.on_hand, level.reserved, level.available) == (6, 0, 6)
    assert stack.stock.violations() == []


def test_a_transfer_takes_from_the_source_shards_and_holds_at_the_store(stack: Stack):
    hot(stack, 8)
    order = stack.place("tc1", 5)
    moves = [(Movement.TRANSFER_OUT, (SKU, LOC, 5)), (Movement.TRANSFER_IN, (SKU, "st", 5))]
    stack.orders.update(order, moves=moves, now=now_iso())
    assert [s["reserved"] for s in stack.shards()] == [0, 0, 0, 0]
    assert stack.stock.get(SKU, "st").reserved == 5
    stack.orders.update(order, moves=[(Movement.SHIP, (SKU, "st", 5))], now=now_iso())
    store = stack.stock.get(SKU, "st")
    assert (store.on_hand, store.reserved) == (0, 0)
    assert stack.stock.get(SKU, LOC).available == 3
    assert stack.stock.violations() == []


def test_returned_units_of_a_hot_sku_are_sold_again_once(stack: Stack):
    hot(stack, 4)  # 1 per shard
    assert sell_all(stack) == 4
    order = make_order("rd1")
    stack.orders.create(order, [], order.created_at)
    back = ReturnedStock(SKU, LOC, sellable=2, damaged=1, exists=True)
    stack.orders.update(order, writes=[back], now=now_iso())
    level = stack.stock.get(SKU, LOC)
    assert (level.available, level.quarantine) == (2, 1)
    stack.read()
    assert sell_all(stack, "1") == 2
    assert stack.stock.violations() == []


def test_a_count_below_what_is_reserved_strands_no_order(stack: Stack):
    hot(stack, 8)
    order = stack.place("ce1", 6)
    assert stack.stock.count(SKU, LOC, 4, now_iso())
    level = stack.stock.get(SKU, LOC)
    assert (level.on_hand, level.reserved, level.available) == (4, 6, -2)
    assert all(s["available"] <= 0 for s in stack.shards())  # nothing left to sell anywhere
    with pytest.raises(StockRace):
        stack.place("cf2", 1)
    stack.orders.update(order, moves=[(Movement.RELEASE, (SKU, LOC, 6))], now=now_iso())
    assert [s["reserved"] for s in stack.shards()] == [0, 0, 0, 0]
    assert stack.stock.get(SKU, LOC).available == 4
    assert stack.stock.violations() == []


def test_stock_first_written_at_a_location_after_the_sku_went_hot_is_split(stack: Stack):
    hot(stack, 8)
    stack.stock.set_levels(SKU, "l1", on_hand=8, safety_stock=0, reorder_point=0)
    assert stack.stock.apply_once("e1", SKU, "l2", Movement.RECEIVE, 6)
    assert stack.stock.count(SKU, "l3", 5, now_iso())
    assert [s["available"] for s in stack.shards(loc="l1")] == [2, 2, 2, 2]
    assert [s["available"] for s in stack.shards(loc="l2")] == [2, 2, 1, 1]
    assert [s["on_hand"] for s in stack.shards(loc="l3")] == [2, 1, 1, 1]
    assert sorted(lvl.available for lvl in stack.stock.for_sku(SKU)) == [5, 6, 8, 8]
    assert stack.stock.violations() == []


def test_imported_new_locations_of_a_hot_sku_are_split(stack: Stack):
    hot(stack, 8)
    new = [StockLevel(SKU, "i1", on_hand=4), StockLevel("COLD", "i1", on_hand=4)]
    assert stack.stock.put_new_many(new) == 2
    assert [s["available"] for s in stack.shards(loc="i1")] == [1, 1, 1, 1]
    assert [s["available"] for s in stack.shards("COLD", "i1")] == [4]
    stack.stock.set_levels_many([StockLevel(SKU, "i1", on_hand=8)])  # hot: rebalanced
    assert [s["available"] for s in stack.shards(loc="i1")] == [2, 2, 2, 2]
    assert stack.stock.violations() == []


def test_an_order_taking_a_reservation_over_gives_back_from_its_shards(stack: Stack, aws: Any):
    hot(stack, 8)  # 2 per shard
    orders_table = aws.resource("dynamodb").Table("dirigent-orders")
    store = DynamoReservations(orders_table, "dirigent-stock", client=aws.client("dynamodb"))
    now = time.time()
    res = CheckoutReservation("rv1", "web", {"option_id": "o"}, ((SKU, LOC, 5),), now, now + 600)
    stack.read()
    store.create(res)
    held = store.get("rv1")
    assert held is not None and sum(held.stock_shards[f"{SKU}@{LOC}"].values()) == 5
    order = make_order("oa1")
    order.stock_shards = {k: dict(v) for k, v in held.stock_shards.items()}
    consumed = ReservationConsumed("rv1", None)
    # the order needs 3 of the 5 held units here: 2 go back, from shards that hold them
    stack.orders.create(order, [], order.created_at, writes=[consumed], releases=[(SKU, LOC, 2)])
    mine = {int(k): v for k, v in order.stock_shards[f"{SKU}@{LOC}"].items()}
    assert sum(mine.values()) == 3
    assert [s["reserved"] for s in stack.shards()] == [mine.get(k, 0) for k in range(4)]
    assert stack.stock.violations() == []
