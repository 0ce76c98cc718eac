"""Sourcing, told as sentences: which locations send what, how, by when and why."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime

import pytest
from pydantic import TypeAdapter

from chalicelib.domain.network import Address, CartLine, Location, Product, StockLevel
from chalicelib.domain.rules import SourcingRules
from chalicelib.domain.sourcing import (
    OptionKind,
    SourcingRequest,
    Unsourceable,
    nearest_plan,
    plan,
)
from tests.fixtures.network import load_network

NET = load_network()
TUESDAY_MORNING = datetime(2026, 3, 10, 8, 0, tzinfo=UTC)
BERLIN = Address(country="DE", postal_code="10115", city="Berlin", lat=52.5244, lon=13.4105)
PRODUCTS = {
    "MUG": Product("MUG", 400, {"EUR": 1200}),
    "LAMP": Product("LAMP", 2500, {"EUR": 3900}),
    "RUG": Product("RUG", 6000, {"EUR": 8900}),
}


def request(
    lines: dict[str, int],
    stock: dict[tuple[str, str], int],
    *,
    locations: tuple[Location, ...] = NET.locations,
    ship_to: Address = BERLIN,
    **options: object,
) -> SourcingRequest:
    return SourcingRequest(
        lines=[CartLine(sku, qty) for sku, qty in lines.items()],
        ship_to=ship_to,
        stock=[StockLevel(sku, loc, qty) for (sku, loc), qty in stock.items()],
        locations=locations,
        carrier_services=NET.carrier_services,
        products=PRODUCTS,
        now=TUESDAY_MORNING,
        **options,  # type: ignore[arg-type]
    )


def shipping_options(result):  # type: ignore[no-untyped-def]
    return [p for p in result.options if p.kind is not OptionKind.CLICK_COLLECT]


def test_ships_in_one_parcel_from_the_warehouse_that_has_everything() -> None:
    result = plan(
        request({"MUG": 1, "LAMP": 1}, {("MUG", "dc-kassel"): 9, ("LAMP", "dc-kassel"): 9})
    )
    best = result.options[0]
    assert result.fully_sourced
    assert [s.location_id for s in best.shipments] == ["dc-kassel"]
    assert set(best.kinds) == {OptionKind.FASTEST, OptionKind.CHEAPEST, OptionKind.CONSOLIDATED}
    assert best.promised_date == date(2026, 3, 11)
    assert best.cost.total == best.cost.shipping + best.cost.handling - best.cost.holding_saved


def test_prefers_the_store_when_it_is_as_fast_and_cheaper() -> None:
    cheap_store = replace(NET.location("st-berlin"), handling_cost_per_order=20)
    locations = (NET.location("dc-kassel"), cheap_store)
    stock = {("MUG", "dc-kassel"): 9, ("MUG", "st-berlin"): 9}
    cheapest = plan(request({"MUG": 1}, stock, locations=locations)).first(OptionKind.CHEAPEST)
    assert cheapest is not None
    assert [s.location_id for s in cheapest.shipments] == ["st-berlin"]


def test_prefers_the_warehouse_when_the_store_costs_more_to_pick() -> None:
    stock = {("MUG", "dc-kassel"): 9, ("MUG", "st-berlin"): 9}
    cheapest = plan(request({"MUG": 1}, stock)).first(OptionKind.CHEAPEST)
    assert cheapest is not None
    assert [s.location_id for s in cheapest.shipments] == ["dc-kassel"]
    lost = {e.get("location_id"): e.get("outcome") for e in cheapest.explanation}
    assert lost["st-berlin"] == "costlier"


def test_splits_a_line_when_no_location_has_the_whole_quantity() -> None:
    stock = {("MUG", "dc-kassel"): 2, ("MUG", "dc-lyon"): 3}
    best = plan(request({"MUG": 4}, stock)).options[0]
    assert sorted(s.location_id for s in best.shipments) == ["dc-kassel", "dc-lyon"]
    assert best.lines == {"MUG": 4}
    assert best.parcels == 2
    assert best.cost.split_penalty == SourcingRules().split_penalty


def test_never_takes_a_stores_last_unit_for_shipping() -> None:
    result = plan(request({"MUG": 1}, {("MUG", "st-berlin"): 1}))
    assert result.shortages == {"MUG": 1}
    assert not shipping_options(result)
    explanation_free = result.options  # the walk-in customer may still collect it
    assert [p.kind for p in explanation_free] == [OptionKind.CLICK_COLLECT]
    assert explanation_free[0].pickup_location_id == "st-berlin"


def test_reports_shortages_so_the_order_can_be_refused_or_backordered() -> None:
    result = plan(request({"MUG": 3, "LAMP": 1}, {("MUG", "dc-kassel"): 1}))
    assert result.shortages == {"MUG": 2, "LAMP": 1}
    with pytest.raises(Unsourceable) as refused:
        result.raise_for_shortages()
    assert refused.value.skus == ["LAMP", "MUG"]


def test_plans_what_is_available_when_partial_sourcing_is_allowed() -> None:
    result = plan(request({"MUG": 3}, {("MUG", "dc-kassel"): 1}, allow_partial=True))
    assert result.shortages == {"MUG": 2}
    assert shipping_options(result)[0].lines == {"MUG": 1}


def test_excluded_locations_never_serve_the_channel() -> None:
    rules = SourcingRules(excluded_locations={"marketplace": ("dc-kassel",)})
    stock = {("MUG", "dc-kassel"): 9, ("MUG", "dc-lyon"): 9}
    result = plan(request({"MUG": 1}, stock, rules=rules, channel="marketplace"))
    assert all(s.location_id != "dc-kassel" for p in result.options for s in p.shipments)
    assert {"outcome": "excluded", "count": 1, "location_ids": ["dc-kassel"]} in list(
        result.options[0].explanation
    )


def test_excludes_the_location_that_just_short_picked() -> None:
    stock = {("MUG", "dc-kassel"): 9, ("MUG", "dc-lyon"): 9}
    result = plan(request({"MUG": 1}, stock, excluded_location_ids=frozenset({"dc-kassel"})))
    assert result.options[0].shipments[0].location_id == "dc-lyon"


def test_fastest_uses_express_when_only_express_arrives_soonest() -> None:
    wien_only = {("MUG", "st-wien"): 9}
    result = plan(request({"MUG": 1}, wien_only))
    fastest = result.first(OptionKind.FASTEST)
    cheapest = result.first(OptionKind.CHEAPEST)
    assert fastest is not None and cheapest is not None
    assert fastest.shipments[0].carrier_service == "parcel-express"
    assert cheapest.shipments[0].carrier_service == "parcel-standard"
    assert fastest.promised_date < cheapest.promised_date
    assert cheapest.cost.total < fastest.cost.total


def test_cheapest_never_promises_later_than_the_rules_allow() -> None:
    rules = SourcingRules(cheapest_max_delay_days=0)
    result = plan(request({"MUG": 1}, {("MUG", "st-wien"): 9}, rules=rules))
    fastest, cheapest = result.first(OptionKind.FASTEST), result.first(OptionKind.CHEAPEST)
    assert fastest is not None and cheapest is not None
    assert cheapest.promised_date == fastest.promised_date


def test_shipping_is_free_above_the_threshold_and_paid_below_it() -> None:
    stock = {("MUG", "dc-kassel"): 9, ("RUG", "dc-kassel"): 9}
    small = plan(request({"MUG": 1}, stock)).options[0]
    large = plan(request({"RUG": 1}, stock)).options[0]
    assert small.price == small.shipments[0].parcel_price > 0
    assert large.price == 0
    priced_low = plan(request({"RUG": 1}, stock, unit_prices={"RUG": 100})).options[0]
    assert priced_low.price > 0


def test_a_heavy_cart_goes_in_several_parcels() -> None:
    best = plan(request({"RUG": 6}, {("RUG", "dc-kassel"): 9})).options[0]
    assert best.shipments[0].weight_g == 36000
    assert best.parcels == 2


def test_click_and_collect_at_a_nearby_store_is_free_and_ready_the_same_day() -> None:
    result = plan(request({"MUG": 1}, {("MUG", "st-berlin"): 5, ("MUG", "dc-kassel"): 5}))
    pickup = result.first(OptionKind.CLICK_COLLECT)
    assert pickup is not None
    assert pickup.pickup_location_id == "st-berlin"
    assert pickup.price == 0
    assert pickup.ready_at == date(2026, 3, 10)
    assert pickup.shipments[0].carrier_service is None


def test_click_and_collect_brings_what_the_store_lacks_by_store_transfer() -> None:
    result = plan(
        request({"MUG": 1, "LAMP": 1}, {("MUG", "st-berlin"): 5, ("LAMP", "dc-kassel"): 5})
    )
    pickup = result.first(OptionKind.CLICK_COLLECT)
    assert pickup is not None
    transfer = next(s for s in pickup.shipments if s.location_id == "dc-kassel")
    assert transfer.carrier_service == "store-transfer"
    assert pickup.ready_at == transfer.promised_date == date(2026, 3, 12)


def test_no_click_and_collect_without_a_store_in_the_radius() -> None:
    far = Address(country="DE", postal_code="01067", city="Dresden", lat=51.05, lon=13.74)
    result = plan(request({"MUG": 1}, {("MUG", "st-berlin"): 5}, ship_to=far))
    assert result.first(OptionKind.CLICK_COLLECT) is None


def test_click_and_collect_matches_the_postal_prefix_without_coordinates() -> None:
    no_coordinates = Address(country="DE", postal_code="10999", city="Berlin")
    result = plan(request({"MUG": 1}, {("MUG", "st-berlin"): 5}, ship_to=no_coordinates))
    pickup = result.first(OptionKind.CLICK_COLLECT)
    assert pickup is not None and pickup.pickup_location_id == "st-berlin"


def test_the_same_plan_is_offered_once_with_a_stable_option_id() -> None:
    stock = {("MUG", "dc-kassel"): 9, ("MUG", "dc-lyon"): 9, ("MUG", "st-hamburg"): 9}
    first = plan(request({"MUG": 1}, stock))
    again = plan(request({"MUG": 1}, stock))
    ids = [p.option_id for p in first.options]
    assert len(ids) == len(set(ids))
    assert ids == [p.option_id for p in again.options]
    assert first.option(ids[0]) == first.options[0]


def test_the_explanation_names_who_lost_and_why() -> None:
    stock = {
        ("MUG", "dc-kassel"): 9,
        ("MUG", "st-koeln"): 9,  # has no "ship" capability
        ("MUG", "st-hamburg"): 1,  # its last unit is protected
    }
    best = plan(request({"MUG": 1}, stock)).options[0]
    outcomes = {e["outcome"]: e for e in best.explanation if "outcome" in e}
    assert outcomes["chosen"]["location_id"] == "dc-kassel"
    assert outcomes["lacks_capability"]["location_ids"][:1] == ["st-koeln"]
    assert "st-hamburg" in outcomes["store_protection"]["location_ids"]
    assert "no_stock" in outcomes


def test_nearest_plan_takes_every_unit_from_the_nearest_location_that_has_it() -> None:
    stock = {("MUG", "dc-kassel"): 9, ("MUG", "st-berlin"): 9}
    baseline = nearest_plan(request({"MUG": 1}, stock))
    assert baseline is not None
    assert baseline.kind is OptionKind.NEAREST
    assert baseline.shipments[0].location_id == "st-berlin"
    cheapest = plan(request({"MUG": 1}, stock)).first(OptionKind.CHEAPEST)
    assert cheapest is not None and cheapest.cost.total < baseline.cost.total


def test_only_the_requested_kinds_are_returned() -> None:
    stock = {("MUG", "dc-kassel"): 9, ("MUG", "st-berlin"): 9}
    result = plan(request({"MUG": 1}, stock, kinds=frozenset({OptionKind.CLICK_COLLECT})))
    assert {p.kind for p in result.options} == {OptionKind.CLICK_COLLECT}


def test_plans_are_json_safe() -> None:
    result = plan(request({"MUG": 2}, {("MUG", "dc-kassel"): 1, ("MUG", "st-berlin"): 5}))
    text = json.dumps([p.as_dict() for p in result.options])
    first = json.loads(text)[0]
    assert first["promised_date"].count("-") == 2
    assert first["cost"]["total"] == result.options[0].cost.total


def test_rules_are_validated_at_the_edge_by_pydantic() -> None:
    rules = TypeAdapter(SourcingRules).validate_python(
        {"version": 3, "max_parcels": "2", "excluded_locations": {"web": ["dc-lyon"]}}
    )
    assert rules.max_parcels == 2
    assert rules.excluded_for("web") == frozenset({"dc-lyon"})
