"""Margin, distance and CO2e as sourcing terms, and explanations that carry their numbers."""

from __future__ import annotations

from dataclasses import replace

from chalicelib.domain import margin
from chalicelib.domain.geo import haversine_km
from chalicelib.domain.network import Address, CartLine, Location, Product, StockLevel
from chalicelib.domain.rules import SourcingRules
from chalicelib.domain.sourcing import OptionKind, SourcingRequest, plan
from tests.unit.test_sourcing import BERLIN, NET, TUESDAY_MORNING, shipping_options

PARIS = Address(country="FR", postal_code="75001", city="Paris", lat=48.8566, lon=2.3522)
COSTED = {
    "MUG": Product("MUG", 400, {"EUR": 1200}, cost_prices={"EUR": 500}),
    "LAMP": Product("LAMP", 2500, {"EUR": 3900}, cost_prices={"EUR": 1000}),
}
FREE = {"EUR": 0}  # the customer never pays delivery: the margin depends on the plan


def request(
    lines: dict[str, int],
    stock: dict[tuple[str, str], int],
    *,
    locations: tuple[Location, ...] = NET.locations,
    ship_to: Address = BERLIN,
    products: dict[str, Product] = COSTED,
    **options: object,
) -> SourcingRequest:
    return SourcingRequest(
        lines=[CartLine(sku, qty) for sku, qty in lines.items()],
        ship_to=ship_to,
        stock=[StockLevel(sku, loc, qty) for (sku, loc), qty in stock.items()],
        locations=locations,
        carrier_services=NET.carrier_services,
        products=products,
        now=TUESDAY_MORNING,
        **options,  # type: ignore[arg-type]
    )


def test_margin_is_revenue_less_goods_less_cost_to_serve() -> None:
    m = margin.margin_of(
        {"MUG": 2}, {"MUG": 1200}, COSTED, "EUR", delivery_price=490, cost_to_serve=600
    )
    assert (m.revenue, m.cost_of_goods, m.margin) == (2890, 1000, 2890 - 1000 - 600)
    assert m.pct == round(100 * 1290 / 2890, 2)


def test_a_missing_cost_price_makes_the_margin_unknown_not_zero() -> None:
    m = margin.margin_of(
        {"MUG": 1}, {"MUG": 1200}, COSTED, "CHF", delivery_price=0, cost_to_serve=0
    )
    assert m.cost_of_goods is None and m.margin is None and m.pct is None
    assert margin.meets(SourcingRules(min_margin={"CHF": 1}), "CHF", m) is None
    assert margin.counters({"margin": m.as_dict()}) == {"margin_unknown_orders": 1}


def test_the_floor_is_the_higher_of_the_amount_and_the_percentage() -> None:
    rules = SourcingRules(min_margin={"EUR": 300}, min_margin_pct=10.5)
    assert margin.floor_for(rules, "EUR", 10_000) == 1050
    assert margin.floor_for(rules, "EUR", 1_000) == 300
    assert margin.floor_for(rules, "CHF", 1_001) == 106  # rounded up
    assert margin.floor_for(SourcingRules(), "EUR", 1_000) is None


def test_every_plan_carries_its_margin() -> None:
    result = plan(request({"MUG": 1}, {("MUG", "dc-kassel"): 9}))
    best = shipping_options(result)[0]
    assert best.margin is not None
    expected = 1200 + best.price - 500 - (best.cost.shipping + best.cost.handling)
    assert best.margin["margin"] == expected
    assert best.explanation[0]["margin"] == best.margin


def _paris(rules: SourcingRules) -> list:  # type: ignore[type-arg]
    stock = {("LAMP", "dc-kassel"): 9}
    return shipping_options(plan(request({"LAMP": 1}, stock, ship_to=PARIS, rules=rules)))


def test_a_minimum_margin_drops_the_plans_below_it() -> None:
    free = SourcingRules(free_shipping_threshold=FREE)
    before = _paris(free)
    fastest = next(p for p in before if OptionKind.FASTEST in p.kinds)
    cheapest = next(p for p in before if OptionKind.CHEAPEST in p.kinds)
    assert fastest.option_id != cheapest.option_id  # express is faster, its margin lower
    assert fastest.margin["margin"] < cheapest.margin["margin"]
    floor = (fastest.margin["margin"] + cheapest.margin["margin"]) // 2
    after = _paris(replace(free, min_margin={"EUR": floor}))
    assert [p.option_id for p in after] == [cheapest.option_id]
    assert OptionKind.FASTEST in after[0].kinds
    assert "margin_below_minimum" not in after[0].explanation[0]


def test_when_no_plan_meets_the_minimum_the_best_are_kept_and_flagged() -> None:
    free = SourcingRules(free_shipping_threshold=FREE)
    before = _paris(free)
    after = _paris(replace(free, min_margin_pct=99))
    assert [p.option_id for p in after] == [p.option_id for p in before]
    assert all(p.explanation[0]["margin_below_minimum"] is True for p in after)


def test_low_value_items_are_not_shipped_from_a_forbidden_location_type() -> None:
    cheap_store = replace(NET.location("st-berlin"), handling_cost_per_order=20)
    locations = (NET.location("dc-kassel"), cheap_store)
    stock = {("MUG", "dc-kassel"): 9, ("MUG", "st-berlin"): 9, ("LAMP", "st-berlin"): 9}
    rules = SourcingRules(min_item_value_by_location={"type:store": {"EUR": 2000}})
    mug = plan(request({"MUG": 1}, stock, locations=locations, rules=rules))
    best = shipping_options(mug)[0]
    assert [s.location_id for s in best.shipments] == ["dc-kassel"]
    assert {"outcome": "item_value_rule", "count": 1, "location_ids": ["st-berlin"]} in list(
        best.explanation
    )
    lamp = plan(request({"LAMP": 1}, stock, locations=locations, rules=rules))
    assert [s.location_id for s in shipping_options(lamp)[0].shipments] == ["st-berlin"]
    by_id = SourcingRules(min_item_value_by_location={"st-berlin": {"EUR": 2000}})
    only_store = plan(request({"MUG": 1}, {("MUG", "st-berlin"): 9}, rules=by_id))
    assert only_store.shortages == {"MUG": 1}


def test_a_priced_distance_moves_the_plan_to_the_nearer_location() -> None:
    stock = {("MUG", "dc-kassel"): 9, ("MUG", "st-berlin"): 9}
    unpriced = shipping_options(plan(request({"MUG": 1}, stock)))[0]
    assert [s.location_id for s in unpriced.shipments] == ["dc-kassel"]
    rules = SourcingRules(cost_per_parcel_km=1.0)
    priced = shipping_options(plan(request({"MUG": 1}, stock, rules=rules)))[0]
    assert [s.location_id for s in priced.shipments] == ["st-berlin"]
    kassel = next(e for e in priced.explanation if e.get("location_id") == "dc-kassel")
    kassel_loc = NET.location("dc-kassel")
    road = haversine_km(BERLIN.lat, BERLIN.lon, kassel_loc.lat, kassel_loc.lon) * 1.3  # type: ignore[arg-type]
    assert kassel["cost"]["distance"] == round(road)
    assert kassel["outcome"] == "costlier"
    assert kassel["cost"]["total"] > priced.cost.total


def test_co2e_is_estimated_from_weight_road_distance_and_service() -> None:
    kassel = NET.location("dc-kassel")
    road = haversine_km(BERLIN.lat, BERLIN.lon, kassel.lat, kassel.lon) * 1.3  # type: ignore[arg-type]
    grams = round(400 * road * 0.6 / 1000)  # 0.4 kg x road km x 0.6 kg/t-km, in grams
    stock = {("MUG", "dc-kassel"): 9}
    standard = SourcingRules(allow_express=False)
    unpriced = shipping_options(plan(request({"MUG": 1}, stock, rules=standard)))[0]
    assert unpriced.cost.co2e_g == grams and unpriced.cost.co2e == 0
    assert unpriced.explanation[0]["cost"]["co2e_kg"] == round(grams / 1000, 3)
    rules = SourcingRules(co2e_cost_per_kg=1000.0, allow_express=False)
    priced = shipping_options(plan(request({"MUG": 1}, stock, rules=rules)))[0]
    assert priced.cost.co2e == round(400 * road * 0.6 / 1_000_000 * 1000)
    assert priced.cost.total == unpriced.cost.total + priced.cost.co2e
    express = SourcingRules(co2e_kg_per_tonne_km={"standard": 0.6, "parcel-express": 2.0})
    assert express.co2e_kg_per_tonne_km["parcel-express"] == 2.0


def test_the_losers_carry_the_numbers_they_were_evaluated_at() -> None:
    stock = {("LAMP", "dc-kassel"): 9, ("LAMP", "dc-lyon"): 9, ("LAMP", "st-berlin"): 3}
    best = shipping_options(plan(request({"LAMP": 1}, stock)))[0]
    lyon = next(e for e in best.explanation if e.get("location_id") == "dc-lyon")
    alone = shipping_options(
        plan(request({"LAMP": 1}, stock, locations=(NET.location("dc-lyon"),)))
    )
    cheapest = min(alone, key=lambda p: p.cost.total)
    assert lyon["cost"] == cheapest.cost.as_dict()
    assert lyon["promised_date"] == cheapest.promised_date.isoformat()
    assert lyon["outcome"] == "costlier" and lyon["cost"]["total"] > best.cost.total
    cost = lyon["cost"]
    assert cost["total"] == sum(
        cost[k] for k in ("shipping", "handling", "split_penalty", "distance", "co2e")
    ) - cost["holding_saved"] - cost["rule_rewards"] + cost.get("opportunity", 0)


def test_the_other_plans_of_the_comparison_are_explained_with_their_numbers() -> None:
    options = _paris(SourcingRules())
    fastest = next(p for p in options if OptionKind.FASTEST in p.kinds)
    cheapest = next(p for p in options if OptionKind.CHEAPEST in p.kinds)
    lost = next(e for e in cheapest.explanation if e.get("alternative") == "plan")
    assert lost["cost"] == fastest.cost.as_dict()
    assert lost["promised_date"] == fastest.promised_date.isoformat()
    assert lost["outcome"] == "costlier"
    assert len(cheapest.explanation) <= 25  # bounded: stored with the order


def test_pickup_options_name_the_other_stores_with_their_numbers() -> None:
    stock = {("MUG", "st-berlin"): 3, ("MUG", "st-hamburg"): 3, ("MUG", "dc-kassel"): 9}
    rules = SourcingRules(click_collect_radius_km=300)
    result = plan(request({"MUG": 1}, stock, rules=rules))
    options = [p for p in result.options if p.kind is OptionKind.CLICK_COLLECT]
    assert [p.pickup_location_id for p in options][:2] == ["st-berlin", "st-hamburg"]
    entry = next(e for e in options[0].explanation if e.get("alternative") == "click_collect")
    assert entry["pickup_location_id"] == "st-hamburg"
    assert entry["cost"] == options[1].cost.as_dict()
    assert entry["promised_date"] == options[1].promised_date.isoformat()
    assert options[0].explanation[0]["margin"] == options[0].margin
