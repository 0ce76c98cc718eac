"""Which searches answer the fastest, cheapest and fewest-parcels questions of a cart.

Each question is a call of ``solver.solve`` at some deadline and parcel limit; these
helpers pick the deadlines and reuse an answer when it already answers another question.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from operator import add

from chalicelib.domain.sourcing.context import Context, Site
from chalicelib.domain.sourcing.solver import Candidate, better, evaluate, shared_routes, solve


def _deadlines(ctx: Context, need: dict[str, int]) -> list[date]:
    """Every promise date from the first at which the eligible sites cover ``need``."""
    key = ("deadlines", *need.items())
    if key not in ctx.memo:
        ctx.memo[key] = _from_first_covering(ctx, need)
    found: list[date] = ctx.memo[key]
    return found


def _from_first_covering(ctx: Context, need: dict[str, int]) -> list[date]:
    """Sites join by earliest promise date; their stock is summed per routes tuple first."""
    dates = sorted({route.promise for routes in shared_routes(ctx) for route in routes})
    need_v = [need.get(sku, 0) for sku in ctx.skus]
    joining: dict[date, list[int]] = {}  # earliest promise date -> stock of the sites
    for routes, summed in ctx.groups.values():
        stock_v = [summed.get(sku, 0) for sku in ctx.skus]
        have = joining.get(routes[0].promise)
        joining[routes[0].promise] = stock_v if have is None else list(map(add, have, stock_v))
    have = [0] * len(need_v)
    for i, deadline in enumerate(dates):
        if deadline in joining:
            have = list(map(add, have, joining[deadline]))
        if all(h >= q for h, q in zip(have, need_v, strict=True)):
            return dates[i:]
    return []


def fastest(ctx: Context, need: dict[str, int], *, limit: int) -> Candidate | None:
    """The cheapest split among those with the earliest feasible promise date."""
    for deadline in _deadlines(ctx, need):
        found = solve(ctx, need, deadline=deadline, limit=limit)
        if found is not None:
            return found
    return None


def fastest_and_cheapest(
    ctx: Context, need: dict[str, int], *, limit: int, delay: timedelta
) -> tuple[Candidate, Candidate] | None:
    """The fastest split and the cheapest promising at most ``delay`` after it.

    One search usually answers both: no plan can promise before the first date at which the
    eligible sites cover ``need``, so when the cheapest split by that date + ``delay`` promises
    on it, it is also the cheapest of the fastest.
    """
    dates = _deadlines(ctx, need)
    if not dates:
        return None
    guess = solve(ctx, need, deadline=dates[0] + delay, limit=limit)
    if guess is not None and guess.promise <= dates[0]:
        return guess, guess
    quick = fastest(ctx, need, limit=limit)
    if quick is None:
        return None
    return quick, solve(ctx, need, deadline=quick.promise + delay, limit=limit) or quick


def fewest_parcels(
    ctx: Context, need: dict[str, int], *, limit: int, known: Sequence[Candidate] = ()
) -> Candidate | None:
    """A split with as few locations as the greedy max-coverage cover needs, cheapest found.

    When one of the ``known`` splits already sends no more parcels than that cover, the
    cheapest of them answers without another search.
    """
    remaining = [need.get(sku, 0) for sku in ctx.skus]
    chosen: list[Site] = []
    while any(remaining):
        site = max(
            (s for s in ctx.sites if s not in chosen),
            key=lambda s: sum(map(min, remaining, s.stock_v)),
            default=None,
        )
        if site is None or not any(map(min, remaining, site.stock_v)):
            return None
        chosen.append(site)
        remaining = [q - min(q, have) for q, have in zip(remaining, site.stock_v, strict=True)]
    cover = evaluate(ctx, chosen, need, date.max, limit)
    if cover is None:
        return None
    few = [c for c in known if c.parcels <= cover.parcels]
    if few:
        return better(cover, min(few, key=lambda c: c.key))
    return better(cover, solve(ctx, need, deadline=date.max, limit=cover.parcels))
