"""Composition: the one place that builds boto3 clients, adapters and services.

Every factory is cached, so a warm Lambda builds each adapter and service once; ``reset()``
forgets them all (tests, and the local stack on start). Factories are built lazily, so that
moto and tests can set the endpoint first (``AWS_ENDPOINT_URL``, honoured by boto3 itself, is
what points at moto), and import what they build only when first called: a Lambda pays for the
modules its handler uses. This module imports nothing from ``api`` or ``consumers``.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from chalicelib.config import queue_name, settings
from chalicelib.wiring.aws import (
    aggregates as aggregates,
    alert_state as alert_state,
    api_keys as api_keys,
    boto_config as boto_config,
    catalog as catalog,
    client as client,
    dynamodb as dynamodb,
    fulfilment_log as fulfilment_log,
    idempotency_store as idempotency_store,
    low_stock_index as low_stock_index,
    mailer as mailer,
    order_events as order_events,
    orders as orders,
    preorder_counters as preorder_counters,
    purchase_order_store as purchase_order_store,
    queues as queues,
    reservation_store as reservation_store,
    return_stock as return_stock,
    rmas as rmas,
    session as session,
    snapshots as snapshots,
    stock_store as stock_store,
    table as table,
)
from chalicelib.wiring.clock import now

if TYPE_CHECKING:
    from chalicelib.domain.throttle import Limits
    from chalicelib.services.access import KeyService
    from chalicelib.services.alerts import AlertGroups, LowStockAlerts
    from chalicelib.services.backorders import BackorderService
    from chalicelib.services.catalog import CatalogService
    from chalicelib.services.event_auth import EventKeys
    from chalicelib.services.exports import ExportService
    from chalicelib.services.fulfilment import Dispatcher
    from chalicelib.services.importer import ImportService
    from chalicelib.services.inventory import InventoryService
    from chalicelib.services.notifications import Notifier
    from chalicelib.services.operations import OperationsService
    from chalicelib.services.order_changes import OrderChanges
    from chalicelib.services.order_desk import OrderDesk
    from chalicelib.services.order_events import OrderEventService
    from chalicelib.services.ordering import OrderService
    from chalicelib.services.pickups import PickupExpiry
    from chalicelib.services.preorders import PreorderService
    from chalicelib.services.promises import PromiseService
    from chalicelib.services.purchase_orders import PurchaseOrderService
    from chalicelib.services.reports import ReportService
    from chalicelib.services.reservations import ReservationService
    from chalicelib.services.returns import ReturnService


def reset() -> None:
    """Forget every cached client, adapter, service and setting."""
    for value in list(globals().values()):
        if callable(getattr(value, "cache_clear", None)):
            value.cache_clear()


# --- master data, stock and access -----------------------------------------------------------


@cache
def catalog_service() -> CatalogService:
    from chalicelib.services.catalog import CatalogService

    return CatalogService(catalog())


@cache
def keys() -> KeyService:
    from chalicelib.services.access import KeyService

    return KeyService(api_keys())


@cache
def event_keys() -> EventKeys:
    """Warehouse-event keys, derived from the server secret as loaded (``settings()``)."""
    from chalicelib.adapters.dynamo_event_keys import DynamoEventKeyVersions
    from chalicelib.services.event_auth import EventKeys

    return EventKeys(
        versions=DynamoEventKeyVersions(table(settings().catalog_table)),
        locations=catalog(),
        server_secret=lambda: settings().token_secret.encode(),
    )


@cache
def inventory() -> InventoryService:
    from chalicelib.services.inventory import InventoryService

    return InventoryService(stock_store(), catalog_service(), events=order_events())


@cache
def importer() -> ImportService:
    from chalicelib.services.importer import ImportService

    return ImportService(catalog_service(), stock_store(), events=order_events(), queue=orders())


# --- orders: capture, the order desk, backorders ---------------------------------------------


@cache
def ordering() -> OrderService:
    from chalicelib.services.ordering import OrderService
    from chalicelib.wiring.simulation import RecordingSnapshots  # + network values, recording

    s = settings()
    return OrderService(
        network=catalog_service(),
        snapshots=RecordingSnapshots(snapshots(), preorders()),
        orders=orders(),
        events=order_events(),
        token_secret=s.token_secret.encode(),
        quote_ttl_seconds=s.quote_ttl_seconds,
        promises=promises(),
        reservations=reservations(),
        clock=now,
    )


@cache
def reservations() -> ReservationService:
    from chalicelib.services.reservations import ReservationService
    from chalicelib.wiring.clock import now

    return ReservationService(
        store=reservation_store(),
        snapshots=snapshots(),
        network=catalog_service(),
        events=order_events(),
        clock=lambda: now().timestamp(),
    )


@cache
def order_desk() -> OrderDesk:
    from chalicelib.services.cursors import CursorSigner
    from chalicelib.services.order_desk import OrderDesk

    return OrderDesk(
        orders=orders(),
        search=orders(),
        events=order_events(),
        by_tracking_number=fulfilment_log().order_ids,
        cursors=CursorSigner(settings().token_secret.encode()),
    )


@cache
def order_changes() -> OrderChanges:
    from chalicelib.adapters.dynamo_holds import DynamoHoldDeadlines
    from chalicelib.services.order_changes import OrderChanges

    deadlines = DynamoHoldDeadlines(table(settings().orders_table))
    return OrderChanges(
        orders=orders(),
        desk=order_desk(),
        network=catalog_service(),
        snapshots=snapshots(),
        events=order_events(),
        deadlines=deadlines,
    )


@cache
def backorders() -> BackorderService:
    from chalicelib.services.backorders import BackorderService
    from chalicelib.services.preorders import ReleaseSnapshots

    return BackorderService(
        network=catalog_service(),
        snapshots=ReleaseSnapshots(snapshots(), preorders(), catalog_service()),
        orders=orders(),
        queue=orders(),
        events=order_events(),
        held=preorders().held,
        clock=now,
    )


# --- fulfilment: dispatch, shipment events, customer mails, pick-up expiry -------------------


@cache
def notifier() -> Notifier:
    from chalicelib.services.notifications import Notifier

    return Notifier(
        mailer=mailer(),
        token_for=ordering().tracking_token,
        settings=settings(),
        channel_for=catalog_service().channel,
    )


@cache
def dispatcher() -> Dispatcher:
    from chalicelib.services.fulfilment import Dispatcher

    return Dispatcher(
        orders=orders(),
        outbox=fulfilment_log(),
        queues=queues(),
        network=catalog_service(),
        notifier=notifier(),
        default_queue=settings().fulfilment_queue,
    )


@cache
def order_event_service() -> OrderEventService:
    from chalicelib.services.order_events import OrderEventService
    from chalicelib.services.short_picks import Resourcer

    return OrderEventService(
        orders=orders(),
        log=fulfilment_log(),
        network=catalog_service(),
        resourcer=Resourcer(network=catalog_service(), snapshots=snapshots()),
        notifier=notifier(),
        dispatcher=dispatcher(),
        events=order_events(),
    )


@cache
def pickup_expiry() -> PickupExpiry:
    from chalicelib.services.pickups import PickupExpiry

    return PickupExpiry(orders=orders(), log=fulfilment_log(), network=catalog_service())


# --- returns ---------------------------------------------------------------------------------


@cache
def returns() -> ReturnService:
    from chalicelib.services.returns import ReturnService

    return ReturnService(
        orders=orders(),
        rmas=rmas(),
        log=fulfilment_log(),
        network=catalog_service(),
        levels=stock_store(),
        stock=return_stock(),
        mails=notifier(),
        token_matches=ordering().token_matches,
        events=order_events(),
    )


# --- low-stock alerts, reports and exports ---------------------------------------------------


@cache
def alert_groups() -> AlertGroups:
    from chalicelib.services.alerts import AlertGroups

    return AlertGroups(catalog())


@cache
def low_stock_alerts() -> LowStockAlerts:
    from chalicelib.services.alerts import LowStockAlerts

    return LowStockAlerts(
        groups=alert_groups(),
        network=catalog_service(),
        index=low_stock_index(),
        stock=stock_store(),
        state=alert_state(),
        mailer=mailer(),
        stage=settings().stage,
    )


@cache
def reports() -> ReportService:
    from chalicelib.services.reports import ReportService

    return ReportService(
        aggregates=aggregates(),
        network=catalog_service(),
        stock=stock_store(),
        low_stock=low_stock_index(),
    )


@cache
def exports() -> ExportService:
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


@cache
def operations() -> OperationsService:
    """DLQ depths and the last consumer failures (the dashboard; the batch wrapper records)."""
    from chalicelib.adapters.operations import DynamoFailureLog, SqsQueueDepths
    from chalicelib.services.operations import OperationsService

    s = settings()
    work = (s.fulfilment_queue, s.warehouse_events_queue, s.order_events_queue)
    return OperationsService(
        depths=SqsQueueDepths(client("sqs")),
        failures=DynamoFailureLog(table(s.orders_table)),
        dlqs=[f"{queue}-dlq" for queue in (*work, queue_name("webhooks"))],
    )


# --- the edges' rate limits --------------------------------------------------------------------


@cache
def limits() -> Limits:
    from chalicelib.domain.throttle import Buckets, Limits

    s = settings()
    return Limits(
        per_key=Buckets(s.rate_per_key, s.burst_per_key),
        failures=Buckets(s.failures_per_minute / 60, s.failures_burst),
    )


# --- inbound supply: purchase orders and backorder promises ----------------------------------


@cache
def promises() -> PromiseService:
    from chalicelib.services.promises import PromiseService

    return PromiseService(
        network=catalog_service(),
        snapshots=snapshots(),
        orders=orders(),
        queue=orders(),
        supply=purchase_order_store(),
        notify=lambda order, moved: notifier().promise_moved(order, moved),
        preorders=preorders(),
        clock=now,
    )


@cache
def purchase_orders() -> PurchaseOrderService:
    from chalicelib.services.cursors import CursorSigner
    from chalicelib.services.purchase_orders import PurchaseOrderService

    network = catalog_service()
    return PurchaseOrderService(
        store=purchase_order_store(),
        promises=promises(),
        location_ids=lambda: {loc.location_id for loc in network.locations()},
        known_skus=lambda skus: set(network.products(skus)),
        cursors=CursorSigner(settings().token_secret.encode()),
    )


@cache
def preorders() -> PreorderService:
    from chalicelib.services.preorders import PreorderService

    network = catalog_service()
    return PreorderService(
        catalog=network,
        counters=preorder_counters(),
        lead_days=lambda: max((loc.processing_days for loc in network.locations()), default=0),
        clock=now,
    )
