"""Why a plan: the plan's own numbers, its locations, and every candidate that lost with the
cost and promise it was evaluated at, never a rule of thumb.

An explanation is a list of entries (stored with the order, so bounded):

- the head: ``kind``, ``rules_version``, the plan's ``cost`` (a dict of named terms:
  ``CostBreakdown.as_dict``), ``promised_date``, ``parcels``, ``score`` and ``margin``;
- ``{"location_id", "outcome": "chosen", "units"}`` per shipment;
- ``{"alternative": "plan", "outcome", ...numbers}``: the other plans of the final comparison
  (at most ``ALTERNATIVES``), ``outcome`` saying on what they lost (``lost_on``);
- ``{"alternative": "location", "location_id", "outcome", ...numbers}``: the nearest unused
  locations (at most ``RUNNERS_UP``), each costed as the plan it would make: alone when it has
  every unit, else first, completed by the chosen locations (``partial_stock_<outcome>``);
- ``{"alternative": "nearest", ...numbers}``: the baseline "nearest location that has it";
- the rejected locations by reason, and the stale feeds sourced at a discount;
- with ``rules.network_aware``: ``{"outcome": "network_value", "cost": {"opportunity",
  "by_location"}, "<status>_skus"}`` (``network_note``; a quote shows only the statuses).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from typing import Any, overload

from chalicelib.domain.sourcing.context import Context, Site, opportunity
from chalicelib.domain.sourcing.costing import Candidate, evaluate
from chalicelib.domain.sourcing.model import Plan
from chalicelib.domain.sourcing.plans import Costed, costed, nearest_candidate
from chalicelib.domain.sourcing.solver import singles


class Lazy(Sequence[dict[str, Any]]):
    """An explanation built on first use: costing the losers is work, and only the plan that
    is chosen (stored with the order) or shown (a quote) ever needs it."""

    __slots__ = ("_items", "_make")

    def __init__(self, make: Callable[[], Sequence[dict[str, Any]]]) -> None:
        self._make: Callable[[], Sequence[dict[str, Any]]] | None = make
        self._items: tuple[dict[str, Any], ...] = ()

    def _get(self) -> tuple[dict[str, Any], ...]:
        if self._make is not None:
            self._items, self._make = tuple(self._make()), None
        return self._items

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...
    @overload
    def __getitem__(self, index: slice) -> tuple[dict[str, Any], ...]: ...
    def __getitem__(self, index: int | slice) -> Any:
        return self._get()[index]

    def __len__(self) -> int:
        return len(self._get())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and self._get() == tuple(other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Lazy({self._get()!r})"


PUBLIC_DROPPED = frozenset({"cost", "margin", "score", "margin_below_minimum"})


def public(explanation: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The explanation without the retailer's numbers (cost, margin, score), for a quote."""
    return [{k: v for k, v in e.items() if k not in PUBLIC_DROPPED} for e in explanation]


ALTERNATIVES = 5  # other plans of the final comparison
RUNNERS_UP = 5  # nearest unused locations
IDS_PER_REASON = 5


Evaluated = Plan | Costed


def numbers(plan: Evaluated) -> dict[str, Any]:
    """What a candidate was evaluated at."""
    ids = plan.location_ids if isinstance(plan, Costed) else {s.location_id for s in plan.shipments}
    return {
        "location_ids": sorted(ids),
        "promised_date": plan.promised_date.isoformat(),
        "parcels": plan.parcels,
        "cost": plan.cost.as_dict(),
        "score": round(plan.score, 2),
    }


def lost_on(chosen: Plan, other: Evaluated) -> str:
    """On what ``other`` lost against ``chosen``, from their numbers."""
    if other.promised_date > chosen.promised_date and other.cost.total <= chosen.cost.total:
        return "slower"
    if other.cost.total > chosen.cost.total:
        return "costlier"
    if other.parcels > chosen.parcels:
        return "more_parcels"
    if other.promised_date > chosen.promised_date:
        return "slower"
    return "higher_score" if other.score > chosen.score else "not_better"


def head(ctx: Context, chosen: Plan, *, below_minimum: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "kind": chosen.kind.value,
        "rules_version": ctx.request.rules.version,
        "promised_date": chosen.promised_date.isoformat(),
        "parcels": chosen.parcels,
        "cost": chosen.cost.as_dict(),
        "score": round(chosen.score, 2),
        "margin": chosen.margin,
    }
    if below_minimum:
        out["margin_below_minimum"] = True
    return out


def explain(
    ctx: Context,
    chosen: Plan,
    compared: Sequence[Plan],
    first: date,
    *,
    below_minimum: bool = False,
) -> tuple[dict[str, Any], ...]:
    """The explanation of the shipping plan ``chosen`` among ``compared`` (see the module)."""
    used = {s.location_id for s in chosen.shipments}
    out: list[dict[str, Any]] = [
        head(ctx, chosen, below_minimum=below_minimum),
        *(
            {"location_id": s.location_id, "outcome": "chosen", "units": s.units}
            for s in chosen.shipments
        ),
    ]
    others = sorted(
        (p for p in compared if p.option_id != chosen.option_id),
        key=lambda p: (p.score, p.option_id),
    )
    for other in others[:ALTERNATIVES]:
        out.append({"alternative": "plan", "outcome": lost_on(chosen, other), **numbers(other)})
    out += _runners_up(ctx, chosen, used, first)
    baseline = _nearest(ctx, chosen, first)
    if baseline is not None:
        out.append(
            {"alternative": "nearest", "outcome": lost_on(chosen, baseline), **numbers(baseline)}
        )
    out += rejected(ctx)
    if ctx.network:
        out.append(network_note(ctx, chosen))
    return tuple(out)


def network_note(ctx: Context, chosen: Plan) -> dict[str, Any]:
    """The opportunity term (``rules.network_aware``): what the chosen units are worth to the
    network per location (a pick-up store's own and its transfer's), and the SKUs by status
    (stale or missing values count 0)."""
    by_location = {
        s.location_id: opportunity(ctx, s.location_id, dict(s.lines)) for s in chosen.shipments
    }
    status: dict[str, list[str]] = {}
    for sku, state in sorted(ctx.network.items()):
        status.setdefault(f"{state}_skus", []).append(sku)
    cost = {"opportunity": chosen.cost.opportunity, "by_location": by_location}
    return {"outcome": "network_value", "cost": cost, **status}


def _runners_up(ctx: Context, chosen: Plan, used: set[str], first: date) -> list[dict[str, Any]]:
    count = RUNNERS_UP + len(used)  # the nearest sites, once per request and count
    nearest = ctx.memo.get(("nearest", count))
    if nearest is None:
        ctx.measure_sites()
        nearest = ctx.memo[("nearest", count)] = heapq.nsmallest(
            count, ctx.sites, key=lambda s: (s.distance_km, s.location_id)
        )
    need = chosen.lines
    chosen_sites = [s for s in ctx.sites if s.location_id in used]
    out: list[dict[str, Any]] = []
    for site in [s for s in nearest if s.location_id not in used][:RUNNERS_UP]:
        entry: dict[str, Any] = {
            "alternative": "location",
            "location_id": site.location_id,
            "distance_km": round(site.distance_km, 1),
        }
        whole = all(site.avail.get(sku, 0) >= q for sku, q in need.items())
        cand = _alone(ctx, site, need) if whole else _first(ctx, site, chosen_sites, need)
        if cand is None:
            entry["outcome"] = "no_feasible_plan"  # e.g. beyond the parcel limit
        else:
            other = _costed(ctx, cand, first)
            lost = lost_on(chosen, other)
            entry["outcome"] = lost if whole else f"partial_stock_{lost}"
            entry.update(numbers(other))
        out.append(entry)
    return out


def _alone(ctx: Context, site: Site, need: dict[str, int]) -> Candidate | None:
    """The site's cheapest single-shipment plan of ``need`` within the parcel limit."""
    limit = ctx.request.rules.max_parcels
    return next(
        (c for c in singles(ctx, need) if c.parts[0][0] is site and c.parcels <= limit),
        None,
    )


def _first(ctx: Context, site: Site, chosen: list[Site], need: dict[str, int]) -> Candidate | None:
    """``site`` sends what it has, the chosen sites the rest (by the cheapest routes)."""
    limit = ctx.request.rules.max_parcels
    return evaluate(ctx, [site, *chosen], need, date.max, limit, by_cost=False, rebalance=False)


def _costed(ctx: Context, cand: Candidate, first: date) -> Costed:
    """``costed``, once per request, candidate and first date (plans share runners-up)."""
    key = ("costed", first, *(id(site) for site, _ in cand.parts), *cand.key)
    key += tuple(sorted((id(site), *lines.items()) for site, lines in cand.parts))
    found: Costed | None = ctx.memo.get(key)
    if found is None:
        found = ctx.memo[key] = costed(ctx, cand, first)
    return found


def _nearest(ctx: Context, chosen: Plan, first: date) -> Costed | None:
    need = chosen.lines
    key = ("nearest_plan", *sorted(need.items()))
    if key not in ctx.memo:
        ctx.memo[key] = nearest_candidate(ctx, need)
    cand: Candidate | None = ctx.memo[key]
    if cand is None:
        return None
    if {(site.location_id, *sorted(lines.items())) for site, lines in cand.parts} == {
        (s.location_id, *s.lines) for s in chosen.shipments
    }:
        return None  # the chosen plan is the baseline
    return _costed(ctx, cand, first)


def rejected(ctx: Context) -> list[dict[str, Any]]:
    """The locations that could not ship, by reason, and the stale feeds used at a discount."""
    out: list[dict[str, Any]] = []
    for reason, ids in sorted(ctx.rejected.items()):
        out.append({"outcome": reason, "count": len(ids), "location_ids": ids[:IDS_PER_REASON]})
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
    return out


def collect_losers(chosen: Plan, options: Sequence[Plan]) -> list[dict[str, Any]]:
    """The other pick-up options of the request, with their numbers."""
    others = [p for p in options if p.option_id != chosen.option_id][:ALTERNATIVES]
    return [
        {
            "alternative": "click_collect",
            "pickup_location_id": p.pickup_location_id,
            "outcome": lost_on(chosen, p),
            **numbers(p),
        }
        for p in others
    ]
