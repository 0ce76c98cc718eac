"""Preorder counters in the orders table: ``PREORDER#<sku>`` / ``COUNT`` holds ``units``
accepted so far; ``PREORDER#<sku>`` / ``ORDER#<order_id>`` is one order's claim. A claim and its
count move in one transaction, conditional on the cap, so concurrent orders never pass it and
a replayed order never counts twice."""

from __future__ import annotations

from typing import Any

from chalicelib.adapters.dynamo_tx import TransactionFailed, serialize, transact_write
from chalicelib.domain.errors import StaleOrder
from chalicelib.domain.supply import CapReached


class DynamoPreorders:
    def __init__(self, table: Any, *, client: Any) -> None:
        self._table, self._client = table, client

    def claim(self, sku: str, order_id: str, quantity: int, cap: int) -> bool:
        """Count ``quantity`` units of ``order_id`` against ``cap``: True when counted now,
        False when that order was counted before; ``CapReached`` when over the cap."""
        name = self._table.name
        ops = [
            {
                "Put": {
                    "TableName": name,
                    "Item": serialize(
                        {"pk": f"PREORDER#{sku}", "sk": f"ORDER#{order_id}", "units": quantity}
                    ),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
            {
                "Update": {
                    "TableName": name,
                    "Key": serialize({"pk": f"PREORDER#{sku}", "sk": "COUNT"}),
                    "UpdateExpression": "SET units = if_not_exists(units, :zero) + :q",
                    # no arithmetic in conditions: the most there may be before this claim
                    "ConditionExpression": "attribute_not_exists(units) OR units <= :room",
                    "ExpressionAttributeValues": serialize(
                        {":zero": 0, ":q": quantity, ":room": cap - quantity}
                    ),
                }
            },
        ]
        if quantity > cap:
            raise CapReached(sku)
        try:
            transact_write(self._client, ops)
        except TransactionFailed as exc:
            if 0 in exc.failed:
                return False
            if 1 in exc.failed:
                raise CapReached(sku) from None
            raise StaleOrder("preorder counter busy; try again") from exc
        return True

    def count(self, sku: str) -> int:
        item = self._table.get_item(
            Key={"pk": f"PREORDER#{sku}", "sk": "COUNT"}, ConsistentRead=True
        ).get("Item")
        return int(item["units"]) if item else 0
