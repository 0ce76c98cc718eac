"""Hot SKUs on DynamoDB (moto): a location's stock split over shard items, read as one level,
reserved across shards by orders, given back to the shard that holds it."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.adapters.dynamo_orders import DynamoOrders
from chalicelib.adapters.dynamo_snapshot import DynamoSnapshots
from chalicelib.adapters.dynamo_stock import DynamoStock
from chalicelib.adapters.stock_items import now_iso
from chalicelib.adapters.stock_shards import HINTS
from chalicelib.domain.errors import InsufficientStock, StockRace
from chalicelib.domain.inventory import Movement
from chalicelib.domain.network import Address
from chalicelib.domain.order.model import Order
from chalicelib.domain.shards import pick, split, start_shard, take_back

SKU, LOC = "HOT", "dc"


def make_order(order_id: str) -> Order:
    return Order(
        order_id=order_id,
        channel="web",
        channel_order_id=order_id,
        currency="EUR",
        customer={"email": "a@example.com"},
        ship_to=Address(country="DE", postal_code="10115"),
        lines=[],
        shipments=[],
        created_at=now_iso(),
        delivery={},
        token_hash="",
        request_hash="",
    )


class Stack:
    def __init__(self, aws: Any) -> None:
        resource = aws.resource("dynamodb")
        self.raw = resource.Table("dirigent-stock")
        low = aws.client("dynamodb")
        self.stock = DynamoStock(self.raw, client=low, events_table="dirigent-orders")
        self.orders = DynamoOrders(resource.Table("dirigent-orders"), "dirigent-stock", client=low)
        self.snapshots = DynamoSnapshots(
            resource.meta.client,
            stock_table="dirigent-stock",
            catalog_table="dirigent-catalog",
            orders_table="dirigent-orders",
        )

    def shards(self, sku: str = SKU, loc: str = LOC) -> list[dict[str, int]]:
        """Every stored item of the SKU at the location, shard 0 first."""
        base = self.raw.get_item(Key={"sku": sku, "location_id": loc})["Item"]
        items = [base]
        for k in range(1, int(base.get("shard_top", 0)) + 1):
            items.append(self.raw.get_item(Key={"sku": f"{sku}#{k}", "location_id": loc})["Item"])
        return [{n: int(i.get(n, 0)) for n in ("on_hand", "reserved", "available")} for i in items]

    def read(self, sku: str = SKU) -> int:
        """The order path's read (notes the shard hints); the level's available units."""
        snap = self.snapshots.read(skus=[sku], location_ids=[LOC])
        return sum(level.available for level in snap.stock)

    def place(self, order_id: str, quantity: int, sku: str = SKU) -> Order:
        self.read(sku)
        order = make_order(order_id)
        self.orders.create(order, [(sku, LOC, quantity)], order.created_at)
        return order


@pytest.fixture
def stack(aws: Any) -> Stack:
    HINTS._by_key.clear()
    return Stack(aws)


def test_the_domain_arithmetic():
    assert split(10, 4) == [3, 3, 2, 2]
    assert split(-3, 3) == [-3, 0, 0]
    assert pick([0, 2, 1], 3, start=0) == [(1, 2), (2, 1)]
    assert pick([1, 0, 0], 2, start=1) == [(0, 2)]  # more than read: the write must fail
    assert take_back({2: 1, 1: 2}, 4) == ([(0, 1), (1, 2), (2, 1)], {})
    assert 0 <= start_shard("o1/HOT", 4) < 4


def test_marking_hot_splits_and_unmarking_merges_every_unit(stack: Stack):
    stack.stock.set_levels(SKU, LOC, on_hand=12, safety_stock=2, reorder_point=1)
    stack.stock.set_shards(SKU, 4)
    assert [s["available"] for s in stack.shards()] == [3, 3, 2, 2]
    assert [s["on_hand"] for s in stack.shards()] == [5, 3, 2, 2]  # safety stock on shard 0
    level = stack.stock.get(SKU, LOC)
    assert (level.on_hand, level.available, level.safety_stock) == (12, 10, 2)
    stack.stock.set_shards(SKU, 4)  # the same count again: nothing moves
    assert [s["available"] for s in stack.shards()] == [3, 3, 2, 2]
    stack.stock.set_shards(SKU, 1)
    assert [s["available"] for s in stack.shards()] == [10, 0, 0, 0]
    assert stack.stock.get(SKU, LOC).available == 10
    assert stack.stock.violations() == []


def test_every_reader_sees_one_level(stack: Stack):
    stack.stock.set_levels(SKU, LOC, on_hand=9, safety_stock=0, reorder_point=0)
    stack.stock.set_levels(SKU, "st", on_hand=4, safety_stock=0, reorder_point=0)
    stack.stock.set_shards(SKU, 3)
    assert stack.stock.get(SKU, LOC).available == 9
    assert stack.stock.get_many([(SKU, LOC)])[(SKU, LOC)].available == 9
    assert sorted(lvl.available for lvl in stack.stock.for_sku(SKU)) == [4, 9]
    assert [(lvl.sku, lvl.available) for lvl in stack.stock.by_location(LOC)] == [(SKU, 9)]
    assert stack.read() == 9 + 0  # the snapshot at LOC only


def test_an_order_reserves_across_shards_and_gives_back_to_them(stack: Stack):
    stack.stock.set_levels(SKU, LOC, on_hand=10, safety_stock=0, reorder_point=0)
    stack.stock.set_shards(SKU, 4)
    order = stack.place("a1", 7)
    assert sum(order.stock_shards[f"{SKU}@{LOC}"].values()) == 7
    assert len(order.stock_shards[f"{SKU}@{LOC}"]) >= 3  # no shard holds 7
    assert stack.stock.get(SKU, LOC).available == 3
    stored = stack.orders.get("a1")
    assert stored is not None and stored.stock_shards == order.stock_shards
    stack.orders.update(stored, moves=[(Movement.RELEASE, (SKU, LOC, 2))], now=now_iso())
    stack.orders.update(stored, moves=[(Movement.SHIP, (SKU, LOC, 5))], now=now_iso())
    assert stored.stock_shards == {}
    level = stack.stock.get(SKU, LOC)
    assert (level.on_hand, level.reserved, level.available) == (5, 0, 5)
    assert all(s["reserved"] == 0 for s in stack.shards())
    assert stack.stock.violations() == []


def test_an_empty_chosen_shard_falls_back_to_the_others(stack: Stack):
    stack.stock.set_levels(SKU, LOC, on_hand=4, safety_stock=0, reorder_point=0)
    stack.stock.set_shards(SKU, 4)  # one unit per shard
    for n in range(4):
        stack.place(f"a{n}", 1)  # each order starts on its own hashed shard
    assert [s["available"] for s in stack.shards()] == [0, 0, 0, 0]
    with pytest.raises(StockRace):
        stack.place("a9", 1)
    assert stack.stock.get(SKU, LOC).reserved == 4


def test_a_stale_hint_only_loses_a_race_and_the_reread_sells(stack: Stack):
    stack.stock.set_levels(SKU, LOC, on_hand=2, safety_stock=0, reorder_point=0)
    stack.stock.set_shards(SKU, 2)
    stack.read()
    order = make_order("bb")
    first = start_shard(f"bb/{SKU}", 2)
    # Someone else takes the unit of the shard this order starts on, after our read.
    stack.stock._write(
        [
            {
                "Update": {
                    "TableName": "dirigent-stock",
                    "Key": {
                        "sku": {"S": SKU if first == 0 else f"{SKU}#{first}"},
                        "location_id": {"S": LOC},
                    },
                    "UpdateExpression": "SET reserved = reserved + :one, "
                    "available = available - :one",
                    "ExpressionAttributeValues": {":one": {"N": "1"}},
                }
            }
        ]
    )
    with pytest.raises(StockRace):
        stack.orders.create(order, [(SKU, LOC, 1)], order.created_at)
    assert order.stock_shards == {}  # restored: the attempt wrote nothing
    stack.read()
    stack.orders.create(order, [(SKU, LOC, 1)], order.created_at)
    assert order.stock_shards == {f"{SKU}@{LOC}": {str(1 - first): 1}}


def test_receipts_counts_and_adjustments_keep_the_books_exact(stack: Stack):
    stack.stock.set_levels(SKU, LOC, on_hand=8, safety_stock=0, reorder_point=0)
    stack.stock.set_shards(SKU, 4)
    stack.place("a1", 3)
    stack.stock.apply(SKU, LOC, Movement.RECEIVE, 4)  # spread over the shards after
    level = stack.stock.get(SKU, LOC)
    assert (level.on_hand, level.reserved, level.available) == (12, 3, 9)
    assert (
        max(s["available"] for s in stack.shards()) - min(s["available"] for s in stack.shards())
        <= 1
    )
    # Take more than shard 0 holds: the other shards give it.
    level = stack.stock.adjust(SKU, LOC, -7)
    assert (level.on_hand, level.reserved, level.available) == (5, 3, 2)
    with pytest.raises(InsufficientStock):
        stack.stock.adjust(SKU, LOC, -3)
    assert stack.stock.count(SKU, LOC, 6, now_iso(), event_id="count-1")
    assert not stack.stock.count(SKU, LOC, 6, now_iso(), event_id="count-1")  # redelivered
    level = stack.stock.get(SKU, LOC)
    assert (level.on_hand, level.reserved, level.available) == (6, 3, 3)
    # The order's units come back from the shards that hold them.
    stored = stack.orders.get("a1")
    assert stored is not None
    stack.orders.update(stored, moves=[(Movement.SHIP, (SKU, LOC, 3))], now=now_iso())
    level = stack.stock.get(SKU, LOC)
    assert (level.on_hand, level.reserved, level.available) == (3, 0, 3)
    assert stack.stock.violations() == []


def test_absolute_levels_on_a_hot_sku_keep_what_is_reserved(stack: Stack):
    stack.stock.set_levels(SKU, LOC, on_hand=10, safety_stock=0, reorder_point=0)
    stack.stock.set_shards(SKU, 2)
    stack.place("a1", 4)
    level = stack.stock.set_levels(SKU, LOC, on_hand=20, safety_stock=2, reorder_point=3)
    assert (level.on_hand, level.reserved, level.available, level.safety_stock) == (20, 4, 14, 2)
    assert stack.stock.violations() == []


def test_a_sku_that_is_not_hot_reads_and_writes_as_before(stack: Stack):
    stack.stock.set_levels("COLD", LOC, on_hand=3, safety_stock=0, reorder_point=0)
    order = stack.place("c1", 3, sku="COLD")
    assert order.stock_shards == {}
    assert "shard_top" not in stack.raw.get_item(Key={"sku": "COLD", "location_id": LOC})["Item"]
    assert stack.stock.get("COLD", LOC).available == 0
