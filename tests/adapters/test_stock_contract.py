"""One contract for the stock store, run against the in-memory fake and DynamoDB (moto)."""

import threading

import boto3
import pytest

from chalicelib.adapters.dynamo_stock import DynamoStock
from chalicelib.adapters.memory import MemoryStock
from chalicelib.adapters.stock_items import now_iso
from chalicelib.domain.errors import InsufficientStock
from chalicelib.domain.inventory import Movement
from chalicelib.domain.network import StockLevel
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


def test_a_count_is_absolute_and_an_older_count_is_ignored(stock):
    stock.set_levels("A", "dc", on_hand=10, safety_stock=1, reorder_point=0)
    stock.apply("A", "dc", Movement.RESERVE, 3)
    assert stock.count("A", "dc", 8, "2026-05-02T10:00:00.000000+00:00") is True
    level = stock.get("A", "dc")
    assert (level.on_hand, level.reserved, level.available) == (8, 3, 4)
    assert stock.count("A", "dc", 99, "2026-05-01T10:00:00.000000+00:00") is False
    assert stock.count("A", "dc", 99, "2026-05-02T10:00:00.000000+00:00") is False
    assert stock.get("A", "dc").on_hand == 8
    assert stock.count("A", "dc", 2, "2026-05-03T10:00:00.000000+00:00") is True
    level = stock.get("A", "dc")
    assert (level.on_hand, level.reserved, level.available) == (2, 3, -2)
    assert stock.violations() == []


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
