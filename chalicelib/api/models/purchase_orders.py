"""Request and response models of purchase orders (``/purchase-orders``)."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, Field, field_validator

from chalicelib.api.models.common import MAX_QUANTITY, Id, Request
from chalicelib.domain.supply import PurchaseOrder, po_to_doc

MAX_PO_LINES = 90  # a PO and a supply row per line fit one transaction


class PoLineIn(Request):
    line_id: Id | None = Field(default=None, description="defaults to the line's position, 1-based")
    sku: Id
    quantity: int = Field(ge=1, le=MAX_QUANTITY)


class PurchaseOrderIn(Request):
    supplier: str = Field(min_length=1, max_length=200)
    location_id: Id
    expected_date: date
    lines: list[PoLineIn] = Field(min_length=1, max_length=MAX_PO_LINES)
    version: int | None = Field(default=None, ge=1, description="the version read: 409 if moved on")

    @field_validator("lines")
    @classmethod
    def _unique_lines(cls, lines: list[PoLineIn]) -> list[PoLineIn]:
        ids = [ln.line_id or str(i + 1) for i, ln in enumerate(lines)]
        if twice := sorted({i for i in ids if ids.count(i) > 1}):
            raise ValueError(f"line ids must be unique: {', '.join(twice)} repeated")
        return lines

    def line_tuples(self) -> list[tuple[str, str, int]]:
        return [(ln.line_id or str(i + 1), ln.sku, ln.quantity) for i, ln in enumerate(self.lines)]


class PoLineOut(BaseModel):
    line_id: str
    sku: str
    quantity: int
    received: int
    in_transit: int
    over_received: int
    open: int


class PurchaseOrderOut(BaseModel):
    po_id: str
    supplier: str
    location_id: str
    expected_date: str
    status: str
    lines: list[PoLineOut]
    created_at: str
    updated_at: str
    version: int
    history: list[dict[str, Any]] = []


class PurchaseOrderList(BaseModel):
    purchase_orders: list[PurchaseOrderOut]
    cursor: str | None


def po_view(po: PurchaseOrder) -> PurchaseOrderOut:
    return po_out(po_to_doc(po))


def po_out(doc: dict[str, Any]) -> PurchaseOrderOut:
    lines = [PoLineOut(**ln, open=max(ln["quantity"] - ln["received"], 0)) for ln in doc["lines"]]
    fields = {k: v for k, v in doc.items() if k not in ("lines", "events")}
    return PurchaseOrderOut(**fields, lines=lines)
