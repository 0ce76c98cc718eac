"""Warehouse events from SQS: one pydantic model per ``type`` (a discriminated union), and the
batch handler that applies each record on its own and reports failures per message."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from chalicelib import wiring
from chalicelib.api.http import field_errors
from chalicelib.api.models.common import MAX_QUANTITY, Id

logger = Logger(service="dirigent")

Quantity = Annotated[int, Field(ge=1, le=MAX_QUANTITY)]
Ref = Annotated[str, Field(min_length=1, max_length=128)]


class EventBase(BaseModel):
    # Connectors may send more than we read; unknown fields are ignored, known ones validated.
    model_config = ConfigDict(extra="ignore", frozen=True)
    event_id: Ref
    location_id: Id
    occurred_at: AwareDatetime


class ShipmentEvent(EventBase):
    order_id: Ref
    shipment_id: Ref


class Picked(ShipmentEvent):
    type: Literal["picked"]


class Shipped(ShipmentEvent):
    type: Literal["shipped"]
    carrier: Annotated[str, Field(min_length=1, max_length=100)]
    tracking_number: Annotated[str, Field(min_length=1, max_length=100)]


class Delivered(ShipmentEvent):
    type: Literal["delivered"]


class ReadyForPickup(ShipmentEvent):
    type: Literal["ready_for_pickup"]


class Collected(ShipmentEvent):
    type: Literal["collected"]


class ShortPick(ShipmentEvent):
    type: Literal["short_pick"]
    sku: Id
    missing_quantity: Quantity


class StockReceived(EventBase):
    type: Literal["stock_received"]
    sku: Id
    quantity: Quantity


class StockCount(EventBase):
    type: Literal["stock_count"]
    sku: Id
    counted_on_hand: Annotated[int, Field(ge=0, le=MAX_QUANTITY)]
    counted_at: AwareDatetime


class ReturnLine(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    sku: Id
    quantity: Quantity
    condition: Literal["sellable", "damaged"]


class ReturnReceived(EventBase):
    type: Literal["return_received"]
    rma_id: Ref
    lines: list[ReturnLine] = Field(min_length=1, max_length=500)


class ReturnInTransit(EventBase):
    """The carrier took a return parcel (``location_id``: where it is heading)."""

    type: Literal["return_in_transit"]
    rma_id: Ref
    carrier: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    tracking_number: Annotated[str, Field(min_length=1, max_length=100)] | None = None


WarehouseEvent = Annotated[
    Picked
    | Shipped
    | Delivered
    | ReadyForPickup
    | Collected
    | ShortPick
    | StockReceived
    | StockCount
    | ReturnReceived
    | ReturnInTransit,
    Field(discriminator="type"),
]
WAREHOUSE_EVENT: TypeAdapter[Any] = TypeAdapter(WarehouseEvent)


class UnreadableEvent(ValueError):
    """A message body that is not a valid warehouse event: retried, then dead-lettered."""


def parse(body: str) -> tuple[Any, dict[str, Any]]:
    """The typed event and its JSON body, or ``UnreadableEvent`` naming the fields."""
    try:
        raw = json.loads(body)
    except ValueError as exc:
        raise UnreadableEvent(f"body: malformed JSON ({exc})") from exc
    try:
        return WAREHOUSE_EVENT.validate_python(raw), raw
    except ValidationError as exc:
        reasons = "; ".join(f"{f.path}: {f.reason}" for f in field_errors(exc))
        raise UnreadableEvent(reasons) from exc


def _handle_record(record: SQSRecord) -> None:
    try:
        event, raw = parse(record.body)
        wiring.warehouse_events().handle(event, raw)
    except Exception as exc:
        logger.error(
            "warehouse event failed",
            message_id=record.message_id,
            reason=f"{type(exc).__name__}: {exc}",
        )
        raise


def handle_batch(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """Apply every record; ``{"batchItemFailures": [...]}`` names the ones to retry."""
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    response = process_partial_response(
        event=event, record_handler=_handle_record, processor=processor, context=context
    )
    return dict(response)
