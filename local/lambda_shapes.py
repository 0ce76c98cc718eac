"""Lambda-shaped events and contexts, so the local stack calls the real handlers exactly as
Lambda would: an SQS batch event, an EventBridge scheduled event and a context object."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime
from typing import Any

from chalice.local import LambdaContext

ACCOUNT_ID = "123456789012"


def context(function_name: str, *, timeout_s: int = 60) -> LambdaContext:
    """A context with function_name, aws_request_id, memory_limit_in_mb and
    get_remaining_time_in_millis (chalice's own local context)."""
    return LambdaContext(
        function_name=f"dirigent-local-{function_name}",
        memory_size=512,
        max_runtime_ms=timeout_s * 1000,
    )


def sqs_event(messages: list[dict[str, Any]], *, queue_arn: str, region: str) -> dict[str, Any]:
    """The event Lambda's SQS event source mapping hands to a function, from ReceiveMessage
    output (requested with AttributeNames and MessageAttributeNames ``All``)."""
    return {"Records": [_record(m, queue_arn=queue_arn, region=region) for m in messages]}


def _record(message: dict[str, Any], *, queue_arn: str, region: str) -> dict[str, Any]:
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes", {}),
        "messageAttributes": {
            name: _message_attribute(value)
            for name, value in message.get("MessageAttributes", {}).items()
        },
        "md5OfBody": message.get("MD5OfBody") or hashlib.md5(message["Body"].encode()).hexdigest(),  # noqa: S324
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


def _message_attribute(value: dict[str, Any]) -> dict[str, Any]:
    """ReceiveMessage spells ``StringValue``; a Lambda record spells ``stringValue``."""
    return {
        "stringValue": value.get("StringValue"),
        "binaryValue": value.get("BinaryValue"),
        "stringListValues": value.get("StringListValues", []),
        "binaryListValues": value.get("BinaryListValues", []),
        "dataType": value.get("DataType", "String"),
    }


def scheduled_event(rule_name: str, *, region: str) -> dict[str, Any]:
    """The EventBridge event a ``rate(...)``/``cron(...)`` rule sends to its target."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT_ID,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [f"arn:aws:events:{region}:{ACCOUNT_ID}:rule/dirigent-local-{rule_name}"],
        "detail": {},
    }
