"""Warehouse events kept for a handler that does not exist yet, in the orders table:
``{pk: "PENDING_EVENT#<event_id>", sk: "EVENT", type, body, received_at}``."""

from __future__ import annotations

import json
from typing import Any

from boto3.dynamodb.conditions import Attr
from botocore.exceptions import ClientError

from chalicelib.adapters.dynamo_stock import now_iso

PENDING_PREFIX = "PENDING_EVENT#"


class DynamoPendingEvents:
    def __init__(self, table: Any) -> None:
        self._table = table

    def keep(self, event_id: str, event_type: str, body: dict[str, Any]) -> None:
        """Store the event once; a redelivered duplicate leaves the first copy as it is."""
        item = {
            "pk": f"{PENDING_PREFIX}{event_id}",
            "sk": "EVENT",
            "type": event_type,
            "body": json.dumps(body, separators=(",", ":"), default=str),
            "received_at": now_iso(),
        }
        try:
            self._table.put_item(Item=item, ConditionExpression="attribute_not_exists(pk)")
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise

    def pending(self) -> list[dict[str, Any]]:
        """Every kept event, oldest first (a scan: for the one-off catch-up of a new handler)."""
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"FilterExpression": Attr("pk").begins_with(PENDING_PREFIX)}
        while True:
            page = self._table.scan(**kwargs)
            items.extend(page["Items"])
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return sorted(
            (
                {
                    "event_id": i["pk"][len(PENDING_PREFIX) :],
                    "type": i["type"],
                    "body": json.loads(i["body"]),
                    "received_at": i["received_at"],
                }
                for i in items
            ),
            key=lambda e: e["received_at"],
        )
