"""Request and response models of master data and stock: pydantic at the edge only.

Every request model forbids unknown fields and validates codes against the real lists (ISO 3166
countries and ISO 4217 currencies from ``pycountry``, IANA time zones from ``zoneinfo``).
``doc(item_id)`` gives the stored document and ``to_domain()`` the frozen dataclass of
``chalicelib.domain`` that sourcing works on. The field names of ``shared/data/network-eu.json``
are accepted as they are.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pycountry
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from chalicelib.api.http import ID_PATTERN, check_id, field_errors
from chalicelib.api.models.channel_mail import ChannelMailFieldsIn
from chalicelib.api.models.feeds import FeedFieldsIn, FeedOut, SellableOut
from chalicelib.config import queue_name
from chalicelib.domain.catalog import (
    channel_from_doc,
    location_from_doc,
    product_from_doc,
)
from chalicelib.domain.channel import BackorderPolicy, Channel, ChannelKind, PriceMismatch
from chalicelib.domain.errors import FieldError, InvalidInput, RowError
from chalicelib.domain.inventory import MAX_ON_HAND
from chalicelib.domain.network import (
    Capability,
    Location,
    LocationType,
    Product,
)
from chalicelib.domain.postal import normalized, postal_code_problem

MAX_QUANTITY = MAX_ON_HAND  # every quantity: lines, levels, adjustments
MAX_MONEY = 100_000_000  # minor units: a million in a two-decimal currency


def _country(code: str) -> str:
    if len(code) != 2 or not code.isupper() or pycountry.countries.get(alpha_2=code) is None:
        raise ValueError(f"unknown country {code!r}: use an ISO 3166-1 alpha-2 code like 'DE'")
    return code


def _currency(code: str) -> str:
    if len(code) != 3 or not code.isupper() or pycountry.currencies.get(alpha_3=code) is None:
        raise ValueError(f"unknown currency {code!r}: use an ISO 4217 code like 'EUR'")
    return code


def _timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(
            f"unknown time zone {name!r}: use an IANA name like 'Europe/Berlin'"
        ) from exc
    return name


def _non_zero(value: int) -> int:
    if value == 0:
        raise ValueError("must not be 0")
    return value


def _unique(values: list[Any]) -> list[Any]:
    if len(set(values)) != len(values):
        raise ValueError("values must not repeat")
    return values


def _some_open(days: list[int]) -> list[int]:
    if len(set(days)) >= 7:
        raise ValueError("at least one weekday must be open")
    return days


def _postal_code(code: str) -> str:
    if not (code := normalized(code)):
        raise ValueError("must not be blank")
    return code


def postal_code_of_country(code: str, info: ValidationInfo) -> str:
    """A ``field_validator`` for a ``postal_code`` declared after its model's ``country``: the
    code must have that country's shape (``domain.postal``). An invalid country is reported
    on its own field, so it is not judged here."""
    country = info.data.get("country")
    if isinstance(country, str) and (problem := postal_code_problem(country, code)):
        raise ValueError(problem)
    return code


CountryCode = Annotated[str, AfterValidator(_country)]
# stored ``normalized`` (upper case, single spaces): "ec1a  1hq" is "EC1A 1HQ"
PostalCode = Annotated[str, Field(min_length=1, max_length=16), AfterValidator(_postal_code)]
CurrencyCode = Annotated[str, AfterValidator(_currency)]
TimeZone = Annotated[str, Field(max_length=64), AfterValidator(_timezone)]
Id = Annotated[str, Field(pattern=ID_PATTERN, description="letters, digits, . _ : -; max 64")]
Money = Annotated[int, Field(ge=0, le=MAX_MONEY, description="minor units")]
Quantity = Annotated[int, Field(ge=0, le=MAX_QUANTITY)]
HHMM = Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$", description="local HH:MM")]
Text = Annotated[str, Field(max_length=200)]


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)  # built on first use


def check_path_id(name: str, value: str) -> str:
    """A path id is valid, else 400 naming ``name`` (the ``endpoint`` decorator checks every
    path parameter this way already)."""
    return check_id(name, value)


def same_id(name: str, path_value: str, body_value: str | None) -> str:
    if body_value is not None and body_value != path_value:
        raise InvalidInput(
            f"{name} in the body differs from the path",
            fields=[FieldError(name, f"must equal the path value {path_value!r}")],
        )
    return path_value


# --- channels ----------------------------------------------------------------------------------


class ChannelIn(Request, ChannelMailFieldsIn):
    channel: Id | None = Field(default=None, description="must equal the path if given")
    name: Text = ""
    kind: ChannelKind
    currencies: Annotated[list[CurrencyCode], AfterValidator(_unique)] = Field(min_length=1)
    countries: Annotated[list[CountryCode], AfterValidator(_unique)] = Field(min_length=1)
    backorder_policy: BackorderPolicy = BackorderPolicy.REJECT
    strict: bool = Field(default=False, description="promised dates are binding")
    return_window_days: int = Field(default=30, ge=0, le=365)
    pickup_window_days: int = Field(default=7, ge=1, le=60)
    excluded_locations: list[Id] = Field(default_factory=list, max_length=500)
    price_tolerance_pct: int = Field(
        default=50, ge=0, le=1000, description="unit_price vs the catalogue price, per cent"
    )
    price_mismatch: PriceMismatch = PriceMismatch.REJECT
    max_quantity_per_line: int | None = Field(default=None, ge=1, le=10_000)
    max_units_per_customer_day: int | None = Field(
        default=None, ge=1, le=100_000, description="per customer e-mail, per SKU"
    )
    reservation_minutes: int = Field(
        default=15, ge=1, le=240, description="how long a checkout reservation keeps stock"
    )
    resource_expired_reservations: bool = Field(
        default=False, description="an order on an expired reservation is re-sourced, not a 409"
    )
    availability_low_units: int = Field(
        default=5, ge=0, le=100_000, description="the availability feed's low band: 1 .. this"
    )

    def doc(self, channel: str) -> dict[str, Any]:
        return {**self.model_dump(mode="json"), "channel": channel}

    def to_domain(self, channel: str | None = None) -> Channel:
        return channel_from_doc(self.doc(channel or self.channel or ""))


# --- locations ---------------------------------------------------------------------------------


class AddressIn(Request):
    line1: Text = ""
    city: Text = ""
    country: CountryCode
    postal_code: PostalCode

    _postal_code_of_country = field_validator("postal_code")(postal_code_of_country)


class LocationIn(Request, FeedFieldsIn):
    location_id: Id | None = Field(default=None, description="must equal the path if given")
    type: LocationType
    name: Text = ""
    address: AddressIn
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    timezone: TimeZone
    capabilities: Annotated[list[Capability], AfterValidator(_unique)] = Field(min_length=1)
    cutoff_time: HHMM
    processing_days: int = Field(default=0, ge=0, le=30)
    closed_weekdays: Annotated[
        list[Annotated[int, Field(ge=0, le=6)]], AfterValidator(_unique), AfterValidator(_some_open)
    ] = Field(default_factory=lambda: [5, 6], description="Monday = 0; at least one day open")
    holidays_country: CountryCode | None = Field(
        default=None, description="whose public holidays the location observes"
    )
    handling_cost_per_order: Money = 0
    handling_cost_per_unit: Money = 0
    holding_cost_per_unit_day: Money = 0
    fulfilment_queue: str = Field(
        default_factory=lambda: queue_name("fulfilment"),
        pattern=r"^[A-Za-z0-9_-]{1,80}$",
    )
    collect_unclaimed: Literal["keep", "transfer_back"] = Field(
        default="keep",
        description="a store's cancelled or expired pick-ups: kept sellable here, or sent "
        "back to their source",
    )

    def doc(self, location_id: str) -> dict[str, Any]:
        return {**self.model_dump(mode="json"), "location_id": location_id}

    def to_domain(self, location_id: str | None = None) -> Location:
        return location_from_doc(self.doc(location_id or self.location_id or ""))


# --- products ----------------------------------------------------------------------------------


class ProductIn(Request):
    sku: Id | None = Field(default=None, description="must equal the path if given")
    name: Text = ""
    weight_g: int = Field(gt=0, le=1_000_000)
    prices: dict[CurrencyCode, Money] = Field(default_factory=dict, description="unit prices")
    cost_prices: dict[CurrencyCode, Money] = Field(
        default_factory=dict, description="unit cost (cost of goods) per currency, for margins"
    )
    returnable: bool = True
    reorder_point: Quantity = Field(default=0, description="default for new stock items")
    release_date: date | None = Field(default=None, description="preorders until this day")
    preorder_cap: Quantity | None = Field(default=None, description="units sold before release")

    @field_validator("preorder_cap")
    @classmethod
    def _cap_needs_release(cls, cap: int | None, info: ValidationInfo) -> int | None:
        if cap is not None and info.data.get("release_date") is None:
            raise ValueError("a preorder_cap needs a release_date")
        return cap

    def doc(self, sku: str) -> dict[str, Any]:
        doc = {**self.model_dump(mode="json", exclude_none=True), "sku": sku}
        if not doc.get("cost_prices"):
            doc.pop("cost_prices", None)  # none given: the stored product stays as it was
        return doc

    def to_domain(self, sku: str | None = None) -> Product:
        return product_from_doc(self.doc(sku or self.sku or ""))


class ProductRowIn(ProductIn):
    """A product in a bulk import: the sku is required."""

    sku: Id


# --- stock -------------------------------------------------------------------------------------


class StockLevelIn(Request):
    on_hand: Quantity
    safety_stock: Quantity = 0
    reorder_point: Quantity | None = Field(default=None, description="default: the product's")


class StockRowIn(StockLevelIn):
    sku: Id
    location_id: Id


class AdjustmentIn(Request):
    sku: Id
    location_id: Id
    delta: Annotated[int, AfterValidator(_non_zero)] = Field(
        ge=-MAX_QUANTITY, le=MAX_QUANTITY, description="signed, never 0"
    )
    reason: str = Field(min_length=1, max_length=200)


class StockLocationOut(SellableOut):
    location_id: str
    on_hand: int
    reserved: int
    safety_stock: int
    available: int
    reorder_point: int
    in_transit: int = 0  # on their way here (click & collect transfers), not yet on_hand
    quarantine: int = 0  # damaged returns, counted apart: never available


class StockTotal(BaseModel):
    on_hand: int
    reserved: int
    available: int
    in_transit: int = 0
    quarantine: int = 0
    sellable: int = Field(default=0, description="available less stale-feed discounts")


class StockOut(BaseModel):
    sku: str
    total: StockTotal
    locations: list[StockLocationOut]


class AdjustmentOut(StockLocationOut):
    sku: str
    delta: int
    reason: str


class AdjustmentCommand(BaseModel):
    idempotency_key: str = Field(min_length=1, max_length=200)
    adjustment: AdjustmentIn


class RulesOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    version: int


class ChannelList(BaseModel):
    channels: list[ChannelIn]


class LocationOut(LocationIn, FeedOut):
    """A location with its stock feed (``GET /locations``)."""


class LocationList(BaseModel):
    locations: list[LocationOut]


# --- rows of a bulk import ---------------------------------------------------------------------


class RowErrorOut(BaseModel):
    row: int
    field: str
    reason: str


class ImportReport(BaseModel):
    kind: str
    received: int
    imported: int
    errors: list[RowErrorOut]


class EventKeyOut(BaseModel):
    """A location's new warehouse-event key, answered once and never stored: sign each message
    body with it (hex HMAC-SHA256 in the ``Signature`` attribute)."""

    location_id: str
    key_version: int
    secret: str
    issued_at: str
    signature_attribute: str = "Signature"
    key_version_attribute: str = "KeyVersion"


R = TypeVar("R", bound=BaseModel)


def validate_rows(model: type[R], rows: list[Any]) -> tuple[list[tuple[int, R]], list[RowError]]:
    """Each row validated on its own: the good ones (with their row number) and the errors."""
    good: list[tuple[int, R]] = []
    errors: list[RowError] = []
    for number, row in enumerate(rows, start=1):
        try:
            good.append((number, model.model_validate(row)))
        except ValidationError as exc:
            errors.extend(RowError(number, f.path, f.reason) for f in field_errors(exc))
        except InvalidInput as exc:
            errors.extend(RowError(number, f.path, f.reason) for f in exc.fields)
    return good, errors
