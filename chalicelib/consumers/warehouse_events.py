"""Warehouse events from SQS (``dirigent-warehouse-events``): one pydantic model per ``type`` (a
discriminated union), the table ``type -> use case``, and the batch handler that applies each
record on its own, once the location it names has signed it (``services/event_auth.py``), and
reports failures per message."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from chalicelib import wiring
from chalicelib.api.http import field_errors
from chalicelib.api.models.common import MAX_QUANTITY, Id
from chalicelib.consumers import availability, batch, webhook_deliveries
from chalicelib.domain.errors import Conflict, InvalidInput, NotFound
from chalicelib.domain.inventory import count_refusal
from chalicelib.domain.order.progress import ShipmentEventType
from chalicelib.domain.returns.model import Condition
from chalicelib.services.fulfilment import iso
from chalicelib.services.order_events import ShipmentEvent
from chalicelib.services.returns import ReturnEvent

logger = Logger(service="dirigent")

Quantity = Annotated[int, Field(ge=1, le=MAX_QUANTITY)]
# One event moves or counts at most this many units of a SKU: a bigger receipt or count is a
# mistake or an attack, dead-lettered naming the field (a real one is sent as several events,
# or set by an admin through PUT /stock).
MAX_UNITS_PER_EVENT = 100_000
Ref = Annotated[str, Field(min_length=1, max_length=128)]


class EventBase(BaseModel):
    # Connectors may send more than we read; unknown fields are ignored, known ones validated.
    model_config = ConfigDict(extra="ignore", frozen=True)
    event_id: Ref
    location_id: Id
    occurred_at: AwareDatetime


class ShipmentEventIn(EventBase):
    order_id: Ref
    shipment_id: Ref


class Picked(ShipmentEventIn):
    type: Literal["picked"]


class Shipped(ShipmentEventIn):
    type: Literal["shipped"]
    carrier: Annotated[str, Field(min_length=1, max_length=100)]
    tracking_number: Annotated[str, Field(min_length=1, max_length=100)]


class Delivered(ShipmentEventIn):
    type: Literal["delivered"]


class ReadyForPickup(ShipmentEventIn):
    type: Literal["ready_for_pickup"]


class Collected(ShipmentEventIn):
    type: Literal["collected"]


class PickedLine(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    sku: Id
    picked_quantity: Annotated[int, Field(ge=0, le=MAX_QUANTITY)]


class ShortPick(ShipmentEventIn):
    """What was picked of the short lines, absolute ("of this SKU on this shipment I picked
    N"): the same short pick sent again, under any event id, changes nothing."""

    type: Literal["short_pick"]
    lines: list[PickedLine] = Field(min_length=1, max_length=500)

    @field_validator("lines")
    @classmethod
    def _one_line_per_sku(cls, lines: list[PickedLine]) -> list[PickedLine]:
        skus = [line.sku for line in lines]
        if twice := sorted({sku for sku in skus if skus.count(sku) > 1}):
            raise ValueError(f"one line per sku: {', '.join(twice)} given more than once")
        return lines


class CancelAnswer(EventBase):
    """A location's answer to a ``cancel_request``; ``order_id`` may be left out (the
    shipment id names its order)."""

    shipment_id: Ref
    order_id: Ref = ""

    @model_validator(mode="after")
    def _order_of_shipment(self) -> CancelAnswer:
        if not self.order_id:
            object.__setattr__(self, "order_id", self.shipment_id.split("-", 1)[0])
        return self


class CancelConfirmed(CancelAnswer):
    type: Literal["cancel_confirmed"]


class CancelRejected(CancelAnswer):
    type: Literal["cancel_rejected"]
    reason: Annotated[str, Field(min_length=1, max_length=500)]


class TransferBack(ShipmentEventIn):
    """A transfer back: the pick-up store sent a cancelled pick-up's units (``shipped``), or
    their source booked them in (``received``)."""

    type: Literal["transfer_back_shipped", "transfer_back_received"]


class StockReceived(EventBase):
    type: Literal["stock_received"]
    sku: Id
    quantity: Annotated[int, Field(ge=1, le=MAX_UNITS_PER_EVENT)]
    po_id: Id | None = None  # a receipt against a purchase order line closes it
    po_line: Id | None = None

    @model_validator(mode="after")
    def _po_line_with_po(self) -> StockReceived:
        if (self.po_id is None) != (self.po_line is None):
            raise ValueError("po_id and po_line go together")
        return self


class AsnLine(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    po_line: Id
    sku: Id
    quantity: Annotated[int, Field(ge=0, le=MAX_UNITS_PER_EVENT)]


class AsnCreated(EventBase):
    """What is on the truck for a purchase order, and when it comes."""

    type: Literal["asn_created"]
    asn_id: Ref
    po_id: Id
    lines: list[AsnLine] = Field(min_length=1, max_length=500)
    expected_date: date | None = None


class StockCount(EventBase):
    type: Literal["stock_count"]
    sku: Id
    counted_on_hand: Annotated[int, Field(ge=0, le=MAX_UNITS_PER_EVENT)]
    counted_at: AwareDatetime

    @field_validator("counted_at")
    @classmethod
    def _reconcilable(cls, counted_at: datetime) -> datetime:
        """Too far in the future (server clock) or too old: refused, so it ends in the DLQ."""
        if refusal := count_refusal(counted_at, datetime.now(UTC)):
            raise ValueError(refusal)
        return counted_at


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
    | CancelConfirmed
    | CancelRejected
    | TransferBack
    | StockReceived
    | StockCount
    | AsnCreated
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
        # strictly: a quantity is a JSON number (``true`` was one unit, ``"12"`` twelve)
        return WAREHOUSE_EVENT.validate_json(body, strict=True), raw
    except ValidationError as exc:
        reasons = "; ".join(f"{f.path}: {f.reason}" for f in field_errors(exc))
        raise UnreadableEvent(reasons) from exc


# --- the table ``type -> use case`` ------------------------------------------------------------


def _shipment_event(event: Any) -> None:
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
            reason=getattr(event, "reason", None),
            picked=tuple((ln.sku, ln.picked_quantity) for ln in getattr(event, "lines", ())),
        )
    )
    logger.info("shipment event", event_id=event.event_id, type=event.type, outcome=outcome.value)
    webhook_deliveries.order_changed(event.order_id)
    if event.type == "short_pick":  # the location's units were written off
        availability.order_stock_changed(event.order_id)


def _stock_received(event: StockReceived) -> None:
    applied = wiring.inventory().receive(
        event.sku, event.location_id, event.quantity, event_id=event.event_id
    )
    if event.po_id and event.po_line:
        try:
            closed = wiring.purchase_orders().receive(
                event.po_id, event.po_line, event.sku, event.quantity, event.event_id
            )
        except (NotFound, Conflict, InvalidInput) as exc:  # the units are in all the same
            logger.warning("receipt names no PO line", event_id=event.event_id, reason=str(exc))
        else:
            logger.info("po line received", event_id=event.event_id, po_id=event.po_id, new=closed)
    logger.info("stock received", event_id=event.event_id, applied=applied)
    availability.stock_changed([event.sku])


def _asn_created(event: AsnCreated) -> None:
    lines = [(ln.po_line, ln.quantity) for ln in event.lines]
    expected = event.expected_date.isoformat() if event.expected_date else None
    new = wiring.purchase_orders().asn(event.po_id, event.event_id, lines, expected)
    logger.info("asn", event_id=event.event_id, asn_id=event.asn_id, po_id=event.po_id, new=new)


def _stock_count(event: StockCount) -> None:
    applied = wiring.inventory().count(
        event.sku,
        event.location_id,
        event.counted_on_hand,
        event.counted_at,
        event_id=event.event_id,
    )
    logger.info("stock counted", event_id=event.event_id, applied=applied)
    availability.stock_changed([event.sku])


def _return_event(event: ReturnReceived | ReturnInTransit) -> None:
    returns = wiring.returns()
    if isinstance(event, ReturnReceived):
        outcome = returns.received(
            ReturnEvent(
                event_id=event.event_id,
                location_id=event.location_id,
                occurred_at=iso(event.occurred_at),
                rma_id=event.rma_id,
                lines=tuple((ln.sku, ln.quantity, Condition(ln.condition)) for ln in event.lines),
            )
        )
    else:
        outcome = returns.in_transit(
            ReturnEvent(
                event_id=event.event_id,
                location_id=event.location_id,
                occurred_at=iso(event.occurred_at),
                rma_id=event.rma_id,
                carrier=event.carrier,
                tracking_number=event.tracking_number,
            )
        )
    logger.info("return event", event_id=event.event_id, type=event.type, outcome=outcome.value)
    webhook_deliveries.rma_changed(event.rma_id)
    availability.stock_changed(ln.sku for ln in getattr(event, "lines", ()))


USE_CASES: dict[str, Callable[[Any], None]] = {
    **{kind.value: _shipment_event for kind in ShipmentEventType},
    "stock_received": _stock_received,
    "stock_count": _stock_count,
    "asn_created": _asn_created,
    "return_received": _return_event,
    "return_in_transit": _return_event,
}


def apply(body: str, attributes: Mapping[str, str] | None = None) -> None:
    """Parse one message body, check that the location it names signed it (``attributes``:
    the message's string attributes) and apply it once; raises for a record to retry or
    dead-letter, having changed nothing."""
    event, _ = parse(body)
    wiring.event_keys().verify(event.location_id, body, attributes or {})
    # Each location numbers its own events: two systems that both count 1, 2, 3 must not
    # take each other's events for repeats, so an event is known by location and id.
    scoped = f"{event.location_id}/{event.event_id}"
    USE_CASES[event.type](event.model_copy(update={"event_id": scoped}))


def string_attributes(record: SQSRecord) -> dict[str, str]:
    """A record's string message attributes (Lambda spells them ``stringValue``)."""
    raw = record.raw_event.get("messageAttributes") or {}
    return {
        name: value["stringValue"]
        for name, value in raw.items()
        if isinstance(value, dict) and isinstance(value.get("stringValue"), str)
    }


def handle_batch(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """The queue's Lambda: every record on its own; ``batchItemFailures`` names the retries;
    the availability triggers of the records checked once, together."""
    with availability.coalesced():
        return batch.handle_records(
            event,
            context,
            lambda record: apply(record.body, string_attributes(record)),
            consumer="warehouse event",
        )
