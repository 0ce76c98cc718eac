"""The lazy ranking of sites (``sourcing.ranking``) is the full sort's, and its bounds hold.

The solver's pool must be the same whether every site is costed or only those whose lower
bound comes first: these tests cost every site the slow way and compare, on networks of
hundreds of jittered locations and under the rule terms that move unit costs (overstock
rewards, store protection, network values, distance and CO2e prices).
"""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from chalicelib.domain.network import CartLine, Location, Product, StockLevel
from chalicelib.domain.network_value import NetworkValues
from chalicelib.domain.rules import SourcingRules
from chalicelib.domain.sourcing import SourcingRequest
from chalicelib.domain.sourcing.context import Context, Site, build_context
from chalicelib.domain.sourcing.ranking import (
    _ratio_floors,
    lowest_unit_costs,
    pool_of,
    unit_ratio,
)
from tests.fixtures.network import load_network

NET = load_network()
NOW = datetime(2026, 3, 10, 8, 0, tzinfo=UTC)
PRODUCTS = {f"P{i}": Product(f"P{i}", 150 + 700 * i, {"EUR": 2000}) for i in range(6)}
RULES = {
    "default": SourcingRules(),
    "overstock": SourcingRules(overstock_units=4, overstock_reward_per_unit=60),
    "protection": SourcingRules(store_protection_units=3),
    "network": SourcingRules(network_aware=True),
    "distance": SourcingRules(cost_per_parcel_km=0.4, co2e_cost_per_kg=15.0),
}


def _locations(count: int, rng: random.Random) -> list[Location]:
    real = list(NET.locations)
    return [
        replace(
            base,
            location_id=f"{base.location_id}-{i}",
            lat=base.lat + rng.uniform(-0.9, 0.9),
            lon=base.lon + rng.uniform(-0.9, 0.9),
        )
        for i, base in enumerate(rng.choice(real) for _ in range(count))
    ]


def _context(rules: SourcingRules, seed: int, count: int = 300) -> Context:
    rng = random.Random(seed)
    locations = _locations(count, rng)
    skus = rng.sample(sorted(PRODUCTS), rng.randint(1, 5))
    stock = [
        StockLevel(sku, loc.location_id, rng.choice((1, 2, 3, 5, 8, 30)))
        for loc in locations
        for sku in skus
        if rng.random() < 0.6
    ]
    values = NetworkValues(
        values={
            sku: {loc.location_id: rng.randint(0, 400) for loc in locations[::3]} for sku in skus
        },
        computed_at=dict.fromkeys(skus, NOW - timedelta(hours=1)),
    )
    return build_context(
        SourcingRequest(
            lines=[CartLine(sku, rng.randint(1, 4)) for sku in skus],
            ship_to=rng.choice(NET.demand).address,
            stock=stock,
            locations=locations,
            carrier_services=NET.carrier_services,
            products=PRODUCTS,
            now=NOW,
            rules=rules,
            network_values=values,
        )
    )


def _full_sort_pool(ctx: Context, need: dict[str, int], size: int) -> list[Site]:
    """The pool as it was before the lazy ranking: every site costed, then sorted."""
    need_v = [need.get(sku, 0) for sku in ctx.skus]
    ranked = sorted(ctx.sites, key=lambda s: unit_ratio(ctx, s, need_v, date.max))
    pool = ranked[:size]
    for j, qty in enumerate(need_v):
        have = sum(s.stock_v[j] for s in pool)
        for site in ranked[size:]:
            if have >= qty:
                break
            if site.stock_v[j] and site not in pool:
                pool.append(site)
                have += site.stock_v[j]
    return pool


@pytest.mark.parametrize("name", sorted(RULES))
@pytest.mark.parametrize("seed", range(4))
def test_the_lazy_pool_is_the_pool_of_the_full_sort(name: str, seed: int) -> None:
    ctx = _context(RULES[name], seed)
    assert len(ctx.sites) > 50
    half = {sku: max(1, q // 2) for sku, q in list(ctx.need.items())[:-1]} or dict(ctx.need)
    for need in (dict(ctx.need), half):
        for size in (1, 8, 20):
            assert pool_of(ctx, list(ctx.sites), need, size) == _full_sort_pool(ctx, need, size)
    costed = len(ctx.memo[("ratio", *sorted(ctx.need.items()))])
    if name != "distance":  # the bounds are tight enough to skip most sites
        assert costed < len(ctx.sites) / 2


@pytest.mark.parametrize("name", sorted(RULES))
def test_every_floor_is_at_most_the_ratio_it_bounds(name: str) -> None:
    for seed in range(3):
        ctx = _context(RULES[name], 10 + seed)
        partial = {sku: 1 for sku in list(ctx.need)[:2]}
        for need in (dict(ctx.need), partial):
            need_v = [need.get(sku, 0) for sku in ctx.skus]
            floors = _ratio_floors(ctx, ctx.sites, need_v)
            for site, floor in zip(ctx.sites, floors, strict=True):
                assert floor <= unit_ratio(ctx, site, need_v, date.max)


@pytest.mark.parametrize("name", sorted(RULES))
def test_lowest_unit_costs_are_the_minimum_over_every_site(name: str) -> None:
    ctx = _context(RULES[name], 20)
    expected = {
        sku: min(s.unit_cost[sku] for s in ctx.sites if sku in s.unit_cost)
        for sku in ctx.need
        if any(sku in s.unit_cost for s in ctx.sites)
    }
    assert lowest_unit_costs(list(ctx.sites), dict(ctx.need)) == expected


def test_a_site_computes_its_vectors_on_first_use_and_keeps_them() -> None:
    ctx = _context(RULES["overstock"], 30, count=20)
    site = ctx.sites[0]
    assert site.stock_v == [site.avail.get(sku, 0) for sku in ctx.skus]
    assert site.stock_v is site.stock_v  # kept, not recomputed
    assert site.unit_v == [site.unit_cost.get(sku, 0) for sku in ctx.skus]
    assert site.unit_floor <= min(site.unit_cost.values())
    assert site.distance_km == ctx.distance_km(site.location)
    with pytest.raises(AttributeError):
        _ = site.no_such_field  # type: ignore[attr-defined]
