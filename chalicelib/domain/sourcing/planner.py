"""Sourcing: which locations send which units of a cart, how, by when, at what cost.

Entry point: :func:`plan` turns a :class:`SourcingRequest` into a :class:`SourcingResult` of
ranked delivery options (see ``OptionKind``) and the shortages of the network.

- **fastest**: the earliest promise date at which the cart can be covered at all (units may come
  from several locations), and the cheapest split at that date (``kinds.fastest``).
- **cheapest**: the cheapest split promising at most ``rules.cheapest_max_delay_days`` calendar
  days after the fastest. Searched first: when it promises on the first date the network can
  cover the cart at all, it is the fastest too and the fastest needs no search of its own.
- **consolidated**: the fewest parcels of all plans found (one whenever a single location can
  send the whole cart), then the best score (cost weighed against days later than the fastest);
  a split only gets a search of its own when the fastest and cheapest send more parcels than a
  greedy cover needs.
- **click_collect**: pick-up at nearby stores (``collect``).

Identical plans (same shipments) are offered once, with every kind they answer in ``kinds``.
Shipping options are ranked by ``score = cost_weight * cost + speed_weight_per_day * days later
than the fastest``, then pick-up options. :func:`nearest_plan` is the baseline "nearest location
that has it" used to measure what sourcing saves.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import replace
from datetime import date, timedelta
from typing import Any

from chalicelib.domain.sourcing.collect import click_collect_plans
from chalicelib.domain.sourcing.context import Context, build_context
from chalicelib.domain.sourcing.kinds import fastest, fastest_and_cheapest, fewest_parcels
from chalicelib.domain.sourcing.model import (
    CostBreakdown,
    OptionKind,
    Plan,
    Shipment,
    SourcingRequest,
    SourcingResult,
    option_id_for,
)
from chalicelib.domain.sourcing.solver import Candidate, singles

_RUNNERS_UP = 5  # candidate locations named in an explanation besides the chosen ones
_IDS_PER_REASON = 5


def plan(request: SourcingRequest) -> SourcingResult:
    """Ranked delivery options for the request, and what the network can't cover."""
    ctx = build_context(request)
    need = dict(ctx.need)
    if ctx.shortages:
        if not request.allow_partial:
            collect = _collect(ctx, None) if OptionKind.CLICK_COLLECT in request.kinds else []
            return SourcingResult(options=collect, shortages=dict(ctx.shortages))
        need = {sku: q - ctx.shortages.get(sku, 0) for sku, q in need.items()}
        need = {sku: q for sku, q in need.items() if q > 0}
    shortages = dict(ctx.shortages)
    shipping = _shipping_plans(ctx, need) if need else []
    if not shipping and need and request.allow_partial:
        # The network has the units but no plan can send them all (the parcel limit): send
        # what fits, the rest is short like units no location has.
        sendable = _sendable(ctx, need)
        for sku, quantity in need.items():
            if quantity > sendable.get(sku, 0):
                shortages[sku] = shortages.get(sku, 0) + quantity - sendable.get(sku, 0)
        shipping = _shipping_plans(ctx, sendable) if sendable else []
    first = min((p.promised_date for p in shipping), default=None)
    collect = _collect(ctx, first) if OptionKind.CLICK_COLLECT in request.kinds else []
    wanted = [p for p in shipping if set(p.kinds) & request.kinds]
    return SourcingResult(options=wanted + collect, shortages=shortages)


_FIT_TRIALS = 48  # searches spent on finding what fits before the rest is left short


def _sendable(ctx: Context, need: dict[str, int]) -> dict[str, int]:
    """The part of ``need`` one plan can send within the parcel limit: whole lines, lightest
    first, then as many units of a line as fit (a bisection; every answer is a found plan)."""
    limit, trials = ctx.request.rules.max_parcels, [_FIT_TRIALS]

    def fits(part: dict[str, int]) -> bool:
        trials[0] -= 1
        return trials[0] >= 0 and fastest(ctx, part, limit=limit) is not None

    kept: dict[str, int] = {}
    for sku in sorted(need, key=lambda s: (ctx.weights[s], s)):
        if fits({**kept, sku: need[sku]}):
            kept[sku] = need[sku]
            continue
        low, high = 0, need[sku]  # ``low`` units fit (or none), ``high`` don't
        while high - low > 1 and trials[0] > 0:
            mid = (low + high) // 2
            if fits({**kept, sku: mid}):
                low = mid
            else:
                high = mid
        if low:
            kept[sku] = low
    return kept


def _collect(ctx: Context, first: date | None) -> list[Plan]:
    return click_collect_plans(ctx, fastest=first)


def _shipping_plans(ctx: Context, need: dict[str, int]) -> list[Plan]:
    """Fastest, cheapest and consolidated plans, deduplicated and ranked by score."""
    rules = ctx.request.rules
    delay = timedelta(days=rules.cheapest_max_delay_days)
    pair = fastest_and_cheapest(ctx, need, limit=rules.max_parcels, delay=delay)
    if pair is None:
        return []
    quick, cheap = pair
    later = quick.promise + delay
    found = [quick, cheap, *_consolidation_candidates(ctx, need, quick, cheap)]
    unique = {id(c): c for c in found}.values()  # one search often answers several kinds
    plans = [_to_plan(ctx, OptionKind.NEAREST, c, quick.promise) for c in unique]
    by_kind = {
        OptionKind.FASTEST: min(plans, key=lambda p: (p.promised_date, p.cost.total)),
        OptionKind.CHEAPEST: min(
            (p for p in plans if p.promised_date <= later),
            key=lambda p: (p.cost.total, p.promised_date),
        ),
        OptionKind.CONSOLIDATED: min(plans, key=lambda p: (p.parcels, p.score)),
    }
    merged: dict[str, Plan] = {}
    for kind, chosen in by_kind.items():
        if chosen.option_id in merged:
            kept = merged[chosen.option_id]
            merged[chosen.option_id] = replace(kept, kinds=(*kept.kinds, kind))
        else:
            merged[chosen.option_id] = replace(chosen, kind=kind, kinds=(kind,))
    ranked = sorted(merged.values(), key=lambda p: (p.score, p.promised_date, p.option_id))
    return [replace(p, explanation=_explain(ctx, p)) for p in ranked]


def _consolidation_candidates(
    ctx: Context, need: dict[str, int], quick: Candidate, cheap: Candidate
) -> list[Candidate]:
    """The best-scoring single location and route, or the fewest-parcels split."""
    rules, first = ctx.request.rules, quick.promise

    def score(cand: Candidate) -> float:
        late = max(0, (cand.promise - first).days)
        return rules.cost_weight * cand.cost + rules.speed_weight_per_day * late

    options = [c for c in singles(ctx, need) if c.parcels <= rules.max_parcels]
    if options:
        return [min(options, key=lambda c: (score(c), c.key))]
    split = fewest_parcels(ctx, need, limit=rules.max_parcels, known=(quick, cheap))
    return [split] if split is not None else []


def _to_plan(ctx: Context, kind: OptionKind, cand: Candidate, first: date) -> Plan:
    """The plan of a candidate split: shipments, cost breakdown, customer price, score."""
    request, rules = ctx.request, ctx.request.rules
    shipments: list[Shipment] = []
    cost = CostBreakdown()
    for site, lines in cand.parts:
        part = ctx.shipment(site, lines, cand.deadline)
        if part is None:  # the solver only returns parts with a route within the deadline
            raise AssertionError(f"no route from {site.location_id} by {cand.deadline}")
        shipments.append(part[0])
        cost = cost.plus(part[1])
    parcels = sum(s.parcels for s in shipments)
    cost = replace(cost, split_penalty=rules.split_penalty * max(0, parcels - 1))
    promised = max(s.promised_date for s in shipments)
    late = max(0, (promised - first).days)
    return Plan(
        kind=kind,
        option_id=option_id_for(shipments),
        shipments=tuple(shipments),
        cost=cost,
        price=_customer_price(request, shipments),
        currency=request.currency,
        promised_date=promised,
        parcels=parcels,
        kinds=(kind,),
        score=rules.cost_weight * cost.total + rules.speed_weight_per_day * late,
    )


def _customer_price(request: SourcingRequest, shipments: Iterable[Shipment]) -> int:
    prices = request.unit_prices or {}
    value = 0
    for line in request.lines:
        product = request.products.get(line.sku)
        default = product.prices.get(request.currency, 0) if product else 0
        value += line.quantity * prices.get(line.sku, default)
    if request.rules.ships_free(request.currency, value):
        return 0
    return sum(s.parcel_price for s in shipments)


def _explain(ctx: Context, chosen: Plan) -> tuple[dict[str, Any], ...]:
    """Why this plan: its locations, the nearest others that lost and why, and the rejected."""
    used = {s.location_id for s in chosen.shipments}
    out: list[dict[str, Any]] = [
        {"kind": chosen.kind.value, "rules_version": ctx.request.rules.version},
        *(
            {"location_id": s.location_id, "outcome": "chosen", "units": s.units}
            for s in chosen.shipments
        ),
    ]
    count = _RUNNERS_UP + len(used)  # the nearest sites, once per request and count
    nearest = ctx.memo.get(("nearest", count))
    if nearest is None:
        nearest = ctx.memo[("nearest", count)] = heapq.nsmallest(
            count, ctx.sites, key=lambda s: (s.distance_km, s.location_id)
        )
    others = [s for s in nearest if s.location_id not in used][:_RUNNERS_UP]
    for site in others:
        if site.earliest > chosen.promised_date:
            outcome = "slower"
        elif any(site.avail.get(sku, 0) < q for sku, q in chosen.lines.items()):
            outcome = "partial_stock_costlier"
        else:
            outcome = "costlier"
        out.append({"location_id": site.location_id, "outcome": outcome})
    for reason, ids in sorted(ctx.rejected.items()):
        out.append({"outcome": reason, "count": len(ids), "location_ids": ids[:_IDS_PER_REASON]})
    for location_id, fresh in sorted(ctx.stale.items()):
        if not fresh.skipped:  # sourced at a discount (the skipped are rejected above)
            out.append(
                {
                    "location_id": location_id,
                    "outcome": "stale_feed",
                    "discount_pct": fresh.discount_pct,
                    "feed_age_minutes": round(fresh.age_minutes or 0),
                }
            )
    return tuple(out)


def nearest_plan(request: SourcingRequest) -> Plan | None:
    """Baseline: every unit from the nearest location that has it, by its cheapest route.

    Nearest by great-circle distance to the ship-to coordinates (same country first when they
    are missing). None when the network can't cover the cart.
    """
    ctx = build_context(request)
    if ctx.shortages or not ctx.need:
        return None
    parts: dict[int, dict[str, int]] = {}
    order = sorted(range(len(ctx.sites)), key=lambda i: (ctx.sites[i].distance_km, i))
    for sku, qty in ctx.need.items():
        for i in order:
            take = min(qty, ctx.sites[i].avail.get(sku, 0))
            if take:
                parts.setdefault(i, {})[sku] = take
                qty -= take
            if qty == 0:
                break
    cand = Candidate(
        0, 0, date.min, tuple((ctx.sites[i], lines) for i, lines in parts.items()), date.max
    )
    result = _to_plan(ctx, OptionKind.NEAREST, cand, date.min)
    return replace(result, score=float(result.cost.total), explanation=_explain(ctx, result))
