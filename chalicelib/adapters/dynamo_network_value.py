"""Network values and the sales they are computed from.

- Catalog table, ``pk`` = ``NETVAL``, ``sk`` = the SKU: ``values`` (location id -> opportunity
  cost of one unit, minor units; only those > 0) and ``computed_at``. One item per SKU, so an
  order reads its cart's values in one BatchGetItem, never one read per location.
- Orders table, ``pk`` = ``SALES#<YYYY-MM-DD>``, ``sk`` = the order id: the order's demand
  ``region`` and its units per SKU (``lines``), expiring after ``KEEP_DAYS``. A put of the same
  order again writes the same item: redelivery adds nothing. The job reads a day with one Query.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

from boto3.dynamodb.conditions import Key

from chalicelib.adapters.dynamo_catalog import BATCH_GET_MAX, batch_get
from chalicelib.domain.network_value import NetworkValues, Sale

VALUES_PK = "NETVAL"
KEEP_DAYS = 60


def _sales_pk(day: date) -> str:
    return f"SALES#{day.isoformat()}"


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
        expires = datetime.combine(sale.day, datetime.min.time(), UTC) + timedelta(KEEP_DAYS)
        self._orders.put_item(
            Item={
                "pk": _sales_pk(sale.day),
                "sk": order_id,
                "region": sale.region,
                "lines": {sku: int(q) for sku, q in sale.lines.items() if q > 0},
                "expires_at": int(expires.timestamp()),
            }
        )

    def sales(self, first: date, last: date) -> list[Sale]:
        """The recorded sales of the days ``first`` to ``last`` (both included)."""
        out: list[Sale] = []
        day = first
        while day <= last:
            kwargs: dict[str, Any] = {"KeyConditionExpression": Key("pk").eq(_sales_pk(day))}
            while True:
                page = self._orders.query(**kwargs)
                for item in page.get("Items", []):
                    lines = {sku: int(q) for sku, q in item.get("lines", {}).items()}
                    out.append(Sale(day, str(item["region"]), lines))
                if "LastEvaluatedKey" not in page:
                    break
                kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
            day += timedelta(days=1)
        return out
