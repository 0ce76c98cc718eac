"""The one partial-batch wrapper every SQS consumer uses: each record is handled on its own, and
the answer names the records to retry (``{"batchItemFailures": [...]}``; the event source
mapping has ``ReportBatchItemFailures``). One bad message never fails its batch."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from chalicelib import wiring

logger = Logger(service="dirigent")


def handle_batch(
    event: dict[str, Any], context: Any, handle: Callable[[str], None], *, consumer: str
) -> dict[str, Any]:
    """``handle_records`` with ``handle(body)`` for every record."""
    return handle_records(event, context, lambda record: handle(record.body), consumer=consumer)


def handle_records(
    event: dict[str, Any], context: Any, handle: Callable[[SQSRecord], None], *, consumer: str
) -> dict[str, Any]:
    """Call ``handle(record)`` for every record. A record whose handler raises is logged as
    "<consumer> failed" with its message id and reason, recorded for the dashboard's last
    failures, and reported for retry (after its retries SQS dead-letters it)."""

    def record_handler(record: SQSRecord) -> None:
        try:
            handle(record)
        except Exception as exc:
            reason = f"{type(exc).__name__}: {exc}"
            logger.error(f"{consumer} failed", message_id=record.message_id, reason=reason)
            _record_failure(consumer, record.message_id, reason)
            raise

    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    response = process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
    return dict(response)


def _record_failure(consumer: str, message_id: str, reason: str) -> None:
    """Best effort: the message is retried and logged whether or not this lands."""
    try:
        wiring.operations().record_failure(consumer, message_id, reason)
    except Exception as exc:  # noqa: BLE001 - the failure log must never fail the batch
        logger.warning("failure not recorded", message_id=message_id, error=type(exc).__name__)
