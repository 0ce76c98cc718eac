"""Ranking sites by their stand-alone cost per unit without costing them all (``solver``).

The solver's pool is the few sites with the lowest cost per unit (``unit_ratio``). Costing that
ratio takes a site's unit costs and its best route by weight, so ``pool_of`` ranks lazily: every
site gets a lower bound first (``_ratio_floors``: its handling per order and cheapest parcel
spread over the most units it could send, plus its ``unit_floor``), and only the sites whose
bound comes first in the heap are costed. The ranking is exactly the full sort's (ties in the
sites' order). ``lowest_unit_costs`` is the same idea for the split lower bound.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator
from datetime import date
from itertools import repeat
from operator import attrgetter, mul

from chalicelib.domain.sourcing.context import Context, Site

INF = float("inf")
WEIGHED_UNITS = 256  # ratio floors price the lightest units by weight up to this many


def unit_ratio(ctx: Context, site: Site, need_v: list[int], deadline: date) -> float:
    """Stand-alone cost per unit of what ``site`` can cover of ``need_v`` (by SKU index)."""
    takes = [q if q < have else have for q, have in zip(need_v, site.stock_v, strict=True)]
    units = sum(takes)
    if not units:
        return float("inf")
    best = site.best_route(sum(map(mul, takes, ctx.weight_v)), deadline)
    if best is None:
        return float("inf")
    return (
        site.location.handling_cost_per_order + best[2] + sum(map(mul, takes, site.unit_v))
    ) / units


def _cover_ratio(site: Site) -> float:
    """``unit_ratio`` of the whole cart by any route, from the site's precomputed cover."""
    units, weight, cost = site.cover
    best = site.best_route(weight, date.max) if units else None
    if best is None:
        return float("inf")
    return (site.location.handling_cost_per_order + best[2] + cost) / units


def pool_of(ctx: Context, eligible: list[Site], need: dict[str, int], size: int) -> list[Site]:
    """The ``size`` best sites by unit ratio, plus enough others to cover every SKU.

    Ratios are against the loosest deadline, so they are computed once per request and site,
    and only for the sites whose lower bound (``_ratio_floors``) could rank them next.
    """
    if len(eligible) <= size:
        return eligible
    need_v = [need.get(sku, 0) for sku in ctx.skus]
    ranked = _ranked(ctx, eligible, need, need_v)
    pool = [site for _, site in zip(range(size), ranked, strict=False)]
    more: list[Site] = []  # the sites ranked after the pool, as far as they were needed
    for sku, qty in zip(ctx.skus, need_v, strict=True):
        have = sum(s.avail.get(sku, 0) for s in pool)
        k = 0
        while have < qty:
            if k == len(more):
                site = next(ranked, None)
                if site is None:
                    break
                more.append(site)
            site, k = more[k], k + 1
            if site.avail.get(sku, 0) and site not in pool:
                pool.append(site)
                have += site.avail[sku]
    return pool


def _ranked(
    ctx: Context, eligible: list[Site], need: dict[str, int], need_v: list[int]
) -> Iterator[Site]:
    """``eligible`` by unit ratio (ties in their order), lazily: a site is costed only when its
    lower bound comes first, so only the sites that could rank next are ever costed."""
    ratio: dict[int, float] = ctx.memo.setdefault(("ratio", *sorted(need.items())), {})
    whole = need == ctx.need
    floors: list[float] | None = ctx.memo.get(("floors", *sorted(need.items())))
    if floors is None:  # once per request and need, for every site: deadlines only filter
        floors = ctx.memo["floors", *sorted(need.items())] = _ratio_floors(ctx, ctx.sites, need_v)
    if eligible == ctx.sites:  # every site is eligible (sites are equal only to themselves)
        heap = list(zip(floors, range(len(floors)), repeat(False)))
    else:
        by_site: dict[int, float] | None = ctx.memo.get(("floor_of", *sorted(need.items())))
        if by_site is None:
            by_site = ctx.memo["floor_of", *sorted(need.items())] = dict(
                zip(map(id, ctx.sites), floors, strict=True)
            )
        heap = [(by_site[id(site)], i, False) for i, site in enumerate(eligible)]
    heapq.heapify(heap)
    while heap:
        _, i, exact = heapq.heappop(heap)
        site = eligible[i]
        if exact:
            yield site
            continue
        found = ratio.get(id(site))
        if found is None:
            found = ratio[id(site)] = (
                _cover_ratio(site) if whole else unit_ratio(ctx, site, need_v, date.max)
            )
        heapq.heappush(heap, (found, i, True))


def _ratio_floors(ctx: Context, sites: list[Site], need_v: list[int]) -> list[float]:
    """A lower bound of each site's unit ratio (``unit_ratio`` by any route), computed
    without costing it: its ``unit_floor`` plus the least handling per order and parcel price
    per unit (``_fixed_floors``) over the unit counts it could send (a site holding k of the
    needed SKUs sends at most the k largest quantities, and never more than it has)."""
    if not _extras_nonnegative(ctx):
        return [float("-inf")] * len(sites)
    wanted = sorted((q for q in need_v if q), reverse=True)
    caps = [0]
    for q in wanted:
        caps.append(caps[-1] + q)
    lines, skus = len(wanted), {sku for sku, q in zip(ctx.skus, need_v, strict=True) if q}
    light = sorted(w for w, q in zip(ctx.weight_v, need_v, strict=True) for _ in range(q))
    tables: dict[tuple[int, int], list[float]] = {}
    whole = len(skus) == len(ctx.skus)  # then a site's SKUs are all needed ones
    floors = []
    for site in sites:  # every site of the request: kept tight
        avail = site.avail
        # a site's SKUs are needed ones, so with the whole need it holds at most ``lines``
        units = caps[len(avail) if whole else min(len(skus & avail.keys()), lines)]
        total = sum(avail.values())
        if total < units:
            units = total
        key = (id(site.routes), site.location.handling_cost_per_order)
        table = tables.get(key)
        if table is None:
            table = tables[key] = _fixed_floors(site, key[1], light)
        f = table[units] + site.unit_floor
        # ``unit_ratio`` is infinite without units; float rounding never lifts a floor above it
        floors.append(f - 1e-9 * (1 + abs(f)) if f != INF else INF)
    return floors


def _fixed_floors(site: Site, hpo: int, light: list[int]) -> list[float]:
    """Per unit count u (index): a lower bound of (handling per order + parcel price) / units
    over every sending of 1 to u units by the site's routes. ``light`` is the weight of every
    unit of the need, ascending: u units weigh at least the u lightest. That needs parcel
    prices that never fall with weight; otherwise the cheapest band price bounds them."""
    cheapest = min(p for route in site.routes for _, p in route.bands)
    monotone = cheapest >= 0 and all(
        all(a[1] <= b[1] for a, b in zip(route.bands, route.bands[1:], strict=False))
        for route in site.routes
    )
    if cheapest < 0:
        return [float("-inf")] * (len(light) + 1)
    out, best, weight = [INF], INF, 0
    for u, unit_weight in enumerate(light, start=1):
        weight += unit_weight
        price = cheapest  # every price is at least one band's
        if monotone and u <= WEIGHED_UNITS:
            found = site.best_route(weight, date.max)
            price = found[2] if found is not None else cheapest
        fixed = hpo + price
        value = fixed / u if fixed >= 0 else fixed
        best = value if value < best else best
        out.append(best)
    return out


def _extras_nonnegative(ctx: Context) -> bool:
    """Whether a route's price is at least one of its bands' (distance and CO2e prices >= 0)."""
    rules = ctx.request.rules
    return (
        rules.cost_per_parcel_km >= 0
        and rules.co2e_cost_per_kg >= 0
        and all(f >= 0 for f in rules.co2e_kg_per_tonne_km.values())
    )


def lowest_unit_costs(sites: Iterable[Site], need: dict[str, int]) -> dict[str, int]:
    """The lowest unit cost of every SKU of ``need`` among the ``sites`` that have it; sites
    are visited by ``unit_floor`` until no unvisited one could lower any."""
    return lowest_by_floor(sorted(sites, key=attrgetter("unit_floor")), need)


def lowest_by_floor(by_floor: Iterable[Site], need: dict[str, int]) -> dict[str, int]:
    """``lowest_unit_costs`` of sites already in ascending ``unit_floor`` order."""
    lowest: dict[str, int] = {}
    for site in by_floor:
        if len(lowest) == len(need) and site.unit_floor >= max(lowest.values()):
            break
        unit = site.unit_cost
        for sku in need:
            if sku in unit and (sku not in lowest or unit[sku] < lowest[sku]):
                lowest[sku] = unit[sku]
    return lowest
