"""Auto-cancel deadlines of held orders in the orders table (``HOLDDUE`` /
``<auto_cancel_at>#<order_id>``): written and deleted with the order (``HoldDeadline``,
``HoldDeadlineDone``, see ``dynamo_order_writes``); this adapter reads the due ones."""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.conditions import Key

from chalicelib.adapters.dynamo_order_writes import HOLD_PK, hold_key


class DynamoHoldDeadlines:
    def __init__(self, table: Any) -> None:
        self._table = table

    def holds_due(self, before: str, *, limit: int = 100) -> list[tuple[str, str]]:
        """``(order_id, until)`` of deadlines before ``before`` (ISO 8601), oldest first."""
        resp = self._table.query(
            KeyConditionExpression=Key("pk").eq(HOLD_PK) & Key("sk").lt(before),
            Limit=limit,
            ConsistentRead=True,
        )
        out = []
        for item in resp["Items"]:
            until, _, order_id = str(item["sk"]).rpartition("#")
            out.append((order_id, until))
        return out

    def drop(self, order_id: str, until: str) -> None:
        """Forget a deadline that was acted on (or no longer applies)."""
        self._table.delete_item(Key=hold_key(order_id, until))
