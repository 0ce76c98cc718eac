"""The local stack's moto server must make conditional DynamoDB writes atomic, as on AWS.

Without the lock (``DIRIGENT_MOTO_LOCK=0``) this test oversells in some rounds: that is the
point of the lock, and the way to see it is to run the test with the variable set.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from chalicelib.adapters.dynamo_tx import TransactionFailed, serialize, transact_write
from chalicelib.adapters.stock_items import movement_update
from chalicelib.domain.inventory import Movement
from infrastructure.create import create_all
from local.moto_server import MotoServer

pytestmark = pytest.mark.stress

THREADS = 64
ROUNDS = 20
UNITS = 10
PREFIX = "locktest"


@pytest.fixture(scope="module")
def moto_client() -> Iterator[Any]:
    server = MotoServer(port=0, lock=os.environ.get("DIRIGENT_MOTO_LOCK", "1") != "0").start()
    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="eu-central-1"
    )
    create_all(_Endpoint(session, server.endpoint), prefix=PREFIX)
    config = Config(max_pool_connections=THREADS, retries={"max_attempts": 1})
    yield session.client("dynamodb", endpoint_url=server.endpoint, config=config)
    server.stop()


class _Endpoint:
    """A session whose clients all talk to one endpoint (create_all takes a session)."""

    def __init__(self, session: Any, endpoint: str) -> None:
        self._session, self._endpoint = session, endpoint
        self.region_name = session.region_name

    def client(self, name: str) -> Any:
        return self._session.client(name, endpoint_url=self._endpoint)


def _reserve_one(client: Any, sku: str, *, transaction: bool) -> bool:
    entry = movement_update(f"{PREFIX}-stock", sku, "WH1", Movement.RESERVE, 1, "now")
    try:
        if transaction:
            transact_write(client, [entry])
        else:
            client.update_item(**entry["Update"])
    except TransactionFailed:
        return False
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        return False
    return True


def _race(client: Any, sku: str, *, transaction: bool) -> int:
    barrier = threading.Barrier(THREADS)
    wins: list[bool] = []

    def take() -> None:
        barrier.wait()
        won = _reserve_one(client, sku, transaction=transaction)
        wins.append(won)

    threads = [threading.Thread(target=take) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(wins) == THREADS
    return sum(wins)


def test_conditional_reservations_never_oversell(moto_client: Any, stressed: None) -> None:
    oversold = []
    for round_no in range(ROUNDS):
        sku = f"SKU-{round_no}"
        item = {"sku": sku, "location_id": "WH1", "on_hand": UNITS, "reserved": 0}
        moto_client.put_item(
            TableName=f"{PREFIX}-stock",
            Item=serialize({**item, "safety_stock": 0, "available": UNITS}),
        )
        won = _race(moto_client, sku, transaction=round_no % 2 == 1)
        stored = moto_client.get_item(
            TableName=f"{PREFIX}-stock",
            Key=serialize({"sku": sku, "location_id": "WH1"}),
            ConsistentRead=True,
        )["Item"]
        level = {k: int(stored[k]["N"]) for k in ("on_hand", "reserved", "available")}
        if won != UNITS or level != {"on_hand": UNITS, "reserved": UNITS, "available": 0}:
            oversold.append((round_no, won, level))
    assert oversold == [], f"rounds with a wrong outcome (round, successes, level): {oversold}"
