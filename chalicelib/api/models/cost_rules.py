"""Validation of the margin and cost-term fields of the sourcing rules (``SourcingRules``):
what pydantic's types can't say, each problem naming its field."""

from __future__ import annotations

from typing import Any

from chalicelib.domain.errors import FieldError
from chalicelib.domain.network import LocationType

MAX_MONEY_RULE = 100_000_000  # minor units
MAX_CO2E_FACTOR = 100.0  # kg CO2e per tonne-km: far above any published factor
_TYPES = {f"type:{t.value}" for t in LocationType}


def _currency_problems(name: str, amounts: dict[str, Any]) -> list[FieldError]:
    problems = []
    for currency, value in amounts.items():
        if len(currency) != 3 or not currency.isupper():
            problems.append(FieldError(f"{name}.{currency[:8]}", "not a currency"))
        elif not 0 <= value <= MAX_MONEY_RULE:
            problems.append(FieldError(f"{name}.{currency}", f"must be 0..{MAX_MONEY_RULE}"))
    return problems


def cost_rule_problems(values: dict[str, Any]) -> list[FieldError]:
    """The problems of the validated (JSON-mode) rules' margin and cost fields."""
    problems = _currency_problems("min_margin", values.get("min_margin", {}))
    if not 0 <= values.get("min_margin_pct", 0) <= 100:
        problems.append(FieldError("min_margin_pct", "must be 0..100 (percent of revenue)"))
    by_location = values.get("min_item_value_by_location", {})
    if len(by_location) > 500:
        problems.append(FieldError("min_item_value_by_location", "at most 500 entries"))
    for key, amounts in by_location.items():
        name = f"min_item_value_by_location.{key[:64]}"
        if key.startswith("type:") and key not in _TYPES:
            problems.append(FieldError(name, f"one of {', '.join(sorted(_TYPES))}"))
        elif not key or len(key) > 64:
            problems.append(FieldError(name, "a location id of at most 64 characters"))
        problems += _currency_problems(name, amounts)
    factor = values.get("road_distance_factor", 1.0)
    if not 1.0 <= factor <= 5.0:
        problems.append(FieldError("road_distance_factor", "must be 1..5"))
    factors = values.get("co2e_kg_per_tonne_km", {})
    if len(factors) > 100:
        problems.append(FieldError("co2e_kg_per_tonne_km", "at most 100 entries"))
    for key, value in factors.items():
        if not key or len(key) > 64 or not 0 <= value <= MAX_CO2E_FACTOR:
            problems.append(
                FieldError(f"co2e_kg_per_tonne_km.{key[:64]}", f"must be 0..{MAX_CO2E_FACTOR}")
            )
    return problems
