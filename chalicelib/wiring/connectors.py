"""Composition of the connectors' use case. Not cached on purpose: it is built from cached
adapters and services in microseconds, so ``wiring.reset()`` needs to know nothing of it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalicelib.config import settings
from chalicelib.wiring import catalog_service, order_desk, ordering, table

if TYPE_CHECKING:
    from chalicelib.services.connectors import ConnectorService


def connectors() -> ConnectorService:
    from chalicelib.adapters.dynamo_connectors import DynamoRejectedOrders, DynamoWebhookMarkers
    from chalicelib.services.connectors import ConnectorService
    from chalicelib.wiring.clock import now

    orders_table = table(settings().orders_table)
    return ConnectorService(
        catalog=catalog_service(),
        ordering=ordering(),
        desk=order_desk(),
        markers=DynamoWebhookMarkers(orders_table),
        rejected=DynamoRejectedOrders(orders_table),
        clock=now,
    )
