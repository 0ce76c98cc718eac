"""The local moto server's transactions: all-or-nothing, and no slower on a full table.

``local.moto_patches`` replaces moto's whole-table backup with per-item backups; these tests pin
the rollback (items, secondary indexes) and that no table is deep-copied any more.
"""

from __future__ import annotations

import inspect
import statistics
import time
from collections.abc import Iterator
from typing import Any

import boto3
import moto
import pytest
from botocore.exceptions import ClientError
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Table

from chalicelib.adapters.dynamo_tx import deserialize, serialize
from infrastructure.create import create_all
from local import moto_patches
from local.moto_server import MotoServer
from tests.adapters.test_moto_lock import _Endpoint

PREFIX = "txpatch"
ORDERS, STOCK, CATALOG, IDEM = (
    f"{PREFIX}-{n}" for n in ("orders", "stock", "catalog", "idempotency")
)


@pytest.fixture(scope="module")
def ddb() -> Iterator[Any]:
    server = MotoServer(port=0).start()
    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="eu-central-1"
    )
    create_all(_Endpoint(session, server.endpoint), prefix=PREFIX)
    yield session.client("dynamodb", endpoint_url=server.endpoint)
    server.stop()


def _put(client: Any, table: str, item: dict[str, Any]) -> None:
    client.put_item(TableName=table, Item=serialize(item))


def _get(client: Any, table: str, key: dict[str, Any]) -> dict[str, Any] | None:
    found = client.get_item(TableName=table, Key=serialize(key), ConsistentRead=True).get("Item")
    return deserialize(found) if found else None


def _gsi1(client: Any, gsi1pk: str) -> list[tuple[str, str]]:
    """Keys of the orders under ``gsi1pk`` in the gsi1 index."""
    page = client.query(
        TableName=ORDERS,
        IndexName="gsi1",
        KeyConditionExpression="gsi1pk = :p",
        ExpressionAttributeValues=serialize({":p": gsi1pk}),
    )
    return [(i["pk"]["S"], i["sk"]["S"]) for i in page["Items"]]


def _update_stock(sku: str, *, condition: str = "reserved >= :zero") -> dict[str, Any]:
    return {
        "Update": {
            "TableName": STOCK,
            "Key": serialize({"sku": sku, "location_id": "WH1"}),
            "UpdateExpression": "SET reserved = reserved + :one, note = :note",
            "ConditionExpression": condition,
            "ExpressionAttributeValues": serialize({":one": 1, ":zero": 0, ":note": "tx"}),
        }
    }


def test_apply_installs_the_patch_once(ddb: Any) -> None:
    assert moto_patches.apply() is True
    assert moto_patches.apply() is True


def test_the_guard_accepts_only_the_reviewed_moto_source(monkeypatch: pytest.MonkeyPatch) -> None:
    reviewed = inspect.unwrap(DynamoDBBackend.transact_write_items)  # moto's own source
    assert moto_patches._reviewed(reviewed) is True
    assert moto_patches._reviewed(_update_stock) is False
    monkeypatch.setattr(moto, "__version__", "9.9.9")
    assert moto_patches._reviewed(reviewed) is False


def test_a_failed_condition_leaves_every_earlier_item_unchanged(ddb: Any) -> None:
    stock = {"sku": "S1", "location_id": "WH1", "on_hand": 5, "reserved": 1}
    order = {"pk": "ORDER#old", "sk": "HEAD", "status": "open", "gsi1pk": "CH#a", "gsi1sk": "1"}
    doc = {"pk": "PRODUCT", "sk": "P1", "name": "kept"}
    key = {"id": "kept-key", "status": "COMPLETED"}
    for table, item in ((STOCK, stock), (ORDERS, order), (CATALOG, doc), (IDEM, key)):
        _put(ddb, table, item)
    items = [
        {"Put": {"TableName": ORDERS, "Item": serialize({"pk": "ORDER#new", "sk": "HEAD"})}},
        _update_stock("S1"),
        {
            "Update": {
                "TableName": ORDERS,
                "Key": serialize({"pk": "ORDER#old", "sk": "HEAD"}),
                "UpdateExpression": "SET gsi1pk = :p, #s = :s",
                "ExpressionAttributeNames": {"#s": "status"},
                "ExpressionAttributeValues": serialize({":p": "CH#b", ":s": "moved"}),
            }
        },
        {"Delete": {"TableName": CATALOG, "Key": serialize({"pk": "PRODUCT", "sk": "P1"})}},
        {"Delete": {"TableName": IDEM, "Key": serialize({"id": "kept-key"})}},
        {"Put": {"TableName": IDEM, "Item": serialize({"id": "new-key"})}},
        _update_stock("S2", condition="attribute_exists(sku)"),  # absent: the condition fails
    ]
    with pytest.raises(ClientError) as caught:
        ddb.transact_write_items(TransactItems=items)

    error = caught.value.response
    assert error["Error"]["Code"] == "TransactionCanceledException"
    codes = [reason["Code"] for reason in error["CancellationReasons"]]
    assert codes == ["None"] * 6 + ["ConditionalCheckFailed"]
    assert _get(ddb, ORDERS, {"pk": "ORDER#new", "sk": "HEAD"}) is None
    assert _get(ddb, STOCK, {"sku": "S1", "location_id": "WH1"}) == stock
    assert _get(ddb, STOCK, {"sku": "S2", "location_id": "WH1"}) is None
    assert _get(ddb, ORDERS, {"pk": "ORDER#old", "sk": "HEAD"}) == order
    assert _get(ddb, CATALOG, {"pk": "PRODUCT", "sk": "P1"}) == doc
    assert _get(ddb, IDEM, {"id": "kept-key"}) == key
    assert _get(ddb, IDEM, {"id": "new-key"}) is None
    assert _gsi1(ddb, "CH#a") == [("ORDER#old", "HEAD")]
    assert _gsi1(ddb, "CH#b") == []


def test_a_key_twice_in_one_transaction_rolls_back_the_first_write(ddb: Any) -> None:
    _put(ddb, STOCK, {"sku": "S3", "location_id": "WH1", "on_hand": 5, "reserved": 0})
    with pytest.raises(ClientError) as caught:
        ddb.transact_write_items(TransactItems=[_update_stock("S3"), _update_stock("S3")])

    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert _get(ddb, STOCK, {"sku": "S3", "location_id": "WH1"}) == {
        "sku": "S3",
        "location_id": "WH1",
        "on_hand": 5,
        "reserved": 0,
    }


def test_a_successful_transaction_applies_every_item(ddb: Any) -> None:
    _put(ddb, STOCK, {"sku": "S4", "location_id": "WH1", "on_hand": 5, "reserved": 2})
    _put(ddb, CATALOG, {"pk": "PRODUCT", "sk": "P4", "name": "gone"})
    ddb.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": ORDERS, "Item": serialize({"pk": "ORDER#4", "sk": "HEAD"})}},
            _update_stock("S4"),
            {"Delete": {"TableName": CATALOG, "Key": serialize({"pk": "PRODUCT", "sk": "P4"})}},
        ]
    )

    assert _get(ddb, ORDERS, {"pk": "ORDER#4", "sk": "HEAD"}) == {"pk": "ORDER#4", "sk": "HEAD"}
    stored = _get(ddb, STOCK, {"sku": "S4", "location_id": "WH1"})
    assert stored is not None and (stored["reserved"], stored["note"]) == (3, "tx")
    assert _get(ddb, CATALOG, {"pk": "PRODUCT", "sk": "P4"}) is None


def _order_transactions(client: Any, tag: str, count: int) -> float:
    """Median seconds of ``count`` order-like transactions (Put order + stock update)."""
    seconds = []
    for n in range(count):
        started = time.perf_counter()
        client.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": ORDERS, "Item": serialize({"pk": f"T#{tag}{n}", "sk": "H"})}},
                _update_stock("S5"),
            ]
        )
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds)


def test_transaction_time_does_not_grow_with_table_size(
    ddb: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    table_copies: list[str] = []

    def counting_deepcopy(table: Table, memo: dict[int, Any]) -> Table:
        table_copies.append(table.name)
        return table

    monkeypatch.setattr(Table, "__deepcopy__", counting_deepcopy, raising=False)
    _put(ddb, STOCK, {"sku": "S5", "location_id": "WH1", "on_hand": 5, "reserved": 0})
    empty = _order_transactions(ddb, "empty", 20)
    for start in range(0, 5000, 25):
        rows = [{"pk": f"LOAD#{n}", "sk": "H", "blob": "x" * 200} for n in range(start, start + 25)]
        ddb.batch_write_item(
            RequestItems={ORDERS: [{"PutRequest": {"Item": serialize(r)}} for r in rows]}
        )
    loaded = _order_transactions(ddb, "loaded", 20)

    assert table_copies == []
    assert loaded < 3 * empty, f"median {loaded * 1e3:.1f} ms loaded vs {empty * 1e3:.1f} ms empty"
