"""The inputs and outputs of sourcing: a request, ranked plans of shipments, shortages.

Everything here is a plain dataclass; ``as_dict()`` gives JSON-safe values (dates as YYYY-MM-DD)
so that a plan can be returned by the API and stored on an order as it is.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from chalicelib.domain.errors import ErrorCode
from chalicelib.domain.network import (
    Address,
    CarrierService,
    CartLine,
    Location,
    Product,
    StockLevel,
)
from chalicelib.domain.network_value import NetworkValues
from chalicelib.domain.rules import SourcingRules


class OptionKind(StrEnum):
    FASTEST = "fastest"  # every unit from where it arrives soonest; may split
    CONSOLIDATED = "consolidated"  # fewest parcels (one when a location can), maybe later
    CHEAPEST = "cheapest"  # lowest cost to the retailer within the allowed delay
    CLICK_COLLECT = "click_collect"  # picked up at a store near the customer
    NEAREST = "nearest"  # baseline "nearest location that has it": reports only, never offered


DELIVERY_KINDS = frozenset(
    {OptionKind.FASTEST, OptionKind.CONSOLIDATED, OptionKind.CHEAPEST, OptionKind.CLICK_COLLECT}
)

Lines = tuple[tuple[str, int], ...]  # (sku, quantity), sorted by sku


@dataclass(frozen=True, slots=True)
class Shipment:
    """What one location sends: by carrier to the customer, by transfer to a store, or hands over
    at its own counter (``carrier_service`` is None: click & collect at this store)."""

    location_id: str
    lines: Lines
    carrier_service: str | None
    ship_date: date
    promised_date: date
    parcels: int
    parcel_price: int  # what the carrier charges for all parcels of this shipment
    weight_g: int

    @property
    def units(self) -> int:
        return sum(quantity for _, quantity in self.lines)

    def as_dict(self) -> dict[str, Any]:
        return {
            "location_id": self.location_id,
            "lines": [{"sku": sku, "quantity": quantity} for sku, quantity in self.lines],
            "carrier_service": self.carrier_service,
            "ship_date": self.ship_date.isoformat(),
            "promised_date": self.promised_date.isoformat(),
            "parcels": self.parcels,
            "parcel_price": self.parcel_price,
            "weight_g": self.weight_g,
        }


@dataclass(frozen=True, slots=True)
class CostBreakdown:
    """The retailer's cost of a plan in minor units: ``total = shipping + handling +
    split_penalty + distance + co2e + opportunity - holding_saved - rule_rewards``. ``co2e_g`` is
    the estimated emission in grams CO2e (not money: ``co2e`` is its price when the rules price
    it)."""

    shipping: int = 0
    handling: int = 0
    holding_saved: int = 0  # holding cost no longer paid for the units that leave
    split_penalty: int = 0
    rule_rewards: int = 0  # e.g. clearing overstock
    distance: int = 0  # rules.cost_per_parcel_km x parcels x road km
    co2e: int = 0  # rules.co2e_cost_per_kg x kg CO2e
    co2e_g: int = 0
    opportunity: int = 0  # what the units taken are worth to the network (rules.network_aware)

    @property
    def total(self) -> int:
        return (
            self.shipping
            + self.handling
            + self.split_penalty
            + self.distance
            + self.co2e
            + self.opportunity
            - self.holding_saved
            - self.rule_rewards
        )

    @property
    def cost_to_serve(self) -> int:
        """What the retailer pays out: shipping and handling (the rest are rule terms)."""
        return self.shipping + self.handling

    def plus(self, other: CostBreakdown) -> CostBreakdown:
        return CostBreakdown(
            shipping=self.shipping + other.shipping,
            handling=self.handling + other.handling,
            holding_saved=self.holding_saved + other.holding_saved,
            split_penalty=self.split_penalty + other.split_penalty,
            rule_rewards=self.rule_rewards + other.rule_rewards,
            distance=self.distance + other.distance,
            co2e=self.co2e + other.co2e,
            co2e_g=self.co2e_g + other.co2e_g,
            opportunity=self.opportunity + other.opportunity,
        )

    def as_dict(self) -> dict[str, Any]:
        """The named terms (money in minor units), their ``total`` and ``co2e_kg``."""
        return {
            "shipping": self.shipping,
            "handling": self.handling,
            "holding_saved": self.holding_saved,
            "split_penalty": self.split_penalty,
            "rule_rewards": self.rule_rewards,
            "distance": self.distance,
            "co2e": self.co2e,
            "opportunity": self.opportunity,
            "total": self.total,
            "co2e_kg": round(self.co2e_g / 1000, 3),
        }


def option_id_for(shipments: Sequence[Shipment], pickup_location_id: str | None = None) -> str:
    """A short id that depends only on who sends what how (not on dates, prices or kind), so a
    quote's option and the plan re-sourced at order time match when they are the same."""
    parts = sorted(
        f"{s.location_id}|{s.carrier_service or '-'}|"
        + ",".join(f"{sku}:{quantity}" for sku, quantity in s.lines)
        for s in shipments
    )
    text = f"{pickup_location_id or ''}#" + ";".join(parts)
    return hashlib.blake2b(text.encode(), digest_size=6).hexdigest()


@dataclass(frozen=True, slots=True)
class Plan:
    """One delivery option: its shipments, cost to the retailer and price to the customer."""

    kind: OptionKind
    option_id: str
    shipments: tuple[Shipment, ...]
    cost: CostBreakdown
    price: int  # what the customer pays for delivery
    currency: str
    promised_date: date  # the latest promised date of its shipments (ready date for pick-up)
    parcels: int
    explanation: Sequence[dict[str, Any]] = ()  # built on first use (``explain.Lazy``)
    kinds: tuple[OptionKind, ...] = ()  # every kind this same plan answers (deduplicated)
    pickup_location_id: str | None = None
    ready_at: date | None = None
    score: float = 0.0  # lower is better: cost_weight * cost + speed_weight * days late
    margin: dict[str, Any] | None = None  # ``domain.margin.Margin.as_dict``; internal, like cost

    @property
    def lines(self) -> dict[str, int]:
        """Units per SKU over all shipments."""
        totals: dict[str, int] = {}
        for shipment in self.shipments:
            for sku, quantity in shipment.lines:
                totals[sku] = totals.get(sku, 0) + quantity
        return totals

    def as_dict(self) -> dict[str, Any]:
        return {
            "option_id": self.option_id,
            "kind": self.kind.value,
            "kinds": [k.value for k in self.kinds],
            "price": self.price,
            "currency": self.currency,
            "promised_date": self.promised_date.isoformat(),
            "parcels": self.parcels,
            "shipments": [s.as_dict() for s in self.shipments],
            "cost": self.cost.as_dict(),
            "pickup_location_id": self.pickup_location_id,
            "ready_at": self.ready_at.isoformat() if self.ready_at else None,
            "explanation": [dict(e) for e in self.explanation],
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class SourcingRequest:
    """Everything sourcing needs; no I/O happens inside it.

    ``stock`` is the snapshot of the cart's SKUs at the candidate locations (other rows are
    ignored). ``allow_partial`` plans what is available and reports the rest as shortages
    (backorders, short-pick re-sourcing); otherwise a short cart gets no delivery options.
    ``excluded_location_ids`` come on top of the rules' per-channel exclusions (e.g. the location
    that just reported a short pick). ``unit_prices`` override ``Product.prices`` for the cart
    value that decides free shipping.
    """

    lines: Sequence[CartLine]
    ship_to: Address
    stock: Sequence[StockLevel]
    locations: Sequence[Location]
    carrier_services: Sequence[CarrierService]
    products: Mapping[str, Product]
    now: datetime
    rules: SourcingRules = field(default_factory=SourcingRules)
    channel: str = ""
    currency: str = "EUR"
    unit_prices: Mapping[str, int] | None = None
    excluded_location_ids: frozenset[str] = frozenset()
    allow_partial: bool = False
    kinds: frozenset[OptionKind] = DELIVERY_KINDS
    network_values: NetworkValues | None = None  # the cart's SKUs' (used when network_aware)


@dataclass(frozen=True, slots=True)
class SourcingResult:
    """Ranked options (best first) and the units no eligible location can ship (sku -> qty).

    With ``allow_partial`` every shipping option sends the cart less ``shortages`` (which then
    also holds what no plan can send within the parcel limit); a click & collect option always
    covers the whole cart."""

    options: list[Plan]
    shortages: dict[str, int]

    @property
    def fully_sourced(self) -> bool:
        return not self.shortages

    def option(self, option_id: str) -> Plan | None:
        return next((p for p in self.options if p.option_id == option_id), None)

    def first(self, kind: OptionKind, pickup_location_id: str | None = None) -> Plan | None:
        """The best option answering ``kind`` (and at that pick-up store, when given)."""
        return next(
            (
                p
                for p in self.options
                if kind in p.kinds
                and (pickup_location_id is None or p.pickup_location_id == pickup_location_id)
            ),
            None,
        )

    def raise_for_shortages(self) -> None:
        if self.shortages:
            raise Unsourceable(self.shortages)


class Unsourceable(Exception):
    """The cart can't be fully covered by the eligible stock. Maps to 409 ``out_of_stock``."""

    code = ErrorCode.OUT_OF_STOCK

    def __init__(self, shortages: Mapping[str, int]) -> None:
        self.shortages = dict(shortages)
        super().__init__(f"not enough stock for {sorted(self.shortages)}")

    @property
    def skus(self) -> list[str]:
        return sorted(self.shortages)
