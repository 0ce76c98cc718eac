"""Network-aware click & collect: the opportunity term of what a pick-up store hands over and
of what a warehouse transfers to it, as on the shipping plans."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from chalicelib.domain.network import Address, CartLine, Location, Product, StockLevel
from chalicelib.domain.network_value import NetworkValues
from chalicelib.domain.rules import SourcingRules
from chalicelib.domain.sourcing import OptionKind, Plan, SourcingRequest, plan
from tests.fixtures.network import load_network

NET = load_network()
NOW = datetime(2026, 3, 10, 8, 0, tzinfo=UTC)
BERLIN = Address(country="DE", postal_code="10115", city="Berlin", lat=52.5244, lon=13.4105)
PRODUCTS = {"MUG": Product("MUG", 400, {"EUR": 1200}), "LAMP": Product("LAMP", 2500, {"EUR": 3900})}
# a second warehouse like Kassel: the same transfer arrives from both on the same day at the
# same cost, so only the value of their units tells them apart
KASSEL_TWIN = replace(NET.location("dc-kassel"), location_id="dc-kassel-twin")


def _pickup(
    lines: dict[str, int],
    stock: dict[tuple[str, str], int],
    rules: SourcingRules,
    values: NetworkValues | None,
    locations: tuple[Location, ...] = NET.locations,
) -> Plan:
    request = SourcingRequest(
        lines=[CartLine(sku, qty) for sku, qty in lines.items()],
        ship_to=BERLIN,
        stock=[StockLevel(sku, loc, qty) for (sku, loc), qty in stock.items()],
        locations=locations,
        carrier_services=NET.carrier_services,
        products=PRODUCTS,
        now=NOW,
        rules=rules,
        network_values=values,
        kinds=frozenset({OptionKind.CLICK_COLLECT}),
    )
    found = plan(request).first(OptionKind.CLICK_COLLECT, "st-berlin")
    assert found is not None
    return found


def _note(found: Plan) -> dict[str, object]:
    return next((e for e in found.explanation if e.get("outcome") == "network_value"), {})


def _values(by_location: dict[str, int], *skus: str) -> NetworkValues:
    return NetworkValues(
        values={sku: by_location for sku in skus},
        computed_at={sku: NOW - timedelta(hours=3) for sku in skus},
    )


def test_the_units_a_pickup_store_hands_over_carry_their_network_value() -> None:
    stock = {("MUG", "st-berlin"): 5}
    values = _values({"st-berlin": 70}, "MUG")
    aware = _pickup({"MUG": 2}, stock, SourcingRules(network_aware=True), values)
    myopic = _pickup({"MUG": 2}, stock, SourcingRules(), values)
    assert aware.cost.opportunity == 140
    assert myopic.cost.opportunity == 0
    assert aware.cost.total == myopic.cost.total + 140
    assert aware.score == myopic.score + 140  # ranked on the cost with the term
    assert _note(aware) == {
        "outcome": "network_value",
        "cost": {"opportunity": 140, "by_location": {"st-berlin": 140}},
        "applied_skus": ["MUG"],
    }
    assert _note(myopic) == {}  # no network_value entry when network_aware is off


def test_the_transfer_comes_from_the_warehouse_whose_units_the_network_needs_least() -> None:
    stock = {
        ("MUG", "st-berlin"): 5,
        ("LAMP", "dc-kassel"): 5,
        ("LAMP", "dc-kassel-twin"): 5,
    }
    locations = (*NET.locations, KASSEL_TWIN)
    values = _values({"dc-kassel": 300}, "MUG", "LAMP")
    cart = {"MUG": 1, "LAMP": 1}
    myopic = _pickup(cart, stock, SourcingRules(), values, locations)
    aware = _pickup(cart, stock, SourcingRules(network_aware=True), values, locations)
    assert [s.location_id for s in myopic.shipments] == ["st-berlin", "dc-kassel"]
    assert [s.location_id for s in aware.shipments] == ["st-berlin", "dc-kassel-twin"]
    assert aware.ready_at == myopic.ready_at  # the same day: only the value differs
    assert aware.cost.opportunity == 0
    note = _note(aware)
    assert note["cost"] == {
        "opportunity": 0,
        "by_location": {"st-berlin": 0, "dc-kassel-twin": 0},
    }


def test_stale_values_count_zero_for_pickup_too() -> None:
    old = NetworkValues(
        values={"MUG": {"st-berlin": 70}}, computed_at={"MUG": NOW - timedelta(days=3)}
    )
    found = _pickup({"MUG": 1}, {("MUG", "st-berlin"): 5}, SourcingRules(network_aware=True), old)
    assert found.cost.opportunity == 0
    assert _note(found)["stale_skus"] == ["MUG"]
