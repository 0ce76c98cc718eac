"""Every BatchGetItem reads every key: DynamoDB may leave keys unprocessed, and each read that
batches (the catalog's, the stock shards', the order path's snapshot) asks for them again."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.adapters import dynamo_batch
from chalicelib.adapters.dynamo_batch import ATTEMPTS, batch_get_items
from chalicelib.adapters.dynamo_catalog import DynamoCatalog, batch_get
from chalicelib.adapters.dynamo_snapshot import DynamoSnapshots
from chalicelib.adapters.dynamo_stock import DynamoStock
from chalicelib.adapters.stock_shards import batch_read
from chalicelib.domain.catalog import Kind


class Holding:
    """A client's ``batch_get_item`` that leaves every other key unprocessed for the first
    ``rounds`` calls (``rounds=None``: always all of them), as a throttled table does."""

    def __init__(self, real: Any, rounds: int | None = 1) -> None:
        self.real, self.rounds, self.requests = real, rounds, []

    def __call__(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        self.requests.append(RequestItems)
        if self.rounds is not None and len(self.requests) > self.rounds:
            return self.real(RequestItems=RequestItems)
        asked, held = {}, {}
        for name, spec in RequestItems.items():
            keys = spec["Keys"]
            keep = keys[::2] if self.rounds is not None else []
            rest = [k for k in keys if k not in keep]
            if keep:
                asked[name] = {**spec, "Keys": keep}
            if rest:
                held[name] = {**spec, "Keys": rest}
        answer = self.real(RequestItems=asked) if asked else {"Responses": {}}
        return {**answer, "UnprocessedKeys": held}


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch: Any) -> None:
    monkeypatch.setattr(dynamo_batch.time, "sleep", lambda seconds: None)


@pytest.fixture
def catalog(aws: Any) -> Any:
    table = aws.resource("dynamodb").Table("dirigent-catalog")
    store = DynamoCatalog(table)
    for i in range(30):
        store.put(Kind.PRODUCT.value, f"SKU-{i:02d}", {"sku": f"SKU-{i:02d}", "weight_g": i})
    return table


def test_held_back_keys_are_asked_again_until_every_item_is_read(catalog: Any, monkeypatch):
    holding = Holding(catalog.meta.client.batch_get_item, rounds=2)
    monkeypatch.setattr(catalog.meta.client, "batch_get_item", holding)
    keys = [{"pk": Kind.PRODUCT.value, "sk": f"SKU-{i:02d}"} for i in range(30)]
    found = batch_get(catalog, keys)
    assert sorted(item["sk"] for item in found) == [k["sk"] for k in keys]
    assert [len(r[catalog.name]["Keys"]) for r in holding.requests] == [30, 15, 7]


def test_keys_that_are_never_read_fail_the_read_naming_the_table(catalog: Any, monkeypatch):
    holding = Holding(catalog.meta.client.batch_get_item, rounds=None)
    monkeypatch.setattr(catalog.meta.client, "batch_get_item", holding)
    with pytest.raises(RuntimeError, match="unprocessed on dirigent-catalog"):
        batch_get_items(catalog.meta.client, {catalog.name: {"Keys": [{"pk": "x", "sk": "y"}]}})
    assert len(holding.requests) == ATTEMPTS


def test_stock_and_snapshot_reads_see_every_level_through_held_back_keys(aws: Any, monkeypatch):
    resource = aws.resource("dynamodb")
    stock = DynamoStock(
        resource.Table("dirigent-stock"),
        client=aws.client("dynamodb"),
        events_table="dirigent-orders",
    )
    DynamoCatalog(resource.Table("dirigent-catalog")).put(
        Kind.PRODUCT.value, "MUG", {"sku": "MUG", "weight_g": 300}
    )
    locations = [f"st-{i}" for i in range(6)]
    for i, loc in enumerate(locations):
        stock.set_levels("MUG", loc, on_hand=i + 1, safety_stock=0, reorder_point=0)
    client = resource.meta.client
    monkeypatch.setattr(client, "batch_get_item", Holding(client.batch_get_item))
    keys = [{"sku": "MUG", "location_id": loc} for loc in locations]
    assert len(batch_read(client, "dirigent-stock", keys, consistent=True)) == 6
    snapshots = DynamoSnapshots(
        client,
        stock_table="dirigent-stock",
        catalog_table="dirigent-catalog",
        orders_table="dirigent-orders",
    )
    snap = snapshots.read(skus=["MUG"], location_ids=locations)
    assert sorted(lv.on_hand for lv in snap.stock) == [1, 2, 3, 4, 5, 6]
    assert set(snap.products) == {"MUG"}
