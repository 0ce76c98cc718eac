"""The sourcing rules' cost terms, shared by the shipping and the click & collect cost paths.

``SourcingRules`` adds three terms to what a location's units cost (see its docstring):

- **store protection**: shipping never takes a store's last ``store_protection_units`` of a SKU
  (click & collect at that store may: ``collect`` prices the raw stock);
- **holding saved**: every unit that leaves saves ``holding_cost_per_unit_day *
  holding_horizon_days`` of holding cost;
- **overstock reward**: every unit taken of a SKU whose available stock (before protection)
  exceeds ``overstock_units`` earns ``overstock_reward_per_unit``.

``context`` prices every site with these terms, inlined, once per request (its unit costs, the
vectors the solver works on); ``collect`` prices what a store hands over and what a warehouse
transfers to it with ``holding_saved`` and ``rule_rewards``. Integer arithmetic in minor units,
one call per location or shipment, never per unit.
"""

from __future__ import annotations

from collections.abc import Mapping

from chalicelib.domain.network import CarrierService, Location
from chalicelib.domain.rules import SourcingRules


def holding_saved(rules: SourcingRules, location: Location, units: int = 1) -> int:
    """The holding cost saved by taking ``units`` from ``location``."""
    return location.holding_cost_per_unit_day * rules.holding_horizon_days * units


def overstock_reward(rules: SourcingRules, available: int) -> int:
    """The reward per unit taken of a SKU of which the location has ``available`` units (before
    store protection): ``overstock_reward_per_unit`` above ``overstock_units``, else 0."""
    return rules.overstock_reward_per_unit if available > rules.overstock_units else 0


def rule_rewards(rules: SourcingRules, raw: Mapping[str, int], lines: Mapping[str, int]) -> int:
    """The overstock rewards of taking ``lines`` (units per SKU) from a location with ``raw``
    available units per SKU (a SKU it lacks earns nothing)."""
    return sum(overstock_reward(rules, raw.get(sku, 0)) * qty for sku, qty in lines.items())


# --- distance, emissions and item value (``SourcingRules`` docstring; all off by default) ----


def prices_distance(rules: SourcingRules) -> bool:
    """Whether routes carry a distance or CO2e price (then every site has routes of its own)."""
    return rules.cost_per_parcel_km > 0 or rules.co2e_cost_per_kg > 0


def road_km(rules: SourcingRules, great_circle_km: float) -> float:
    """The road distance estimated from the great-circle one (``road_distance_factor``)."""
    return great_circle_km * rules.road_distance_factor


def co2e_factor(rules: SourcingRules, service: CarrierService) -> float:
    """kg CO2e per tonne-km of ``service``: by its id, else by its speed, else 0."""
    factors = rules.co2e_kg_per_tonne_km
    found = factors.get(service.service_id)
    return float(found if found is not None else factors.get(service.speed.value, 0.0))


def co2e_grams(factor: float, km: float, weight_g: int) -> int:
    """Grams CO2e of sending ``weight_g`` over ``km`` at ``factor`` kg per tonne-km
    (g = t x km x kg/t-km x 1000 = weight_g x km x factor / 1000)."""
    return round(weight_g * km * factor / 1000)


def item_value_floor(rules: SourcingRules, location: Location, currency: str) -> int:
    """The lowest unit price ``location`` may ship (0: any): the strictest of the rules for its
    id and for ``type:<its type>``."""
    by_location = rules.min_item_value_by_location
    floors = (
        by_location.get(location.location_id, {}).get(currency, 0),
        by_location.get(f"type:{location.type.value}", {}).get(currency, 0),
    )
    return max(floors)
