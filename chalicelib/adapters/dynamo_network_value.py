"""Network values and the sales they are computed from.

- Catalog table, ``pk`` = ``NETVAL``, ``sk`` = the SKU: ``values`` (location id -> opportunity
  cost of one unit, minor units; only those > 0) and ``computed_at``. One item per SKU, so an
  order reads its cart's values in one BatchGetItem, never one read per location.
- Sales: the orders table's sourcing-inputs items (``dynamo_simulation``: ``SIMIN#<YYYY-MM-DD>``
  / order id), which the capture writes after its commit with the order's demand ``region`` and
  units per SKU (``lines``): one item per order for both. ``record_sale`` (the order-events
  consumer) reads the key and writes a sale-only item only when the capture's is missing (its
  write failed), on the condition that none exists, so it never overwrites the inputs and a
  redelivery adds nothing. The job reads a day with one Query; an inputs item without the sale
  attributes (written before they existed) gives its sale from ``d``.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

from boto3.dynamodb.conditions import Key

from chalicelib.adapters.dynamo_catalog import BATCH_GET_MAX, batch_get
from chalicelib.adapters.dynamo_simulation import (
    INPUT_TTL_SECONDS,
    input_key,
    sale_attributes,
    sale_of,
    unpack,
)
from chalicelib.adapters.dynamo_tx import conditional_write
from chalicelib.domain.network_value import NetworkValues, Sale
from chalicelib.domain.simulation import SimInput

VALUES_PK = "NETVAL"


class DynamoNetworkValues:
    def __init__(self, catalog_table: Any, orders_table: Any) -> None:
        self._catalog, self._orders = catalog_table, orders_table

    def put_values(self, sku: str, values: Mapping[str, int], computed_at: datetime) -> None:
        self._catalog.put_item(
            Item={
                "pk": VALUES_PK,
                "sk": sku,
                "values": {loc: int(v) for loc, v in values.items() if v > 0},
                "computed_at": computed_at.astimezone(UTC).isoformat(timespec="seconds"),
            }
        )

    def values(self, skus: Iterable[str]) -> NetworkValues:
        keys = [{"pk": VALUES_PK, "sk": sku} for sku in sorted(set(skus))]
        found: dict[str, dict[str, int]] = {}
        at: dict[str, datetime] = {}
        items = [
            item
            for start in range(0, len(keys), BATCH_GET_MAX)
            for item in batch_get(self._catalog, keys[start : start + BATCH_GET_MAX])
        ]
        for item in items:
            sku = str(item["sk"])
            found[sku] = {loc: int(v) for loc, v in item.get("values", {}).items()}
            at[sku] = datetime.fromisoformat(str(item["computed_at"]))
        return NetworkValues(values=found, computed_at=at)

    def record_sale(self, order_id: str, sale: Sale) -> None:
        """Keep ``sale`` unless the order's inputs item (or an earlier sale) is there."""
        key = input_key(sale.day.isoformat(), order_id)
        if "Item" in self._orders.get_item(Key=key, ProjectionExpression="sk"):
            return  # the usual case: the capture wrote it (a stale miss: the condition holds)
        start = datetime.combine(sale.day, datetime.min.time(), UTC)
        conditional_write(
            self._orders.put_item,
            Item={
                **key,
                **sale_attributes(sale.region, dict(sale.lines)),
                "expires_at": int(start.timestamp()) + INPUT_TTL_SECONDS,
            },
            ConditionExpression="attribute_not_exists(pk)",
        )

    def sales(self, first: date, last: date) -> list[Sale]:
        """The recorded sales of the days ``first`` to ``last`` (both included)."""
        out: list[Sale] = []
        day = first
        while day <= last:
            kwargs: dict[str, Any] = {
                "KeyConditionExpression": Key("pk").eq(input_key(day.isoformat(), "")["pk"]),
                "ProjectionExpression": "#r, #l, d",
                "ExpressionAttributeNames": {"#r": "region", "#l": "lines"},
            }
            while True:
                page = self._orders.query(**kwargs)
                out.extend(s for item in page.get("Items", []) if (s := _sale(day, item)))
                if "LastEvaluatedKey" not in page:
                    break
                kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
            day += timedelta(days=1)
        return out


def _sale(day: date, item: dict[str, Any]) -> Sale | None:
    if "region" in item:
        lines = {sku: int(q) for sku, q in item.get("lines", {}).items()}
        return Sale(day, str(item["region"]), lines)
    try:  # an inputs item older than the sale attributes
        region, units = sale_of(SimInput.from_doc(unpack(item["d"])))
    except (KeyError, TypeError, ValueError, zlib.error):
        return None
    return Sale(day, region, units)
