"""The operations ports: DLQ depths from SQS, and the failure log as a few items of the orders
table (``OPS#failures``, one item per slot, expiring with the DLQs' retention; the ring's
sequence is a counter item of its own, ``OPS#failure-seq``)."""

from __future__ import annotations

import time
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

PK = "OPS#failures"
SEQ_KEY = {"pk": "OPS#failure-seq", "sk": "SEQ"}


class SqsQueueDepths:
    def __init__(self, client: Any) -> None:
        self._client = client
        self._urls: dict[str, str] = {}

    def depth(self, queue_name: str) -> tuple[int | None, int | None]:
        """(visible, in flight), approximate as SQS counts; unreadable (missing, denied) is
        ``(None, None)``."""
        try:
            if queue_name not in self._urls:
                self._urls[queue_name] = self._client.get_queue_url(QueueName=queue_name)[
                    "QueueUrl"
                ]
            attrs = self._client.get_queue_attributes(
                QueueUrl=self._urls[queue_name],
                AttributeNames=[
                    "ApproximateNumberOfMessages",
                    "ApproximateNumberOfMessagesNotVisible",
                ],
            )["Attributes"]
        except (ClientError, BotoCoreError):
            return None, None
        return (
            int(attrs.get("ApproximateNumberOfMessages", 0)),
            int(attrs.get("ApproximateNumberOfMessagesNotVisible", 0)),
        )


class DynamoFailureLog:
    def __init__(self, table: Any) -> None:
        self._table = table

    def append(self, failure: dict[str, Any], slots: int, ttl_seconds: int) -> None:
        seq = int(
            self._table.update_item(
                Key=SEQ_KEY,
                UpdateExpression="ADD seq :one",
                ExpressionAttributeValues={":one": 1},
                ReturnValues="UPDATED_NEW",
            )["Attributes"]["seq"]
        )
        self._table.put_item(
            Item={
                "pk": PK,
                "sk": f"SLOT#{seq % slots:03d}",
                **failure,
                "seq": seq,
                "expires_at": int(time.time()) + ttl_seconds,
            }
        )

    def recent(self) -> list[dict[str, Any]]:
        now = int(time.time())
        items = self._table.query(
            KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": PK}
        )["Items"]
        return [
            {k: v for k, v in item.items() if k not in ("pk", "sk", "expires_at")}
            for item in items
            if int(item.get("expires_at", now)) >= now  # TTL deletes lazily
        ]
