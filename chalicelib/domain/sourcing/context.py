"""Per-request preparation for sourcing: which locations can ship what, when and at what cost.

Everything that does not depend on the split is prepared once per request: for every location
that could ship part of the cart, the usable stock per SKU (after store protection), its rule
terms (``terms``) and its *routes* (``routes``: carrier service, price bands in the order's
currency, ship date and promised date; with their distance and CO2e prices when the rules price
them). Locations that can't help are recorded with the reason, for the explanation.

This runs for every location of every request, so a ``Site`` is built with only what is cheap;
what the solver needs of the few sites it actually costs (unit costs, the vectors indexed like
``Context.skus``, its ``cover`` of the cart, the distance to the ship-to address) is computed on
first use. Sites with the same routes are summed per routes tuple (``Context.groups``: the
shortages, and which stock a deadline admits, without visiting every site). Lanes are filtered
once per origin country, and sites with the same country and calendar share one routes tuple
and one memo of their best route per deadline and weight.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from chalicelib.domain.freshness import Freshness
from chalicelib.domain.network import Capability, Location, LocationType
from chalicelib.domain.network_value import NetworkValues
from chalicelib.domain.sourcing.model import CostBreakdown, Shipment, SourcingRequest
from chalicelib.domain.sourcing.routes import (
    PricedRoute,
    Route,
    RouteMemo,
    calendar_key,
    priced_routes,
    routes_of,
)
from chalicelib.domain.sourcing.site import NONE, Frame, Site, distance_km
from chalicelib.domain.sourcing.stock import (
    excluded_ids,
    merged_need,
    stale_feeds,
    stock_by_location,
)
from chalicelib.domain.sourcing.terms import (
    co2e_grams,
    item_value_floor,
    prices_distance,
    road_km,
)

__all__ = [
    "NO_DEADLINE",
    "Context",
    "PricedRoute",
    "Route",
    "Site",
    "build_context",
    "excluded_ids",
    "opportunity",
]

NO_DEADLINE = date.max


@dataclass(slots=True)
class Context:
    request: SourcingRequest
    need: dict[str, int]
    weights: dict[str, int]
    sites: list[Site]
    skus: list[str]  # the needed SKUs: the index of the sites' and the solver's vectors
    weight_v: list[int]  # weight per unit, indexed like ``skus``
    stock: dict[str, dict[str, int]]  # available (before store protection) per location, SKU
    need_v: list[int] = field(default_factory=list)  # ``need`` indexed like ``skus``
    # per routes tuple the sites share (``id``): the routes and the sites' summed usable stock
    groups: dict[int, tuple[tuple[Route, ...], dict[str, int]]] = field(default_factory=dict)
    rejected: dict[str, list[str]] = field(default_factory=dict)  # reason -> location ids
    shortages: dict[str, int] = field(default_factory=dict)
    memo: dict[tuple[Any, ...], Any] = field(default_factory=dict)  # the solver's cache
    stale: dict[str, Freshness] = field(default_factory=dict)  # stale feeds by location id
    network: dict[str, str] = field(default_factory=dict)  # network_aware: status per SKU
    # network_aware: the fresh values, SKU -> location id -> opportunity cost of a unit
    values: dict[str, Mapping[str, int]] = field(default_factory=dict)
    frame: Frame | None = None  # what the sites compute their lazy slots from (``site``)

    def distance_km(self, location: Location) -> float:
        """Distance of ``location`` to the ship-to address, computed once per request."""
        assert self.frame is not None  # set by ``build_context``
        return self.frame.distance_km(location)

    def measure_sites(self) -> None:
        """Sets every site's ``distance_km`` at once (the explanation and the nearest baseline
        rank all of them), without the first-use path of each."""
        if self.memo.get(("measured",)):
            return
        distance = self.distance_km
        for site in self.sites:
            site.distance_km = distance(site.location)
        self.memo[("measured",)] = True

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
            rule_rewards=sum(site.overstock_reward.get(sku, 0) * qty for sku, qty in lines.items()),
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


def opportunity(ctx: Context, location_id: str, lines: Mapping[str, int]) -> int:
    """What taking ``lines`` from ``location_id`` costs the network (``rules.network_aware``;
    0 without fresh values)."""
    values = ctx.values
    if not values:
        return 0
    return sum(values.get(sku, {}).get(location_id, 0) * qty for sku, qty in lines.items())


_STORE = LocationType.STORE  # read once: an enum member's class lookup is not free


class _Sites:
    """Builds the site of each location of one request, with the rules' numbers read once."""

    def __init__(self, ctx: Context, values: dict[str, Mapping[str, int]]) -> None:
        self.ctx, self.values = ctx, values
        assert ctx.frame is not None
        self.frame = ctx.frame
        self.request = ctx.request
        self.rules = rules = ctx.request.rules
        self.protect = rules.store_protection_units  # ``terms`` (store protection)
        self.threshold, self.reward = rules.overstock_units, rules.overstock_reward_per_unit
        self.horizon = rules.holding_horizon_days
        self.floors = bool(rules.min_item_value_by_location)
        self.priced = prices_distance(rules)
        self.memo: RouteMemo = {}

    def site(self, location: Location, raw: dict[str, int]) -> Site | str:
        """The site of ``location``, or why it can't ship (its stock before store protection
        is ``raw``: units > 0 only, not empty). Cheap: it runs for every location of every
        request, so the terms of ``terms`` are inlined."""
        request, rules = self.request, self.rules
        if self.floors:
            floor = item_value_floor(rules, location, request.currency)
            if floor:
                raw = {sku: q for sku, q in raw.items() if _unit_value(request, sku) >= floor}
                if not raw:
                    return "item_value_rule"
        protect = self.protect if location.type is _STORE else 0
        if protect:  # a store keeps its last ``protect`` units of every SKU
            usable = {}
            for sku, q in raw.items():  # a loop: cheaper than a comprehension's call
                if q > protect:
                    usable[sku] = q - protect
            if not usable:
                return "store_protection"
        else:
            usable = raw  # never mutated
        # whether some usable SKU earns the overstock reward (``Site.overstock_reward``)
        rewarded = self.reward > 0 and max(raw.values()) > max(self.threshold, protect)
        key = calendar_key(location)
        routes, best = self.memo.get(key) or routes_of(request, location, key, self.memo)
        if not routes:
            return "no_lane"
        if self.priced:
            km = road_km(rules, distance_km(request, location))
            routes, best = priced_routes(rules, routes, km), {}
        opportunity = NONE
        if self.values:
            lid = location.location_id
            opportunity = {}
            for sku in usable:
                value = self.values.get(sku, {}).get(lid, 0)
                if value:
                    opportunity[sku] = value
        saved = location.holding_cost_per_unit_day * self.horizon  # ``terms.holding_saved``
        return Site(self.frame, location, usable, raw, saved, rewarded, routes, best, opportunity)


def _unit_value(request: SourcingRequest, sku: str) -> int:
    """The unit price of ``sku`` in the order (``unit_prices``, else the product's price)."""
    if request.unit_prices and sku in request.unit_prices:
        return request.unit_prices[sku]
    product = request.products.get(sku)
    return product.prices.get(request.currency, 0) if product else 0


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
    ctx.need_v = [need[sku] for sku in skus]
    ctx.frame = Frame(request, skus, ctx.need_v, ctx.weight_v)
    fresh_values: dict[str, Mapping[str, int]] = {}
    if request.rules.network_aware:
        values = request.network_values or NetworkValues()
        fresh_values, ctx.network = values.usable(skus, request.now)
        ctx.values = fresh_values
    site_of = _Sites(ctx, fresh_values).site
    rejected, groups, sites, ship = ctx.rejected, ctx.groups, ctx.sites, Capability.SHIP
    for location in request.locations:  # every location of every request: kept tight
        lid = location.location_id
        if lid in excluded:
            reason = "excluded"
        elif stale and lid in stale and stale[lid].skipped:
            reason = "stale_feed"
        elif ship not in location.capabilities:
            reason = "lacks_capability"
        else:
            raw = stock.get(lid)
            found = site_of(location, raw) if raw else "no_stock"
            if isinstance(found, str):
                reason = found
            else:
                site = found
                sites.append(site)
                group = groups.get(id(site.routes))
                if group is None:
                    groups[id(site.routes)] = (site.routes, dict(site.avail))
                else:
                    summed = group[1]
                    for sku, qty in site.avail.items():
                        summed[sku] = summed.get(sku, 0) + qty
                continue
        if reason in rejected:
            rejected[reason].append(lid)
        else:
            rejected[reason] = [lid]
    short = dict(need)
    for _, summed in groups.values():
        for sku, qty in summed.items():
            short[sku] -= qty
    ctx.shortages.update((sku, qty) for sku, qty in short.items() if qty > 0)
    return ctx
