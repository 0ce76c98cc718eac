"""What the low-stock alerts read and keep in DynamoDB.

- Low items: the stock table's sparse, KEYS_ONLY ``low-stock-flag`` index on
  ``(location_id, low_flag)``. Every item at or below its reorder point
  (``headroom = available - reorder_point <= 0``) has ``low_flag``; an item above it may still
  have it from a reservation (``stock_items.flagged``): the index holds a superset, one query
  per location, and the items themselves are read and checked. A flag older than
  ``CLEAR_AFTER_SECONDS`` on an item read above its reorder point is removed on the condition
  ``headroom > 0`` (atomic: a write racing it leaves the item low and flagged, or not low), so
  the next reservation writes the index again at most that often per item. The trade: reading a
  stale-flagged item each run costs ~1/10 of the index writes it saves.
- In the orders table (single-table items):
  ``SHIPPED#<sku>#<location_id>`` / ``<YYYY-MM-DD>``: units shipped that day (``units``), added
  in the same transaction that applies a ``shipped`` event once, so counts are exact; kept
  ``SHIPPED_KEEP_DAYS`` days (TTL).
  ``ALERT#<group_id>`` / ``<sku>#<location_id>``: a group's notice about an item (``Notice``),
  deleted when the item recovers.
  ``LEASE#<name>`` / ``LEASE``: one alert run at a time (EventBridge may deliver twice).
"""

from __future__ import annotations

import calendar
import time
from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any

from boto3.dynamodb.conditions import Key

from chalicelib.adapters.dynamo_tx import conditional_write, serialize
from chalicelib.adapters.stock_items import LOW_FLAG, level_from_item
from chalicelib.adapters.stock_shards import batch_read, with_shards
from chalicelib.domain.alerts.rules import ItemKey, Notice
from chalicelib.domain.network import StockLevel
from chalicelib.domain.order.writes import ShippedUnits

LOW_STOCK_INDEX = "low-stock-flag"
CLEAR_AFTER_SECONDS = 6 * 3600
SHIPPED_KEEP_DAYS = 35


def shipped_key(sku: str, location_id: str, day: date) -> dict[str, str]:
    return {"pk": f"SHIPPED#{sku}#{location_id}", "sk": day.isoformat()}


def shipped_counter_update(
    table: str, sku: str, location_id: str, day: date, quantity: int
) -> dict[str, Any]:
    """A TransactWriteItems ``Update`` adding ``quantity`` units shipped on ``day`` (low-level
    client format). Not idempotent by itself: put it in the transaction that applies the
    ``shipped`` event once (with its event marker)."""
    if quantity < 1:
        raise ValueError("quantity must be positive")
    expires = calendar.timegm((day + timedelta(days=SHIPPED_KEEP_DAYS)).timetuple())
    return {
        "Update": {
            "TableName": table,
            "Key": serialize(shipped_key(sku, location_id, day)),
            "UpdateExpression": (
                "ADD units :q SET sku = :sku, location_id = :loc, expires_at = :exp"
            ),
            "ExpressionAttributeValues": serialize(
                {":q": quantity, ":sku": sku, ":loc": location_id, ":exp": expires}
            ),
        }
    }


def shipped_units_update(table: str, write: ShippedUnits) -> dict[str, Any]:
    """``shipped_counter_update`` of a ``ShippedUnits`` write."""
    return shipped_counter_update(table, write.sku, write.location_id, write.day, write.quantity)


class DynamoLowStock:
    """Reads the stock table's ``low-stock`` index."""

    def __init__(self, stock_table: Any) -> None:
        self._table = stock_table

    def low_at(self, location_id: str) -> list[StockLevel]:
        """Items at ``location_id`` with ``available <= reorder_point`` (index and reads
        eventually consistent, so a write of the last instant may be missing until the next
        run); removes the old flags of the others."""
        kwargs: dict[str, Any] = {
            "IndexName": LOW_STOCK_INDEX,
            "KeyConditionExpression": Key("location_id").eq(location_id),
        }
        keys: list[dict[str, str]] = []
        while True:
            page = self._table.query(**kwargs)
            keys.extend({"sku": k["sku"], "location_id": k["location_id"]} for k in page["Items"])
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        client = self._table.meta.client
        items = batch_read(client, self._table.name, keys, consistent=False) if keys else []
        self._clear([i for i in items if int(i.get("headroom", 0)) > 0])
        # Only shard 0 of a hot SKU carries headroom (its own share): fold the shards in and
        # keep what is low as a whole (the other shards only add units: none is missed).
        folded = with_shards(client, self._table.name, items, consistent=False)
        levels = [level_from_item(item) for item in folded]
        return [lvl for lvl in levels if lvl.available <= lvl.reorder_point]

    def _clear(self, items: list[dict[str, Any]], now: float | None = None) -> None:
        """Remove the flags set before ``CLEAR_AFTER_SECONDS`` from items read above their
        reorder point, if they still are."""
        cutoff = int(time.time() if now is None else now) - CLEAR_AFTER_SECONDS
        for item in items:
            if int(item.get(LOW_FLAG, cutoff)) >= cutoff:
                continue
            conditional_write(
                self._table.update_item,
                Key={"sku": item["sku"], "location_id": item["location_id"]},
                UpdateExpression=f"REMOVE {LOW_FLAG}",
                ConditionExpression=f"headroom > :zero AND {LOW_FLAG} < :cutoff",
                ExpressionAttributeValues={":zero": 0, ":cutoff": cutoff},
            )

    def flag_low_items(self) -> int:
        """One-off backfill for a table written before ``low_flag``: flag every item at or
        below its reorder point that has no flag (a Scan; the flag is always safe to set)."""
        flagged = 0
        kwargs: dict[str, Any] = {
            "FilterExpression": f"headroom <= :zero AND attribute_not_exists({LOW_FLAG})",
            "ExpressionAttributeValues": {":zero": 0},
        }
        while True:
            page = self._table.scan(**kwargs)
            for item in page["Items"]:
                flagged += conditional_write(
                    self._table.update_item,
                    Key={"sku": item["sku"], "location_id": item["location_id"]},
                    UpdateExpression=f"SET {LOW_FLAG} = if_not_exists({LOW_FLAG}, :now)",
                    ConditionExpression="attribute_exists(sku)",  # not a deleted item
                    ExpressionAttributeValues={":now": int(time.time())},
                )
            if "LastEvaluatedKey" not in page:
                return flagged
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


class DynamoAlertState:
    """Notices, shipped-units counters and the run lease, in the orders table."""

    def __init__(self, table: Any) -> None:
        self._table = table

    # --- notices ---------------------------------------------------------------------------

    def notices(self, group_id: str) -> dict[ItemKey, Notice]:
        out: dict[ItemKey, Notice] = {}
        for item in self._query(Key("pk").eq(f"ALERT#{group_id}")):
            notice = Notice(
                group_id=group_id,
                sku=item["sku"],
                location_id=item["location_id"],
                low_since=item["low_since"],
                notified_at=item["notified_at"],
            )
            out[notice.key] = notice
        return out

    def save_notices(self, notices: Iterable[Notice]) -> None:
        with self._table.batch_writer(overwrite_by_pkeys=["pk", "sk"]) as batch:
            for n in notices:
                batch.put_item(
                    Item={
                        "pk": f"ALERT#{n.group_id}",
                        "sk": f"{n.sku}#{n.location_id}",
                        "sku": n.sku,
                        "location_id": n.location_id,
                        "low_since": n.low_since,
                        "notified_at": n.notified_at,
                    }
                )

    def drop_notices(self, group_id: str, keys: Iterable[ItemKey]) -> None:
        with self._table.batch_writer(overwrite_by_pkeys=["pk", "sk"]) as batch:
            for sku, location_id in keys:
                batch.delete_item(Key={"pk": f"ALERT#{group_id}", "sk": f"{sku}#{location_id}"})

    # --- shipped units ---------------------------------------------------------------------

    def shipped(self, sku: str, location_id: str, first: date, last: date) -> dict[date, int]:
        """Units shipped per day in ``[first, last]``."""
        pk = shipped_key(sku, location_id, first)["pk"]
        condition = Key("pk").eq(pk) & Key("sk").between(first.isoformat(), last.isoformat())
        return {date.fromisoformat(i["sk"]): int(i["units"]) for i in self._query(condition)}

    # --- one run at a time -----------------------------------------------------------------

    def acquire(self, name: str, holder: str, *, seconds: int) -> bool:
        """Take the lease ``name`` for ``seconds`` unless someone else holds it."""
        now = int(time.time())
        return conditional_write(
            self._table.put_item,
            Item={
                "pk": f"LEASE#{name}",
                "sk": "LEASE",
                "holder": holder,
                "until": now + seconds,
            },
            ConditionExpression="attribute_not_exists(pk) OR #until < :now",
            ExpressionAttributeNames={"#until": "until"},
            ExpressionAttributeValues={":now": now},
        )

    def release(self, name: str, holder: str) -> None:
        conditional_write(
            self._table.delete_item,
            Key={"pk": f"LEASE#{name}", "sk": "LEASE"},
            ConditionExpression="holder = :h",
            ExpressionAttributeValues={":h": holder},
        )

    def _query(self, condition: Any) -> list[dict[str, Any]]:
        kwargs: dict[str, Any] = {"KeyConditionExpression": condition, "ConsistentRead": True}
        items: list[dict[str, Any]] = []
        while True:
            page = self._table.query(**kwargs)
            items.extend(page["Items"])
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
