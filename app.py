"""Dirigent: the Chalice app. Thin on purpose: routes live in blueprints under chalicelib/api,
SQS and schedule handlers only hand their events to services."""

from __future__ import annotations

from typing import Any

from chalice import Chalice, Rate

from chalicelib import wiring
from chalicelib.api import (
    alerts,
    catalog,
    dashboard,
    exports,
    imports,
    orders,
    reports,
    returns,
    stock,
    system,
    tracking,
)
from chalicelib.config import queue_name
from chalicelib.consumers import order_events, warehouse_events
from chalicelib.observability import instrument

app = Chalice(app_name="dirigent")
app.experimental_feature_flags.update(["BLUEPRINTS"])
instrument(app)

app.register_blueprint(system.bp)
app.register_blueprint(catalog.bp)
app.register_blueprint(stock.bp)
app.register_blueprint(imports.bp)
app.register_blueprint(orders.bp)
app.register_blueprint(alerts.bp)
app.register_blueprint(tracking.bp)
app.register_blueprint(returns.bp)


def _register(*modules: Any) -> None:
    for module in modules:
        app.register_blueprint(module.bp)


_register(reports, exports, dashboard)


@app.on_sqs_message(queue=queue_name("warehouse-events"), batch_size=10)
def on_warehouse_event(event: Any) -> dict[str, Any]:
    """Warehouse events: each record applied on its own; failures reported per message."""
    return warehouse_events.handle_batch(event.to_dict(), event.context)


@app.schedule(alerts.alert_rate(), name="low_stock_alerts")
def low_stock_alerts(event: Any) -> None:
    """Mail the low-stock digests; the rate is LOW_STOCK_ALERT_RATE_MINUTES at package time."""
    alerts.run_schedule()


@app.on_sqs_message(queue=queue_name("order-events"), batch_size=10)
def on_order_event(event: Any) -> dict[str, Any]:
    """Internal order events: dispatch placed orders, serve backorders; partial failures."""
    return order_events.handle_order_events(event.to_dict(), event.context)


@app.schedule(Rate(1, unit=Rate.MINUTES), name="outbox_sweeper")
def outbox_sweeper(event: Any) -> None:
    """Re-send fulfilment requests whose dispatch did not complete (the outbox)."""
    wiring.dispatcher().sweep()


@app.schedule(Rate(15, unit=Rate.MINUTES), name="pickup_expiry")
def pickup_expiry(event: Any) -> None:
    """Cancel click & collect shipments not collected within the channel's window."""
    wiring.pickup_expiry().expire()
