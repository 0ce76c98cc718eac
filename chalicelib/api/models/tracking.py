"""The customer's tracking view of an order (``GET /track/{order_id}``)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from chalicelib.domain.order.model import Order


class TrackedLine(BaseModel):
    sku: str
    quantity: int


class TrackedShipment(BaseModel):
    shipment_id: str
    status: str
    mode: str = Field(description="ship or pickup")
    lines: list[TrackedLine]
    carrier_service: str | None = None
    carrier: str | None = None
    tracking_number: str | None = None
    promised_date: str
    pickup_location_id: str | None = None
    pickup_until: str | None = Field(default=None, description="collect it before this time")


class TimelineEntry(BaseModel):
    at: str
    event: str
    status: str = Field(description="the order's status after the event")
    shipment_id: str | None = None


class TrackedReturn(BaseModel):
    rma_id: str
    status: str
    created_at: str
    lines: dict[str, int] = Field(description="sku -> units asked back")
    received: dict[str, int] = {}
    refunded: int = Field(description="minor units refunded so far")
    currency: str


class Tracking(BaseModel):
    order_id: str
    channel_order_id: str
    status: str
    created_at: str
    promised_date: str | None = None
    shipments: list[TrackedShipment]
    backorders: dict[str, int] = {}
    cancelled: dict[str, int] = {}
    returns: list[TrackedReturn] = []
    timeline: list[TimelineEntry]


def tracking_view(order: Order) -> Tracking:
    """What a customer may see: no prices of other parties, no sources, no key ids."""
    timeline = sorted(order.history, key=lambda h: h.at)
    return Tracking(
        order_id=order.order_id,
        channel_order_id=order.channel_order_id,
        status=order.status.value,
        created_at=order.created_at,
        promised_date=order.delivery.get("promised_date"),
        shipments=[
            TrackedShipment(
                shipment_id=s.shipment_id,
                status=s.status.value,
                mode=s.mode.value,
                lines=[TrackedLine(sku=k, quantity=q) for k, q in sorted(s.lines.items())],
                carrier_service=s.carrier_service,
                carrier=s.carrier,
                tracking_number=s.tracking_number,
                promised_date=s.promised_date,
                pickup_location_id=s.pickup_location_id,
                pickup_until=s.pickup_until,
            )
            for s in order.shipments
            if s.lines
        ],
        backorders=dict(order.backorders),
        cancelled=dict(order.cancelled),
        returns=[
            TrackedReturn(**{k: v for k, v in r.items() if k in TrackedReturn.model_fields})
            for r in sorted(order.returns.values(), key=lambda r: str(r.get("created_at")))
        ],
        timeline=[
            TimelineEntry(at=h.at, event=h.event, status=h.status, shipment_id=h.shipment_id)
            for h in timeline
        ],
    )
