"""Everything the order path reads: the cart's stock at every candidate location, the cart's
products, the quote it names and the order it might replay.

A small network's stock comes in the same BatchGetItem as the rest (one round trip). From
``QUERY_FROM_LOCATIONS`` candidate locations on, each SKU's stock is one Query of its partition
instead, projected to what a level is read from, all in flight at once with the BatchGetItem: at
1,000 locations a 5-line cart is 5 Queries instead of 50 BatchGetItems of 100 keys, about a
quarter of the CPU (botocore serialising keys and parsing whole items was most of a request's)
and fewer read units (a Query is charged by the 4 KB read, a key by the item).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

from chalicelib.adapters.dynamo_batch import batch_get_items
from chalicelib.adapters.dynamo_orders import order_from_item
from chalicelib.adapters.stock_items import level_from_item, level_projection
from chalicelib.adapters.stock_shards import with_shards
from chalicelib.domain.catalog import Kind, product_from_doc
from chalicelib.domain.order.snapshot import Snapshot, StoredQuote

BATCH_GET_MAX = 100
# From this many candidate locations a SKU's stock is one Query of its partition, not a key per
# location: 16 items of up to 1 KB are at most 4 read units by Query, 8 to 16 as keys (0.5 to 1
# each). A Query also reads the SKU's other locations: below this, keys cost less.
QUERY_FROM_LOCATIONS = 16
READERS = 8  # reads in flight at once


class DynamoSnapshots:
    def __init__(self, client: Any, *, stock_table: str, catalog_table: str, orders_table: str):
        self._client = client
        self._stock, self._catalog, self._orders = stock_table, catalog_table, orders_table

    def read(
        self,
        *,
        skus: Iterable[str],
        location_ids: Iterable[str],
        quote_id: str | None = None,
        order_id: str | None = None,
        consistent: bool = True,
    ) -> Snapshot:
        """``consistent=False`` reads stock and products eventually consistently, at half the
        read units (a stale level only costs a lost race, which retries consistently). Quotes
        and orders are always read consistently: a quote written a moment ago must be found."""
        skus, locations = sorted(set(skus)), sorted(set(location_ids))
        queried = skus if len(locations) >= QUERY_FROM_LOCATIONS else []
        keys: list[tuple[str, dict[str, Any]]] = [
            (self._stock, {"sku": s, "location_id": loc})
            for s in (() if queried else skus)
            for loc in locations
        ]
        keys += [(self._catalog, {"pk": Kind.PRODUCT.value, "sk": s}) for s in skus]
        if quote_id:
            keys.append((self._orders, {"pk": f"QUOTE#{quote_id}", "sk": "QUOTE"}))
        if order_id:
            keys.append((self._orders, {"pk": f"ORDER#{order_id}", "sk": "ORDER"}))
        wanted = set(locations)
        reads: list[Callable[[], list[tuple[str, dict[str, Any]]]]] = [
            partial(self._query_stock, sku, wanted, consistent) for sku in queried
        ]
        if keys:
            reads.append(partial(self._batch_get, keys, consistent))
        snap = Snapshot()
        stock: list[dict[str, Any]] = []
        for item_table, item in _all(reads):
            if item_table == self._stock:
                stock.append(item)
            elif item_table == self._catalog:
                doc = snap.product_docs[item["sk"]] = json.loads(item["doc"])
                snap.products[item["sk"]] = product_from_doc(doc)
            elif item["pk"].startswith("QUOTE#"):
                snap.quote = StoredQuote(
                    channel=item["channel"],
                    expires_at=int(item["expires_at"]),
                    doc=json.loads(item["doc"]),
                )
            else:
                snap.order = order_from_item(item)
        # Hot SKUs: their shard items in one more BatchGetItem, read as one level each.
        stock = with_shards(self._client, self._stock, stock, consistent=consistent)
        snap.stock = [level_from_item(item) for item in stock]
        return snap

    def _query_stock(
        self, sku: str, locations: set[str], consistent: bool
    ) -> list[tuple[str, dict[str, Any]]]:
        """The SKU's stock items at ``locations`` (projected), by one Query of its partition.
        The key condition is a plain string: boto3's condition builder is one per client, not
        safe for threads building at once."""
        projection = level_projection()
        kwargs: dict[str, Any] = {
            "TableName": self._stock,
            "KeyConditionExpression": "#k = :k",
            "ExpressionAttributeValues": {":k": sku},
            "ConsistentRead": consistent,
            "ProjectionExpression": projection["ProjectionExpression"],
            "ExpressionAttributeNames": {**projection["ExpressionAttributeNames"], "#k": "sku"},
        }
        out: list[tuple[str, dict[str, Any]]] = []
        while True:
            page = self._client.query(**kwargs)
            out.extend((self._stock, i) for i in page["Items"] if i["location_id"] in locations)
            if "LastEvaluatedKey" not in page:
                return out
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _batch_get(
        self, keys: list[tuple[str, dict[str, Any]]], consistent: bool
    ) -> list[tuple[str, dict[str, Any]]]:
        out: list[tuple[str, dict[str, Any]]] = []
        for start in range(0, len(keys), BATCH_GET_MAX):
            request: dict[str, Any] = {}
            for name, key in keys[start : start + BATCH_GET_MAX]:
                if name not in request:
                    strong = consistent or name == self._orders
                    request[name] = {"Keys": [], "ConsistentRead": strong}
                    if name == self._stock:
                        request[name].update(level_projection())
                request[name]["Keys"].append(key)
            for name, items in batch_get_items(self._client, request).items():
                out.extend((name, item) for item in items)
        return out


def _all(
    reads: list[Callable[[], list[tuple[str, dict[str, Any]]]]],
) -> list[tuple[str, dict[str, Any]]]:
    """Every read's items, the reads in flight at once (a botocore client is thread-safe)."""
    if len(reads) <= 1:
        return reads[0]() if reads else []
    with ThreadPoolExecutor(max_workers=min(READERS, len(reads))) as pool:
        return [found for items in pool.map(lambda read: read(), reads) for found in items]
