"""Composition of the connectors' use case. Not cached on purpose: it is built from cached
adapters and services in microseconds, so ``wiring.reset()`` needs to know nothing of it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalicelib.config import settings
from chalicelib.wiring import catalog_service, order_desk, ordering, table

if TYPE_CHECKING:
    from chalicelib.services.connectors import ConnectorService


def _check_target(url: str) -> list[str]:
    """The webhook subscriptions' guard on a URL: https, public (loopback on local)."""
    from chalicelib.wiring.webhooks import webhooks

    return webhooks().check_target(url)


def connectors() -> ConnectorService:
    from chalicelib.adapters.dynamo_connector_state import DynamoTombstones
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
        tombstones=DynamoTombstones(orders_table),
        check_target=_check_target,
        clock=now,
    )
