"""SQS senders. Queue URLs are resolved once per container and cached."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from botocore.exceptions import ClientError

SEND_BATCH_MAX = 10
STOCK_CHANGED_MAX = 100  # SKUs per ``stock_changed`` message (the feed's request size)
# the JSON protocol's code, then the query protocol's (older botocore, moto)
_NO_QUEUE = {"QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue"}


class SqsQueues:
    def __init__(self, client: Any) -> None:
        self._client = client
        self._urls: dict[str, str] = {}
        self._lock = threading.Lock()

    def url(self, queue_name: str) -> str:
        with self._lock:
            if queue_name not in self._urls:
                self._urls[queue_name] = self._client.get_queue_url(QueueName=queue_name)[
                    "QueueUrl"
                ]
            return self._urls[queue_name]

    def exists(self, queue_name: str) -> bool:
        try:
            self.url(queue_name)
        except ClientError as exc:
            if exc.response["Error"]["Code"] in _NO_QUEUE:
                return False
            raise
        return True

    def send(self, queue_name: str, body: dict[str, Any], *, delay_seconds: int = 0) -> None:
        extra = {"DelaySeconds": max(0, min(900, delay_seconds))} if delay_seconds else {}
        self._client.send_message(QueueUrl=self.url(queue_name), MessageBody=_dump(body), **extra)

    def send_batch(self, queue_name: str, bodies: Sequence[dict[str, Any]]) -> None:
        """Send every body, 10 per call; raise if any entry failed (the caller's outbox
        retries, and receivers drop duplicates by ``message_id``)."""
        for start in range(0, len(bodies), SEND_BATCH_MAX):
            chunk = bodies[start : start + SEND_BATCH_MAX]
            resp = self._client.send_message_batch(
                QueueUrl=self.url(queue_name),
                Entries=[{"Id": str(i), "MessageBody": _dump(b)} for i, b in enumerate(chunk)],
            )
            if resp.get("Failed"):
                raise RuntimeError(f"SQS refused {len(resp['Failed'])} messages: {resp['Failed']}")


class SqsOrderEvents:
    """The ``OrderEvents`` port on the internal order-events queue. Message ids are stable per
    fact, so a receiver can tell a redelivery."""

    def __init__(self, queues: SqsQueues, queue_name: str) -> None:
        self._queues, self._queue = queues, queue_name

    def order_placed(self, order_id: str, *, sale_recorded: bool = False) -> None:
        self._order("order_placed", order_id, **({"sale_recorded": True} if sale_recorded else {}))

    def order_updated(self, order_id: str) -> None:
        self._order("order_updated", order_id)

    def order_cancelled(self, order_id: str) -> None:
        self._order("order_cancelled", order_id)

    def stock_arrived(self, sku: str, location_id: str) -> None:
        body = {"type": "stock_arrived", "sku": sku, "location_id": location_id}
        self._queues.send(self._queue, {"message_id": f"stock_arrived:{sku}:{location_id}", **body})

    def stock_changed(self, skus: Iterable[str], *, delay_seconds: int = 0) -> None:
        """One message per ``STOCK_CHANGED_MAX`` SKUs (each change is its own fact)."""
        wanted = sorted(set(skus))
        for start in range(0, len(wanted), STOCK_CHANGED_MAX):
            body = {
                "message_id": f"stock_changed:{uuid.uuid4().hex}",
                "type": "stock_changed",
                "skus": wanted[start : start + STOCK_CHANGED_MAX],
            }
            self._queues.send(self._queue, body, delay_seconds=delay_seconds)

    def _order(self, event_type: str, order_id: str, **extra: Any) -> None:
        body = {"message_id": f"{event_type}:{order_id}", "type": event_type, "order_id": order_id}
        self._queues.send(self._queue, {**body, **extra})


def _dump(body: dict[str, Any]) -> str:
    return json.dumps(body, separators=(",", ":"), default=str)
