"""Dirigent: the Chalice app. Thin on purpose: HTTP routes live in blueprints under
chalicelib/api; every queue and schedule entry hands its event to chalicelib/consumers."""

from __future__ import annotations

import os
from typing import Any

from chalice import Chalice

from chalicelib.api import (
    alerts,
    availability,
    catalog,
    confirmations,
    connectors,
    dashboard,
    exports,
    http,
    imports,
    margin,
    orders,
    purchase_orders,
    reports,
    reservations,
    returns,
    simulations,
    stock,
    system,
    tracking,
    webhooks,
)
from chalicelib.config import queue_name
from chalicelib.consumers import schedules
from chalicelib.observability import instrument
from chalicelib.wiring import warm

app = Chalice(app_name="dirigent")
app.experimental_feature_flags.update(["BLUEPRINTS"])
instrument(app)


@app.middleware("http")
def errors_in_one_shape(event: Any, get_response: Any) -> Any:
    return http.in_our_shape(get_response(event))


for blueprint in (
    system,
    catalog,
    stock,
    imports,
    orders,
    purchase_orders,
    reservations,
    alerts,
    tracking,
    returns,
    margin,  # before reports: /reports/margin is not a /reports/{name}
    reports,
    exports,
    dashboard,
    webhooks,
    connectors,
    confirmations,
    availability,
    simulations,
):
    app.register_blueprint(blueprint.bp)


@app.on_sqs_message(queue=queue_name("warehouse-events"), batch_size=10)
def on_warehouse_event(event: Any) -> dict[str, Any]:
    """Warehouse events: each record applied on its own; failures reported per message."""
    from chalicelib.consumers import warehouse_events  # its Lambda alone pays for it

    return warehouse_events.handle_batch(event.to_dict(), event.context)


@app.on_sqs_message(queue=queue_name("order-events"), batch_size=10)
def on_order_event(event: Any) -> dict[str, Any]:
    """Internal order events: dispatch placed orders, serve backorders; partial failures."""
    from chalicelib.consumers import order_events

    return order_events.handle_batch(event.to_dict(), event.context)


@app.on_sqs_message(queue=queue_name("webhooks"), batch_size=1)
def on_webhook(event: Any) -> dict[str, Any]:
    """Webhooks out: fan-out triggers and signed delivery attempts, retried on a back-off."""
    from chalicelib.consumers import webhook_deliveries

    return webhook_deliveries.handle_batch(event.to_dict(), event.context)


@app.schedule(schedules.alert_rate(), name="low_stock_alerts")
def low_stock_alerts(event: Any) -> None:
    """Mail the low-stock digests; the rate is LOW_STOCK_ALERT_RATE_MINUTES at package time."""
    schedules.low_stock_alerts()


@app.schedule(schedules.OUTBOX_SWEEP, name="outbox_sweeper")
def outbox_sweeper(event: Any) -> None:
    """Re-send fulfilment requests whose dispatch did not complete (the outbox)."""
    schedules.outbox_sweep()


@app.schedule(schedules.PICKUP_EXPIRY, name="pickup_expiry")
def pickup_expiry(event: Any) -> None:
    """Cancel click & collect shipments not collected within the channel's window."""
    schedules.pickup_expiry()


@app.schedule(schedules.HOLD_EXPIRY, name="hold_expiry")
def hold_expiry(event: Any) -> None:
    """Cancel orders still held at their auto-cancel deadline (auto_cancel_after_hours)."""
    schedules.hold_expiry()


@app.schedule(schedules.RESERVATION_EXPIRY, name="reservation_expiry")
def reservation_expiry(event: Any) -> None:
    """Give back the units of checkout reservations past their time."""
    schedules.expire_reservations()


@app.schedule(schedules.PREORDER_RELEASE, name="preorder_release")
def preorder_release(event: Any) -> None:
    """Release waiting preorders to locations so that they ship on release day."""
    schedules.release_preorders()


@app.schedule(schedules.AMAZON_POLL, name="amazon_poll")
def amazon_poll(event: Any) -> None:
    """Poll Amazon's orders of every channel with an Amazon connector that is due."""
    schedules.amazon_poll()


@app.schedule(schedules.NETWORK_VALUES, name="network_values")
def network_values(event: Any) -> None:
    """Recompute the opportunity cost of a unit per SKU and location (network-aware sourcing)."""
    schedules.network_values()


# Lambda init (no-op elsewhere): this function's clients, services and models, built now.
warm.prepare(os.environ.get("_HANDLER"))
