"""RMAs in the orders table, beside their orders.

``RMA#<rma_id>`` / ``RMA`` holds the RMA document as JSON, a ``version`` for optimistic
concurrency and ``order_id``; ``gsi2`` lists returns by day under ``RDAY#<date>`` (a partition
prefix of its own, so the orders' ``DAY#`` listings never see them). The RMA is always written
with its order (``DynamoOrders.update(writes=[RmaSaved(rma)])``, see ``rma_put``): the
order's summary of its returns and the RMA change together or not at all.
"""

from __future__ import annotations

import json
from typing import Any

from chalicelib.adapters.dynamo_tx import put_new, serialize
from chalicelib.adapters.stock_items import journal_values, journalled, new_item, now_iso
from chalicelib.domain.order.writes import ReturnedStock
from chalicelib.domain.returns.model import Rma, rma_from_doc, rma_to_doc


def _key(rma_id: str) -> dict[str, str]:
    return {"pk": f"RMA#{rma_id}", "sk": "RMA"}


def rma_put(table: str, rma: Rma) -> dict[str, Any]:
    """A TransactWriteItems Put of ``rma`` as read (``rma.version``; 0 = new) at the next
    version: it fails when someone else wrote the RMA meanwhile (or created the same id)."""
    expected = rma.version
    doc = {**rma_to_doc(rma), "version": expected + 1}  # the field keeps its place
    item = {
        **_key(rma.rma_id),
        "doc": json.dumps(doc, separators=(",", ":"), default=str),
        "version": expected + 1,
        "order_id": rma.order_id,
        "status": rma.status.value,
        "gsi2pk": f"RDAY#{rma.created_at[:10]}",
        "gsi2sk": f"{rma.created_at}#{rma.rma_id}",
    }
    put: dict[str, Any] = {"TableName": table, "Item": serialize(item)}
    if expected == 0:
        put["ConditionExpression"] = "attribute_not_exists(pk)"
    else:
        put["ConditionExpression"] = "version = :v"
        put["ExpressionAttributeValues"] = serialize({":v": expected})
    return {"Put": put}


class DynamoReturns:
    def __init__(self, table: Any) -> None:
        self._table = table

    def get(self, rma_id: str) -> Rma | None:
        item = self._table.get_item(Key=_key(rma_id), ConsistentRead=True).get("Item")
        if not item:
            return None
        rma = rma_from_doc(json.loads(item["doc"]))
        rma.version = int(item["version"])
        return rma


class DynamoReturnStock:
    """Which stock items exist, for the returned units written with the RMA (``ReturnedStock``,
    see ``returned_stock_entry``): a location that never held the SKU gets a new item."""

    def __init__(self, stock: Any) -> None:
        self._stock = stock  # DynamoStock: get_many

    def existing(self, keys: list[tuple[str, str]]) -> set[tuple[str, str]]:
        return set(self._stock.get_many(keys))


def returned_stock_entry(table: str, write: ReturnedStock) -> dict[str, Any]:
    """Sellable units onto ``on_hand`` (and ``available``, journalled as a movement: see
    ``stock_items.journalled``), damaged ones into ``quarantine`` (never available).
    Conditional on the item existing (or not) as read."""
    sku, location_id, sellable, damaged = (
        write.sku,
        write.location_id,
        write.sellable,
        write.damaged,
    )
    now = now_iso()
    journal = journal_values(now, sellable) if sellable else {}
    if not write.exists:
        item = new_item(sku, location_id, on_hand=sellable, reorder_point=write.reorder_point)
        item = {**item, "quarantine": damaged, "journal": journal.get(":entry", [])}
        return put_new(table, item, key="sku")
    expression = (
        "SET on_hand = on_hand + :q, available = available + :q, "
        "quarantine = if_not_exists(quarantine, :zero) + :d, updated_at = :now "
        "ADD headroom :q"
    )
    return {
        "Update": {
            "TableName": table,
            "Key": serialize({"sku": sku, "location_id": location_id}),
            "UpdateExpression": journalled(expression) if journal else expression,
            "ConditionExpression": "attribute_exists(sku)",
            "ExpressionAttributeValues": serialize(
                {":q": sellable, ":d": damaged, ":zero": 0, ":now": now, **journal}
            ),
        }
    }
