"""Everything the order path reads, in one BatchGetItem across tables: the cart's stock at every
candidate location, the cart's products, the quote it names and the order it might replay."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from typing import Any

from chalicelib.adapters.dynamo_orders import order_from_item
from chalicelib.adapters.stock_items import level_from_item
from chalicelib.adapters.stock_shards import with_shards
from chalicelib.domain.catalog import Kind, product_from_doc
from chalicelib.domain.order.snapshot import Snapshot, StoredQuote

BATCH_GET_MAX = 100


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
        keys: list[tuple[str, dict[str, Any]]] = [
            (self._stock, {"sku": s, "location_id": loc}) for s in skus for loc in locations
        ]
        keys += [(self._catalog, {"pk": Kind.PRODUCT.value, "sk": s}) for s in skus]
        if quote_id:
            keys.append((self._orders, {"pk": f"QUOTE#{quote_id}", "sk": "QUOTE"}))
        if order_id:
            keys.append((self._orders, {"pk": f"ORDER#{order_id}", "sk": "ORDER"}))
        snap = Snapshot()
        stock: list[dict[str, Any]] = []
        for item_table, item in self._batch_get(keys, consistent):
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

    def _batch_get(
        self, keys: list[tuple[str, dict[str, Any]]], consistent: bool
    ) -> list[tuple[str, dict[str, Any]]]:
        out: list[tuple[str, dict[str, Any]]] = []
        for start in range(0, len(keys), BATCH_GET_MAX):
            request: dict[str, Any] = {}
            for name, key in keys[start : start + BATCH_GET_MAX]:
                strong = consistent or name == self._orders
                request.setdefault(name, {"Keys": [], "ConsistentRead": strong})["Keys"].append(key)
            for attempt in range(8):
                resp = self._client.batch_get_item(RequestItems=request)
                for name, items in resp["Responses"].items():
                    out.extend((name, item) for item in items)
                request = resp.get("UnprocessedKeys") or {}
                if not request:
                    break
                time.sleep(0.02 * 2**attempt)
            else:
                raise RuntimeError("BatchGetItem kept keys unprocessed")
        return out
