"""One contract for the stock store, run against the in-memory fake and DynamoDB (moto)."""

import threading
import time

import boto3
import pytest

from chalicelib.adapters.dynamo_returns import returned_stock_entry
from chalicelib.adapters.dynamo_stock import DynamoStock
from chalicelib.adapters.dynamo_tx import transact_write
from chalicelib.adapters.memory import MemoryStock
from chalicelib.adapters.stock_items import now_iso
from chalicelib.domain.errors import InsufficientStock
from chalicelib.domain.inventory import ON_HAND_EFFECT, Movement
from chalicelib.domain.network import StockLevel
from chalicelib.domain.order.writes import ReturnedStock
from infrastructure.create import create_all
from local.moto_server import MotoServer
from tests.adapters.test_moto_lock import _Endpoint


@pytest.fixture(params=["memory", "dynamo"])
def stock(request):
    if request.param == "memory":
        yield MemoryStock()
        return
    aws = request.getfixturevalue("aws")
    table = aws.resource("dynamodb").Table("dirigent-stock")
    yield DynamoStock(table, client=aws.client("dynamodb"), events_table="dirigent-orders")


def test_set_levels_creates_an_item_with_available_derived(stock):
    level = stock.set_levels("A", "dc", on_hand=10, safety_stock=2, reorder_point=3)
    assert (level.on_hand, level.reserved, level.safety_stock, level.available) == (10, 0, 2, 8)
    assert level.reorder_point == 3
    assert stock.get("A", "dc") == level
    assert stock.violations() == []


def test_set_levels_keeps_what_is_reserved(stock):
    stock.set_levels("A", "dc", on_hand=10, safety_stock=0, reorder_point=0)
    stock.apply("A", "dc", Movement.RESERVE, 4)
    level = stock.set_levels("A", "dc", on_hand=6, safety_stock=1, reorder_point=0)
    assert (level.on_hand, level.reserved, level.available) == (6, 4, 1)
    assert stock.violations() == []


def test_movements_keep_the_invariant_and_refuse_overselling(stock):
    stock.set_levels("A", "dc", on_hand=5, safety_stock=1, reorder_point=0)
    stock.apply("A", "dc", Movement.RESERVE, 4)
    with pytest.raises(InsufficientStock):
        stock.apply("A", "dc", Movement.RESERVE, 1)
    stock.apply("A", "dc", Movement.SHIP, 3)
    stock.apply("A", "dc", Movement.RELEASE, 1)
    with pytest.raises(InsufficientStock):
        stock.apply("A", "dc", Movement.RELEASE, 1)
    level = stock.get("A", "dc")
    assert (level.on_hand, level.reserved, level.available) == (2, 0, 1)
    assert stock.violations() == []


def test_receiving_creates_a_missing_item(stock):
    level = stock.apply("NEW", "st", Movement.RECEIVE, 7)
    assert (level.on_hand, level.available, level.reserved) == (7, 7, 0)


def test_a_reservation_of_a_missing_item_is_insufficient_stock(stock):
    with pytest.raises(InsufficientStock):
        stock.apply("NONE", "dc", Movement.RESERVE, 1)
    assert stock.get("NONE", "dc") is None


def test_a_negative_adjustment_takes_only_what_is_available(stock):
    stock.set_levels("A", "dc", on_hand=10, safety_stock=2, reorder_point=0)
    stock.apply("A", "dc", Movement.RESERVE, 5)
    with pytest.raises(InsufficientStock):
        stock.adjust("A", "dc", -4)
    assert stock.get("A", "dc").on_hand == 10
    level = stock.adjust("A", "dc", -3)
    assert (level.on_hand, level.reserved, level.available) == (7, 5, 0)
    assert stock.adjust("A", "dc", 2).available == 2
    with pytest.raises(InsufficientStock):
        stock.adjust("MISSING", "dc", -1)
    assert stock.violations() == []


def test_an_event_is_applied_once(stock):
    stock.set_levels("A", "dc", on_hand=1, safety_stock=0, reorder_point=0)
    assert stock.apply_once("ev-1", "A", "dc", Movement.RECEIVE, 5) is True
    assert stock.apply_once("ev-1", "A", "dc", Movement.RECEIVE, 5) is False
    assert stock.get("A", "dc").on_hand == 6


def instant() -> str:
    """A stamp strictly before whatever is written next (stamps have microseconds)."""
    stamp = now_iso()
    time.sleep(0.002)
    return stamp


def test_a_count_is_absolute_and_an_older_count_is_ignored(stock):
    stock.set_levels("A", "dc", on_hand=10, safety_stock=1, reorder_point=0)
    stock.apply("A", "dc", Movement.RESERVE, 3)  # reserving does not change on_hand
    time.sleep(0.002)
    older, first, later = instant(), instant(), instant()
    assert stock.count("A", "dc", 8, first) is True
    level = stock.get("A", "dc")
    assert (level.on_hand, level.reserved, level.available) == (8, 3, 4)
    assert stock.count("A", "dc", 99, older) is False
    assert stock.count("A", "dc", 99, first) is False
    assert stock.get("A", "dc").on_hand == 8
    assert stock.count("A", "dc", 2, later) is True
    level = stock.get("A", "dc")
    assert (level.on_hand, level.reserved, level.available) == (2, 3, -2)
    assert stock.violations() == []


def test_a_count_adds_the_movements_recorded_after_it(stock):
    """The reproduction: a count applied after later movements used to overwrite them."""
    stock.set_levels("A", "dc", on_hand=10, safety_stock=0, reorder_point=0)
    stock.apply("A", "dc", Movement.RESERVE, 4)
    counted_at = instant()
    stock.apply("A", "dc", Movement.RECEIVE, 5)
    stock.apply("A", "dc", Movement.SHIP, 2)
    stock.apply("A", "dc", Movement.SHORT, 1)
    stock.adjust("A", "dc", -3)
    stock.adjust("A", "dc", 2)
    assert stock.count("A", "dc", 8, counted_at) is True  # 8 then, +5 -2 -1 -3 +2 since
    level = stock.get("A", "dc")
    assert (level.on_hand, level.reserved, level.available) == (9, 1, 8)
    assert stock.violations() == []


def test_each_count_takes_only_the_movements_after_its_own_instant(stock):
    stock.set_levels("A", "dc", on_hand=10, safety_stock=0, reorder_point=0)
    first = instant()
    stock.apply("A", "dc", Movement.RECEIVE, 4)
    second = instant()
    stock.apply("A", "dc", Movement.RECEIVE, 2)
    assert stock.count("A", "dc", 5, first) is True
    assert stock.get("A", "dc").on_hand == 11
    # the receipt of 4 is folded into the first count: the second takes only the 2
    assert stock.count("A", "dc", 7, second) is True
    assert stock.get("A", "dc").on_hand == 9
    assert stock.count("A", "dc", 3, instant()) is True
    assert stock.get("A", "dc").on_hand == 3


def test_a_count_taken_before_an_absolute_level_is_stale(stock):
    stock.set_levels("A", "dc", on_hand=10, safety_stock=0, reorder_point=0)
    counted_at = instant()
    stock.set_levels("A", "dc", on_hand=6, safety_stock=0, reorder_point=0)
    assert stock.count("A", "dc", 99, counted_at) is False
    assert stock.get("A", "dc").on_hand == 6
    stock.put_new_many([StockLevel("N", "dc", 3)])
    assert stock.count("N", "dc", 99, counted_at) is False
    assert stock.get("N", "dc").on_hand == 3


def test_a_count_never_goes_below_zero(stock):
    stock.set_levels("A", "dc", on_hand=5, safety_stock=0, reorder_point=0)
    stock.apply("A", "dc", Movement.RESERVE, 3)
    counted_at = instant()
    stock.apply("A", "dc", Movement.SHIP, 3)
    assert stock.count("A", "dc", 1, counted_at) is True  # 1 - 3: the shelf was already empty
    assert stock.get("A", "dc").on_hand == 0


@pytest.mark.parametrize("movement", [m for m in Movement if m != Movement.ADJUST])
def test_a_count_of_what_was_there_keeps_what_every_movement_did_since(stock, movement):
    """Generic over ``Movement``: a new movement that changes on_hand is journalled."""
    stock.set_levels("A", "st", on_hand=20, safety_stock=0, reorder_point=0)
    stock.apply("A", "st", Movement.RESERVE, 10)
    for setup in (Movement.QUARANTINE, Movement.TRANSIT):
        stock.apply("A", "st", setup, 5)
    then = stock.get("A", "st")
    counted_at = instant()
    after = stock.apply("A", "st", movement, 2)
    assert after.on_hand - then.on_hand == ON_HAND_EFFECT[movement] * 2
    assert stock.count("A", "st", then.on_hand, counted_at) is True
    assert stock.get("A", "st") == after


def test_a_count_event_is_applied_once_and_creates_a_missing_item(stock):
    assert stock.count("B", "st", 4, now_iso(), event_id="cnt-1") is True
    assert stock.count("B", "st", 9, now_iso(), event_id="cnt-1") is False
    assert stock.get("B", "st").on_hand == 4


def test_reads_by_key_by_sku_and_by_location(stock):
    stock.put_new_many(
        [*(StockLevel(f"S{n:03d}", loc, n) for n in range(120) for loc in ("dc", "st"))]
    )
    keys = [(f"S{n:03d}", "dc") for n in range(120)] + [("S999", "dc")]
    many = stock.get_many(keys)
    assert len(many) == 120 and many[("S007", "dc")].on_hand == 7
    assert [lvl.location_id for lvl in stock.for_sku("S005")] == ["dc", "st"]
    at_store = stock.by_location("st")
    assert len(at_store) == 120 and {lvl.location_id for lvl in at_store} == {"st"}
    assert stock.violations() == []


@pytest.fixture(params=["memory", "dynamo"])
def concurrent_stock(request):
    """Like ``stock``, but the DynamoDB twin runs on the local stack's moto server, which locks
    DynamoDB requests as AWS is atomic per item (in-process moto is not: a concurrency test on
    it proves nothing and fails at random)."""
    if request.param == "memory":
        yield MemoryStock()
        return
    server = MotoServer(port=0).start()
    try:
        session = boto3.session.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name="eu-central-1"
        )
        create_all(_Endpoint(session, server.endpoint), prefix="contract")
        resource = session.resource("dynamodb", endpoint_url=server.endpoint)
        client = session.client("dynamodb", endpoint_url=server.endpoint)
        yield DynamoStock(
            resource.Table("contract-stock"), client=client, events_table="contract-orders"
        )
    finally:
        server.stop()


def test_concurrent_reservations_never_oversell(concurrent_stock, stressed):
    stock = concurrent_stock
    stock.set_levels("HOT", "dc", on_hand=10, safety_stock=0, reorder_point=0)
    sold = []

    def buy():
        try:
            stock.apply("HOT", "dc", Movement.RESERVE, 1)
            sold.append(1)
        except InsufficientStock:
            pass

    threads = [threading.Thread(target=buy) for _ in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(sold) == 10
    assert stock.get("HOT", "dc").available == 0


@pytest.fixture
def dynamo(aws):
    table = aws.resource("dynamodb").Table("dirigent-stock")
    stock = DynamoStock(table, client=aws.client("dynamodb"), events_table="dirigent-orders")
    return stock, table


def test_the_journal_keeps_only_what_a_later_count_can_need(dynamo):
    stock, table = dynamo

    def journal():
        item = table.get_item(Key={"sku": "A", "location_id": "dc"})["Item"]
        return [(at, int(delta)) for at, delta in item["journal"]]

    stock.set_levels("A", "dc", on_hand=10, safety_stock=0, reorder_point=0)
    assert journal() == []
    stock.apply("A", "dc", Movement.RECEIVE, 4)
    counted_at = instant()
    stock.apply("A", "dc", Movement.RECEIVE, 2)
    stock.apply("A", "dc", Movement.RESERVE, 1)  # no change of on_hand: not journalled
    assert [delta for _, delta in journal()] == [4, 2]
    assert stock.count("A", "dc", 9, counted_at) is True
    assert [delta for _, delta in journal()] == [2]  # the 4 is folded into the count
    assert all(at > counted_at for at, _ in journal())
    stock.set_levels("A", "dc", on_hand=3, safety_stock=0, reorder_point=0)
    assert journal() == []


def test_sellable_returns_are_journalled_for_a_later_count(dynamo, aws):
    stock, _ = dynamo
    stock.set_levels("A", "dc", on_hand=10, safety_stock=0, reorder_point=0)
    counted_at = instant()
    returned = ReturnedStock("A", "dc", sellable=2, damaged=1, exists=True)
    fresh = ReturnedStock("A", "st", sellable=3, damaged=0, exists=False)
    entries = [returned_stock_entry("dirigent-stock", w) for w in (returned, fresh)]
    transact_write(aws.client("dynamodb"), entries)
    assert stock.count("A", "dc", 7, counted_at) is True
    assert stock.count("A", "st", 1, counted_at) is True
    assert (stock.get("A", "dc").on_hand, stock.get("A", "st").on_hand) == (9, 4)
    assert stock.get("A", "dc").quarantine == 1
