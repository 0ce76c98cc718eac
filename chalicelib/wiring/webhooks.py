"""Composition of webhooks out. Built per call from the cached clients (``wiring.reset()``
renews those), so tests may swap ``resolver`` and ``transport`` here."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalicelib.config import LOCAL_STAGE, queue_name, settings
from chalicelib.wiring.aws import client, orders, queues, rmas, table

if TYPE_CHECKING:
    from chalicelib.adapters.http_delivery import SqsWebhookQueue
    from chalicelib.services.webhooks import Resolver, Transport, WebhookService


def resolver() -> Resolver:
    from chalicelib.adapters.http_delivery import resolve

    return resolve


def transport() -> Transport:
    from chalicelib.adapters.http_delivery import HttpTransport

    return HttpTransport()


def webhook_queue() -> SqsWebhookQueue:
    """Also the consumers' trigger: ``order_changed`` / ``rma_changed`` after a commit."""
    from chalicelib.adapters.http_delivery import SqsWebhookQueue

    return SqsWebhookQueue(client("sqs"), queue_name("webhooks"), urls=queues().url)


def webhooks() -> WebhookService:
    from chalicelib.adapters.dynamo_webhooks import DynamoWebhooks
    from chalicelib.services.cursors import CursorSigner
    from chalicelib.services.webhooks import WebhookService

    s = settings()

    def order_of_rma(rma_id: str) -> str | None:
        rma = rmas().get(rma_id)
        return rma.order_id if rma else None

    return WebhookService(
        store=DynamoWebhooks(table(s.orders_table)),
        orders=orders().get,
        order_of_rma=order_of_rma,
        queue=webhook_queue(),
        resolver=resolver(),
        transport=transport(),
        cursors=CursorSigner(s.token_secret.encode()),
        local=s.stage == LOCAL_STAGE,
    )
