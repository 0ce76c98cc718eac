"""Shortcuts of sourcing that must change no answer: click & collect stops at the stores that
can't rank among the options kept, and the split lower bound is the minimum over every site.

Each is compared with the slow way on networks of hundreds of jittered locations, many of
them stores near the customer.
"""

from __future__ import annotations

import heapq
import random
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from chalicelib.domain.network import (
    Address,
    CartLine,
    Location,
    LocationType,
    Product,
    StockLevel,
)
from chalicelib.domain.rules import SourcingRules
from chalicelib.domain.sourcing import SourcingRequest
from chalicelib.domain.sourcing.collect import click_collect_plans
from chalicelib.domain.sourcing.context import Context, build_context
from chalicelib.domain.sourcing.ranking import lowest_unit_costs
from chalicelib.domain.sourcing.solver import _split_lower_bound
from tests.fixtures.network import load_network

NET = load_network()
PRODUCTS = {f"P{i}": Product(f"P{i}", 150 + 700 * i, {"EUR": 2000}) for i in range(6)}


def _request(seed: int, rules: SourcingRules, *, coordinates: bool = True) -> SourcingRequest:
    rng = random.Random(seed)
    real = list(NET.locations)
    locations: list[Location] = [
        replace(
            base,
            location_id=f"{base.location_id}-{i}",
            lat=base.lat + rng.uniform(-0.3, 0.3),
            lon=base.lon + rng.uniform(-0.3, 0.3),
        )
        for i, base in enumerate(rng.choice(real) for _ in range(400))
    ]
    skus = rng.sample(sorted(PRODUCTS), rng.randint(1, 4))
    stock = [
        StockLevel(sku, loc.location_id, rng.choice((1, 2, 3, 8)))
        for loc in locations
        for sku in skus
        if rng.random() < 0.5
    ]
    near = rng.choice([loc for loc in real if loc.type is LocationType.STORE])
    to = Address(country=near.country, postal_code=near.postal_code)  # many stores nearby
    if coordinates:
        to = replace(to, lat=near.lat, lon=near.lon)
    return SourcingRequest(
        lines=[CartLine(sku, rng.randint(1, 3)) for sku in skus],
        ship_to=to,
        stock=stock,
        locations=locations,
        carrier_services=NET.carrier_services,
        products=PRODUCTS,
        now=datetime(2026, 1, 5, 7, tzinfo=UTC) + timedelta(hours=rng.randint(0, 2000)),
        rules=rules,
    )


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("kept", [1, 3])
@pytest.mark.parametrize("coordinates", [True, False])
def test_click_collect_keeps_the_options_of_every_store_costed(
    seed: int, kept: int, coordinates: bool
) -> None:
    every = SourcingRules(click_collect_radius_km=60.0, click_collect_max_options=10_000)
    request = _request(seed, every, coordinates=coordinates)
    full = click_collect_plans(build_context(request), fastest=None)
    few = replace(request, rules=replace(every, click_collect_max_options=kept))
    assert len(full) > kept  # the shortcut had stores to skip
    assert click_collect_plans(build_context(few), fastest=None) == full[:kept]


def _slow_bound(ctx: Context, need: dict[str, int], deadline: date) -> int:
    eligible = [s for s in ctx.sites if s.earliest <= deadline]
    fixed = [
        s.location.handling_cost_per_order
        + min(r.bands[0][1] for r in s.routes if r.promise <= deadline)
        for s in eligible
    ]
    lowest = lowest_unit_costs(eligible, need)
    first, second = heapq.nsmallest(2, fixed)
    units = sum(q * lowest.get(sku, 0) for sku, q in need.items())
    return first + second + ctx.request.rules.split_penalty + units


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize(
    "rules",
    [SourcingRules(), SourcingRules(cost_per_parcel_km=0.4, co2e_cost_per_kg=15.0)],
    ids=["default", "distance"],
)
def test_the_split_lower_bound_is_the_minimum_over_every_site(
    seed: int, rules: SourcingRules
) -> None:
    ctx = build_context(_request(seed, rules))
    dates = sorted({s.earliest for s in ctx.sites})
    for deadline in dates:
        if sum(s.earliest <= deadline for s in ctx.sites) < 2:
            continue
        bound = _split_lower_bound(
            ctx, [s for s in ctx.sites if s.earliest <= deadline], ctx.need, deadline
        )
        assert bound == _slow_bound(ctx, ctx.need, deadline)
