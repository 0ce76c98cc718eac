"""A location that may ship part of a request's cart (``context`` builds one per location).

A site holds only what is cheap to know for every location of every request: its usable
stock, rule terms and routes, and ``unit_floor``, a lower bound of its unit costs (``ranking``
ranks sites against it). The rest is computed on first use and then kept as a plain slot, for
the solver's loops (see ``Site``).
"""

from __future__ import annotations

from datetime import date
from math import asin, cos, radians, sin, sqrt
from typing import Any

from chalicelib.domain.geo import EARTH_RADIUS_KM, haversine_km
from chalicelib.domain.network import Location
from chalicelib.domain.sourcing.model import SourcingRequest
from chalicelib.domain.sourcing.routes import Route
from chalicelib.domain.sourcing.terms import road_km


def distance_km(request: SourcingRequest, location: Location) -> float:
    """Distance to the ship-to address; without its coordinates, 0 in the same country."""
    to = request.ship_to
    if to.lat is None or to.lon is None:
        return 0.0 if location.country == to.country else 1000.0
    return haversine_km(to.lat, to.lon, location.lat, location.lon)


class Frame:
    """What sites compute their lazy slots from: the request, the SKU index, the need and
    weights by it, and the distances to the ship-to address (once per location). Kept apart
    from ``Context``, so that a context and its sites form no reference cycle: a request's
    context is freed as soon as it is dropped, not by a garbage collection in a later one."""

    __slots__ = (
        "distances",
        "need_v",
        "origin",
        "request",
        "reward",
        "skus",
        "threshold",
        "weight_v",
    )

    def __init__(
        self, request: SourcingRequest, skus: list[str], need_v: list[int], weight_v: list[int]
    ) -> None:
        self.request, self.skus, self.need_v, self.weight_v = request, skus, need_v, weight_v
        rules = request.rules  # the overstock terms (``terms``)
        self.threshold, self.reward = rules.overstock_units, rules.overstock_reward_per_unit
        self.distances: dict[str, float] = {}  # location id -> km
        self.origin: tuple[float, float] | None = None  # ship-to latitude (radians), cosine

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


_LAZY = frozenset({"overstock_reward", "unit_cost", "stock_v", "unit_v", "cover", "distance_km"})
NONE: dict[str, int] = {}  # the opportunity of every site without network values: never mutated


class Site:
    """A location that may ship part of the cart (equal only to itself).

    ``unit_cost = handling_cost_per_unit - holding_saved_per_unit - overstock_reward +
    opportunity`` per SKU; ``unit_floor`` is at most any of them."""

    __slots__ = (
        "_frame",
        "avail",
        "cover",
        "distance_km",
        "holding_saved_per_unit",
        "location",
        "memo",
        "opportunity",
        "overstock_reward",
        "raw",
        "routes",
        "stock_v",
        "unit_cost",
        "unit_floor",
        "unit_v",
    )
    # computed on first use by ``__getattr__``, then plain slots (the solver's loops read them)
    overstock_reward: dict[str, int]  # reward per unit per SKU that earns one (absent: 0)
    unit_cost: dict[str, int]  # net cost per unit per SKU it has
    stock_v: list[int]  # ``avail`` as a vector indexed like ``Context.skus`` (0 when absent)
    unit_v: list[int]  # ``unit_cost`` as a vector indexed like ``Context.skus`` (0 when absent)
    cover: tuple[int, int, int]  # units, weight and unit cost of what it can send of the cart
    distance_km: float  # to the ship-to address (``Context.distance_km``)

    def __init__(
        self,
        frame: Frame,
        location: Location,
        avail: dict[str, int],
        raw: dict[str, int],
        saved: int,
        rewarded: bool,
        routes: tuple[Route, ...],
        memo: dict[date, dict[int, tuple[Route, int, int] | None]],
        opportunity: dict[str, int],
    ) -> None:
        self.location = location
        self.avail = avail  # usable units per needed SKU (> 0 only); never mutated
        self.raw = raw  # available units before store protection (> 0 only); never mutated
        self.holding_saved_per_unit = saved
        self.routes = routes  # by promise date, then price
        # deadline -> weight -> best route; shared by the sites with the same routes
        self.memo = memo
        self.opportunity = opportunity  # network value per unit per SKU (absent: 0)
        floor = location.handling_cost_per_unit - saved
        if rewarded:  # some SKU of ``avail`` earns the overstock reward
            floor -= frame.reward
        if opportunity:
            floor += min(0, *opportunity.values())
        self.unit_floor = floor
        self._frame = frame  # never the context: see ``Frame``

    def __getattr__(self, name: str) -> Any:
        """The lazy slots (see the class doc), computed and kept on first read."""
        if name not in _LAZY:
            raise AttributeError(name)
        frame = self._frame
        if name == "overstock_reward":
            raw, threshold, reward = self.raw, frame.threshold, frame.reward
            value: Any = {sku: reward for sku in self.avail if raw[sku] > threshold}
        elif name == "unit_cost":
            base = self.location.handling_cost_per_unit - self.holding_saved_per_unit
            over, opp = self.overstock_reward, self.opportunity
            value = {sku: base - over.get(sku, 0) + opp.get(sku, 0) for sku in self.avail}
        elif name == "stock_v":
            value = [self.avail.get(sku, 0) for sku in frame.skus]
        elif name == "unit_v":
            value = [self.unit_cost.get(sku, 0) for sku in frame.skus]
        elif name == "cover":
            value = self._cover(frame)
        else:
            value = frame.distance_km(self.location)
        setattr(self, name, value)
        return value

    def _cover(self, frame: Frame) -> tuple[int, int, int]:
        units = weight = cost = 0
        avail, unit = self.avail, self.unit_cost
        for sku, wanted, unit_weight in zip(frame.skus, frame.need_v, frame.weight_v, strict=True):
            have = avail.get(sku, 0)
            if have:
                take = wanted if wanted < have else have
                units, weight = units + take, weight + unit_weight * take
                cost += unit[sku] * take
        return units, weight, cost

    @property
    def location_id(self) -> str:
        return self.location.location_id

    @property
    def earliest(self) -> date:
        return self.routes[0].promise

    @property
    def road_km(self) -> float:
        return road_km(self._frame.request.rules, self.distance_km)

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
