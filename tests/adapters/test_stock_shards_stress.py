"""Hot SKU under contention on the locked moto server: the last units, spread over shards, are
sold exactly once and none is left behind."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config

from chalicelib.domain.errors import StockRace
from infrastructure.create import create_all
from local.moto_server import MotoServer
from tests.adapters.test_moto_lock import _Endpoint
from tests.adapters.test_stock_shards import SKU, Stack

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
