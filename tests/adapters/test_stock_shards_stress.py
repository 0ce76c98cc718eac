"""Hot SKU under contention on the locked moto server: the last units, spread over shards, are
sold exactly once and none is left behind."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config

from chalicelib.adapters.dynamo_reservations import DynamoReservations
from chalicelib.adapters.stock_items import now_iso
from chalicelib.domain.errors import StaleOrder, StockRace
from chalicelib.domain.inventory import Movement
from chalicelib.domain.order.model import Order
from chalicelib.domain.order.writes import ReservationConsumed
from chalicelib.domain.reservations import CheckoutReservation, ReservationStatus
from infrastructure.create import create_all
from local.moto_server import MotoServer
from tests.adapters.test_moto_lock import _Endpoint
from tests.adapters.test_stock_shards import SKU, Stack, make_order

pytestmark = pytest.mark.stress

THREADS = 24
UNITS = 37
SHARDS = 8


class _Aws:
    """``resource``/``client`` of one endpoint, as the ``aws`` fixture gives them."""

    def __init__(self, session: Any, endpoint: str) -> None:
        self._session, self._endpoint = session, endpoint
        self._config = Config(max_pool_connections=THREADS, retries={"max_attempts": 1})

    def resource(self, name: str) -> Any:
        return self._session.resource(name, endpoint_url=self._endpoint, config=self._config)

    def client(self, name: str) -> Any:
        return self._session.client(name, endpoint_url=self._endpoint, config=self._config)


@pytest.fixture(scope="module")
def server_aws() -> Iterator[_Aws]:
    server = MotoServer(port=0, lock=True).start()
    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="eu-central-1"
    )
    create_all(_Endpoint(session, server.endpoint), prefix="dirigent")
    yield _Aws(session, server.endpoint)
    server.stop()


def test_the_last_units_over_shards_sell_exactly_once(server_aws: _Aws):
    stack = Stack(server_aws)
    stack.stock.set_levels(SKU, "dc", on_hand=UNITS, safety_stock=0, reorder_point=0)
    stack.stock.set_shards(SKU, SHARDS)
    sold: list[str] = []
    lock = threading.Lock()

    def buyer(n: int) -> None:
        for attempt in range(400):
            if stack.read() < 1:
                return
            order_id = f"{n:02x}{attempt:04x}"
            try:
                stack.place(order_id, 1)
            except StockRace:
                continue
            with lock:
                sold.append(order_id)

    threads = [threading.Thread(target=buyer, args=(n,)) for n in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    level = stack.stock.get(SKU, "dc")
    assert len(sold) == UNITS
    assert (level.on_hand, level.reserved, level.available) == (UNITS, UNITS, 0)
    assert all(s["available"] == 0 for s in stack.shards())
    assert sum(s["reserved"] for s in stack.shards()) == UNITS
    assert stack.stock.violations() == []


HOLDER = "HOTR"  # the checkout-reservation test's SKU (the server is shared by the module)


def test_checkout_reservations_over_shards_sell_exactly_once_and_strand_nothing(
    server_aws: _Aws,
):
    """Threads reserve 1-2 units, then turn the reservation into an order (which inherits its
    shards), release it, or leave it open; some orders are cancelled. Every shard's reserved
    units are exactly those of the open reservations and live orders on it."""
    stack = Stack(server_aws)
    resource, low = server_aws.resource("dynamodb"), server_aws.client("dynamodb")
    store = DynamoReservations(resource.Table("dirigent-orders"), "dirigent-stock", client=low)
    stack.stock.set_levels(HOLDER, "dc", on_hand=UNITS, safety_stock=0, reorder_point=0)
    stack.stock.set_shards(HOLDER, SHARDS)
    open_: list[CheckoutReservation] = []
    orders: list[Order] = []
    lock = threading.Lock()

    def reserve(n: int, attempt: int, quantity: int) -> CheckoutReservation | None:
        """A reservation, re-reading the shard hints after a lost race (as the service does)."""
        for retry in range(20):
            if stack.read(HOLDER) < quantity:
                return None
            now = time.time()
            res = CheckoutReservation(
                reservation_id=f"r{n:02x}{attempt:04x}{retry:02x}",
                channel="web",
                option={"option_id": "o"},
                holds=((HOLDER, "dc", quantity),),
                created_at=now,
                expires_at=now + 600,
            )
            try:
                store.create(res)
            except (StockRace, StaleOrder):
                continue
            stored = store.get(res.reservation_id)
            assert stored is not None
            return stored
        return None

    def buyer(n: int) -> None:
        for attempt in range(400):
            if stack.read(HOLDER) < 1:
                return
            res = reserve(n, attempt, 1 + (n + attempt) % 2)
            if res is None:
                continue
            what = (n * 7 + attempt) % 5
            if what < 3:  # the order takes the reservation over, in its own transaction
                order = make_order(f"o{res.reservation_id}")
                order.stock_shards = {k: dict(v) for k, v in res.stock_shards.items()}
                consumed = ReservationConsumed(res.reservation_id, None)
                stack.orders.create(order, [], order.created_at, writes=[consumed])
                if what == 0:  # cancelled: back to the shards the order holds
                    move = (Movement.RELEASE, res.holds[0])
                    stack.orders.update(order, moves=[move], now=now_iso())
                    order.stock_shards = {}
                with lock:
                    orders.append(order)
            elif what == 3:
                store.close(res, ReservationStatus.RELEASED, due_by=None)
            else:
                with lock:
                    open_.append(res)

    threads = [threading.Thread(target=buyer, args=(n,)) for n in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    holders = [r.stock_shards for r in open_] + [o.stock_shards for o in orders]
    per_shard = [0] * SHARDS
    for held in holders:
        for k, units in held.get(f"{HOLDER}@dc", {}).items():
            per_shard[int(k)] += units
    level = stack.stock.get(HOLDER, "dc")
    assert level is not None
    assert (level.available, level.reserved) == (0, UNITS)  # every unit sold, once
    assert [s["reserved"] for s in stack.shards(HOLDER)] == per_shard
    assert (
        sum(sum(r.units().values()) for r in open_)
        + sum(sum(o.stock_shards.get(f"{HOLDER}@dc", {}).values()) for o in orders)
        == UNITS
    )
    for res in open_:  # and nothing is stranded: every hold goes back where it was
        store.close(res, ReservationStatus.EXPIRED, due_by=None)
    for order in orders:
        if order.stock_shards:
            held = sum(order.stock_shards[f"{HOLDER}@dc"].values())
            stack.orders.update(
                order, moves=[(Movement.RELEASE, (HOLDER, "dc", held))], now=now_iso()
            )
    assert [s["reserved"] for s in stack.shards(HOLDER)] == [0] * SHARDS
    assert stack.stock.get(HOLDER, "dc").available == UNITS
    assert stack.stock.violations() == []
