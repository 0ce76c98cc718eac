"""The internal order-events queue (``dirigent-order-events``), fed by the ``OrderEvents`` port:
``order_placed`` and ``order_updated`` dispatch the order's unsent shipments, ``stock_arrived``
lets waiting backorders take the units (received, adjusted up, returned or freed by a cancel),
``order_cancelled`` needs nothing here; ``stock_changed`` and ``availability_recheck`` feed the
availability feed. Partial batch failures: one bad message never fails its batch."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

from aws_lambda_powertools import Logger
from pydantic import BaseModel, ConfigDict, Field

from chalicelib import wiring
from chalicelib.consumers import availability, batch, simulation, webhook_deliveries

if TYPE_CHECKING:
    from chalicelib.domain.order.model import Order

logger = Logger(service="dirigent")


class OrderMessage(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    message_id: str = Field(min_length=1, max_length=200)
    type: Literal["order_placed", "order_updated", "order_cancelled"]
    order_id: str = Field(min_length=1, max_length=64)
    sale_recorded: bool = False  # the capture kept the sale: no forecast record here


class StockArrived(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    type: Literal["stock_arrived"]
    sku: str = Field(min_length=1, max_length=64)
    location_id: str = Field(min_length=1, max_length=64)


def _order_message(body: dict[str, Any]) -> None:
    message = OrderMessage.model_validate(body)
    order = None
    if message.type != "order_cancelled":  # a cancel released its reservations: no dispatch
        sent, order = wiring.dispatcher().dispatch_order(message.order_id)
        logger.info("order dispatched", order_id=message.order_id, requests=sent)
    recorded = message.type != "order_placed" or message.sale_recorded
    _after(message.order_id, order, record_sale=not recorded)


def _after(order_id: str, order: Order | None, *, record_sale: bool) -> None:
    webhook_deliveries.order_changed(order_id)
    if record_sale:  # a forecast input (kept once: the capture's, if it kept one)
        from chalicelib.wiring.network_value import network_values

        network_values().record(order_id)
    availability.order_stock_changed(order_id, order)  # its reservations moved


def swept(order: Order) -> None:
    """After the outbox sweeper dispatched ``order`` (its order-events message was lost or
    late): its announcement and confirmations, its sale for the forecast, its SKUs'
    availability. Each is safe to repeat, should the message still come."""
    _after(order.order_id, order, record_sale=True)


def _stock_arrived(body: dict[str, Any]) -> None:
    message = StockArrived.model_validate(body)
    wiring.backorders().allocate(message.sku, message.location_id)
    availability.stock_changed([message.sku])


USE_CASES: dict[str, Callable[[dict[str, Any]], None]] = {
    "order_placed": _order_message,
    "order_updated": _order_message,
    "order_cancelled": _order_message,
    "stock_arrived": _stock_arrived,
    "availability_recheck": availability.recheck,
    "stock_changed": availability.changed,  # levels set, adjusted, imported or held by HTTP
    "simulation_step": simulation.step,  # one step of a rule simulation job
}


def apply(body: str) -> None:
    """Parse one message body and handle it; raises for a record to retry or dead-letter."""
    message = json.loads(body)
    kind = message.get("type") if isinstance(message, dict) else None
    use_case = USE_CASES.get(str(kind))
    if use_case is None:
        raise ValueError(f"type: unknown order event {kind!r}")
    use_case(message)


def handle_batch(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """The queue's Lambda: every record on its own; ``batchItemFailures`` names the retries;
    the availability triggers of the records checked once, together."""
    with availability.coalesced():
        return batch.handle_batch(event, context, apply, consumer="order event")
