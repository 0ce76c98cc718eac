"""The routes of a location to the ship-to address: carrier service, price bands in the order's
currency, ship date and promised date; with the distance and CO2e prices when the rules price
them (``PricedRoute``, one site's own routes). Sites with the same country and calendar share
one routes tuple and one memo of their best route per deadline and weight.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from chalicelib.domain.calendar import delivery_date, ship_date, transit_days
from chalicelib.domain.network import CarrierService, Location, Speed
from chalicelib.domain.rules import SourcingRules
from chalicelib.domain.sourcing.model import SourcingRequest
from chalicelib.domain.sourcing.terms import co2e_factor


@dataclass(frozen=True, slots=True)
class Route:
    """One way to send parcels from a location to the ship-to address."""

    service_id: str
    bands: tuple[tuple[int, int], ...]  # (max_weight_g, price per parcel), ascending weight
    ship_date: date
    promise: date
    co2e_factor: float = 0.0  # kg CO2e per tonne-km of its service (``terms.co2e_factor``)

    def extras(self, weight_g: int, parcels: int) -> tuple[int, int]:
        """(distance cost, CO2e cost) of sending ``weight_g`` in ``parcels``: none unpriced."""
        return 0, 0

    def price(self, weight_g: int) -> tuple[int, int]:
        """(parcels, price): full top-band parcels plus one parcel for the remainder; the
        carrier's price (plus ``extras`` for a ``PricedRoute``)."""
        top_weight, top_price = self.bands[-1]
        if weight_g <= top_weight:  # one parcel: the usual case
            for max_weight, band_price in self.bands:
                if weight_g <= max_weight:
                    return 1, band_price
        extra = max(0, (weight_g - 1) // top_weight)
        rest = weight_g - extra * top_weight
        for max_weight, band_price in self.bands:
            if rest <= max_weight:
                return extra + 1, extra * top_price + band_price
        return extra + 1, (extra + 1) * top_price  # unreachable: rest <= top_weight


@dataclass(frozen=True, slots=True)
class PricedRoute(Route):
    """A route of one site when the rules price distance or CO2e: ``price`` adds them, so the
    solver weighs them like the carrier's price (``terms.prices_distance``)."""

    per_parcel: int = 0  # distance cost of one parcel
    co2e_per_g: float = 0.0  # CO2e cost per gram sent

    def price(self, weight_g: int) -> tuple[int, int]:
        parcels, price = Route.price(self, weight_g)
        distance, co2e = self.extras(weight_g, parcels)
        return parcels, price + distance + co2e

    def extras(self, weight_g: int, parcels: int) -> tuple[int, int]:
        return self.per_parcel * parcels, round(weight_g * self.co2e_per_g)


RouteMemo = dict[tuple[object, ...], Any]  # calendar profile -> (routes, best-route memo)


def calendar_key(location: Location) -> tuple[object, ...]:
    """What a location's routes depend on besides the request: its country and calendar."""
    return (
        location.country,
        location.timezone,
        location.cutoff_time,
        location.processing_days,
        location.closed_weekdays,
        location.holidays_country,
    )


def routes_of(
    request: SourcingRequest, location: Location, key: tuple[object, ...], memo: RouteMemo
) -> tuple[tuple[Route, ...], dict[Any, Any]]:
    """The location's routes and the memo of their best route by weight and deadline;
    locations with the same ``calendar_key`` (``key``) share both."""
    if key not in memo:
        lanes = memo.get((location.country,))
        if lanes is None:
            lanes = memo[(location.country,)] = _lanes(request, location.country)
        memo[key] = (_compute_routes(request, location, lanes), {})
    found: tuple[tuple[Route, ...], dict[Any, Any]] = memo[key]
    return found


Lanes = list[tuple[CarrierService, tuple[tuple[int, int], ...], int, float]]


def _lanes(request: SourcingRequest, country: str) -> Lanes:
    """(service, price bands in the order's currency, transit days, CO2e factor) of every lane
    from ``country`` to the ship-to address that the request may use, in service order."""
    to, currency = request.ship_to, request.currency
    found: Lanes = []
    for service in request.carrier_services:
        if service.speed is Speed.TRANSFER or (
            service.speed is Speed.EXPRESS and not request.rules.allow_express
        ):
            continue
        for lane in service.lanes:
            if lane.from_country != country or lane.to_country != to.country:
                continue
            bands = tuple(
                (band.max_weight_g, band.price[currency])
                for band in lane.bands
                if currency in band.price
            )
            if bands:
                factor = co2e_factor(request.rules, service)
                found.append((service, bands, transit_days(service, lane, to), factor))
    return found


def _compute_routes(
    request: SourcingRequest, location: Location, lanes: Lanes
) -> tuple[Route, ...]:
    """The routes of ``location`` by its ``lanes``: ship date by its calendar, then transit."""
    routes: list[Route] = []
    shipped: dict[str, date] = {}  # per service: every lane of a service ships the same day
    for service, bands, days, factor in lanes:
        day = shipped.get(service.service_id)
        if day is None:
            shift = service.order_cutoff_shift_hours
            day = shipped[service.service_id] = ship_date(
                location, request.now, cutoff_shift_hours=shift
            )
        promise = delivery_date(day, days, request.ship_to.country)
        routes.append(Route(service.service_id, bands, day, promise, factor))
    routes.sort(key=lambda r: (r.promise, r.bands[0][1]))
    return tuple(routes)


def priced_routes(rules: SourcingRules, routes: tuple[Route, ...], km: float) -> tuple[Route, ...]:
    """``routes`` of a site ``km`` road km away, with its distance and CO2e prices."""
    per_parcel = round(rules.cost_per_parcel_km * km)
    per_kg = rules.co2e_cost_per_kg
    priced = [
        PricedRoute(
            r.service_id,
            r.bands,
            r.ship_date,
            r.promise,
            r.co2e_factor,
            per_parcel=per_parcel,
            co2e_per_g=km * r.co2e_factor / 1_000_000 * per_kg,
        )
        for r in routes
    ]
    priced.sort(key=lambda r: (r.promise, r.price(1)[1]))
    return tuple(priced)
