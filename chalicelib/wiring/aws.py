"""Composition of the outer ring: boto3 clients and the adapters built on them
(``chalicelib.wiring`` re-exports every factory here)."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from chalicelib.config import settings

if TYPE_CHECKING:
    import boto3
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    from chalicelib.adapters.dynamo_aggregates import DynamoAggregates
    from chalicelib.adapters.dynamo_alerts import DynamoAlertState, DynamoLowStock
    from chalicelib.adapters.dynamo_catalog import DynamoCatalog
    from chalicelib.adapters.dynamo_fulfilment import DynamoFulfilmentLog
    from chalicelib.adapters.dynamo_keys import DynamoKeys
    from chalicelib.adapters.dynamo_orders import DynamoOrders
    from chalicelib.adapters.dynamo_preorders import DynamoPreorders
    from chalicelib.adapters.dynamo_purchase_orders import DynamoPurchaseOrders
    from chalicelib.adapters.dynamo_reservations import DynamoReservations
    from chalicelib.adapters.dynamo_returns import DynamoReturns, DynamoReturnStock
    from chalicelib.adapters.dynamo_snapshot import DynamoSnapshots
    from chalicelib.adapters.dynamo_stock import DynamoStock
    from chalicelib.adapters.ses import SesMailer
    from chalicelib.adapters.sqs import SqsOrderEvents, SqsQueues


# --- AWS -------------------------------------------------------------------------------------


@cache
def session() -> boto3.session.Session:
    import boto3

    return boto3.session.Session()


@cache
def boto_config() -> Any:
    from botocore.config import Config

    return Config(retries={"mode": "standard", "max_attempts": 4}, max_pool_connections=64)


@cache
def client(service: str) -> Any:
    return session().client(service, config=boto_config())


@cache
def dynamodb() -> Any:
    return session().resource("dynamodb", config=boto_config())


def table(name: str) -> Any:
    return dynamodb().Table(name)


# --- adapters --------------------------------------------------------------------------------


@cache
def catalog() -> DynamoCatalog:
    from chalicelib.adapters.dynamo_catalog import DynamoCatalog
    from chalicelib.domain.catalog import Kind

    return DynamoCatalog(
        table(settings().catalog_table),
        ttl=settings().cache_ttl_seconds,
        cached_kinds=(Kind.CHANNEL, Kind.LOCATION, Kind.CARRIER, Kind.RULES, Kind.ALERT_GROUP),
    )


@cache
def api_keys() -> DynamoKeys:
    from chalicelib.adapters.dynamo_keys import DynamoKeys

    return DynamoKeys(table(settings().catalog_table))


@cache
def orders() -> DynamoOrders:
    from chalicelib.adapters.dynamo_orders import DynamoOrders

    return DynamoOrders(
        table(settings().orders_table), settings().stock_table, client=client("dynamodb")
    )


@cache
def preorder_counters() -> DynamoPreorders:
    from chalicelib.adapters.dynamo_preorders import DynamoPreorders

    return DynamoPreorders(table(settings().orders_table), client=client("dynamodb"))


@cache
def reservation_store() -> DynamoReservations:
    from chalicelib.adapters.dynamo_reservations import DynamoReservations

    return DynamoReservations(
        table(settings().orders_table), settings().stock_table, client=client("dynamodb")
    )


@cache
def purchase_order_store() -> DynamoPurchaseOrders:
    from chalicelib.adapters.dynamo_purchase_orders import DynamoPurchaseOrders

    return DynamoPurchaseOrders(table(settings().orders_table), client=client("dynamodb"))


@cache
def snapshots() -> DynamoSnapshots:
    from chalicelib.adapters.dynamo_snapshot import DynamoSnapshots

    s = settings()
    return DynamoSnapshots(
        dynamodb().meta.client,
        stock_table=s.stock_table,
        catalog_table=s.catalog_table,
        orders_table=s.orders_table,
    )


@cache
def stock_store() -> DynamoStock:
    from chalicelib.adapters.dynamo_stock import DynamoStock

    s = settings()
    return DynamoStock(table(s.stock_table), client=client("dynamodb"), events_table=s.orders_table)


@cache
def fulfilment_log() -> DynamoFulfilmentLog:
    from chalicelib.adapters.dynamo_fulfilment import DynamoFulfilmentLog

    return DynamoFulfilmentLog(table(settings().orders_table))


@cache
def rmas() -> DynamoReturns:
    from chalicelib.adapters.dynamo_returns import DynamoReturns

    return DynamoReturns(table(settings().orders_table))


@cache
def return_stock() -> DynamoReturnStock:
    from chalicelib.adapters.dynamo_returns import DynamoReturnStock

    return DynamoReturnStock(stock_store())


@cache
def low_stock_index() -> DynamoLowStock:
    from chalicelib.adapters.dynamo_alerts import DynamoLowStock

    return DynamoLowStock(table(settings().stock_table))


@cache
def alert_state() -> DynamoAlertState:
    from chalicelib.adapters.dynamo_alerts import DynamoAlertState

    return DynamoAlertState(table(settings().orders_table))


@cache
def aggregates() -> DynamoAggregates:
    from chalicelib.adapters.dynamo_aggregates import DynamoAggregates

    return DynamoAggregates(table(settings().orders_table))


@cache
def queues() -> SqsQueues:
    from chalicelib.adapters.sqs import SqsQueues

    return SqsQueues(client("sqs"))


@cache
def order_events() -> SqsOrderEvents:
    from chalicelib.adapters.sqs import SqsOrderEvents

    return SqsOrderEvents(queues(), settings().order_events_queue)


@cache
def mailer() -> SesMailer:
    from chalicelib.adapters.ses import SesMailer

    return SesMailer(client("ses"), sender=settings().mail_sender)


@cache
def idempotency_store() -> DynamoDBPersistenceLayer:
    """The Powertools persistence layer on the idempotency table; use it with an explicit
    ``key_prefix`` per use case and ``output_serializer=PydanticSerializer(Model)``."""
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    return DynamoDBPersistenceLayer(
        table_name=settings().idempotency_table, boto3_client=client("dynamodb")
    )
