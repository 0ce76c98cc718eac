"""Costing a set of open locations: the split of a cart over them and what it costs.

Given the open sites, each SKU is taken from them by ascending unit cost up to their usable
stock (``_allocate``); sites that receive nothing are closed again. ``estimate`` costs that
allocation as it is, on per-site sums (the quick estimate local search ranks neighbours by);
``evaluate`` rebalances it first (``rebalance``) and builds the ``Candidate`` split,
costed exactly (real weights, real parcel prices). Both are memoised per request: local search
and the starts meet the same open sets again and again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from operator import mul

from chalicelib.domain.sourcing.context import Context, Site
from chalicelib.domain.sourcing.rebalance import Rebalancer


@dataclass(frozen=True, slots=True)
class Candidate:
    """A feasible split: per site, the lines it sends; ``cost`` includes the split penalty."""

    cost: int
    parcels: int
    promise: date
    parts: tuple[tuple[Site, dict[str, int]], ...]
    deadline: date  # the routes were chosen as the cheapest promising by this date

    @property
    def key(self) -> tuple[int, date, int]:
        return (self.cost, self.promise, self.parcels)


def better(a: Candidate | None, b: Candidate | None) -> Candidate | None:
    if a is None:
        return b
    if b is None:
        return a
    return b if b.key < a.key else a


def _allocate(sites: Sequence[Site], need_v: list[int], by_cost: bool) -> list[list[int]] | None:
    """Units per site and SKU index (sites in the order of ``sites``), cheapest unit cost first
    (or in the order of ``sites``); None if they can't cover ``need_v``."""
    alloc = [[0] * len(need_v) for _ in sites]
    stock = [site.stock_v for site in sites]
    for j, qty in enumerate(need_v):
        if not qty:
            continue
        holders = [i for i, have in enumerate(stock) if have[j]]
        if by_cost and len(holders) > 1:
            holders.sort(key=lambda i: sites[i].unit_v[j])
        for i in holders:
            take = min(qty, stock[i][j])
            alloc[i][j] = take
            qty -= take
            if qty == 0:
                break
        if qty:
            return None
    return alloc


def estimate(
    ctx: Context,
    sites: Sequence[Site],
    need_v: list[int],
    deadline: date,
    limit: int,
    *,
    by_cost: bool = True,
) -> tuple[int, date, int] | None:
    """``evaluate(...).key`` without rebalancing: a quick estimate, memoised per request."""
    key = ("estimate", deadline, limit, by_cost, *map(id, sites), *need_v)
    found = ctx.memo.get(key, False)
    if found is False:
        found = ctx.memo[key] = _estimate(ctx, sites, need_v, deadline, limit, by_cost)
    return found


def _estimate(
    ctx: Context,
    sites: Sequence[Site],
    need_v: list[int],
    deadline: date,
    limit: int,
    by_cost: bool,
) -> tuple[int, date, int] | None:
    """Costs the allocation by unit cost (or in site order) as ``_evaluate`` does, on sums."""
    n, w = len(sites), ctx.weight_v
    weight, cost, units = [0] * n, [0] * n, [0] * n
    for j, qty in enumerate(need_v):
        if not qty:
            continue
        holders = [(s.unit_v[j], i, s.stock_v[j]) for i, s in enumerate(sites) if s.stock_v[j]]
        if by_cost and len(holders) > 1:
            holders.sort()
        for unit, i, have in holders:
            take = qty if qty < have else have
            weight[i] += w[j] * take
            cost[i] += unit * take
            units[i] += take
            qty -= take
            if not qty:
                break
        if qty:
            return None
    total = parcels = 0
    promise = date.min
    for i, site in enumerate(sites):
        if units[i]:
            best = site.best_route(weight[i], deadline)
            if best is None:
                return None
            total += site.location.handling_cost_per_order + best[2] + cost[i]
            parcels += best[1]
            promise = max(promise, best[0].promise)
    if parcels > limit:
        return None
    return total + ctx.request.rules.split_penalty * (parcels - 1), promise, parcels


def evaluate(
    ctx: Context,
    sites: Sequence[Site],
    need: dict[str, int],
    deadline: date,
    limit: int,
    *,
    by_cost: bool = True,
    rebalance: bool = True,
) -> Candidate | None:
    """The cost of opening ``sites`` (see the module doc), or None if infeasible.

    Without ``rebalance`` the allocation by unit cost is costed as it is: a quick estimate.
    Memoised per request: local search and the starts meet the same open sets again and again.
    """
    key = ("eval", deadline, limit, by_cost, rebalance, *map(id, sites), *need.items())
    if key not in ctx.memo:
        ctx.memo[key] = _evaluate(ctx, sites, need, deadline, limit, by_cost, rebalance)
    found: Candidate | None = ctx.memo[key]
    return found


def _evaluate(
    ctx: Context,
    sites: Sequence[Site],
    need: dict[str, int],
    deadline: date,
    limit: int,
    by_cost: bool,
    rebalance: bool,
) -> Candidate | None:
    alloc = _allocate(sites, [need.get(sku, 0) for sku in ctx.skus], by_cost)
    if alloc is None:
        return None
    if rebalance and len(sites) > 1:
        alloc = Rebalancer(ctx, list(sites), alloc, deadline).run()
    return _candidate(ctx, sites, alloc, deadline, limit)


def polish(
    ctx: Context, cand: Candidate, sites: Sequence[Site], deadline: date, limit: int
) -> Candidate | None:
    """``cand`` (a rebalanced split over ``sites``) rebalanced further with pairs of moves,
    which cross weight-band steps single moves can't; None for a single site."""
    if len(sites) < 2:
        return None
    lines = {id(site): part for site, part in cand.parts}
    alloc = [[lines.get(id(site), {}).get(sku, 0) for sku in ctx.skus] for site in sites]
    alloc = Rebalancer(ctx, list(sites), alloc, deadline, pairs=True).run()
    return _candidate(ctx, sites, alloc, deadline, limit)


def _candidate(
    ctx: Context, sites: Sequence[Site], alloc: list[list[int]], deadline: date, limit: int
) -> Candidate | None:
    """The split of ``alloc`` (units per site and SKU index), costed by the best routes."""
    weight_v, skus = ctx.weight_v, ctx.skus
    cost = parcels = 0
    promise = date.min
    parts: list[tuple[Site, dict[str, int]]] = []
    for site, row in zip(sites, alloc, strict=True):
        if not any(row):
            continue
        best = site.best_route(sum(map(mul, weight_v, row)), deadline)
        if best is None:
            return None
        route, n, price = best
        cost += site.location.handling_cost_per_order + price + sum(map(mul, site.unit_v, row))
        parcels += n
        promise = max(promise, route.promise)
        parts.append((site, {skus[j]: q for j, q in enumerate(row) if q}))
    if parcels > limit:
        return None
    cost += ctx.request.rules.split_penalty * (parcels - 1)
    return Candidate(cost, parcels, promise, tuple(parts), deadline)
