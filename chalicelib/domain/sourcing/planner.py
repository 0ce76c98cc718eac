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

from dataclasses import replace
from datetime import date, timedelta

from chalicelib.domain.margin import Margin, meets
from chalicelib.domain.rules import SourcingRules
from chalicelib.domain.sourcing.collect import click_collect_plans
from chalicelib.domain.sourcing.context import Context, build_context
from chalicelib.domain.sourcing.explain import Lazy, collect_losers, explain, network_note
from chalicelib.domain.sourcing.kinds import fastest, fastest_and_cheapest, fewest_parcels
from chalicelib.domain.sourcing.model import OptionKind, Plan, SourcingRequest, SourcingResult
from chalicelib.domain.sourcing.plans import nearest_candidate, to_plan, with_margin
from chalicelib.domain.sourcing.solver import Candidate, singles


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
    """Pick-up options with their margin; each names the others it was ranked against."""
    found = [with_margin(ctx.request, p) for p in click_collect_plans(ctx, fastest=first)]
    rules, currency = ctx.request.rules, ctx.request.currency
    out = []
    for option in found:
        below = _meets(rules, currency, option) is False
        lead = {**option.explanation[0], "margin": option.margin} if option.explanation else {}
        if below:
            lead["margin_below_minimum"] = True
        network = (network_note(ctx, option),) if ctx.network else ()
        explanation = (lead, *option.explanation[1:], *collect_losers(option, found), *network)
        out.append(replace(option, explanation=explanation))
    return out


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
    plans = [to_plan(ctx, OptionKind.NEAREST, c, quick.promise) for c in unique]
    compared = plans
    plans, below = _margin_floor(ctx, plans)
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
    return [replace(p, explanation=_explanation(ctx, p, compared, below)) for p in ranked]


def _explanation(ctx: Context, chosen: Plan, compared: list[Plan], below: bool) -> Lazy:
    first = min(p.promised_date for p in compared)
    return Lazy(lambda: explain(ctx, chosen, compared, first, below_minimum=below))


def _margin_floor(ctx: Context, plans: list[Plan]) -> tuple[list[Plan], bool]:
    """The plans that meet the rules' minimum margin (an unknown margin is not judged), and
    whether none did: then every plan stays, flagged (``domain.margin``)."""
    rules, currency = ctx.request.rules, ctx.request.currency
    if not rules.min_margin and rules.min_margin_pct <= 0:
        return plans, False
    verdicts = [_meets(rules, currency, p) for p in plans]
    kept = [p for p, ok in zip(plans, verdicts, strict=True) if ok is not False]
    return (kept, False) if kept else (plans, True)


def _meets(rules: SourcingRules, currency: str, found: Plan) -> bool | None:
    m = found.margin or {}
    if m.get("margin") is None:
        return None
    return meets(rules, currency, Margin(m["revenue"], m["cost_of_goods"], m["cost_to_serve"]))


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


def nearest_plan(request: SourcingRequest) -> Plan | None:
    """Baseline: every unit from the nearest location that has it, by its cheapest route.

    Nearest by great-circle distance to the ship-to coordinates (same country first when they
    are missing). None when the network can't cover the cart.
    """
    ctx = build_context(request)
    if ctx.shortages or not ctx.need:
        return None
    cand = nearest_candidate(ctx, ctx.need)
    if cand is None:
        return None
    result = to_plan(ctx, OptionKind.NEAREST, cand, date.min)
    first = result.promised_date
    return replace(
        result, score=float(result.cost.total), explanation=explain(ctx, result, [], first)
    )
