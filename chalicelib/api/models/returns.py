"""Request and response models of returns (``POST /returns``, ``GET /returns/{rma_id}``)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from chalicelib.api.models.common import MAX_QUANTITY, Id
from chalicelib.domain.returns.model import ReturnReason, Rma

MAX_TOKEN_LENGTH = 128
Token = Annotated[str, Field(max_length=MAX_TOKEN_LENGTH)]


class ReturnLineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sku: Id
    quantity: int = Field(ge=1, le=MAX_QUANTITY)
    reason: ReturnReason
    comment: str = Field(default="", max_length=500, description="the customer's own words")


class ReturnRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    order_id: str = Field(min_length=1, max_length=64)
    token: Token | None = Field(default=None, description="the order's tracking token")
    lines: list[ReturnLineIn] = Field(min_length=1, max_length=50)


class ReturnCancel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    token: Token | None = Field(default=None, description="the order's tracking token")
    reason: str = Field(default="", max_length=500)


class RmaLineOut(BaseModel):
    sku: str
    quantity: int
    reason: str
    comment: str = ""
    unit_price: int
    received_sellable: int
    received_damaged: int


class RefundOut(BaseModel):
    at: str
    currency: str
    items: int
    shipping: int
    total: int
    lines: dict[str, int]


class RmaView(BaseModel):
    rma_id: str
    order_id: str
    status: str
    created_at: str
    currency: str
    lines: list[RmaLineOut]
    options: list[dict[str, Any]] = Field(description="ranked: rank 1 is the recommended one")
    refunded: int = Field(description="minor units refunded so far")
    refunds: list[RefundOut] = []
    receipts: list[dict[str, Any]] = []
    history: list[dict[str, Any]] = []
    carrier: str | None = None
    tracking_number: str | None = None


def rma_view(rma: Rma) -> RmaView:
    return RmaView(
        rma_id=rma.rma_id,
        order_id=rma.order_id,
        status=rma.status.value,
        created_at=rma.created_at,
        currency=rma.currency,
        lines=[
            RmaLineOut(
                sku=line.sku,
                quantity=line.quantity,
                reason=line.reason.value,
                comment=line.comment,
                unit_price=line.unit_price,
                received_sellable=line.sellable,
                received_damaged=line.damaged,
            )
            for line in rma.lines
        ],
        options=rma.options,
        refunded=rma.refunded,
        refunds=[
            RefundOut(
                at=r.at,
                currency=r.currency,
                items=r.items,
                shipping=r.shipping,
                total=r.total,
                lines=r.lines,
            )
            for r in rma.refunds
        ],
        receipts=[{k: v for k, v in r.items() if k != "event_id"} for r in rma.receipts],
        history=[{k: v for k, v in h.items() if k != "event_id"} for h in rma.history],
        carrier=rma.carrier,
        tracking_number=rma.tracking_number,
    )


class ReturnCommand(BaseModel):
    idempotency_key: str = Field(min_length=1, max_length=200)
    staff: str = ""  # the key id: one caller's key never answers another's request
    request: ReturnRequest
