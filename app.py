"""Dirigent: the Chalice app. Thin on purpose: routes live in blueprints under chalicelib/api,
SQS and schedule handlers only hand their events to services."""

from __future__ import annotations

from typing import Any

from chalice import Chalice

from chalicelib.api import catalog, events, imports, orders, stock, system
from chalicelib.config import queue_name
from chalicelib.observability import instrument

app = Chalice(app_name="dirigent")
app.experimental_feature_flags.update(["BLUEPRINTS"])
instrument(app)

app.register_blueprint(system.bp)
app.register_blueprint(catalog.bp)
app.register_blueprint(stock.bp)
app.register_blueprint(imports.bp)
app.register_blueprint(orders.bp)


def _register(*modules: Any) -> None:
    for module in modules:
        app.register_blueprint(module.bp)


@app.on_sqs_message(queue=queue_name("warehouse-events"), batch_size=10)
def on_warehouse_event(event: Any) -> dict[str, Any]:
    """Warehouse events: each record applied on its own; failures reported per message."""
    return events.handle_batch(event.to_dict(), event.context)
