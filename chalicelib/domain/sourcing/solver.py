"""Minimum-cost split of a cart over locations, under a promise deadline and a parcel limit.

The problem is a small capacitated facility-location problem: opening a location costs its
handling per order, its parcel price (a step function of the weight it sends) and the split
penalty; every unit then costs the location's net unit cost. It is solved heuristically:

1. *Open set evaluation* (``costing``): a set of open locations is costed by
   allocating each SKU by ascending unit cost, quickly as it is (``estimate``) or exactly after
   rebalancing (``evaluate``).
2. *Starting points.* The cheapest single location that covers the whole cart, and greedy
   set covers (from several seeds) that repeatedly open the location with the lowest cost per
   newly covered unit; only the best few by quick estimate are rebalanced.
3. *Local search.* From each start: drop a location, swap one for another, or add one; the
   best neighbours by quick estimate are costed exactly, taking the best improving move until
   none improves (a bounded number of rounds).
4. *Pairs.* The best pairs of the pool by quick estimate (each allocated by unit cost, or with
   either site taking all it can first) are costed exactly: a poor start can hide a good pair
   from local search. The best open sets found are then polished with pairs of moves.

Sites carry their stock and unit costs as vectors indexed like ``Context.skus``, so allocating
and rebalancing are integer loops over lists.

Large networks are pruned to a pool of the locations with the lowest stand-alone cost per unit
(plus whatever is needed to cover every SKU) before steps 2 to 4, ranked lazily against sound
lower bounds so that most locations are never costed (``ranking``); singles are always scanned
in full. The benchmark (``bench/sourcing.py``) compares the result with the exact optimum.

Every open set costed is memoised per request (local search and the starts meet the same sets
again and again), and so is every search per set of admitted routes. The fastest and the
cheapest deadline usually share one search (``fastest_and_cheapest``).
"""

from __future__ import annotations

import heapq
from datetime import date
from itertools import combinations
from operator import attrgetter, mul

from chalicelib.domain.sourcing.context import Context, Route, Site
from chalicelib.domain.sourcing.costing import Candidate, better, estimate, evaluate, polish
from chalicelib.domain.sourcing.ranking import lowest_by_floor, pool_of, unit_ratio

POOL_SIZE = 8
MAX_ROUNDS = 6
STARTS_IMPROVED = 2  # local search runs from this many of the best starting points
SEEDS = 4  # greedy covers started from each of the best sites of the pool
NEIGHBOURS_REBALANCED = 1  # best neighbours (by quick estimate) costed exactly per round
PAIRS_REBALANCED = 8  # best pairs of the pool (by quick estimate) costed exactly
POLISHED = 2  # best open sets rebalanced with pairs of moves at the end
STARTS_REBALANCED = 2  # greedy covers (best by quick estimate) rebalanced as starts


def _vector(ctx: Context, need: dict[str, int]) -> list[int]:
    return [need.get(sku, 0) for sku in ctx.skus]


def _greedy(
    ctx: Context, pool: list[Site], need: dict[str, int], deadline: date, seed: Site | None
) -> list[Site] | None:
    """Open the site with the lowest cost per newly covered unit until all is covered."""
    remaining = _vector(ctx, need)
    chosen: list[Site] = []
    site = seed
    while True:
        if site is not None:
            chosen.append(site)
            remaining = [
                q - h if q > h else 0 for q, h in zip(remaining, site.stock_v, strict=True)
            ]
        if not any(remaining):
            return chosen
        ratio, site = min(
            ((unit_ratio(ctx, s, remaining, deadline), s) for s in pool if s not in chosen),
            key=lambda x: x[0],
            default=(float("inf"), None),
        )
        if site is None or ratio == float("inf"):
            return None


def _starts(
    ctx: Context, pool: list[Site], need: dict[str, int], deadline: date, limit: int
) -> list[Candidate]:
    """Greedy covers from several seeds, each allocated by unit cost and in greedy order; only
    the ``STARTS_REBALANCED`` best by quick estimate are rebalanced."""
    quick: list[tuple[tuple[int, date, int], int, list[Site], bool]] = []
    need_v = _vector(ctx, need)
    unseeded: list[Site] | None = None
    for seed in [None, *pool[:SEEDS]]:
        if unseeded and seed is unseeded[0]:
            continue  # the cover seeded with the unseeded one's first pick is that cover
        sites = _greedy(ctx, pool, need, deadline, seed)
        if seed is None:
            unseeded = sites
        if not sites:
            continue
        for by_cost in (True, False):
            key = estimate(ctx, sites, need_v, deadline, limit, by_cost=by_cost)
            if key is not None:
                quick.append((key, len(quick), sites, by_cost))
    quick.sort(key=lambda item: item[:2])
    starts = []
    for _, _, sites, by_cost in quick[:STARTS_REBALANCED]:
        found = evaluate(ctx, sites, need, deadline, limit, by_cost=by_cost)
        if found is not None:
            starts.append(found)
    return starts


def _neighbours(used: list[Site], others: list[Site], limit: int) -> list[list[Site]]:
    moves: list[list[Site]] = []
    if len(used) > 1:
        moves += [used[:i] + used[i + 1 :] for i in range(len(used))]
    for i in range(len(used)):
        moves += [[*used[:i], other, *used[i + 1 :]] for other in others]
    if len(used) < limit:
        moves += [[*used, other] for other in others]
    return moves


def _improve(
    ctx: Context,
    start: Candidate,
    pool: list[Site],
    need: dict[str, int],
    deadline: date,
    limit: int,
    seen: dict[tuple[int, ...], tuple[Candidate, list[Site]]],
) -> Candidate:
    """Best-improvement local search; every open set costed exactly is recorded in ``seen``."""
    current, need_v = start, _vector(ctx, need)
    for _ in range(MAX_ROUNDS):
        used = [site for site, _ in current.parts]
        others = [s for s in pool if s not in used]
        quick = [
            (key, i, sites)
            for i, sites in enumerate(_neighbours(used, others, limit))
            if (key := estimate(ctx, sites, need_v, deadline, limit))
        ]
        quick.sort(key=lambda item: (item[0], item[1]))
        best: Candidate | None = None
        for _, _, sites in quick[:NEIGHBOURS_REBALANCED]:
            found = evaluate(ctx, sites, need, deadline, limit)
            if found is not None:
                seen[tuple(sorted(id(s) for s in sites))] = (found, sites)
            best = better(best, found)
        if best is None or best.key >= current.key:
            return current
        current = best
    return current


def _split_lower_bound(
    ctx: Context, eligible: list[Site], need: dict[str, int], deadline: date
) -> int:
    """No split over two or more sites can cost less than this: the two least handling per
    order and first-band prices of the ``eligible`` sites (those of the routes tuples that
    promise by ``deadline``), the split penalty, and every unit at its lowest unit cost."""
    low: list[int] = []  # per eligible site: handling per order + the lowest first-band price
    for routes, handling in _least_handling(ctx):
        if routes[0].promise <= deadline:
            cheapest = min(r.bands[0][1] for r in routes if r.promise <= deadline)
            low += (h + cheapest for h in handling)
    first, second = heapq.nsmallest(2, low)
    by_floor = ctx.memo.get(("by_floor",))
    if by_floor is None:
        by_floor = ctx.memo[("by_floor",)] = sorted(ctx.sites, key=attrgetter("unit_floor"))
    lowest = lowest_by_floor(
        (s for s in by_floor if s.routes[0].promise <= deadline),
        {sku: q for sku, q in need.items() if q},
    )
    need_v = _vector(ctx, need)
    return (
        first
        + second
        + ctx.request.rules.split_penalty
        + sum(q * lowest.get(sku, 0) for sku, q in zip(ctx.skus, need_v, strict=True) if q)
    )


def _least_handling(ctx: Context) -> list[tuple[tuple[Route, ...], list[int]]]:
    """Per routes tuple of the sites: the two least handling costs per order of its sites
    (only they can be the two least of any set of eligible sites), once per request."""
    found: list[tuple[tuple[Route, ...], list[int]]] | None = ctx.memo.get(("handling",))
    if found is None:
        by_routes: dict[int, tuple[tuple[Route, ...], list[int]]] = {}
        for site in ctx.sites:
            entry = by_routes.get(id(site.routes))
            if entry is None:
                entry = by_routes[id(site.routes)] = (site.routes, [])
            entry[1].append(site.location.handling_cost_per_order)
        found = ctx.memo[("handling",)] = [
            (routes, heapq.nsmallest(2, handling)) for routes, handling in by_routes.values()
        ]
    return found


def singles(ctx: Context, need: dict[str, int]) -> list[Candidate]:
    """Every (site, route) that sends the whole of ``need`` in one shipment, cheapest first.

    Computed once per request and need; ``Candidate.deadline`` is the route's promise date.
    """
    key = tuple(sorted(need.items()))
    if key not in ctx.memo:
        found: list[Candidate] = []
        penalty = ctx.request.rules.split_penalty
        need_v, whole = _vector(ctx, need), need == ctx.need
        weight = sum(map(mul, need_v, ctx.weight_v))
        total = sum(need_v)
        lines = sum(1 for q in need_v if q)
        for site in ctx.sites:
            if len(site.avail) < lines:  # it lacks a SKU of ``need``
                continue
            if whole:  # the site's cover is the whole cart exactly when it has every unit
                if site.cover[0] < total:
                    continue
                unit = site.cover[2]
            elif any(q > have for q, have in zip(need_v, site.stock_v, strict=True)):
                continue
            else:
                unit = sum(map(mul, need_v, site.unit_v))
            fixed = site.location.handling_cost_per_order + unit
            for route in site.routes:
                parcels, price = route.price(weight)
                cost = fixed + price + penalty * (parcels - 1)
                found.append(
                    Candidate(cost, parcels, route.promise, ((site, need),), route.promise)
                )
        found.sort(key=lambda c: c.key)
        ctx.memo[key] = found
    return ctx.memo[key]


def best_single(
    ctx: Context, need: dict[str, int], *, deadline: date, limit: int
) -> Candidate | None:
    """The cheapest one-location plan promising by ``deadline``."""
    return next(
        (c for c in singles(ctx, need) if c.promise <= deadline and c.parcels <= limit), None
    )


def shared_routes(ctx: Context) -> list[tuple[Route, ...]]:
    """The distinct routes tuples of the sites (sites with the same calendar share one)."""
    found: list[tuple[Route, ...]] | None = ctx.memo.get(("routes",))
    if found is None:
        found = ctx.memo[("routes",)] = [routes for routes, _ in ctx.groups.values()]
    return found


def solve(ctx: Context, need: dict[str, int], *, deadline: date, limit: int) -> Candidate | None:
    """The cheapest split found promising by ``deadline`` in at most ``limit`` parcels.

    Deadlines that admit the same routes give the same answer, which is memoised.
    """
    admitted = tuple(sum(r.promise <= deadline for r in routes) for routes in shared_routes(ctx))
    key = ("solve", limit, admitted, *sorted(need.items()))
    if key not in ctx.memo:
        ctx.memo[key] = _search(ctx, need, deadline=deadline, limit=limit)
    found: Candidate | None = ctx.memo[key]
    return found


def _pairs(
    ctx: Context, pool: list[Site], need_v: list[int], deadline: date, limit: int
) -> list[tuple[list[Site], bool]]:
    """The ``PAIRS_REBALANCED`` best pairs of the pool by quick estimate, each allocated by unit
    cost or with either site taking all it can first: (sites, by unit cost).

    Local search from a poor start can miss a good pair (each move from it looks worse by
    quick estimate), and allocating by unit cost alone misjudges a pair where one site could
    send nearly everything in one parcel."""
    quick: list[tuple[tuple[int, date, int], int, list[Site], bool]] = []
    for a, b in combinations(pool, 2):
        if any(x + y < q for x, y, q in zip(a.stock_v, b.stock_v, need_v, strict=True)):
            continue  # the pair can't cover the need
        for sites, by_cost in (([a, b], True), ([a, b], False), ([b, a], False)):
            key = estimate(ctx, sites, need_v, deadline, limit, by_cost=by_cost)
            if key is not None:
                quick.append((key, len(quick), sites, by_cost))
    quick.sort(key=lambda item: item[:2])
    return [(sites, by_cost) for _, _, sites, by_cost in quick[:PAIRS_REBALANCED]]


def _search(ctx: Context, need: dict[str, int], *, deadline: date, limit: int) -> Candidate | None:
    eligible = [s for s in ctx.sites if s.routes[0].promise <= deadline]
    need_v, have = _vector(ctx, need), dict.fromkeys(ctx.skus, 0)
    for routes, summed in ctx.groups.values():
        if routes[0].promise <= deadline:
            for sku, qty in summed.items():
                have[sku] += qty
    if any(have[sku] < q for sku, q in zip(ctx.skus, need_v, strict=True)):
        return None
    best = best_single(ctx, need, deadline=deadline, limit=limit)
    if limit < 2 or len(eligible) < 2:
        return best
    if best is not None and best.cost <= _split_lower_bound(ctx, eligible, need, deadline):
        return best
    pool = pool_of(ctx, eligible, need, POOL_SIZE)
    starts = [best] if best is not None else []
    starts += _starts(ctx, pool, need, deadline, limit)
    starts.sort(key=lambda c: c.key)
    seen: dict[tuple[int, ...], tuple[Candidate, list[Site]]] = {}
    for start in starts[:STARTS_IMPROVED]:
        best = better(best, _improve(ctx, start, pool, need, deadline, limit, seen))
    for pair, by_cost in _pairs(ctx, pool, need_v, deadline, limit):
        found = evaluate(ctx, pair, need, deadline, limit, by_cost=by_cost)
        if found is not None:
            seen.setdefault(tuple(sorted(map(id, pair))), (found, pair))
            best = better(best, found)
    for start in starts:
        sites = [site for site, _ in start.parts]
        seen.setdefault(tuple(sorted(id(s) for s in sites)), (start, sites))
    for cand, sites in sorted(seen.values(), key=lambda item: item[0].key)[:POLISHED]:
        best = better(best, polish(ctx, cand, sites, deadline, limit))
    return best
