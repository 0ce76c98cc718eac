"""Click & collect: pick-up at a store near the customer.

A store qualifies when it has the ``click_collect`` capability, is not excluded for the channel,
and is near the ship-to address (within ``rules.click_collect_radius_km`` of its coordinates; or,
without coordinates, in the same country with the same postal-code prefix). The store may use
all of its available stock, including the units store protection keeps from shipping: the
customer picking up is the walk-in customer protection is for. What the store lacks comes from
one warehouse (or 3PL) of the same country by a ``transfer`` carrier service; the order is then
ready when the transfer arrives (and the store is open). Pick-up is free for the customer.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from math import pi

from chalicelib.domain.calendar import first_open_day, promised_date, ship_date
from chalicelib.domain.geo import EARTH_RADIUS_KM
from chalicelib.domain.network import (
    Address,
    Capability,
    CarrierService,
    Lane,
    Location,
    LocationType,
    Speed,
)
from chalicelib.domain.sourcing.context import Context, excluded_ids, opportunity
from chalicelib.domain.sourcing.model import (
    CostBreakdown,
    OptionKind,
    Plan,
    Shipment,
    option_id_for,
)
from chalicelib.domain.sourcing.terms import holding_saved, rule_rewards

_KM_PER_DEGREE = EARTH_RADIUS_KM * pi / 180
_SLACK = 1 + 1e-9  # rounding of the shortcut must never reject a store haversine keeps
_SOURCES = frozenset({LocationType.WAREHOUSE, LocationType.THREE_PL})
Part = tuple[Shipment, CostBreakdown]


def _distance(ctx: Context, store: Location) -> float | None:
    """km to the customer, 0 for a postal-prefix match without coordinates, None if too far."""
    to, rules = ctx.request.ship_to, ctx.request.rules
    if to.lat is not None and to.lon is not None:
        # a great circle is at least as long as its north-south part: far stores skip haversine
        if abs(store.lat - to.lat) * _KM_PER_DEGREE > rules.click_collect_radius_km * _SLACK:
            return None
        km = ctx.distance_km(store)
        return km if km <= rules.click_collect_radius_km else None
    n = rules.click_collect_postal_prefix_len
    same = store.country == to.country and store.postal_code[:n] == to.postal_code[:n]
    return 0.0 if same else None


def _counter_cost(
    ctx: Context, location: Location, lines: dict[str, int], raw: dict[str, int]
) -> CostBreakdown:
    """What ``location`` handing over (or sending as a transfer) ``lines`` costs, with the rule
    terms of its ``raw`` stock (no store protection: see the module doc) and, network-aware,
    what those units are worth to the network (as for a shipment: ``context.opportunity``)."""
    rules = ctx.request.rules
    units = sum(lines.values())
    return CostBreakdown(
        handling=location.handling_cost_per_order + location.handling_cost_per_unit * units,
        holding_saved=holding_saved(rules, location, units),
        rule_rewards=rule_rewards(rules, raw, lines),
        opportunity=opportunity(ctx, location.location_id, lines),
    )


def _transfer_lanes(
    ctx: Context, source: Location, store: Location
) -> list[tuple[CarrierService, Lane, int]]:
    """Transfer services and lanes from ``source`` to ``store``, with the price of one load
    (once per request and pair of countries)."""
    key = ("transfer_lanes", source.country, store.country)
    found: list[tuple[CarrierService, Lane, int]] | None = ctx.memo.get(key)
    if found is None:
        found = ctx.memo[key] = list(_lanes(ctx, source.country, store.country))
    return found


def _lanes(
    ctx: Context, from_country: str, to_country: str
) -> Iterator[tuple[CarrierService, Lane, int]]:
    currency = ctx.request.currency
    for service in ctx.request.carrier_services:
        if service.speed is not Speed.TRANSFER:
            continue
        for lane in service.lanes:
            if lane.from_country == from_country and lane.to_country == to_country:
                prices = [b.price[currency] for b in lane.bands if currency in b.price]
                if prices:
                    yield service, lane, prices[-1]


def _sources(ctx: Context, country: str) -> list[Location]:
    """Warehouses and 3PLs of ``country`` that may send transfers, once per request."""
    found: list[Location] | None = ctx.memo.get(("transfer_sources", country))
    if found is None:
        excluded = excluded_ids(ctx.request)
        found = ctx.memo[("transfer_sources", country)] = [
            source
            for source in ctx.request.locations
            if source.type in _SOURCES
            and source.country == country
            and source.location_id not in excluded
        ]
    return found


def _covering(
    ctx: Context, country: str, missing: dict[str, int], stock: dict[str, dict[str, int]]
) -> list[Location]:
    """The ``_sources`` of ``country`` that have all of ``missing``, in their order. Stores
    lack the same few (SKU, quantity) pairs, so who has each is found once per request."""
    sources = _sources(ctx, country)
    having: list[frozenset[str]] = []
    for sku, q in missing.items():
        key = ("transfer_having", country, sku, q)
        ids: frozenset[str] | None = ctx.memo.get(key)
        if ids is None:
            ids = ctx.memo[key] = frozenset(
                s.location_id for s in sources if stock.get(s.location_id, {}).get(sku, 0) >= q
            )
        having.append(ids)
    if not having:
        return sources
    found = frozenset.intersection(*having)
    return [s for s in sources if s.location_id in found] if found else []


def _arrival(
    ctx: Context,
    source: Location,
    calendar: tuple[object, ...],
    service: CarrierService,
    lane: Lane,
    to: Address,
) -> date:
    """``promised_date`` of a transfer, once per request, source calendar, lane and store."""
    key = ("arrival", calendar, id(service), id(lane), to.country, to.postal_code)
    found: date | None = ctx.memo.get(key)
    if found is None:
        found = ctx.memo[key] = promised_date(source, service, lane, to, ctx.request.now)
    return found


def _transfer(
    ctx: Context, store: Location, missing: dict[str, int], stock: dict[str, dict[str, int]]
) -> Part | None:
    """The earliest (then cheapest) single-warehouse transfer of ``missing`` to ``store``."""
    request = ctx.request
    to = Address(country=store.country, postal_code=store.postal_code)
    # the best so far: (arrives, total cost, source, service, price)
    best: tuple[date, int, Location, CarrierService, int] | None = None
    for source in _covering(ctx, store.country, missing, stock):
        raw = stock[source.location_id]
        counter: int | None = None  # the total of what the source handing over costs
        calendar = (
            source.timezone,
            source.cutoff_time,
            source.closed_weekdays,
            source.holidays_country,
            source.processing_days,
        )
        for service, lane, price in _transfer_lanes(ctx, source, store):
            arrives = _arrival(ctx, source, calendar, service, lane, to)
            if best is not None and arrives > best[0]:
                continue  # later than the best so far: never better, whatever it costs
            if counter is None:
                counter = _counter_cost(ctx, source, missing, raw).total
            if best is None or (arrives, counter + price) < best[:2]:
                best = (arrives, counter + price, source, service, price)
    if best is None:
        return None
    arrives, _, source, service, price = best
    raw = stock.get(source.location_id, {})
    cost = _counter_cost(ctx, source, missing, raw).plus(CostBreakdown(shipping=price))
    shipment = Shipment(
        location_id=source.location_id,
        lines=tuple(sorted(missing.items())),
        carrier_service=service.service_id,
        ship_date=ship_date(source, request.now),
        promised_date=arrives,
        parcels=1,
        parcel_price=price,
        weight_g=sum(ctx.weights[sku] * q for sku, q in missing.items()),
    )
    return shipment, cost


def _store_plan(
    ctx: Context,
    store: Location,
    km: float,
    ready: date,
    stock: dict[str, dict[str, int]],
    fastest: date,
) -> Plan | None:
    """The pick-up at ``store`` (``km`` away, ready by its own calendar on ``ready``)."""
    request = ctx.request
    raw = stock.get(store.location_id, {})
    own = {sku: min(q, raw.get(sku, 0)) for sku, q in ctx.need.items() if raw.get(sku, 0) > 0}
    missing = {sku: q - own.get(sku, 0) for sku, q in ctx.need.items() if q > own.get(sku, 0)}
    shipments: list[Shipment] = []
    cost = CostBreakdown()
    explanation: list[dict[str, object]] = [
        {"kind": OptionKind.CLICK_COLLECT.value, "pickup_location_id": store.location_id},
        {"location_id": store.location_id, "outcome": "pickup", "distance_km": round(km, 1)},
    ]
    if missing:
        transfer = _transfer(ctx, store, missing, stock)
        if transfer is None:
            return None
        ready = first_open_day(
            max(ready, transfer[0].promised_date), store.closed_weekdays, store.holidays_country
        )
        shipments.append(transfer[0])
        cost = cost.plus(transfer[1])
        explanation.append({"location_id": transfer[0].location_id, "outcome": "transfer"})
    if own:
        weight = sum(ctx.weights[sku] * q for sku, q in own.items())
        lines = tuple(sorted(own.items()))
        shipments.insert(0, Shipment(store.location_id, lines, None, ready, ready, 0, 0, weight))
    cost = cost.plus(_counter_cost(ctx, store, own, raw)) if own else cost
    rules = request.rules
    late = max(0, (ready - fastest).days)
    return Plan(
        kind=OptionKind.CLICK_COLLECT,
        option_id=option_id_for(shipments, store.location_id),
        shipments=tuple(shipments),
        cost=cost,
        price=0,
        currency=request.currency,
        promised_date=ready,
        parcels=0,
        explanation=tuple(explanation),
        kinds=(OptionKind.CLICK_COLLECT,),
        pickup_location_id=store.location_id,
        ready_at=ready,
        score=rules.cost_weight * cost.total + rules.speed_weight_per_day * late,
    )


def _rank(item: tuple[date, float, Plan]) -> tuple[date, float, str]:
    return item[0], item[1], item[2].option_id


def click_collect_plans(ctx: Context, *, fastest: date | None) -> list[Plan]:
    """Pick-up options at nearby stores, by ready date then distance (best first)."""
    request = ctx.request
    if not ctx.need:
        return []
    stock = ctx.stock
    excluded = excluded_ids(request)
    found: list[tuple[date, float, Plan]] = []
    near: list[tuple[date, float, int, Location]] = []  # ready without a transfer, km, order
    to, counter = request.ship_to, Capability.CLICK_COLLECT
    lat = to.lat if to.lon is not None else None
    # ``_distance``'s shortcut in degrees, ahead of it (most stores of a network are far)
    degrees = request.rules.click_collect_radius_km * _SLACK / _KM_PER_DEGREE * _SLACK
    for store in request.locations:
        if counter not in store.capabilities:
            continue
        if lat is not None and abs(store.lat - lat) > degrees:
            continue
        if store.location_id in excluded:
            continue
        km = _distance(ctx, store)
        if km is not None:
            near.append((ship_date(store, request.now), km, len(near), store))
    near.sort(key=lambda item: item[:3])
    kept = request.rules.click_collect_max_options
    for ready, km, _, store in near:
        # ``ready`` is the earliest a store can be (a transfer only delays it): once ``kept``
        # plans are found before (ready, km), no store from here on can rank among them
        if 0 < kept <= len(found) and (ready, km) > sorted(found, key=_rank)[kept - 1][:2]:
            break
        plan = _store_plan(ctx, store, km, ready, stock, fastest or ready)
        if plan is not None:
            found.append((plan.promised_date, km, plan))
    found.sort(key=_rank)
    return [plan for _, _, plan in found[: request.rules.click_collect_max_options]]
