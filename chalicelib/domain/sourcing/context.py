"""Per-request preparation for sourcing: which locations can ship what, when and at what cost.

Everything that does not depend on the split is computed once per request: for every location
that could ship part of the cart, the usable stock per SKU (after store protection), the net
cost per unit (handling - holding saved - overstock reward; the rule terms are ``terms``) and its
*routes* (``routes``: carrier service, price bands in the order's currency, ship date and
promised date; with their distance and CO2e prices when the rules price them).
Locations that can't help are recorded with the reason, for the explanation.

For the solver's tight loops a site also carries its stock and unit costs as vectors indexed like
``Context.skus``, and what it could send of the whole cart (``cover``). Lanes are filtered once per
origin country, and sites with the same country and calendar share one routes tuple and one
memo of their best route per deadline and weight.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from math import asin, cos, radians, sin, sqrt
from typing import Any

from chalicelib.domain.freshness import Freshness, freshness
from chalicelib.domain.geo import EARTH_RADIUS_KM, haversine_km
from chalicelib.domain.network import Capability, Location
from chalicelib.domain.network_value import NetworkValues
from chalicelib.domain.sourcing.model import CostBreakdown, Shipment, SourcingRequest
from chalicelib.domain.sourcing.routes import (
    PricedRoute,
    Route,
    RouteMemo,
    priced_routes,
    routes_of,
)
from chalicelib.domain.sourcing.terms import (
    co2e_grams,
    item_value_floor,
    prices_distance,
    road_km,
    site_terms,
)

__all__ = ["NO_DEADLINE", "Context", "PricedRoute", "Route", "Site", "build_context"]

NO_DEADLINE = date.max


@dataclass(slots=True, eq=False, kw_only=True)
class Site:
    """A location that may ship part of the cart (equal only to itself); built with keywords.

    Its rule terms (``terms``) are priced once: ``unit_cost = handling_cost_per_unit -
    holding_saved_per_unit - overstock_reward``."""

    location: Location
    avail: dict[str, int]  # usable units per needed SKU (> 0 only)
    unit_cost: dict[str, int]  # net cost per unit per SKU
    holding_saved_per_unit: int
    overstock_reward: dict[str, int]  # reward per unit per SKU (0 when not overstocked)
    routes: tuple[Route, ...]  # by promise date, then price
    distance_km: float  # to the ship-to address; set by ``build_context`` (once per request)
    road_km: float  # ``terms.road_km`` of it; set with it
    stock_v: list[int]  # ``avail`` as a vector indexed like ``Context.skus`` (0 when absent)
    unit_v: list[int]  # ``unit_cost`` as a vector indexed like ``Context.skus``
    cover: tuple[int, int, int]  # units, weight and unit cost of what it can send of the cart
    # deadline -> weight -> best route; shared by the sites with the same routes
    memo: dict[date, dict[int, tuple[Route, int, int] | None]] = field(default_factory=dict)
    opportunity: dict[str, int] = field(default_factory=dict)  # network value per unit per SKU

    @property
    def location_id(self) -> str:
        return self.location.location_id

    @property
    def earliest(self) -> date:
        return self.routes[0].promise

    def best_route(self, weight_g: int, deadline: date) -> tuple[Route, int, int] | None:
        """The cheapest route promising by ``deadline``: (route, parcels, price)."""
        by_weight = self.memo.get(deadline)
        if by_weight is None:
            by_weight = self.memo[deadline] = {}
        if weight_g in by_weight:
            return by_weight[weight_g]
        found = by_weight[weight_g] = self._best_route(weight_g, deadline)
        return found

    def _best_route(self, weight_g: int, deadline: date) -> tuple[Route, int, int] | None:
        best: tuple[Route, int, int] | None = None
        for route in self.routes:
            if route.promise > deadline:
                break
            parcels, price = route.price(weight_g)
            if best is None or price < best[2]:
                best = (route, parcels, price)
        return best


@dataclass(slots=True)
class Context:
    request: SourcingRequest
    need: dict[str, int]
    weights: dict[str, int]
    sites: list[Site]
    skus: list[str]  # the needed SKUs: the index of the sites' and the solver's vectors
    weight_v: list[int]  # weight per unit, indexed like ``skus``
    stock: dict[str, dict[str, int]]  # available (before store protection) per location, SKU
    rejected: dict[str, list[str]] = field(default_factory=dict)  # reason -> location ids
    shortages: dict[str, int] = field(default_factory=dict)
    memo: dict[tuple[Any, ...], Any] = field(default_factory=dict)  # the solver's cache
    distances: dict[str, float] = field(default_factory=dict)  # location id -> km
    origin: tuple[float, float] | None = None  # ship-to latitude in radians, and its cosine
    stale: dict[str, Freshness] = field(default_factory=dict)  # stale feeds by location id
    network: dict[str, str] = field(default_factory=dict)  # network_aware: status per SKU

    def distance_km(self, location: Location) -> float:
        """Distance of ``location`` to the ship-to address, computed once per request."""
        km = self.distances.get(location.location_id)
        if km is None:
            km = self.distances[location.location_id] = self._distance(location)
        return km

    def _distance(self, location: Location) -> float:
        """``distance_km`` with the ship-to address's trigonometry computed once."""
        to = self.request.ship_to
        if to.lat is None or to.lon is None:
            return distance_km(self.request, location)
        if self.origin is None:
            self.origin = (radians(to.lat), cos(radians(to.lat)))
        phi1, cos1 = self.origin
        phi2 = radians(location.lat)
        dlambda = radians(location.lon - to.lon)
        a = sin((phi2 - phi1) / 2) ** 2 + cos1 * cos(phi2) * sin(dlambda / 2) ** 2
        return 2 * EARTH_RADIUS_KM * asin(min(1.0, sqrt(a)))

    def shipment(
        self, site: Site, lines: dict[str, int], deadline: date
    ) -> tuple[Shipment, CostBreakdown] | None:
        """The shipment of ``lines`` from ``site`` by its cheapest route within ``deadline``."""
        weight = sum(self.weights[sku] * qty for sku, qty in lines.items())
        best = site.best_route(weight, deadline)
        if best is None:
            return None
        route, parcels, price = best
        distance, co2e = route.extras(weight, parcels)
        price -= distance + co2e  # what the carrier charges
        units = sum(lines.values())
        loc = site.location
        cost = CostBreakdown(
            shipping=price,
            handling=loc.handling_cost_per_order + loc.handling_cost_per_unit * units,
            holding_saved=site.holding_saved_per_unit * units,
            rule_rewards=sum(site.overstock_reward[sku] * qty for sku, qty in lines.items()),
            distance=distance,
            co2e=co2e,
            co2e_g=co2e_grams(route.co2e_factor, site.road_km, weight),
            opportunity=sum(site.opportunity.get(sku, 0) * qty for sku, qty in lines.items()),
        )
        shipment = Shipment(
            location_id=site.location_id,
            lines=tuple(sorted(lines.items())),
            carrier_service=route.service_id,
            ship_date=route.ship_date,
            promised_date=route.promise,
            parcels=parcels,
            parcel_price=price,
            weight_g=weight,
        )
        return shipment, cost


def merged_need(request: SourcingRequest) -> dict[str, int]:
    need: dict[str, int] = {}
    for line in request.lines:
        if line.quantity > 0:
            need[line.sku] = need.get(line.sku, 0) + line.quantity
    return need


def stale_feeds(request: SourcingRequest) -> dict[str, Freshness]:
    """The locations whose stock feed is stale at ``request.now`` (``domain.freshness``)."""
    found: dict[str, Freshness] = {}
    for loc in request.locations:
        if loc.feed_interval_minutes:
            fresh = freshness(
                loc.feed_interval_minutes, loc.feed_stale_limit_minutes, loc.feed_at, request.now
            )
            if fresh.stale:
                found[loc.location_id] = fresh
    return found


def stock_by_location(
    request: SourcingRequest,
    need: dict[str, int],
    stale: dict[str, Freshness] | None = None,
) -> dict[str, dict[str, int]]:
    """Sellable units per location per needed SKU (never negative; a stale feed discounted)."""
    stock: dict[str, dict[str, int]] = {}
    stale = stale or {}
    for level in request.stock:
        sku = level.sku
        if sku in need:
            if level.location_id in stale:
                into = stock.setdefault(level.location_id, {})
                into[sku] = into.get(sku, 0) + stale[level.location_id].sellable(level.available)
                continue
            at = stock.get(level.location_id)
            if at is None:
                at = stock[level.location_id] = {}
            available = level.available
            at[sku] = at.get(sku, 0) + (available if available > 0 else 0)
    return stock


def excluded_ids(request: SourcingRequest) -> frozenset[str]:
    return request.rules.excluded_for(request.channel) | request.excluded_location_ids


def distance_km(request: SourcingRequest, location: Location) -> float:
    """Distance to the ship-to address; without its coordinates, 0 in the same country."""
    to = request.ship_to
    if to.lat is None or to.lon is None:
        return 0.0 if location.country == to.country else 1000.0
    return haversine_km(to.lat, to.lon, location.lat, location.lon)


def _site(
    request: SourcingRequest,
    location: Location,
    raw: dict[str, int],
    memo: RouteMemo,
    vectors: tuple[list[str], list[int], list[int]],
) -> Site | str:
    """The site of ``location``, or why it can't ship (its stock before store protection is
    ``raw``, not empty)."""
    rules = request.rules
    if rules.min_item_value_by_location:
        floor = item_value_floor(rules, location, request.currency)
        if floor:
            raw = {sku: q for sku, q in raw.items() if _unit_value(request, sku) >= floor}
            if not raw:
                return "item_value_rule"
    usable, over, saved = site_terms(rules, location, raw)
    if not usable:
        return "store_protection" if any(raw.values()) else "no_stock"
    routes, best = routes_of(request, location, memo)
    if not routes:
        return "no_lane"
    km = 0.0
    if prices_distance(rules):
        km = road_km(rules, distance_km(request, location))
        routes, best = priced_routes(rules, routes, km), {}
    base = location.handling_cost_per_unit - saved
    skus, need_v, weight_v = vectors
    unit_cost: dict[str, int] = {}
    stock_v: list[int] = []
    unit_v: list[int] = []
    units = weight = cost = 0  # what the site can send of the whole cart
    for sku, wanted, unit_weight in zip(skus, need_v, weight_v, strict=True):
        have = usable.get(sku, 0)
        stock_v.append(have)
        if have:
            unit = unit_cost[sku] = base - over[sku]
            take = wanted if wanted < have else have
            units, weight = units + take, weight + unit_weight * take
            cost += unit * take
            unit_v.append(unit)
        else:
            unit_v.append(0)
    return Site(
        location=location,
        avail=usable,
        unit_cost=unit_cost,
        holding_saved_per_unit=saved,
        overstock_reward=over,
        routes=routes,
        distance_km=0.0,  # ``build_context`` sets it for the sites it keeps
        road_km=km,
        stock_v=stock_v,
        unit_v=unit_v,
        cover=(units, weight, cost),
        memo=best,
    )


def _unit_value(request: SourcingRequest, sku: str) -> int:
    """The unit price of ``sku`` in the order (``unit_prices``, else the product's price)."""
    if request.unit_prices and sku in request.unit_prices:
        return request.unit_prices[sku]
    product = request.products.get(sku)
    return product.prices.get(request.currency, 0) if product else 0


def _add_opportunity(site: Site, values: dict[str, Mapping[str, int]], ctx: Context) -> None:
    """Adds the network value of a unit at ``site`` (``domain.network_value``) to its unit
    costs, so the solver weighs it like any other cost (``rules.network_aware``)."""
    units, weight, cost = site.cover
    loc = site.location_id
    for j, sku in enumerate(ctx.skus):
        value = values.get(sku, {}).get(loc, 0)
        if value and sku in site.unit_cost:
            site.opportunity[sku] = value
            site.unit_cost[sku] += value
            site.unit_v[j] += value
            cost += value * min(ctx.need[sku], site.avail[sku])
    site.cover = (units, weight, cost)


def build_context(request: SourcingRequest) -> Context:
    """Sites that may ship, rejected locations by reason, and shortages of the whole network."""
    need = merged_need(request)
    weights = {
        sku: request.products[sku].weight_g if sku in request.products else 0 for sku in need
    }
    stale = stale_feeds(request)
    stock = stock_by_location(request, need, stale)
    excluded = excluded_ids(request)
    skus = list(need)
    ctx = Context(
        request=request,
        need=need,
        weights=weights,
        sites=[],
        skus=skus,
        weight_v=[weights[sku] for sku in skus],
        stock=stock,
        stale=stale,
    )
    fresh_values: dict[str, Mapping[str, int]] = {}
    if request.rules.network_aware:
        values = request.network_values or NetworkValues()
        fresh_values, ctx.network = values.usable(skus, request.now)
    memo: RouteMemo = {}
    vectors = (skus, [need[sku] for sku in skus], ctx.weight_v)
    for location in request.locations:
        raw = stock.get(location.location_id)
        if location.location_id in excluded:
            found: Site | str = "excluded"
        elif location.location_id in stale and stale[location.location_id].skipped:
            found = "stale_feed"
        elif Capability.SHIP not in location.capabilities:
            found = "lacks_capability"
        else:
            found = _site(request, location, raw, memo, vectors) if raw else "no_stock"
        if isinstance(found, str):
            ctx.rejected.setdefault(found, []).append(location.location_id)
        else:
            if fresh_values:
                _add_opportunity(found, fresh_values, ctx)
            found.distance_km = ctx.distance_km(location)
            found.road_km = road_km(request.rules, found.distance_km)
            ctx.sites.append(found)
    short = dict(need)
    for site in ctx.sites:
        for sku, qty in site.avail.items():
            short[sku] -= qty
    ctx.shortages.update((sku, qty) for sku, qty in short.items() if qty > 0)
    return ctx
