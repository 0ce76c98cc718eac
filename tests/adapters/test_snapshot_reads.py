"""The order path's snapshot read on a large network: one projected Query per SKU, all in
flight with the products' BatchGetItem, and the same levels as reading key by key."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from chalicelib.adapters.dynamo_catalog import DynamoCatalog
from chalicelib.adapters.dynamo_snapshot import QUERY_FROM_LOCATIONS, DynamoSnapshots
from chalicelib.adapters.dynamo_stock import DynamoStock
from chalicelib.adapters.stock_items import LEVEL_ATTRIBUTES
from chalicelib.adapters.stock_shards import HINTS
from chalicelib.domain.catalog import Kind

LOCS = [f"st-{i:02d}" for i in range(QUERY_FROM_LOCATIONS + 4)]
HOT, PLAIN, GONE = "HOT", "PLAIN", "GONE"  # GONE: a product with no stock anywhere


class Calls:
    """Every DynamoDB call a client makes, with its parameters and parsed response."""

    def __init__(self, client: Any) -> None:
        self.made: list[tuple[str, dict[str, Any]]] = []
        self.answers: list[tuple[str, dict[str, Any]]] = []
        client.meta.events.register("provide-client-params.dynamodb", self._before)
        client.meta.events.register("after-call.dynamodb", self._after)

    def _before(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        self.made.append((model.name, params))

    def _after(self, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        self.answers.append((model.name, parsed))

    def count(self) -> Counter[str]:
        return Counter(name for name, _ in self.made)


@pytest.fixture
def world(aws: Any) -> tuple[DynamoSnapshots, DynamoStock, Any]:
    HINTS._by_key.clear()
    resource = aws.resource("dynamodb")
    raw = resource.Table("dirigent-stock")
    stock = DynamoStock(raw, client=aws.client("dynamodb"), events_table="dirigent-orders")
    catalog = DynamoCatalog(resource.Table("dirigent-catalog"))
    for sku in (HOT, PLAIN, GONE):
        catalog.put(Kind.PRODUCT.value, sku, {"sku": sku, "weight_g": 100, "prices": {"EUR": 9}})
    for i, loc in enumerate(LOCS):
        stock.set_levels(HOT, loc, on_hand=10 + i, safety_stock=1, reorder_point=2)
        if i % 3:  # PLAIN is missing at every third location
            stock.set_levels(PLAIN, loc, on_hand=5 + i, safety_stock=0, reorder_point=0)
            stock.adjust(PLAIN, loc, -1)  # a journalled movement: the item carries a journal
    stock.set_levels(HOT, "far", on_hand=99, safety_stock=0, reorder_point=0)  # not a candidate
    stock.set_shards(HOT, 3)  # hot: two more shard items per location
    snapshots = DynamoSnapshots(
        resource.meta.client,
        stock_table="dirigent-stock",
        catalog_table="dirigent-catalog",
        orders_table="dirigent-orders",
    )
    return snapshots, stock, resource.meta.client


def levels(snapshot: Any) -> dict[tuple[str, str], tuple[int, ...]]:
    return {
        (lv.sku, lv.location_id): (lv.on_hand, lv.reserved, lv.safety_stock, lv.reorder_point)
        for lv in snapshot.stock
    }


def test_a_large_network_reads_each_skus_stock_by_one_query(world: Any) -> None:
    snapshots, stock, client = world
    calls = Calls(client)
    snap = snapshots.read(skus=[HOT, PLAIN, GONE], location_ids=LOCS)
    made = calls.count()
    assert made["Query"] == 3  # one per SKU, not a key per (SKU, location)
    assert made["BatchGetItem"] == 2  # the products, then the hot SKU's shard items
    assert set(snap.products) == {HOT, PLAIN, GONE}
    expected = {
        key: (lv.on_hand, lv.reserved, lv.safety_stock, lv.reorder_point)
        for key, lv in stock.get_many((s, loc) for s in (HOT, PLAIN) for loc in LOCS).items()
    }
    assert levels(snap) == expected  # the far location left out, missing items absent
    assert (HOT, "st-03") in expected and (PLAIN, "st-03") not in expected
    assert sum(lv.available for lv in snap.stock if lv.sku == HOT) == sum(
        9 + i for i in range(len(LOCS))
    )  # the shard items folded into one level per location


def test_the_queries_bring_only_what_a_level_is_read_from(world: Any) -> None:
    snapshots, _, client = world
    calls = Calls(client)
    snapshots.read(skus=[PLAIN], location_ids=LOCS)
    queries = [params for name, params in calls.made if name == "Query"]
    assert queries and all(q["ConsistentRead"] is True for q in queries)
    items = [i for name, answer in calls.answers if name == "Query" for i in answer["Items"]]
    assert items and all(set(i) <= set(LEVEL_ATTRIBUTES) for i in items)  # no journal, no stamps
    calls = Calls(client)
    snapshots.read(skus=[PLAIN], location_ids=LOCS, consistent=False)
    assert [p["ConsistentRead"] for name, p in calls.made if name == "Query"] == [False]


def test_either_read_gives_the_same_levels(world: Any) -> None:
    snapshots, _, _ = world
    whole = snapshots.read(skus=[HOT, PLAIN], location_ids=LOCS)
    few = QUERY_FROM_LOCATIONS - 1
    by_keys = {}
    for start in range(0, len(LOCS), few):  # under the threshold: keys in a BatchGetItem
        by_keys.update(levels(snapshots.read(skus=[HOT, PLAIN], location_ids=LOCS[start:][:few])))
    assert levels(whole) == by_keys and len(by_keys) == len(LOCS) + len(LOCS) * 2 // 3


def test_a_partition_over_one_page_is_read_to_its_end(world: Any, aws: Any) -> None:
    snapshots, _, client = world
    raw = aws.resource("dynamodb").Table("dirigent-stock")
    for loc in LOCS:  # 20 items of 60 KB: DynamoDB (and moto) answer a Query in 1 MB pages
        raw.put_item(Item={"sku": "BIG", "location_id": loc, "on_hand": 1, "pad": "x" * 60_000})
    calls = Calls(client)
    snap = snapshots.read(skus=["BIG"], location_ids=LOCS)
    assert calls.count()["Query"] >= 2
    assert sorted(lv.location_id for lv in snap.stock) == LOCS


def test_reads_at_once_from_many_threads_each_get_their_own_levels(world: Any) -> None:
    """Lambdas' threads share a client: each read's queries (themselves in flight together)
    must come back with that read's SKUs and levels only."""
    snapshots, _, _ = world
    alone = {sku: levels(snapshots.read(skus=[sku], location_ids=LOCS)) for sku in (HOT, PLAIN)}
    carts = [[HOT], [PLAIN], [HOT, PLAIN], [PLAIN, GONE]] * 6

    def read(cart: list[str]) -> dict[tuple[str, str], tuple[int, ...]]:
        return levels(snapshots.read(skus=cart, location_ids=LOCS))

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(read, carts))
    for cart, found in zip(carts, results, strict=True):
        assert found == {k: v for sku in cart for k, v in alone.get(sku, {}).items()}
