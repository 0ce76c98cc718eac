"""The sparse low-stock index: every item at or below its reorder point has ``low_flag``; a
reservation on a well-stocked item leaves the index's keys as they are; the alert run removes
old flags of items above their reorder point, never one a racing write needs."""

from __future__ import annotations

import os
import time
from typing import Any

import pytest

from chalicelib.adapters.dynamo_alerts import CLEAR_AFTER_SECONDS, DynamoLowStock
from chalicelib.adapters.dynamo_stock import DynamoStock
from chalicelib.adapters.dynamo_tx import TransactionFailed, serialize
from chalicelib.adapters.low_flag import LOW_FLAG, flagged
from chalicelib.domain.inventory import Movement

T = 1_800_000_000


@pytest.fixture
def stores(aws: Any) -> tuple[DynamoStock, DynamoLowStock, Any]:
    table = aws.resource("dynamodb").Table("dirigent-stock")
    stock = DynamoStock(table, client=aws.client("dynamodb"), events_table="dirigent-orders")
    return stock, DynamoLowStock(table), table


def flag(table: Any, sku: str, loc: str = "dc") -> int | None:
    item = table.get_item(Key={"sku": sku, "location_id": loc}, ConsistentRead=True)["Item"]
    return int(item[LOW_FLAG]) if LOW_FLAG in item else None


def index_keys(table: Any, loc: str = "dc") -> list[str]:
    page = table.query(
        IndexName="low-stock-flag",
        KeyConditionExpression="location_id = :l",
        ExpressionAttributeValues={":l": loc},
    )
    return sorted(i["sku"] for i in page["Items"])


def test_the_flag_follows_what_each_expression_can_know() -> None:
    values: dict[str, Any] = {":minus_q": -2}
    reserve = flagged("SET reserved = reserved + :q ADD headroom :minus_q", values, now=T)
    assert reserve.startswith(f"SET {LOW_FLAG} = if_not_exists({LOW_FLAG}, :low_since), ")
    assert values[":low_since"] == T
    release = "SET reserved = reserved - :q ADD headroom :q"
    assert flagged(release, {":q": 2}) == release  # only raises headroom
    assert flagged("SET headroom = :hr, shards = :n", {":hr": 3}).endswith(f" REMOVE {LOW_FLAG}")
    with_remove = flagged("SET headroom = :hr REMOVE pending", {":hr": 3})
    assert with_remove == f"SET headroom = :hr REMOVE {LOW_FLAG}, pending"  # one REMOVE clause
    assert "if_not_exists(low_flag" in flagged("SET headroom = :hr", {":hr": 0})
    computed = "SET available = :b - reserved, headroom = :h - reserved"
    assert "if_not_exists(low_flag" in flagged(computed, {":h": 50})  # reserved is unknown here
    assert flagged("ADD headroom :d", {":d": -1}).startswith(f"SET {LOW_FLAG} = ")


def test_reservations_on_a_well_stocked_item_leave_the_index_keys_alone(stores) -> None:
    stock, index, table = stores
    stock.set_levels("A", "dc", on_hand=100, safety_stock=0, reorder_point=5)
    stock.set_levels("B", "dc", on_hand=3, safety_stock=0, reorder_point=5)
    assert index_keys(table) == ["B"] and flag(table, "A") is None
    stock.apply("A", "dc", Movement.RESERVE, 1)
    first = flag(table, "A")
    assert first is not None
    for _ in range(3):
        stock.apply("A", "dc", Movement.RESERVE, 1)
        stock.apply("A", "dc", Movement.SHIP, 1)
    assert flag(table, "A") == first  # the same key: the KEYS_ONLY index is not written
    assert [lvl.sku for lvl in index.low_at("dc")] == ["B"]  # A is a candidate, not low


def test_racing_reservations_never_leave_a_low_item_out_of_the_index(stores) -> None:
    """Two checkouts read headroom 3 and each takes 2, each thinking 1 is left: no write
    depends on what its writer read, so the second one's -1 is flagged all the same."""
    stock, index, table = stores
    stock.set_levels("A", "dc", on_hand=13, safety_stock=0, reorder_point=10)
    table.update_item(  # the flag came and went: A is unflagged above its reorder point
        Key={"sku": "A", "location_id": "dc"}, UpdateExpression=f"REMOVE {LOW_FLAG}"
    )
    seen = [stock.get("A", "dc"), stock.get("A", "dc")]
    assert all(lvl and lvl.available - lvl.reorder_point == 3 for lvl in seen)
    stock.apply("A", "dc", Movement.RESERVE, 2)
    stock.apply("A", "dc", Movement.RESERVE, 2)
    assert stock.violations() == []  # includes: headroom <= 0 only with the flag
    (level,) = index.low_at("dc")
    assert (level.available, level.reorder_point) == (9, 10)


def test_an_old_flag_of_a_recovered_item_goes_and_a_racing_reservation_keeps_it(stores):
    stock, index, table = stores
    stock.set_levels("A", "dc", on_hand=20, safety_stock=0, reorder_point=5)
    stock.set_levels("B", "dc", on_hand=20, safety_stock=0, reorder_point=5)
    for sku in ("A", "B"):
        stock.apply(sku, "dc", Movement.RESERVE, 1)  # both flagged, neither low
    old = int(time.time()) - CLEAR_AFTER_SECONDS - 60
    for sku in ("A", "B"):
        table.update_item(
            Key={"sku": sku, "location_id": "dc"},
            UpdateExpression=f"SET {LOW_FLAG} = :old",
            ExpressionAttributeValues={":old": old},
        )
    read_before = table.get_item(Key={"sku": "B", "location_id": "dc"})["Item"]
    stock.apply("B", "dc", Movement.RESERVE, 14)  # B drops to its reorder point meanwhile

    index._clear([read_before])  # the run's stale read of B: the condition keeps the flag
    assert flag(table, "B") == old
    assert [lvl.sku for lvl in index.low_at("dc")] == ["B"]  # ... and A's old flag is gone
    assert flag(table, "A") is None and index_keys(table) == ["B"]
    stock.apply("A", "dc", Movement.RESERVE, 1)  # a young flag again: kept by the next run
    index.low_at("dc")
    assert index_keys(table) == ["A", "B"]


def test_absolute_writes_and_hot_shards_set_or_remove_the_flag_exactly(stores) -> None:
    stock, index, table = stores
    stock.set_levels("A", "dc", on_hand=3, safety_stock=0, reorder_point=5)
    stock.set_shards("A", 3)  # a rebalance writes shard 0's literal headroom: low, flagged
    assert index_keys(table) == ["A"]
    assert [lvl.available for lvl in index.low_at("dc")] == [3]
    stock.set_levels("A", "dc", on_hand=60, safety_stock=0, reorder_point=5)
    assert index_keys(table) == []  # shard 0 holds 20 > 5: the rebalance removed it
    stock.count("A", "dc", 4, "2099-01-01T00:00:00.000000+00:00")
    assert index_keys(table) == ["A"]
    assert stock.violations() == []


def test_the_backfill_flags_low_items_written_before_the_flag(stores) -> None:
    _, index, table = stores
    for sku, headroom in (("OLD-LOW", -2), ("OLD-OK", 4)):
        table.put_item(
            Item={"sku": sku, "location_id": "dc", "on_hand": 1, "reserved": 0,
                  "safety_stock": 0, "available": 1, "reorder_point": 1 - headroom,
                  "headroom": headroom}
        )  # fmt: skip
    assert index.low_at("dc") == []
    assert index.flag_low_items() == 1
    assert [lvl.sku for lvl in index.low_at("dc")] == ["OLD-LOW"]
    assert index.flag_low_items() == 0


def test_a_single_entry_write_runs_as_its_own_kind(stores) -> None:
    """``_write`` with one Delete or ConditionCheck entry (it used to put_item any non-Update)."""
    stock, _, table = stores
    stock.set_levels("A", "dc", on_hand=5, safety_stock=0, reorder_point=0)
    key = serialize({"sku": "A", "location_id": "dc"})
    check = {
        "TableName": "dirigent-stock",
        "Key": key,
        "ConditionExpression": "on_hand = :n",
        "ExpressionAttributeValues": serialize({":n": 5}),
    }
    stock._write([{"ConditionCheck": check}])  # holds: nothing written
    assert table.get_item(Key={"sku": "A", "location_id": "dc"})["Item"]["on_hand"] == 5
    wrong = {**check, "ExpressionAttributeValues": serialize({":n": 4})}
    with pytest.raises(TransactionFailed):
        stock._write([{"ConditionCheck": wrong}])
    with pytest.raises(TransactionFailed):
        stock._write([{"Delete": wrong}])
    assert "Item" in table.get_item(Key={"sku": "A", "location_id": "dc"})
    stock._write([{"Delete": check}])
    assert "Item" not in table.get_item(Key={"sku": "A", "location_id": "dc"})


def test_the_backfill_command_flags_a_stage_written_before_the_flag(
    stores: Any, monkeypatch: Any, capsys: Any
):
    from chalicelib import wiring
    from infrastructure import backfill_low_flag

    _, _, table = stores
    table.put_item(Item={"sku": "OLD", "location_id": "dc", "available": 1, "headroom": -2})
    table.put_item(Item={"sku": "FINE", "location_id": "dc", "available": 9, "headroom": 4})
    for name in ("DIRIGENT_STAGE", "DIRIGENT_PREFIX", "STOCK_TABLE"):  # restored after it
        monkeypatch.setenv(name, os.environ.get(name, "dirigent-stock"))
    try:
        assert backfill_low_flag.main(["local"]) == 0
        assert backfill_low_flag.main(["local"]) == 0
    finally:
        wiring.reset()
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "1 low stock items flagged in dirigent-stock",
        "0 low stock items flagged in dirigent-stock",
    ]
    assert flag(table, "OLD") is not None and flag(table, "FINE") is None
