"""The retailer's sourcing rules: one versioned document that steers every sourcing decision.

Plain types only (int, float, str, tuple, dict) so that the API edge can validate it with
``pydantic.TypeAdapter(SourcingRules)`` while the domain stays free of pydantic.
Money is in minor units of the order's currency.
"""

from __future__ import annotations

from dataclasses import dataclass, field


def _default_free_shipping() -> dict[str, int]:
    return {"EUR": 4900}


def _default_co2e_factors() -> dict[str, float]:
    """kg CO2e per tonne-km by carrier speed (README: road van, air freight)."""
    return {"standard": 0.6, "express": 1.58}


@dataclass(frozen=True, slots=True, kw_only=True)
class SourcingRules:
    """How sourcing weighs cost against speed and which stock it may use.

    - ``cost_weight`` and ``speed_weight_per_day`` rank options and pick the consolidated one:
      ``score = cost_weight * cost + speed_weight_per_day * days later than the fastest``.
    - ``max_parcels``: no delivery option sends more parcels than this.
    - ``excluded_locations``: per channel name, locations that never serve it.
    - ``store_protection_units``: shipping never takes a store's last N available units (they are
      kept for walk-in customers); click & collect at that very store may take them.
    - ``overstock_units`` / ``overstock_reward_per_unit``: every unit taken from a location whose
      available stock of that SKU exceeds ``overstock_units`` earns this reward (0 disables it).
    - ``holding_horizon_days``: taking a unit from a location saves its holding cost for this many
      days (``reward = holding_cost_per_unit_day * units * holding_horizon_days``), so stock that
      is expensive to keep is preferred. This models "sell where holding hurts most" without a
      demand forecast; 0 disables it.
    - ``split_penalty``: the cost of every parcel beyond the first (customer annoyance, packaging).
    - ``free_shipping_threshold``: per currency, the cart value from which shipping is free for
      the customer; a currency without an entry never ships free.
    - ``cheapest_max_delay_days``: the cheapest option may promise at most this many calendar days
      later than the fastest one.
    - ``click_collect_radius_km``: stores within this distance of the ship-to coordinates offer
      pick-up; without coordinates, stores in the same country whose postal code shares the first
      ``click_collect_postal_prefix_len`` characters.
    - Margin and cost terms (``sourcing.terms``; all off by default): ``min_margin`` (per currency,
      minor units per order) and ``min_margin_pct`` (% of revenue) drop the shipping options
      below them when another meets them, else flag them; ``min_item_value_by_location`` (key: a
      location id or ``type:<location type>``; per currency the lowest unit price it may ship);
      ``cost_per_parcel_km`` (minor units per parcel and road km; road km = great-circle km x
      ``road_distance_factor``); ``co2e_cost_per_kg`` (minor units per kg CO2e, estimated from
      the weight sent, road km and ``co2e_kg_per_tonne_km`` by service id or speed).
    - ``network_aware``: add every unit's opportunity cost (what it is worth to the rest of the
      network: ``domain.network_value``, recomputed by a scheduled job) to its location's cost.
      Off by default; stale or missing values count 0 and the explanation says so.
    """

    version: int = 1
    cost_weight: float = 1.0
    speed_weight_per_day: float = 100.0
    max_parcels: int = 3
    excluded_locations: dict[str, tuple[str, ...]] = field(default_factory=dict)
    store_protection_units: int = 1
    overstock_units: int = 50
    overstock_reward_per_unit: int = 10
    holding_horizon_days: int = 7
    split_penalty: int = 150
    free_shipping_threshold: dict[str, int] = field(default_factory=_default_free_shipping)
    cheapest_max_delay_days: int = 2
    click_collect_radius_km: float = 25.0
    click_collect_postal_prefix_len: int = 2
    click_collect_max_options: int = 3
    allow_express: bool = True
    min_margin: dict[str, int] = field(default_factory=dict)
    min_margin_pct: float = 0.0
    min_item_value_by_location: dict[str, dict[str, int]] = field(default_factory=dict)
    cost_per_parcel_km: float = 0.0
    road_distance_factor: float = 1.3
    co2e_cost_per_kg: float = 0.0
    co2e_kg_per_tonne_km: dict[str, float] = field(default_factory=_default_co2e_factors)
    network_aware: bool = False

    def excluded_for(self, channel: str) -> frozenset[str]:
        """The location ids that must not serve ``channel``."""
        return frozenset(self.excluded_locations.get(channel, ()))

    def ships_free(self, currency: str, cart_value: int) -> bool:
        threshold = self.free_shipping_threshold.get(currency)
        return threshold is not None and cart_value >= threshold
