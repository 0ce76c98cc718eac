"""What the connectors keep in the orders table: webhook markers and rejected orders.

A marker (``pk`` = ``WEBHOOK#<platform>#<channel>#<webhook id>``) is claimed with a
conditional put before a webhook is applied and marked done after; a claim left by a crashed
run may be taken over once it is ``STALE_SECONDS`` old. ``expires_at`` (the table's TTL)
drops it after a week: platforms retry for two days at most.

A rejected order is ``pk`` = ``REJECTED#<channel>``, ``sk`` = the platform's order id, the
record as a JSON ``doc``: one Query lists a channel's, never a scan.
"""

from __future__ import annotations

import json
from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

MARKER_TTL_SECONDS = 7 * 24 * 3600
STALE_SECONDS = 120
PENDING, DONE = "pending", "done"


def _failed_condition(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


class DynamoWebhookMarkers:
    def __init__(self, table: Any) -> None:
        self._table = table

    def claim(self, key: str, now: float) -> str:
        """``"claimed"`` when this call may apply the webhook, else the marker's state:
        ``"done"`` (a duplicate) or ``"pending"`` (another delivery is applying it)."""
        try:
            self._table.put_item(
                Item={
                    "pk": f"WEBHOOK#{key}",
                    "sk": "WEBHOOK",
                    "state": PENDING,
                    "claimed_at": int(now),
                    "expires_at": int(now) + MARKER_TTL_SECONDS,
                },
                ConditionExpression=(
                    "attribute_not_exists(pk) OR (#s = :pending AND claimed_at < :stale)"
                ),
                ExpressionAttributeNames={"#s": "state"},
                ExpressionAttributeValues={
                    ":pending": PENDING,
                    ":stale": int(now) - STALE_SECONDS,
                },
            )
        except ClientError as exc:
            if not _failed_condition(exc):
                raise
            item = self._table.get_item(
                Key={"pk": f"WEBHOOK#{key}", "sk": "WEBHOOK"}, ConsistentRead=True
            ).get("Item")
            return str(item["state"]) if item else PENDING
        return "claimed"

    def finish(self, key: str) -> None:
        self._table.update_item(
            Key={"pk": f"WEBHOOK#{key}", "sk": "WEBHOOK"},
            UpdateExpression="SET #s = :done",
            ExpressionAttributeNames={"#s": "state"},
            ExpressionAttributeValues={":done": DONE},
        )

    def release(self, key: str) -> None:
        """Give a claim up (the webhook failed): the platform's retry may apply it."""
        self._table.delete_item(Key={"pk": f"WEBHOOK#{key}", "sk": "WEBHOOK"})


class DynamoRejectedOrders:
    def __init__(self, table: Any) -> None:
        self._table = table

    def put(self, channel: str, rejected_id: str, doc: dict[str, Any]) -> None:
        self._table.put_item(
            Item={
                "pk": f"REJECTED#{channel}",
                "sk": rejected_id,
                "doc": json.dumps(doc, separators=(",", ":"), default=str),
            }
        )

    def get(self, channel: str, rejected_id: str) -> dict[str, Any] | None:
        item = self._table.get_item(
            Key={"pk": f"REJECTED#{channel}", "sk": rejected_id}, ConsistentRead=True
        ).get("Item")
        return json.loads(item["doc"]) if item else None

    def list(self, channel: str, limit: int = 100) -> list[dict[str, Any]]:
        """The channel's rejected orders, at most ``limit``, by platform order id."""
        out: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"KeyConditionExpression": Key("pk").eq(f"REJECTED#{channel}")}
        while len(out) < limit:
            page = self._table.query(**kwargs, Limit=limit - len(out))
            out.extend(json.loads(item["doc"]) for item in page["Items"])
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return out

    def delete(self, channel: str, rejected_id: str) -> None:
        self._table.delete_item(Key={"pk": f"REJECTED#{channel}", "sk": rejected_id})
