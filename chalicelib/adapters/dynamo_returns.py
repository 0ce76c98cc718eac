"""RMAs in the orders table, beside their orders.

``RMA#<rma_id>`` / ``RMA`` holds the RMA document as JSON, a ``version`` for optimistic
concurrency and ``order_id``; ``gsi2`` lists returns by day under ``RDAY#<date>`` (a partition
prefix of its own, so the orders' ``DAY#`` listings never see them). The RMA is always written
with its order (``DynamoOrders.update(extra=[put_item(...)])``): the order's summary of its
returns and the RMA change together or not at all.
"""

from __future__ import annotations

import json
from typing import Any

from chalicelib.adapters.dynamo_stock import new_item, now_iso
from chalicelib.adapters.dynamo_tx import put_new, serialize
from chalicelib.domain.returns.policy import Rma, rma_from_doc, rma_to_doc


def _key(rma_id: str) -> dict[str, str]:
    return {"pk": f"RMA#{rma_id}", "sk": "RMA"}


class DynamoReturns:
    def __init__(self, table: Any) -> None:
        self._table = table

    def put_item(self, rma: Rma) -> dict[str, Any]:
        """A TransactWriteItems Put of ``rma`` as read (``rma.version``; 0 = new), bumping its
        version: it fails when someone else wrote the RMA meanwhile (or created the same id).
        A failed transaction leaves ``rma`` stale: read it again before retrying."""
        expected = rma.version
        rma.version = expected + 1
        item = {
            **_key(rma.rma_id),
            "doc": json.dumps(rma_to_doc(rma), separators=(",", ":"), default=str),
            "version": rma.version,
            "order_id": rma.order_id,
            "status": rma.status.value,
            "gsi2pk": f"RDAY#{rma.created_at[:10]}",
            "gsi2sk": f"{rma.created_at}#{rma.rma_id}",
        }
        put: dict[str, Any] = {"TableName": self._table.name, "Item": serialize(item)}
        if expected == 0:
            put["ConditionExpression"] = "attribute_not_exists(pk)"
        else:
            put["ConditionExpression"] = "version = :v"
            put["ExpressionAttributeValues"] = serialize({":v": expected})
        return {"Put": put}

    def get(self, rma_id: str) -> Rma | None:
        item = self._table.get_item(Key=_key(rma_id), ConsistentRead=True).get("Item")
        if not item:
            return None
        rma = rma_from_doc(json.loads(item["doc"]))
        rma.version = int(item["version"])
        return rma


class DynamoReturnStock:
    """Returned units into the stock table, as TransactWriteItems entries written with the
    RMA. Sellable and damaged units of one SKU at one location are ONE entry (a transaction
    may touch an item only once); a location that never held the SKU gets a new item."""

    def __init__(self, stock: Any, *, stock_table: str) -> None:
        self._stock = stock  # DynamoStock: get_many
        self._name = stock_table

    def existing(self, keys: list[tuple[str, str]]) -> set[tuple[str, str]]:
        return set(self._stock.get_many(keys))

    def receive_entry(
        self,
        sku: str,
        location_id: str,
        *,
        sellable: int,
        damaged: int,
        exists: bool,
        reorder_point: int = 0,
    ) -> dict[str, Any]:
        """Sellable units onto ``on_hand`` (and ``available``), damaged ones into
        ``quarantine`` (never available). Conditional on the item existing (or not) as read."""
        if not exists:
            item = new_item(sku, location_id, on_hand=sellable, reorder_point=reorder_point)
            return put_new(self._name, {**item, "quarantine": damaged}, key="sku")
        return {
            "Update": {
                "TableName": self._name,
                "Key": serialize({"sku": sku, "location_id": location_id}),
                "UpdateExpression": (
                    "SET on_hand = on_hand + :q, available = available + :q, "
                    "quarantine = if_not_exists(quarantine, :zero) + :d, updated_at = :now "
                    "ADD headroom :q"
                ),
                "ConditionExpression": "attribute_exists(sku)",
                "ExpressionAttributeValues": serialize(
                    {":q": sellable, ":d": damaged, ":zero": 0, ":now": now_iso()}
                ),
            }
        }
