"""The retail network as plain data: locations, carrier services, products, stock, rules.

These are the inputs of sourcing and promise dates. They carry no I/O and are built from the
stored master data (see ``chalicelib.api.models.common``) or directly in tests.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from enum import StrEnum
from typing import Any


class LocationType(StrEnum):
    WAREHOUSE = "warehouse"  # a distribution centre that ships parcels
    STORE = "store"  # a shop: may ship, serve click & collect and take returns
    THREE_PL = "3pl"  # a third-party logistics provider's warehouse


class Capability(StrEnum):
    SHIP = "ship"  # can send parcels to customers
    CLICK_COLLECT = "click_collect"  # customers can pick orders up here
    RETURNS = "returns"  # accepts returned goods


@dataclass(frozen=True, slots=True)
class Location:
    location_id: str
    type: LocationType
    country: str  # ISO 3166-1 alpha-2
    postal_code: str
    lat: float
    lon: float
    timezone: str  # IANA name, e.g. "Europe/Berlin"
    capabilities: frozenset[Capability]
    cutoff_time: time  # local time; orders before it ship that business day
    processing_days: int = 0
    closed_weekdays: frozenset[int] = frozenset({5, 6})  # Monday = 0
    holidays_country: str = ""  # "" means: no public holidays observed
    handling_cost_per_order: int = 0  # minor units
    handling_cost_per_unit: int = 0
    holding_cost_per_unit_day: int = 0
    fulfilment_queue: str = "dirigent-fulfilment"
    name: str = ""
    city: str = ""
    # What happens to a cancelled or expired pick-up's units at this store: "keep" (sellable
    # here) or "transfer_back" (held, then sent back to their source; see domain.order.stock).
    collect_unclaimed: str = "keep"
    # Stale stock feeds (see domain.freshness): expected report interval (None: never stale),
    # the age past which it is not sourced, and when it last reported (UTC).
    feed_interval_minutes: int | None = None
    feed_stale_limit_minutes: int | None = None
    feed_at: datetime | None = None

    def can(self, capability: Capability) -> bool:
        return capability in self.capabilities


@dataclass(frozen=True, slots=True)
class WeightBand:
    max_weight_g: int
    price: Mapping[str, int]  # currency -> minor units per parcel


@dataclass(frozen=True, slots=True)
class Lane:
    from_country: str
    to_country: str
    transit_days: int  # business days
    bands: tuple[WeightBand, ...]


class Speed(StrEnum):
    STANDARD = "standard"
    EXPRESS = "express"
    TRANSFER = "transfer"  # own fleet between locations, for click & collect


@dataclass(frozen=True, slots=True)
class CarrierService:
    service_id: str
    carrier: str
    speed: Speed
    lanes: tuple[Lane, ...]
    remote_postal_prefixes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    remote_extra_days: int = 0
    order_cutoff_shift_hours: int = 0  # e.g. -2: express must be ordered 2 h before the cut-off


@dataclass(frozen=True, slots=True)
class Product:
    sku: str
    weight_g: int
    prices: Mapping[str, int] = field(default_factory=dict)  # currency -> unit price, minor units
    returnable: bool = True
    name: str = ""
    reorder_point: int = 0
    cost_prices: Mapping[str, int] = field(default_factory=dict)  # currency -> unit cost
    release_date: date | None = None  # a preorder until then (``services.preorders``)


@dataclass(frozen=True, slots=True)
class StockLevel:
    """One SKU at one location. ``available = on_hand - reserved - safety_stock``."""

    sku: str
    location_id: str
    on_hand: int
    reserved: int = 0
    safety_stock: int = 0
    reorder_point: int = 0
    quarantine: int = 0
    in_transit: int = 0  # on their way here (click & collect transfers): not yet on_hand

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved - self.safety_stock


@dataclass(frozen=True, slots=True)
class Address:
    """Where an order goes (its ship-to), as the channel gave it. ``None`` means "not given":
    such fields stay out of the address's document (see ``address_to_doc``)."""

    country: str
    postal_code: str
    city: str | None = None
    lat: float | None = None
    lon: float | None = None
    line1: str | None = None
    line2: str | None = None
    name: str | None = None


# The document's keys, in the order the API has always written them.
_ADDRESS_KEYS = ("country", "postal_code", "city", "line1", "line2", "name", "lat", "lon")


def address_to_doc(address: Address) -> dict[str, Any]:
    """The address as plain data: the fields given, nothing for those that were not (an empty
    postal code, from a document that had none, stays absent too)."""
    doc: dict[str, Any] = {}
    for key in _ADDRESS_KEYS:
        value = getattr(address, key)
        if value is not None and not (key == "postal_code" and value == ""):
            doc[key] = value
    return doc


def address_from_doc(doc: Mapping[str, Any]) -> Address:
    return Address(
        country=str(doc.get("country", "")),
        postal_code=str(doc.get("postal_code", "")),
        city=doc.get("city"),
        lat=doc.get("lat"),
        lon=doc.get("lon"),
        line1=doc.get("line1"),
        line2=doc.get("line2"),
        name=doc.get("name"),
    )


@dataclass(frozen=True, slots=True)
class CartLine:
    sku: str
    quantity: int
