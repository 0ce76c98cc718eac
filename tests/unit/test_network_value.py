"""Network-aware sourcing: the forecast, the transportation LP's duals and the opportunity term."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from chalicelib.domain.network import Address, CartLine, Product, StockLevel
from chalicelib.domain.network_value import (
    STALE_AFTER,
    NetworkValues,
    Sale,
    forecast,
    region_of,
    sku_values,
    transportation_values,
    unit_cost,
)
from chalicelib.domain.rules import SourcingRules
from chalicelib.domain.sourcing import OptionKind, SourcingRequest, plan
from tests.fixtures.network import load_network

NET = load_network()
NOW = datetime(2026, 3, 10, 8, 0, tzinfo=UTC)
PARIS = Address(country="FR", postal_code="75001", city="Paris", lat=48.8534, lon=2.3488)
MUG = Product("MUG", 400, {"EUR": 1200})


def test_region_is_the_country_and_postal_prefix() -> None:
    assert region_of("DE", "10115") == "DE-10"
    assert region_of("NL", " 1012 AB") == "NL-10"


def test_forecast_is_the_mean_daily_sales_of_the_lookback_times_the_horizon() -> None:
    today = date(2026, 3, 10)
    sales = [
        Sale(today - timedelta(days=1), "DE-10", {"MUG": 3, "LAMP": 1}),
        Sale(today - timedelta(days=4), "DE-10", {"MUG": 1}),
        Sale(today - timedelta(days=2), "FR-75", {"MUG": 2, "RUG": 0}),
        Sale(today - timedelta(days=5), "FR-75", {"MUG": 9}),  # before the window
        Sale(today, "FR-75", {"MUG": 9}),  # today is not over: not counted
    ]
    got = forecast(sales, today=today, lookback_days=4, horizon_days=7)
    assert got == {"MUG": {"DE-10": 7.0, "FR-75": 3.5}, "LAMP": {"DE-10": 1.75}}
    with pytest.raises(ValueError):
        forecast(sales, today=today, lookback_days=0)


def test_two_locations_two_regions_duals_by_hand() -> None:
    """A (near the dense region D) holds 5, B (near the sparse region S) 10; D wants 10, S 2.
    Lanes cost 5 near and 10 far. The optimum sends A's 5 and 5 of B's to D and 2 of B's to S;
    B keeps 3, so one unit less at B costs nothing, and one unit less at A sends one more unit
    to D from B: 10 - 5 = 5."""
    cost = {("A", "D"): 5, ("A", "S"): 10, ("B", "D"): 10, ("B", "S"): 5}
    values = transportation_values({"A": 5, "B": 10}, {"D": 10, "S": 2}, cost, penalty=100)
    assert values == {"A": 5, "B": 0}


def test_scarce_stock_is_worth_the_penalty_it_saves() -> None:
    """Demand 20 exceeds the 15 units: every unit saves an unmet one (penalty 100) less its lane;
    the duals are 100 - 5 at A (serving D) and B's 100 - 10 (its marginal unit goes far)."""
    cost = {("A", "D"): 5, ("A", "S"): 10, ("B", "D"): 10, ("B", "S"): 5}
    values = transportation_values({"A": 5, "B": 10}, {"D": 18, "S": 2}, cost, penalty=100)
    assert values == {"A": 95, "B": 90}


def test_plenty_of_stock_is_worth_nothing_and_no_demand_gives_zero() -> None:
    cost = {("A", "D"): 5, ("B", "D"): 10}
    assert transportation_values({"A": 50, "B": 50}, {"D": 10}, cost) == {"A": 0, "B": 0}
    assert transportation_values({"A": 5}, {}, cost) == {"A": 0}


def test_unit_cost_is_the_cheapest_band_plus_handling() -> None:
    kassel = NET.location("dc-kassel")
    assert unit_cost(kassel, "DE", 400, NET.carrier_services, "EUR") == 410 + 90 + 25
    assert unit_cost(kassel, "XX", 400, NET.carrier_services, "EUR") is None


def test_sku_values_favour_the_warehouse_in_the_dense_country() -> None:
    """Germany buys most; Kassel's units are worth what Germany would pay from abroad."""
    values = sku_values(
        {"dc-kassel": 10, "dc-lyon": 30},
        {"DE-10": 20.0, "DE-34": 5.0, "FR-75": 5.0},
        NET.locations,
        NET.carrier_services,
        weight_g=400,
        currency="EUR",
    )
    assert values["dc-kassel"] > values.get("dc-lyon", 0) >= 0


def _paris_mug(rules: SourcingRules, values: NetworkValues | None) -> SourcingRequest:
    return SourcingRequest(
        lines=[CartLine("MUG", 1)],
        ship_to=PARIS,
        stock=[StockLevel("MUG", "dc-kassel", 9), StockLevel("MUG", "3pl-venlo", 9)],
        locations=(NET.location("dc-kassel"), NET.location("3pl-venlo")),
        carrier_services=NET.carrier_services,
        products={"MUG": MUG},
        now=NOW,
        rules=rules,
        network_values=values,
    )


def _cheapest_from(request: SourcingRequest) -> tuple[str, dict[str, object]]:
    best = plan(request).first(OptionKind.CHEAPEST)
    assert best is not None
    note = next((e for e in best.explanation if e.get("outcome") == "network_value"), {})
    return best.shipments[0].location_id, {**note, "plan_cost": best.cost.as_dict()}


KASSEL_PRECIOUS = NetworkValues(
    values={"MUG": {"dc-kassel": 120}}, computed_at={"MUG": NOW - timedelta(hours=3)}
)


def test_the_opportunity_term_changes_the_choice_only_when_network_aware() -> None:
    """Paris is served across a border from Kassel or Venlo; Kassel handles for less, but its
    units are worth 120 to Germany: network-aware sourcing sends from Venlo."""
    myopic, note = _cheapest_from(_paris_mug(SourcingRules(), KASSEL_PRECIOUS))
    assert myopic == "dc-kassel"
    assert "outcome" not in note  # no network_value entry when network_aware is off
    aware, note = _cheapest_from(_paris_mug(SourcingRules(network_aware=True), KASSEL_PRECIOUS))
    assert aware == "3pl-venlo"
    assert note["outcome"] == "network_value"
    assert note["applied_skus"] == ["MUG"]
    assert note["cost"] == {"opportunity": 0, "by_location": {"3pl-venlo": 0}}


def test_the_opportunity_is_a_named_cost_term_of_the_plan() -> None:
    values = NetworkValues(
        values={"MUG": {"dc-kassel": 20, "3pl-venlo": 20}}, computed_at={"MUG": NOW}
    )
    where, note = _cheapest_from(_paris_mug(SourcingRules(network_aware=True), values))
    assert where == "dc-kassel"
    cost = note["plan_cost"]
    assert isinstance(cost, dict)
    assert cost["opportunity"] == 20
    assert note["cost"] == {"opportunity": 20, "by_location": {"dc-kassel": 20}}
    _, plain = _cheapest_from(_paris_mug(SourcingRules(), values))
    assert plain["plan_cost"]["opportunity"] == 0  # type: ignore[index]
    assert plain["plan_cost"]["total"] == cost["total"] - 20  # type: ignore[index]


def test_stale_or_missing_values_count_zero_and_the_explanation_says_so() -> None:
    old = NetworkValues(
        values={"MUG": {"dc-kassel": 120}}, computed_at={"MUG": NOW - STALE_AFTER - timedelta(1)}
    )
    where, note = _cheapest_from(_paris_mug(SourcingRules(network_aware=True), old))
    assert where == "dc-kassel"
    assert note["stale_skus"] == ["MUG"]
    assert note["cost"] == {"opportunity": 0, "by_location": {"dc-kassel": 0}}
    where, note = _cheapest_from(_paris_mug(SourcingRules(network_aware=True), None))
    assert where == "dc-kassel"
    assert note["missing_skus"] == ["MUG"]


def test_expected_duals_over_demand_draws_discount_a_likely_but_unsure_shortage() -> None:
    """A's 10 units face a mean demand of 12 near them: the LP on the mean values each at the
    full 5 it saves; over Poisson draws demand is often 10 or less, so it is worth less (the
    same every time: the draws are seeded)."""
    cost = {("A", "D"): 5, ("B", "D"): 10}
    supply, demand = {"A": 10, "B": 100}, {"D": 12.0}
    assert transportation_values(supply, demand, cost) == {"A": 5, "B": 0}
    drawn = transportation_values(supply, demand, cost, scenarios=40, seed=3)
    assert 0 < drawn["A"] < 5 and drawn["B"] == 0
    assert transportation_values(supply, demand, cost, scenarios=40, seed=3) == drawn


def test_only_shipping_locations_supply_and_a_store_keeps_its_protected_units() -> None:
    """Köln's store does not ship; Berlin's keeps its last unit: Germany's 5 units of demand
    meet only Kassel's 2 and Berlin's 2 - 1, so both are scarce and worth a cross-border lane."""
    values = sku_values(
        {"dc-kassel": 2, "st-berlin": 2, "st-koeln": 50, "dc-lyon": 50},
        {"DE-10": 5.0},
        NET.locations,
        NET.carrier_services,
        weight_g=400,
        currency="EUR",
        store_protection_units=1,
    )
    assert set(values) == {"dc-kassel", "st-berlin"}
    lyon_to_de = unit_cost(NET.location("dc-lyon"), "DE", 400, NET.carrier_services, "EUR")
    kassel = unit_cost(NET.location("dc-kassel"), "DE", 400, NET.carrier_services, "EUR")
    assert lyon_to_de is not None and kassel is not None
    assert values["dc-kassel"] == lyon_to_de - kassel
