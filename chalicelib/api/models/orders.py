"""Request and response models of quotes and orders (the v1 contract in shared/API.md)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from chalicelib.api.models.common import (
    MAX_MONEY,
    CountryCode,
    PostalCode,
    postal_code_of_country,
)
from chalicelib.domain.network import Address
from chalicelib.domain.order.changes import HoldKind, PaymentStatus

Sku = Annotated[str, StringConstraints(min_length=1, max_length=64, strip_whitespace=True)]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)  # built on first use


class ShipTo(Strict):
    country: CountryCode
    postal_code: PostalCode
    city: str | None = Field(default=None, max_length=100)
    line1: str | None = Field(default=None, max_length=200)
    line2: str | None = Field(default=None, max_length=200)
    name: str | None = Field(default=None, max_length=200)
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)

    _postal_code_of_country = field_validator("postal_code")(postal_code_of_country)

    @model_validator(mode="after")
    def _both_coordinates(self) -> ShipTo:
        if (self.lat is None) != (self.lon is None):
            raise ValueError("lat and lon go together: give both or neither")
        return self

    def address(self) -> Address:
        """The domain's address: parsed here, at the edge, and nowhere else."""
        return Address(
            country=self.country,
            postal_code=self.postal_code,
            city=self.city,
            lat=self.lat,
            lon=self.lon,
            line1=self.line1,
            line2=self.line2,
            name=self.name,
        )


class QuoteLine(Strict):
    sku: Sku
    quantity: int = Field(ge=1, le=10_000)


class OrderLineIn(QuoteLine):
    unit_price: int = Field(ge=0, le=MAX_MONEY, description="minor units of the order's currency")


def _no_duplicates(lines: list[Any]) -> None:
    seen: dict[str, int] = {}
    for i, line in enumerate(lines):
        if line.sku in seen:
            raise ValueError(
                f"lines[{i}].sku repeats lines[{seen[line.sku]}]: merge the quantities"
            )
        seen[line.sku] = i


class DeliveryOptionsRequest(Strict):
    currency: Currency
    ship_to: ShipTo
    lines: list[QuoteLine] = Field(min_length=1, max_length=50)

    @model_validator(mode="after")
    def _unique_skus(self) -> DeliveryOptionsRequest:
        _no_duplicates(self.lines)
        return self


class Customer(Strict):
    email: EmailStr
    name: str = Field(min_length=1, max_length=200)
    phone: str | None = Field(default=None, max_length=40)


class Delivery(Strict):
    option_id: str | None = Field(default=None, max_length=80)
    kind: Literal["fastest", "consolidated", "cheapest", "click_collect"] | None = None
    pickup_location_id: str | None = Field(default=None, max_length=64)
    reservation_id: str | None = Field(
        default=None, pattern=r"^r_[0-9a-f]{20}$", description="a checkout reservation"
    )

    @model_validator(mode="after")
    def _one_way(self) -> Delivery:
        if sum(map(bool, (self.option_id, self.kind, self.reservation_id))) != 1:
            raise ValueError("give one of option_id (from a quote), reservation_id or kind")
        if self.pickup_location_id and self.kind != "click_collect":
            raise ValueError("pickup_location_id goes with kind click_collect")
        return self


class OrderRequest(Strict):
    channel_order_id: str = Field(min_length=1, max_length=100)
    currency: Currency
    customer: Customer
    ship_to: ShipTo
    lines: list[OrderLineIn] = Field(min_length=1, max_length=50)
    delivery: Delivery = Field(default_factory=lambda: Delivery(kind="fastest"))
    holds: list[HoldRequest] = Field(default=[], max_length=4, description="held from the start")
    payment: Payment | None = None
    auto_cancel_after_hours: int | None = Field(
        default=None, ge=1, le=720, description="still held this many hours later: cancelled"
    )

    @model_validator(mode="after")
    def _unique_skus(self) -> OrderRequest:
        _no_duplicates(self.lines)
        return self

    @model_validator(mode="after")
    def _holds(self) -> OrderRequest:
        kinds = [hold.kind for hold in self.holds]
        if len(set(kinds)) != len(kinds):
            raise ValueError("holds: one hold per kind")
        if self.auto_cancel_after_hours and not self.holds:
            raise ValueError("auto_cancel_after_hours cancels a held order: give holds")
        return self

    def hashed(self) -> dict[str, Any]:
        """What the request hash covers: the body, less the hold fields left out (a body
        without them hashes as it did before they existed)."""
        doc = self.model_dump(mode="json")
        for key in ("holds", "payment", "auto_cancel_after_hours"):
            if not doc.get(key):
                doc.pop(key, None)
        return doc


class HoldRequest(Strict):
    kind: HoldKind
    reason: str = Field(min_length=1, max_length=500)


class Payment(Strict):
    status: PaymentStatus


class OrderPatch(Strict):
    """Either or both: a new ship-to (before release only) and the payment status."""

    ship_to: ShipTo | None = None
    payment: Payment | None = None

    @model_validator(mode="after")
    def _something(self) -> OrderPatch:
        if self.ship_to is None and self.payment is None:
            raise ValueError("give ship_to and/or payment")
        return self


class CancelLine(Strict):
    sku: Sku
    quantity: int = Field(ge=1, le=10_000)


class CancelRequest(Strict):
    reason: str = Field(default="", max_length=500)
    lines: list[CancelLine] | None = Field(default=None, min_length=1, max_length=50)

    @model_validator(mode="after")
    def _unique_skus(self) -> CancelRequest:
        _no_duplicates(self.lines or [])
        return self


class ShipmentView(BaseModel):
    shipment_id: str | None = None
    location_id: str
    carrier_service: str | None = None
    lines: list[dict[str, Any]]
    promised_date: str
    status: str | None = None


class OptionView(BaseModel):
    option_id: str
    kind: str
    kinds: list[str] = []
    price: int
    currency: str
    promised_date: str
    parcels: int
    shipments: list[dict[str, Any]]
    pickup_location_id: str | None = None
    ready_at: str | None = None
    explanation: list[dict[str, Any]] = []


class DeliveryOptions(BaseModel):
    quote_id: str
    expires_at: str
    currency: str
    options: list[OptionView]
    backordered: list[dict[str, Any]] = []


class OrderView(BaseModel):
    order_id: str
    channel: str
    channel_order_id: str
    status: str
    currency: str
    tracking_token: str | None = Field(default=None, description="given to the channel only")
    promise_changed: bool | None = None
    lines: list[dict[str, Any]]
    shipments: list[dict[str, Any]]
    backorders: dict[str, int] = {}
    delivery: dict[str, Any]
    created_at: str
    history: list[dict[str, Any]] = []
    explanation: list[dict[str, Any]] = []
    customer: dict[str, Any] = {}
    ship_to: dict[str, Any] = {}
    returns: dict[str, dict[str, Any]] = Field(
        default={}, description="rma_id -> status, lines, received, refunded"
    )
    holds: dict[str, dict[str, str]] = Field(default={}, description="kind -> reason, by, at")
    payment_status: str = ""
    auto_cancel_at: str | None = None


class OrderList(BaseModel):
    orders: list[OrderView]
    cursor: str | None = None
