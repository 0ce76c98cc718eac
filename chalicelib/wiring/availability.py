"""Composition of the availability feed. Built per call from the cached clients and services
(``wiring.reset()`` renews those), like ``wiring.webhooks``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalicelib.config import settings
from chalicelib.wiring.aws import client, queues, stock_store, table

if TYPE_CHECKING:
    from chalicelib.services.availability import AvailabilityService


def availability() -> AvailabilityService:
    from chalicelib.adapters.dynamo_availability import DynamoAvailability, SqsRechecks
    from chalicelib.services.availability import AvailabilityService
    from chalicelib.services.cursors import CursorSigner
    from chalicelib.wiring import catalog_service
    from chalicelib.wiring.clock import now
    from chalicelib.wiring.webhooks import webhooks

    s = settings()

    def push(channel: str, sku: str, available: int, version: int) -> int:
        return webhooks().availability_changed(channel, sku, available, version)

    return AvailabilityService(
        network=catalog_service(),
        stock=stock_store(),
        store=DynamoAvailability(table(s.orders_table)),
        push=push,
        rechecks=SqsRechecks(client("sqs"), lambda: queues().url(s.order_events_queue)),
        cursors=CursorSigner(s.token_secret.encode()),
        clock=now,
    )
