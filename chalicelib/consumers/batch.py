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

logger = Logger(service="dirigent")


def handle_batch(
    event: dict[str, Any], context: Any, handle: Callable[[str], None], *, consumer: str
) -> dict[str, Any]:
    """Call ``handle(body)`` for every record. A record whose handler raises is logged as
    "<consumer> failed" with its message id and reason, and reported for retry (after its
    retries SQS dead-letters it)."""

    def record_handler(record: SQSRecord) -> None:
        try:
            handle(record.body)
        except Exception as exc:
            logger.error(
                f"{consumer} failed",
                message_id=record.message_id,
                reason=f"{type(exc).__name__}: {exc}",
            )
            raise

    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    response = process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
    return dict(response)
