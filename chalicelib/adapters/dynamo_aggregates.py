"""Report aggregates in the orders table: daily counters per channel and currency (with
per-location, per-SKU and per-reason counters inside), and the open-backorder gauges.

- ``AGG#orders#<channel>#<currency>`` / ``<YYYY-MM-DD>#<shard>``: the counters of the orders
  placed that day (``chalicelib.domain.order.metrics``), added with ``ADD``.
- ``AGG#backorders`` / ``<channel>#<shard>``: units and orders waiting for stock now.

An order's counters always go to the same shard (by its id): concurrent orders of one channel
spread over ``SHARDS`` items instead of all contending for one (DynamoDB cancels a transaction
that meets another one on the same item). Readers take every shard of a day with one range
query, so the shard count may change at any time. A 90-day report reads 90 x SHARDS small
items per channel and currency, in one or two Query pages.

``aggregate_ops`` gives the ``Update`` entries for the transaction that saves an order; the
order adapter adds them to every create and update.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from boto3.dynamodb.conditions import Key

from chalicelib.adapters.dynamo_tx import serialize
from chalicelib.domain.order.metrics import delta, metrics, split_gauges
from chalicelib.domain.order.model import Order

SHARDS = 4
BACKORDERS_PK = "AGG#backorders"
Counters = dict[str, int]


def series_pk(channel: str, currency: str) -> str:
    return f"AGG#orders#{channel}#{currency}"


def shard_of(order_id: str) -> int:
    return hashlib.blake2b(order_id.encode(), digest_size=2).digest()[0] % SHARDS


def aggregate_ops(table: str, order: Order) -> list[dict[str, Any]]:
    """The transaction entries that bring the aggregates in step with ``order`` as it is about
    to be saved, and ``order.aggregated`` updated to match (the caller saves it in the same
    transaction, and puts the old value back if the transaction fails). At most two entries:
    never the same item twice in one transaction."""
    now = metrics(order)
    change = delta(now, order.aggregated)
    order.aggregated = now
    if not change:
        return []
    daily, gauges = split_gauges(change)
    shard = shard_of(order.order_id)
    ops = []
    if daily:
        key = {
            "pk": series_pk(order.channel, order.currency),
            "sk": f"{order.created_at[:10]}#{shard}",
        }
        ops.append(_add(table, key, daily))
    if gauges:
        ops.append(_add(table, {"pk": BACKORDERS_PK, "sk": f"{order.channel}#{shard}"}, gauges))
    return ops


def _add(table: str, key: dict[str, str], counters: Mapping[str, int]) -> dict[str, Any]:
    names = {f"#c{i}": name for i, name in enumerate(counters)}
    values: dict[str, Any] = {f":c{i}": v for i, v in enumerate(counters.values())}
    adds = ", ".join(f"#c{i} :c{i}" for i in range(len(counters)))
    return {
        "Update": {
            "TableName": table,
            "Key": serialize(key),
            "UpdateExpression": f"ADD {adds}",
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": serialize(values),
        }
    }


def _counters(item: Mapping[str, Any]) -> Counters:
    return {
        k: int(v)
        for k, v in item.items()
        if k not in ("pk", "sk") and isinstance(v, int | Decimal) and not isinstance(v, bool)
    }


def merge(into: Counters, counters: Mapping[str, int]) -> Counters:
    for name, value in counters.items():
        into[name] = into.get(name, 0) + value
    return into


class DynamoAggregates:
    def __init__(self, table: Any) -> None:
        self._table = table

    def daily(self, channel: str, currency: str, first: date, last: date) -> dict[str, Counters]:
        """Counters per day (``YYYY-MM-DD``) for the orders of ``channel`` in ``currency``
        placed from ``first`` to ``last``; days without orders are absent."""
        key = Key("pk").eq(series_pk(channel, currency)) & Key("sk").between(
            first.isoformat(), last.isoformat() + "~"
        )
        days: dict[str, Counters] = {}
        for item in self._query(KeyConditionExpression=key):
            merge(days.setdefault(str(item["sk"])[:10], {}), _counters(item))
        return days

    def open_backorders(self, channels: Iterable[str] | None = None) -> dict[str, Counters]:
        """The open-backorder gauges per channel (all channels, or the ones named)."""
        wanted = set(channels) if channels is not None else None
        out: dict[str, Counters] = {}
        for item in self._query(KeyConditionExpression=Key("pk").eq(BACKORDERS_PK)):
            channel = str(item["sk"]).rsplit("#", 1)[0]
            if wanted is None or channel in wanted:
                merge(out.setdefault(channel, {}), _counters(item))
        return out

    def _query(self, **kwargs: Any) -> Iterable[dict[str, Any]]:
        while True:
            page = self._table.query(**kwargs)
            yield from page["Items"]
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
