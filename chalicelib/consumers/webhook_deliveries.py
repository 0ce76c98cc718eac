"""The webhooks queue (``dirigent-webhooks``): ``order_changed`` / ``rma_changed`` triggers
fan an order's new events out to the subscriptions (one ``delivery`` message each) and derive
its confirmations back to the platform it came from (one ``confirmation`` message each); a
``delivery`` is one signed attempt, a ``confirmation`` one platform call. A failed attempt
reports its record failed after setting its visibility to the next wait, so SQS brings it back
on the back-off schedule and, after the last attempt, moves it to the DLQ. One bad message
never fails its batch."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Literal

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from pydantic import BaseModel, ConfigDict, Field

from chalicelib.consumers import batch
from chalicelib.wiring.confirmations import confirmations
from chalicelib.wiring.webhooks import webhooks

if TYPE_CHECKING:
    from chalicelib.domain.order.model import Order

logger = Logger(service="dirigent")


class OrderChanged(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    kind: Literal["order_changed"]
    order_id: str = Field(min_length=1, max_length=64)


class RmaChanged(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    kind: Literal["rma_changed"]
    rma_id: str = Field(min_length=1, max_length=64)


class ConfirmationMessage(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    kind: Literal["confirmation"]
    channel: str = Field(min_length=1, max_length=64)
    confirmation_id: str = Field(min_length=1, max_length=64)
    manual: bool = False


class DeliveryMessage(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    kind: Literal["delivery"]
    subscription_id: str = Field(min_length=1, max_length=64)
    delivery_id: str = Field(min_length=1, max_length=64)
    manual: bool = False


def apply(record: SQSRecord) -> None:
    """Handle one record; raises for a record to retry (on the schedule) or dead-letter."""
    body = json.loads(record.body)
    kind = body.get("kind") if isinstance(body, dict) else None
    service = webhooks()
    if kind == "order_changed":
        order_id = OrderChanged.model_validate(body).order_id
        order = service.order(order_id)  # one read for both
        queued = service.announce_order(order_id, order) if order else 0
        logger.info("webhooks announced", order_id=order_id, deliveries=queued)
        if order:
            _confirm(order_id, order)
    elif kind == "rma_changed":
        rma_id = RmaChanged.model_validate(body).rma_id
        queued = service.announce_rma(rma_id)
        logger.info("webhooks announced", rma_id=rma_id, deliveries=queued)
        if rma_order := service.order_of_rma(rma_id):
            _confirm(rma_order)
    elif kind == "confirmation":
        confirmation = ConfirmationMessage.model_validate(body)
        outcome = confirmations().attempt(
            confirmation.channel,
            confirmation.confirmation_id,
            receive_count=int(record.attributes.approximate_receive_count or 1),
            receipt_handle=record.receipt_handle,
            manual=confirmation.manual,
        )
        logger.info(
            "confirmation attempted",
            confirmation_id=confirmation.confirmation_id,
            status=outcome.value,
        )
    elif kind == "delivery":
        message = DeliveryMessage.model_validate(body)
        status = service.attempt(
            message.subscription_id,
            message.delivery_id,
            receive_count=int(record.attributes.approximate_receive_count or 1),
            receipt_handle=record.receipt_handle,
            manual=message.manual,
        )
        logger.info("webhook delivered", delivery_id=message.delivery_id, status=status.value)
    else:
        raise ValueError(f"kind: unknown webhook message {kind!r}")


def _confirm(order_id: str, order: Order | None = None) -> None:
    queued = confirmations().confirm_order(order_id, order)
    if queued:
        logger.info("confirmations queued", order_id=order_id, confirmations=queued)


def handle_batch(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """The queue's Lambda: every record on its own; ``batchItemFailures`` names the retries."""
    return batch.handle_records(event, context, apply, consumer="webhook delivery")


def order_changed(order_id: str) -> None:
    """After a commit that changed an order: announce it (best effort; the next trigger of
    the same order announces whatever this one missed)."""
    try:
        from chalicelib.wiring.webhooks import webhook_queue

        webhook_queue().order_changed(order_id)
    except Exception as exc:  # noqa: BLE001 - the change is committed; webhooks are extra
        logger.warning("webhook trigger not sent", order_id=order_id, error=type(exc).__name__)


def rma_changed(rma_id: str) -> None:
    try:
        from chalicelib.wiring.webhooks import webhook_queue

        webhook_queue().rma_changed(rma_id)
    except Exception as exc:  # noqa: BLE001 - as above
        logger.warning("webhook trigger not sent", rma_id=rma_id, error=type(exc).__name__)
