"""The local stack's SQS poller behaves like Lambda's event source mapping: Lambda-shaped
records, partial batch failures, a raising handler retries the batch, and moto's redrive
policy (from resources.json) moves a message that keeps failing to the DLQ."""

from __future__ import annotations

import json
import threading
from typing import Any

from local.pollers import Poller, QueueHandler

QUEUE = "dirigent-warehouse-events"


class Recorder:
    """A handler that fails the records whose body says ``fail`` (or raises if told to)."""

    def __init__(self, *, raise_error: bool = False) -> None:
        self.events: list[dict[str, Any]] = []
        self.contexts: list[Any] = []
        self.raise_error = raise_error

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        self.events.append(event)
        self.contexts.append(context)
        if self.raise_error:
            raise RuntimeError("boom")
        failed = [r["messageId"] for r in event["Records"] if json.loads(r["body"]).get("fail")]
        return {"batchItemFailures": [{"itemIdentifier": i} for i in failed]}


def _poller(aws: Any, handler: Recorder) -> tuple[Poller, Any, str]:
    sqs = aws.client("sqs")
    target = QueueHandler(name="on_test", queue=QUEUE, batch_size=10, handler=handler)
    poller = Poller(target, sqs=sqs, stop=threading.Event(), visibility_timeout=0)
    return poller, sqs, sqs.get_queue_url(QueueName=QUEUE)["QueueUrl"]


def _send(sqs: Any, url: str, *bodies: dict[str, Any]) -> None:
    for body in bodies:
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps(body))


def _count(sqs: Any, url: str) -> int:
    attrs = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return sum(int(v) for v in attrs.values())


def test_records_look_like_lambdas_and_only_failures_stay(aws: Any) -> None:
    handler = Recorder()
    poller, sqs, url = _poller(aws, handler)
    _send(sqs, url, {"n": 1}, {"n": 2, "fail": True}, {"n": 3})

    deleted = poller.poll_once()

    records = handler.events[0]["Records"]
    assert deleted == len(records) - 1
    record = records[0]
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"].endswith(f":{QUEUE}")
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert {"messageId", "receiptHandle", "body", "md5OfBody", "awsRegion"} <= record.keys()
    assert len({r["messageId"] for r in records}) == len(records)
    assert handler.contexts[0].get_remaining_time_in_millis() > 0
    assert _count(sqs, url) == 3 - deleted


def test_a_raising_handler_deletes_nothing(aws: Any) -> None:
    poller, sqs, url = _poller(aws, Recorder(raise_error=True))
    _send(sqs, url, {"n": 1}, {"n": 2})

    assert poller.poll_once() == 0
    assert _count(sqs, url) == 2


def test_a_message_that_keeps_failing_ends_in_the_dlq(aws: Any) -> None:
    handler = Recorder()
    poller, sqs, url = _poller(aws, handler)
    dlq = sqs.get_queue_url(QueueName=f"{QUEUE}-dlq")["QueueUrl"]
    _send(sqs, url, {"n": 1, "fail": True})

    for _ in range(6):  # maxReceiveCount is 5 in resources.json
        poller.poll_once()

    counts = [e["Records"][0]["attributes"]["ApproximateReceiveCount"] for e in handler.events]
    assert counts == ["1", "2", "3", "4", "5"]
    assert _count(sqs, url) == 0
    moved = sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10)["Messages"]
    assert [json.loads(m["Body"]) for m in moved] == [{"n": 1, "fail": True}]
