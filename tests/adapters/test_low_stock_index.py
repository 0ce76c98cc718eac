"""Every stock write keeps ``headroom = available - reorder_point`` and flags every item with
``headroom <= 0`` (``low_flag``), so the sparse ``low-stock-flag`` index and the check of what it
holds find exactly the items at or below their reorder point."""

from __future__ import annotations

from datetime import date

import pytest

from chalicelib.adapters.dynamo_alerts import DynamoAlertState, DynamoLowStock, shipped_units_update
from chalicelib.adapters.dynamo_stock import DynamoStock
from chalicelib.adapters.dynamo_tx import transact_write
from chalicelib.adapters.stock_items import movement_update, now_iso
from chalicelib.domain.alerts.rules import Notice
from chalicelib.domain.inventory import Movement
from chalicelib.domain.network import StockLevel
from chalicelib.domain.order.writes import ShippedUnits, shipped_units


@pytest.fixture
def stores(aws):
    table = aws.resource("dynamodb").Table("dirigent-stock")
    stock = DynamoStock(table, client=aws.client("dynamodb"), events_table="dirigent-orders")
    return stock, DynamoLowStock(table), aws.client("dynamodb")


def low(index: DynamoLowStock, loc: str = "dc") -> list[str]:
    return sorted(level.sku for level in index.low_at(loc))


def test_every_write_path_keeps_headroom_and_the_index_follows(stores):
    stock, index, client = stores
    stock.set_levels("A", "dc", on_hand=10, safety_stock=1, reorder_point=5)  # 9 available
    stock.set_levels("B", "dc", on_hand=3, safety_stock=0, reorder_point=5)
    stock.set_levels("C", "other", on_hand=0, safety_stock=0, reorder_point=5)
    assert low(index) == ["B"]

    stock.apply("A", "dc", Movement.RESERVE, 4)  # 5 available: at the reorder point
    assert low(index) == ["A", "B"]
    stock.apply("A", "dc", Movement.RELEASE, 1)
    assert low(index) == ["B"]
    stock.apply("B", "dc", Movement.RECEIVE, 3)  # 6 > 5
    assert low(index) == []
    stock.adjust("B", "dc", -1)
    assert low(index) == ["B"]
    stock.count("B", "dc", 9, now_iso())
    assert low(index) == []
    # the order path: a reservation inside a transaction
    transact_write(client, [movement_update("dirigent-stock", "B", "dc", Movement.RESERVE, 4, "t")])
    assert low(index) == ["B"]
    stock.put_new_many([StockLevel("D", "dc", on_hand=1, reorder_point=2)])
    assert low(index) == ["B", "D"]
    assert low(index, "other") == ["C"]
    assert stock.violations() == []


def test_shipped_counters_add_up_per_day_and_notices_round_trip(aws):
    orders = aws.resource("dynamodb").Table("dirigent-orders")
    client = aws.client("dynamodb")

    def entries(writes: list[ShippedUnits]) -> list[dict]:
        return [shipped_units_update("dirigent-orders", w) for w in writes]

    transact_write(
        client, entries(shipped_units("dc", "2026-03-10T08:00:00Z", [("A", 2), ("A", 1)]))
    )
    transact_write(client, entries([ShippedUnits("A", "dc", date(2026, 3, 10), 4)]))
    transact_write(client, entries(shipped_units("dc", "2026-03-01", [("A", 5)])))
    state = DynamoAlertState(orders)
    assert state.shipped("A", "dc", date(2026, 3, 2), date(2026, 3, 10)) == {date(2026, 3, 10): 7}

    state.save_notices([Notice("g", "A", "dc", "t0", "t1"), Notice("g", "B", "dc", "t0", "t1")])
    assert set(state.notices("g")) == {("A", "dc"), ("B", "dc")}
    state.drop_notices("g", [("A", "dc")])
    assert set(state.notices("g")) == {("B", "dc")}


def test_only_one_holder_has_the_lease_until_it_is_released(aws):
    state = DynamoAlertState(aws.resource("dynamodb").Table("dirigent-orders"))
    assert state.acquire("alerts", "one", seconds=60)
    assert not state.acquire("alerts", "two", seconds=60)
    state.release("alerts", "two")  # not the holder: no effect
    assert not state.acquire("alerts", "two", seconds=60)
    state.release("alerts", "one")
    assert state.acquire("alerts", "two", seconds=60)
