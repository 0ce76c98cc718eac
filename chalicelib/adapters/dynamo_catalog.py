"""Master data in the catalog table: one item per record, ``pk`` = kind, ``sk`` = id, and the
record as a JSON document. Small kinds are cached in memory for a few seconds per container.

A location's last stock report is the item's own ``feed_at`` attribute, beside ``doc``: writing
the document keeps it, reading merges it into the document."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from boto3.dynamodb.conditions import Key

from chalicelib.adapters.dynamo_batch import batch_get_items
from chalicelib.adapters.dynamo_tx import conditional_write
from chalicelib.domain.catalog import Kind

BATCH_GET_MAX = 100
FEED_MARK_EVERY = timedelta(minutes=1)  # a location's feed_at is written at most this often


class DynamoCatalog:
    """Documents by ``(kind, id)``. ``list`` and ``get`` of cached kinds are served from memory
    for ``ttl`` seconds; writes through this instance invalidate the cache at once, and a read
    that overlapped a write is never cached (other containers see a write within ``ttl``)."""

    def __init__(self, table: Any, *, ttl: float = 30.0, cached_kinds: Iterable[str] = ()) -> None:
        self._table = table
        self._ttl = ttl
        self._cached = frozenset(cached_kinds)
        self._cache: dict[str, tuple[float, dict[str, dict[str, Any]]]] = {}
        self._generation: dict[str, int] = {}  # bumped by every write of a kind
        self._lock = threading.Lock()

    def put(self, kind: str, item_id: str, doc: dict[str, Any], *, only_new: bool = False) -> None:
        """Create or replace the document (an UpdateItem: the item's ``feed_at`` is kept)."""
        kwargs: dict[str, Any] = {}
        if only_new:
            kwargs["ConditionExpression"] = "attribute_not_exists(pk)"
        self._table.update_item(
            Key={"pk": kind, "sk": item_id},
            UpdateExpression="SET #doc = :doc",
            ExpressionAttributeNames={"#doc": "doc"},
            ExpressionAttributeValues={":doc": json.dumps(doc, separators=(",", ":"))},
            **kwargs,
        )
        self.invalidate(kind)

    def mark_feed(self, location_id: str, at: datetime) -> bool:
        """Record ``at`` as the location's last stock report, unless one less than a minute
        older is recorded or there is no such location (False then: normal, not an error).
        This container's cache sees the mark at once, others within ``ttl``."""
        kind, item_id, stamp = Kind.LOCATION.value, location_id, _stamp(at)
        if not conditional_write(
            self._table.update_item,
            Key={"pk": kind, "sk": item_id},
            UpdateExpression="SET feed_at = :now",
            ConditionExpression=(
                "attribute_exists(pk) AND (attribute_not_exists(feed_at) OR feed_at < :ago)"
            ),
            ExpressionAttributeValues={":now": stamp, ":ago": _stamp(at - FEED_MARK_EVERY)},
        ):
            return False
        with self._lock:
            self._generation[kind] = self._generation.get(kind, 0) + 1  # in-flight reads: stale
            hit = self._cache.get(kind)
            if hit and item_id in hit[1]:
                docs = {**hit[1], item_id: {**hit[1][item_id], "feed_at": stamp}}
                self._cache[kind] = (hit[0], docs)
        return True

    def put_many(self, kind: str, docs: Sequence[tuple[str, dict[str, Any]]]) -> None:
        """Replace whole items (BatchWriteItem): for kinds without a ``feed_at`` (products)."""
        with self._table.batch_writer(overwrite_by_pkeys=["pk", "sk"]) as batch:
            for item_id, doc in docs:
                batch.put_item(
                    Item={"pk": kind, "sk": item_id, "doc": json.dumps(doc, separators=(",", ":"))}
                )
        self.invalidate(kind)

    def delete(self, kind: str, item_id: str) -> None:
        self._table.delete_item(Key={"pk": kind, "sk": item_id})
        self.invalidate(kind)

    def get(self, kind: str, item_id: str) -> dict[str, Any] | None:
        if kind in self._cached:
            return self._all(kind).get(item_id)
        item = self._table.get_item(Key={"pk": kind, "sk": item_id}).get("Item")
        return _doc(item) if item else None

    def list(self, kind: str) -> list[dict[str, Any]]:
        if kind in self._cached:
            return list(self._all(kind).values())
        return list(self._query(kind).values())

    def get_many(self, kind: str, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Documents by id in as few BatchGetItem calls as possible (100 keys each)."""
        wanted = sorted(set(ids))
        if kind in self._cached:
            cached = self._all(kind)
            return {i: cached[i] for i in wanted if i in cached}
        out: dict[str, dict[str, Any]] = {}
        for start in range(0, len(wanted), BATCH_GET_MAX):
            keys = [{"pk": kind, "sk": i} for i in wanted[start : start + BATCH_GET_MAX]]
            for item in batch_get(self._table, keys):
                out[item["sk"]] = _doc(item)
        return out

    def load_cached(self) -> None:
        """Read every cached kind now (a Lambda's init), so no request pays the first read."""
        for kind in self._cached:
            self._all(kind)

    def invalidate(self, kind: str | None = None) -> None:
        with self._lock:
            for k in [kind] if kind is not None else [*self._cache, *self._generation]:
                self._cache.pop(k, None)
                self._generation[k] = self._generation.get(k, 0) + 1

    def _all(self, kind: str) -> dict[str, dict[str, Any]]:
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(kind)
            generation = self._generation.get(kind, 0)
        if hit and now - hit[0] < self._ttl:
            return hit[1]
        docs = self._query(kind, consistent=True)
        with self._lock:
            if self._generation.get(kind, 0) == generation:  # no write while we read
                self._cache[kind] = (now, docs)
        return docs

    def _query(self, kind: str, *, consistent: bool = False) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": Key("pk").eq(kind),
            "ConsistentRead": consistent,
        }
        while True:
            page = self._table.query(**kwargs)
            for item in page["Items"]:
                out[item["sk"]] = _doc(item)
            if "LastEvaluatedKey" not in page:
                return out
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _doc(item: dict[str, Any]) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(item["doc"])
    if "feed_at" in item:
        doc["feed_at"] = item["feed_at"]
    return doc


def _stamp(moment: datetime) -> str:
    """Fixed-width UTC ISO text: stamps compare as strings in time order."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def batch_get(
    table: Any, keys: list[dict[str, Any]], projection: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """BatchGetItem on one table (``projection``: its ``ProjectionExpression`` and names),
    retrying unprocessed keys."""
    request = {table.name: {"Keys": keys, **(projection or {})}}
    return batch_get_items(table.meta.client, request)[table.name]
