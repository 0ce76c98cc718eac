"""SQS pollers: what Lambda's event source mappings do on AWS, for the local stack.

One thread per ``@app.on_sqs_message`` handler receives up to its batch size, calls the real
handler with a Lambda-shaped event and deletes what succeeded: every record, unless the handler
answers ``{"batchItemFailures": [...]}`` (then all but those), and none if it raises. Failed
messages come back after a short visibility timeout; moto's SQS moves a message to the DLQ once
it has been received ``maxReceiveCount`` times (the queue's RedrivePolicy from resources.json).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

from chalice import Chalice
from chalice.app import SQSEventConfig

from local.lambda_shapes import context, sqs_event

log = logging.getLogger("local.pollers")

# Locally a failed message should come back within seconds, not after the queue's 60 s.
VISIBILITY_TIMEOUT_S = 3
WAIT_TIME_S = 1


@dataclass(frozen=True)
class QueueHandler:
    name: str
    queue: str
    batch_size: int
    handler: Any


def sqs_handlers(app: Chalice) -> list[QueueHandler]:
    """Every ``@app.on_sqs_message`` handler of the app, with its queue name."""
    found = []
    for source in app.event_sources:
        if isinstance(source, SQSEventConfig):
            queue = source.queue or (source.queue_arn or "").rsplit(":", 1)[-1]
            found.append(
                QueueHandler(
                    name=source.name,
                    queue=queue,
                    batch_size=source.batch_size,
                    handler=app.handler_map[source.name],
                )
            )
    return found


class Poller(threading.Thread):
    """Feeds one queue into one handler until ``stop`` is set."""

    def __init__(
        self,
        target: QueueHandler,
        *,
        sqs: Any,
        stop: threading.Event,
        visibility_timeout: int = VISIBILITY_TIMEOUT_S,
    ) -> None:
        super().__init__(name=f"poller-{target.name}", daemon=True)
        self.target = target
        self._visibility_timeout = visibility_timeout
        self._sqs = sqs
        self._halt = stop
        self._url = sqs.get_queue_url(QueueName=target.queue)["QueueUrl"]
        attrs = sqs.get_queue_attributes(QueueUrl=self._url, AttributeNames=["QueueArn"])
        self._arn = attrs["Attributes"]["QueueArn"]

    def run(self) -> None:
        while not self._halt.is_set():
            try:
                self.poll_once()
            except Exception:
                if not self._halt.is_set():
                    log.exception("poller %s failed; retrying", self.target.name)
                    self._halt.wait(1)

    def poll_once(self) -> int:
        """Receive one batch, hand it to the handler, delete what succeeded. Returns how many
        messages were deleted."""
        messages = self._sqs.receive_message(
            QueueUrl=self._url,
            MaxNumberOfMessages=min(self.target.batch_size, 10),
            WaitTimeSeconds=WAIT_TIME_S,
            VisibilityTimeout=self._visibility_timeout,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return 0
        event = sqs_event(messages, queue_arn=self._arn, region=self._sqs.meta.region_name)
        try:
            response = self.target.handler(event, context(self.target.name))
        except Exception:
            log.exception("%s raised: the whole batch will be retried", self.target.name)
            return 0
        failed = _failed_ids(response)
        if failed:
            log.warning("%s: %d of %d records failed", self.target.name, len(failed), len(messages))
        done = [m for m in messages if m["MessageId"] not in failed]
        if done:
            entries = [
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)
            ]
            self._sqs.delete_message_batch(QueueUrl=self._url, Entries=entries)
        return len(done)


def _failed_ids(response: Any) -> set[str]:
    if not isinstance(response, dict):
        return set()
    return {item["itemIdentifier"] for item in response.get("batchItemFailures") or []}
