"""The one place that builds boto3 clients and adapters, lazily, so that moto and tests can set
the endpoint first. ``AWS_ENDPOINT_URL`` (honoured by boto3 itself) is what points at moto."""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.config import Config

from chalicelib.adapters.dynamo_catalog import DynamoCatalog, Kind
from chalicelib.adapters.dynamo_events import DynamoPendingEvents
from chalicelib.adapters.dynamo_orders import DynamoOrders
from chalicelib.adapters.dynamo_snapshot import DynamoSnapshots
from chalicelib.adapters.dynamo_stock import DynamoStock
from chalicelib.adapters.sqs import OrderEventsPublisher, SqsQueues
from chalicelib.config import settings
from chalicelib.services.access import KeyService
from chalicelib.services.backorders import BackorderService
from chalicelib.services.catalog import CatalogService
from chalicelib.services.importer import ImportService
from chalicelib.services.inventory import InventoryService, on_stock_arrived
from chalicelib.services.order_desk import OrderDesk
from chalicelib.services.ordering import OrderService
from chalicelib.services.warehouse_events import WarehouseEventService

_BOTO_CONFIG = Config(retries={"mode": "standard", "max_attempts": 4}, max_pool_connections=64)


@cache
def session() -> boto3.session.Session:
    return boto3.session.Session()


@cache
def client(service: str) -> Any:
    return session().client(service, config=_BOTO_CONFIG)


@cache
def dynamodb() -> Any:
    return session().resource("dynamodb", config=_BOTO_CONFIG)


def table(name: str) -> Any:
    return dynamodb().Table(name)


def reset() -> None:
    """Forget every cached client, adapter and setting (tests, and the local stack on start)."""
    for fn in (session, client, dynamodb, settings):
        fn.cache_clear()
    for hook in _RESET_HOOKS:
        hook()


_RESET_HOOKS: list[Any] = []


def on_reset(hook: Any) -> Any:
    """Register a cached factory (or any callable) to clear on ``reset()``."""
    _RESET_HOOKS.append(getattr(hook, "cache_clear", hook))
    return hook


# --- adapters and services -------------------------------------------------------------------
# Each factory is cached, so a warm Lambda builds it once; ``reset()`` forgets them all.


@on_reset
@cache
def catalog() -> DynamoCatalog:
    return DynamoCatalog(
        table(settings().catalog_table),
        ttl=settings().cache_ttl_seconds,
        cached_kinds=(Kind.CHANNEL, Kind.LOCATION, Kind.CARRIER, Kind.RULES, Kind.ALERT_GROUP),
    )


@on_reset
@cache
def keys() -> KeyService:
    return KeyService(catalog())


@on_reset
@cache
def catalog_service() -> CatalogService:
    return CatalogService(catalog())


@on_reset
@cache
def queues() -> SqsQueues:
    return SqsQueues(client("sqs"))


@on_reset
@cache
def order_events() -> OrderEventsPublisher:
    return OrderEventsPublisher(queues(), settings().order_events_queue)


@on_reset
@cache
def orders() -> DynamoOrders:
    return DynamoOrders(
        table(settings().orders_table), settings().stock_table, client=client("dynamodb")
    )


@on_reset
@cache
def snapshots() -> DynamoSnapshots:
    s = settings()
    return DynamoSnapshots(
        dynamodb().meta.client,
        stock_table=s.stock_table,
        catalog_table=s.catalog_table,
        orders_table=s.orders_table,
    )


@on_reset
@cache
def ordering() -> OrderService:
    s = settings()
    return OrderService(
        network=catalog_service(),
        snapshots=snapshots(),
        orders=orders(),
        events=order_events(),
        token_secret=s.token_secret.encode(),
        quote_ttl_seconds=s.quote_ttl_seconds,
    )


@on_reset
@cache
def order_desk() -> OrderDesk:
    return OrderDesk(
        orders=orders(),
        search=orders(),
        events=order_events(),
        stock_freed=lambda sku, location_id: backorders().allocate(sku, location_id),
        by_tracking_number=lambda number: fulfilment_log().order_ids(number),
    )


@on_reset
@cache
def stock_store() -> DynamoStock:
    s = settings()
    return DynamoStock(table(s.stock_table), client=client("dynamodb"), events_table=s.orders_table)


@on_reset
@cache
def inventory() -> InventoryService:
    return InventoryService(stock_store(), catalog_service())


@on_reset
@cache
def idempotency_store() -> Any:
    """The Powertools persistence layer on the idempotency table; use it with an explicit
    ``key_prefix`` per use case and ``output_serializer=PydanticSerializer(Model)``."""
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    return DynamoDBPersistenceLayer(
        table_name=settings().idempotency_table, boto3_client=client("dynamodb")
    )


@on_reset
@cache
def pending_events() -> DynamoPendingEvents:
    return DynamoPendingEvents(table(settings().orders_table))


@on_reset
@cache
def warehouse_events() -> WarehouseEventService:
    """Stock events are applied by inventory; pass ``handlers={"picked": fn, ...}`` here to
    take order and return events off the pending list."""
    from chalicelib.api.returns import return_event_handlers
    from chalicelib.consumers.order_events import shipment_event_handlers

    return WarehouseEventService(
        inventory=inventory(),
        pending=pending_events(),
        handlers={**shipment_event_handlers(), **return_event_handlers()},
    )


@on_reset
@cache
def importer() -> ImportService:
    return ImportService(catalog_service(), stock_store())


@on_reset
@cache
def backorders() -> BackorderService:
    return BackorderService(
        network=catalog_service(),
        snapshots=snapshots(),
        orders=orders(),
        queue=orders(),
        events=order_events(),
    )


# Units arriving anywhere may serve waiting backorders: hand that to the order-events queue.
on_stock_arrived(lambda sku, location_id: order_events().stock_arrived(sku, location_id))


# --- low-stock alerts (imports kept here: this block is the alerts' own wiring) ---------------


@on_reset
@cache
def alert_groups() -> Any:
    from chalicelib.services.alerts import AlertGroups

    return AlertGroups(catalog())


@on_reset
@cache
def low_stock_alerts() -> Any:
    from chalicelib.adapters.dynamo_alerts import DynamoAlertState, DynamoLowStock
    from chalicelib.adapters.mailer import SesRawMailer
    from chalicelib.services.alerts import LowStockAlerts

    s = settings()
    return LowStockAlerts(
        groups=alert_groups(),
        network=catalog_service(),
        index=DynamoLowStock(table(s.stock_table)),
        stock=stock_store(),
        state=DynamoAlertState(table(s.orders_table)),
        mailer=SesRawMailer(client("ses"), sender=s.mail_sender),
        stage=s.stage,
    )


# --- fulfilment: dispatch, shipment events, customer mails, pick-up expiry -------------------


@on_reset
@cache
def fulfilment_log() -> Any:
    from chalicelib.adapters.dynamo_fulfilment import DynamoFulfilmentLog

    return DynamoFulfilmentLog(table(settings().orders_table))


@on_reset
@cache
def notifier() -> Any:
    from chalicelib.adapters.ses import SesMailer as CustomerMailer
    from chalicelib.services.notifications import Notifier

    s = settings()
    return Notifier(
        mailer=CustomerMailer(client("ses"), s.mail_sender),
        token_for=ordering().tracking_token,
        track_url=s.track_url,
    )


@on_reset
@cache
def dispatcher() -> Any:
    from chalicelib.services.fulfilment import Dispatcher

    return Dispatcher(
        orders=orders(),
        outbox=fulfilment_log(),
        queues=queues(),
        network=catalog_service(),
        notifier=notifier(),
        default_queue=settings().fulfilment_queue,
    )


@on_reset
@cache
def order_event_service() -> Any:
    from chalicelib.services.order_events import OrderEventService
    from chalicelib.services.short_picks import Resourcer

    s = settings()
    return OrderEventService(
        orders=orders(),
        log=fulfilment_log(),
        network=catalog_service(),
        resourcer=Resourcer(
            network=catalog_service(),
            snapshots=DynamoSnapshots(
                dynamodb().meta.client,
                stock_table=s.stock_table,
                catalog_table=s.catalog_table,
                orders_table=s.orders_table,
            ),
        ),
        notifier=notifier(),
        dispatcher=dispatcher(),
    )


@on_reset
@cache
def pickup_expiry() -> Any:
    from chalicelib.services.pickups import PickupExpiry

    return PickupExpiry(orders=orders(), log=fulfilment_log())


# --- returns ---------------------------------------------------------------------------------


@on_reset
@cache
def returns() -> Any:
    from chalicelib.adapters.dynamo_returns import DynamoReturns, DynamoReturnStock
    from chalicelib.services.inventory import notify_stock_arrived
    from chalicelib.services.returns import ReturnService

    s = settings()
    return ReturnService(
        orders=orders(),
        rmas=DynamoReturns(table(s.orders_table)),
        log=fulfilment_log(),
        network=catalog_service(),
        levels=stock_store(),
        stock=DynamoReturnStock(stock_store(), stock_table=s.stock_table),
        mails=notifier(),
        token_matches=ordering().token_matches,
        stock_arrived=notify_stock_arrived,
    )


# --- reports, exports and the dashboard ---------------------------------------------------------


@on_reset
@cache
def aggregates() -> Any:
    from chalicelib.adapters.dynamo_aggregates import DynamoAggregates

    return DynamoAggregates(table(settings().orders_table))


@on_reset
@cache
def reports() -> Any:
    from chalicelib.adapters.dynamo_alerts import DynamoLowStock
    from chalicelib.services.reports import ReportService

    return ReportService(
        aggregates=aggregates(),
        network=catalog_service(),
        stock=stock_store(),
        low_stock=DynamoLowStock(table(settings().stock_table)),
    )


@on_reset
@cache
def exports() -> Any:
    from chalicelib.adapters.dynamo_exports import DynamoReturnListing, S3Files
    from chalicelib.services.exports import ExportService

    s = settings()
    return ExportService(
        orders=orders(),
        returns=DynamoReturnListing(table(s.orders_table)),
        stock=stock_store(),
        locations=catalog_service(),
        files=S3Files(client("s3"), s.exports_bucket),
        inline_max_bytes=s.export_inline_max_bytes,
    )
