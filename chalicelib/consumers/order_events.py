"""The asynchronous edges of fulfilment.

- The internal order-events queue (``dirigent-order-events``): ``order_placed`` and
  ``order_updated`` dispatch the order's unsent shipments, ``stock_arrived`` lets waiting
  backorders take the units, ``order_cancelled`` needs nothing here. Partial batch failures as
  for warehouse events: one bad message never fails its batch.
- The shipment events of the warehouse-events queue, handed over by
  ``WarehouseEventService`` (``shipment_event_handlers``) and applied by ``OrderEventService``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Literal

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from chalicelib import wiring
from chalicelib.domain.order.progress import ShipmentEventType
from chalicelib.services.fulfilment import iso
from chalicelib.services.order_events import ShipmentEvent

logger = Logger(service="dirigent")


class OrderMessage(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    message_id: str = Field(min_length=1, max_length=200)
    type: Literal["order_placed", "order_updated", "order_cancelled"]
    order_id: str = Field(min_length=1, max_length=64)


class StockArrived(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    type: Literal["stock_arrived"]
    sku: str = Field(min_length=1, max_length=64)
    location_id: str = Field(min_length=1, max_length=64)


def _order_message(body: dict[str, Any]) -> None:
    message = OrderMessage.model_validate(body)
    if message.type == "order_cancelled":
        return  # reservations were released with the cancel; nothing to dispatch
    sent = wiring.dispatcher().dispatch(message.order_id)
    logger.info("order dispatched", order_id=message.order_id, requests=sent)


def _stock_arrived(body: dict[str, Any]) -> None:
    message = StockArrived.model_validate(body)
    wiring.backorders().allocate(message.sku, message.location_id)


HANDLERS: dict[str, Callable[[dict[str, Any]], None]] = {
    "order_placed": _order_message,
    "order_updated": _order_message,
    "order_cancelled": _order_message,
    "stock_arrived": _stock_arrived,
}


def _handle_record(record: SQSRecord) -> None:
    try:
        body = json.loads(record.body)
        kind = body.get("type") if isinstance(body, dict) else None
        handler = HANDLERS.get(str(kind))
        if handler is None:
            raise ValueError(f"type: unknown order event {kind!r}")
        handler(body)
    except (ValueError, ValidationError) as exc:  # json and pydantic errors alike
        logger.error("order event unreadable", message_id=record.message_id, reason=str(exc))
        raise
    except Exception as exc:
        logger.error(
            "order event failed",
            message_id=record.message_id,
            reason=f"{type(exc).__name__}: {exc}",
        )
        raise


def handle_order_events(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """Handle every record; ``{"batchItemFailures": [...]}`` names the ones to retry."""
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    response = process_partial_response(
        event=event, record_handler=_handle_record, processor=processor, context=context
    )
    return dict(response)


# --- shipment events from the warehouse-events queue ----------------------------------------


def apply_shipment_event(event: Any, body: dict[str, Any]) -> None:
    """A parsed warehouse event (``chalicelib.consumers.warehouse_events``) applied to its order."""
    outcome = wiring.order_event_service().apply(
        ShipmentEvent(
            event_id=event.event_id,
            type=ShipmentEventType(event.type),
            location_id=event.location_id,
            occurred_at=iso(event.occurred_at),
            order_id=event.order_id,
            shipment_id=event.shipment_id,
            carrier=getattr(event, "carrier", None),
            tracking_number=getattr(event, "tracking_number", None),
            sku=getattr(event, "sku", None),
            missing_quantity=getattr(event, "missing_quantity", None),
        )
    )
    logger.info("shipment event", event_id=event.event_id, type=event.type, outcome=outcome.value)


def shipment_event_handlers() -> dict[str, Callable[[Any, dict[str, Any]], None]]:
    """``type -> handler`` for ``WarehouseEventService(handlers=...)``."""
    return {kind.value: apply_shipment_event for kind in ShipmentEventType}
