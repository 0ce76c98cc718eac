"""Move the messages of a dead-letter queue back to the queue they came from.

    python -m infrastructure.redrive warehouse-events --stage dev     # or make redrive QUEUE=...
    python -m infrastructure.redrive warehouse-events --stage local   # the local stack's moto

``QUEUE`` is a queue's name without the stage prefix, with or without ``-dlq``. On AWS this
starts SQS's own message move task (``StartMessageMoveTask``), which runs on its own; moto has
no such task, so against an endpoint (``AWS_ENDPOINT_URL``, the local stack) the messages are
received, sent back and deleted, ten at a time. Either way a message is deleted from the DLQ
only after it was sent: a crash in between redelivers it twice, and every consumer drops
duplicates by event or message id.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from typing import Any

BATCH = 10
LOCAL_REGION = "eu-central-1"


@dataclass(frozen=True)
class Redrive:
    dlq: str
    source: str
    moved: int | None  # None: SQS's move task runs on its own (see task)
    task: str | None = None


def dlq_name(queue: str, prefix: str) -> str:
    """``warehouse-events`` / ``warehouse-events-dlq`` / a full name -> the DLQ's name."""
    name = queue if queue.startswith(f"{prefix}-") else f"{prefix}-{queue}"
    return name if name.endswith("-dlq") else f"{name}-dlq"


def redrive(sqs: Any, dlq: str, *, native: bool) -> Redrive:
    """Move the messages of the DLQ ``dlq`` back to its one source queue."""
    dlq_url = sqs.get_queue_url(QueueName=dlq)["QueueUrl"]
    sources = sqs.list_dead_letter_source_queues(QueueUrl=dlq_url).get("queueUrls", [])
    if len(sources) != 1:
        raise SystemExit(f"{dlq} is the DLQ of {len(sources)} queues, not one: {sources}")
    source_url = sources[0]
    source = source_url.rsplit("/", 1)[1]
    if native:
        arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])
        task = sqs.start_message_move_task(SourceArn=arn["Attributes"]["QueueArn"])
        return Redrive(dlq, source, None, task["TaskHandle"])
    return Redrive(dlq, source, _move(sqs, dlq_url, source_url))


def _move(sqs: Any, dlq_url: str, source_url: str) -> int:
    """Receive, send back, delete; until the DLQ answers empty or what it held at the start
    has moved (what fails again meanwhile waits for the next redrive)."""
    depth = sqs.get_queue_attributes(
        QueueUrl=dlq_url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]["ApproximateNumberOfMessages"]
    moved, limit = 0, int(depth)
    while moved < limit:
        messages = sqs.receive_message(
            QueueUrl=dlq_url,
            MaxNumberOfMessages=min(BATCH, limit - moved),
            MessageAttributeNames=["All"],
            VisibilityTimeout=60,
            WaitTimeSeconds=0,
        ).get("Messages", [])
        if not messages:
            break
        entries = [
            {"Id": str(i), "MessageBody": m["Body"]}
            | ({"MessageAttributes": m["MessageAttributes"]} if m.get("MessageAttributes") else {})
            for i, m in enumerate(messages)
        ]
        sent = sqs.send_message_batch(QueueUrl=source_url, Entries=entries).get("Successful", [])
        done = [messages[int(entry["Id"])] for entry in sent]
        if done:
            sqs.delete_message_batch(
                QueueUrl=dlq_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)
                ],
            )
        moved += len(done)
        if len(done) < len(messages):
            raise SystemExit(f"SQS refused {len(messages) - len(done)} messages; {moved} moved")
    return moved


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m infrastructure.redrive", description=__doc__)
    parser.add_argument("queue", help="e.g. warehouse-events or order-events-dlq")
    parser.add_argument("--stage", default="dev")
    args = parser.parse_args(argv)
    import boto3

    from infrastructure.stage import stage_prefix

    if args.stage == "local" and "AWS_ENDPOINT_URL" not in os.environ:
        port = os.environ.get("DIRIGENT_MOTO_PORT", "5000")
        os.environ.update(
            AWS_ENDPOINT_URL=f"http://127.0.0.1:{port}",
            AWS_DEFAULT_REGION=LOCAL_REGION,
            AWS_ACCESS_KEY_ID="local",
            AWS_SECRET_ACCESS_KEY="local",  # noqa: S106 - moto takes any credentials
        )
    sqs = boto3.client("sqs")
    result = redrive(
        sqs,
        dlq_name(args.queue, stage_prefix(args.stage)),
        native="AWS_ENDPOINT_URL" not in os.environ,
    )
    if result.moved is None:
        print(f"{result.dlq} -> {result.source}: SQS move task {result.task} started")
    else:
        print(f"{result.dlq} -> {result.source}: {result.moved} messages moved")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
