"""From a candidate split to a priced plan: shipments, cost breakdown, customer price, score
and margin (``domain.margin``); and the "nearest location that has it" split of the baseline."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from chalicelib.domain.margin import margin_of
from chalicelib.domain.sourcing.context import Context
from chalicelib.domain.sourcing.costing import Candidate
from chalicelib.domain.sourcing.model import (
    CostBreakdown,
    OptionKind,
    Plan,
    Shipment,
    SourcingRequest,
    option_id_for,
)


@dataclass(frozen=True, slots=True)
class Costed:
    """What a candidate that lost was evaluated at (``costed``): a plan without its shipments."""

    location_ids: tuple[str, ...]
    cost: CostBreakdown
    promised_date: date
    parcels: int
    score: float


def _priced_parts(ctx: Context, cand: Candidate) -> tuple[list[Shipment], CostBreakdown, int]:
    """The shipments of ``cand``, their summed cost with the split penalty, and parcels."""
    shipments: list[Shipment] = []
    terms = [0] * 8  # shipping handling holding rewards distance co2e co2e_g opportunity
    for site, lines in cand.parts:
        part = ctx.shipment(site, lines, cand.deadline)
        if part is None:  # the solver only returns parts with a route within the deadline
            raise AssertionError(f"no route from {site.location_id} by {cand.deadline}")
        shipments.append(part[0])
        c = part[1]
        for k, v in enumerate(
            (
                c.shipping,
                c.handling,
                c.holding_saved,
                c.rule_rewards,
                c.distance,
                c.co2e,
                c.co2e_g,
                c.opportunity,
            )
        ):
            terms[k] += v
    parcels = sum(s.parcels for s in shipments)
    cost = CostBreakdown(
        shipping=terms[0],
        handling=terms[1],
        holding_saved=terms[2],
        split_penalty=ctx.request.rules.split_penalty * max(0, parcels - 1),
        rule_rewards=terms[3],
        distance=terms[4],
        co2e=terms[5],
        co2e_g=terms[6],
        opportunity=terms[7],
    )
    return shipments, cost, parcels


def _score(ctx: Context, cost: CostBreakdown, promised: date, first: date) -> float:
    rules = ctx.request.rules
    late = max(0, (promised - first).days)
    return rules.cost_weight * cost.total + rules.speed_weight_per_day * late


def costed(ctx: Context, cand: Candidate, first: date) -> Costed:
    """``to_plan``'s numbers of ``cand``, without building the plan (for the explanation)."""
    shipments, cost, parcels = _priced_parts(ctx, cand)
    promised = max(s.promised_date for s in shipments)
    ids = tuple(sorted({s.location_id for s in shipments}))
    return Costed(ids, cost, promised, parcels, _score(ctx, cost, promised, first))


def to_plan(ctx: Context, kind: OptionKind, cand: Candidate, first: date) -> Plan:
    """The plan of a candidate split: shipments, cost breakdown, customer price, score, margin."""
    request = ctx.request
    shipments, cost, parcels = _priced_parts(ctx, cand)
    promised = max(s.promised_date for s in shipments)
    price = customer_price(request, shipments, ctx)
    return Plan(
        kind=kind,
        option_id=option_id_for(shipments),
        shipments=tuple(shipments),
        cost=cost,
        price=price,
        currency=request.currency,
        promised_date=promised,
        parcels=parcels,
        kinds=(kind,),
        score=_score(ctx, cost, promised, first),
        margin=margin_dict(request, _lines(shipments), price, cost, ctx),
    )


def _lines(shipments: Iterable[Shipment]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for shipment in shipments:
        for sku, quantity in shipment.lines:
            totals[sku] = totals.get(sku, 0) + quantity
    return totals


def unit_prices(request: SourcingRequest, ctx: Context | None = None) -> dict[str, int]:
    """The unit price of every SKU of the cart: ``unit_prices``, else the product's price
    (once per request with ``ctx``)."""
    found: dict[str, int] | None = ctx.memo.get(("unit_prices",)) if ctx else None
    if found is not None:
        return found
    prices = request.unit_prices or {}
    out: dict[str, int] = {}
    for line in request.lines:
        product = request.products.get(line.sku)
        default = product.prices.get(request.currency, 0) if product else 0
        out[line.sku] = prices.get(line.sku, default)
    if ctx is not None:
        ctx.memo[("unit_prices",)] = out
    return out


def customer_price(
    request: SourcingRequest, shipments: Iterable[Shipment], ctx: Context | None = None
) -> int:
    prices = unit_prices(request, ctx)
    value = sum(line.quantity * prices[line.sku] for line in request.lines)
    if request.rules.ships_free(request.currency, value):
        return 0
    return sum(s.parcel_price for s in shipments)


def margin_dict(
    request: SourcingRequest,
    lines: dict[str, int],
    price: int,
    cost: CostBreakdown,
    ctx: Context | None = None,
) -> dict[str, Any]:
    """The margin (``domain.margin``) of sending ``lines`` for ``price`` at ``cost``."""
    return margin_of(
        lines,
        unit_prices(request, ctx),
        request.products,
        request.currency,
        delivery_price=price,
        cost_to_serve=cost.cost_to_serve,
    ).as_dict()


def with_margin(request: SourcingRequest, found: Plan) -> Plan:
    """``found`` with its margin on the units it sends."""
    return replace(found, margin=margin_dict(request, found.lines, found.price, found.cost))


def nearest_candidate(ctx: Context, need: dict[str, int]) -> Candidate | None:
    """Every unit of ``need`` from the nearest site that has it (None: they can't cover it)."""
    parts: dict[int, dict[str, int]] = {}
    ctx.measure_sites()
    order = sorted(range(len(ctx.sites)), key=lambda i: (ctx.sites[i].distance_km, i))
    for sku, qty in need.items():
        for i in order:
            take = min(qty, ctx.sites[i].avail.get(sku, 0))
            if take:
                parts.setdefault(i, {})[sku] = take
                qty -= take
            if qty == 0:
                break
        if qty:
            return None
    return Candidate(
        0, 0, date.min, tuple((ctx.sites[i], lines) for i, lines in parts.items()), date.max
    )
