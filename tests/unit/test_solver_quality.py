"""The shipping solver against the exact optimum of small cases, found by brute force.

Every allocation of every unit to every eligible location is costed exactly as the solver costs
a split (``costing._candidate``: real weights, real parcel prices, the split penalty), so the
optimum is that of the solver's own cost model, parcel limit included.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from itertools import product

import pytest

from chalicelib.domain.network import CartLine, Product, StockLevel
from chalicelib.domain.rules import SourcingRules
from chalicelib.domain.sourcing import SourcingRequest
from chalicelib.domain.sourcing.context import Context, build_context
from chalicelib.domain.sourcing.costing import _candidate
from chalicelib.domain.sourcing.kinds import fastest
from chalicelib.domain.sourcing.solver import solve
from tests.fixtures.network import load_network

NET = load_network()


def _spreads(qty: int, stock: list[int]) -> list[tuple[int, ...]]:
    """Every way of taking ``qty`` units from holders with ``stock`` units each."""
    if not stock:
        return [()] if qty == 0 else []
    return [
        (take, *rest)
        for take in range(min(qty, stock[0]) + 1)
        for rest in _spreads(qty - take, stock[1:])
    ]


def brute_force(ctx: Context, deadline: date, limit: int) -> int | None:
    sites = [s for s in ctx.sites if s.earliest <= deadline]
    need_v = [ctx.need[sku] for sku in ctx.skus]
    per_sku = [_spreads(q, [s.stock_v[j] for s in sites]) for j, q in enumerate(need_v)]
    best: int | None = None
    for choice in product(*per_sku):
        alloc = [[choice[j][i] for j in range(len(need_v))] for i in range(len(sites))]
        found = _candidate(ctx, sites, alloc, deadline, limit)
        if found is not None and (best is None or found.cost < best):
            best = found.cost
    return best


def random_case(rng: random.Random) -> SourcingRequest:
    catalogue = {f"S{i}": Product(f"S{i}", rng.randint(100, 4000), {"EUR": 1000}) for i in range(6)}
    locations = rng.sample(list(NET.locations), rng.randint(4, 6))
    skus = rng.sample(sorted(catalogue), rng.randint(2, 3))
    stock = [
        StockLevel(sku, loc.location_id, rng.choice((1, 2, 3, 8)))
        for loc in locations
        for sku in skus
        if rng.random() < 0.6
    ]
    day = datetime(2026, 1, 5, 9, tzinfo=UTC) + timedelta(days=rng.randint(0, 360))
    return SourcingRequest(
        lines=[CartLine(sku, rng.randint(1, 2)) for sku in skus],
        ship_to=rng.choice(NET.demand).address,
        stock=stock,
        locations=locations,
        carrier_services=NET.carrier_services,
        products=catalogue,
        now=day + timedelta(hours=rng.randint(0, 12)),
        rules=SourcingRules(max_parcels=rng.choice((2, 3))),
    )


@pytest.mark.parametrize("seed", range(12))  # 5 and 11 failed with first-improvement
def test_cheapest_split_is_the_exact_optimum_on_small_cases(seed: int) -> None:
    rng, compared = random.Random(seed), 0
    for _ in range(12):
        request = random_case(rng)
        ctx = build_context(request)
        limit = request.rules.max_parcels
        if ctx.shortages:
            continue
        quick = fastest(ctx, ctx.need, limit=limit)
        if quick is None:
            continue
        deadline = quick.promise + timedelta(days=request.rules.cheapest_max_delay_days)
        found = solve(ctx, ctx.need, deadline=deadline, limit=limit)
        optimum = brute_force(ctx, deadline, limit)
        assert found is not None and optimum is not None
        assert found.cost == optimum, (request.now, request.lines)
        compared += 1
    assert compared >= 4  # most cases are feasible: the test compares something
