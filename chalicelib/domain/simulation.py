"""Rule simulation: replay recorded orders' sourcing inputs under two rule sets and compare.

A :class:`SimInput` is what an order's sourcing saw at capture (cart, ship-to, delivery kind,
the stock levels of the cart's SKUs); :func:`replay` sources it again with other rules and
:class:`Tally` adds the outcomes up under the current (``"current"``) and the candidate
(``"candidate"``) rules, as JSON-safe state that a job can store between steps.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from chalicelib.domain.channel import BackorderPolicy, Channel
from chalicelib.domain.geo import haversine_km
from chalicelib.domain.network import (
    Address,
    CarrierService,
    CartLine,
    Location,
    Product,
    StockLevel,
)
from chalicelib.domain.rules import SourcingRules
from chalicelib.domain.sourcing import OptionKind, Plan, SourcingRequest, plan

MAX_STOCK_LOCATIONS = 40  # the nearest locations holding the cart's SKUs that a record keeps
MAX_PERIOD_DAYS = 31
TOP_DELTAS = 100  # per-order deltas kept, by |cost delta|
SIDES = ("current", "candidate")


@dataclass(frozen=True, slots=True)
class SimInput:
    """An order's sourcing inputs. ``stock`` holds (location_id, sku, available) triples."""

    order_id: str
    channel: str
    currency: str
    ship_to: Address
    lines: tuple[tuple[str, int, int | None], ...]  # sku, quantity, unit price
    kind: str | None  # the delivery kind chosen at capture (None: all backordered)
    pickup_location_id: str | None
    stock: tuple[tuple[str, str, int], ...]
    created_at: datetime
    promised_date: str | None = None  # what the order was promised at capture

    def as_doc(self) -> dict[str, Any]:
        """Compact JSON-safe form (short keys: it is stored for every order)."""
        address = {
            k: v
            for k, v in (
                ("country", self.ship_to.country),
                ("postal_code", self.ship_to.postal_code),
                ("city", self.ship_to.city),
                ("lat", self.ship_to.lat),
                ("lon", self.ship_to.lon),
            )
            if v is not None
        }
        return {
            "o": self.order_id,
            "ch": self.channel,
            "cu": self.currency,
            "to": address,
            "l": [list(line) for line in self.lines],
            "k": self.kind,
            "pu": self.pickup_location_id,
            "s": [list(level) for level in self.stock],
            "at": self.created_at.isoformat(),
            "pd": self.promised_date,
        }

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> SimInput:
        to = doc["to"]
        return cls(
            order_id=str(doc["o"]),
            channel=str(doc["ch"]),
            currency=str(doc["cu"]),
            ship_to=Address(
                country=to["country"],
                postal_code=to.get("postal_code", ""),
                city=to.get("city"),
                lat=to.get("lat"),
                lon=to.get("lon"),
            ),
            lines=tuple((str(s), int(q), None if p is None else int(p)) for s, q, p in doc["l"]),
            kind=doc.get("k"),
            pickup_location_id=doc.get("pu"),
            stock=tuple((str(loc), str(sku), int(n)) for loc, sku, n in doc["s"]),
            created_at=datetime.fromisoformat(doc["at"]),
            promised_date=doc.get("pd"),
        )


def stock_seen(
    stock: Sequence[StockLevel],
    skus: Sequence[str],
    ship_to: Address,
    locations: Sequence[Location],
    cap: int = MAX_STOCK_LOCATIONS,
) -> tuple[tuple[str, str, int], ...]:
    """The levels worth replaying: the cart's SKUs at locations holding any, the ``cap``
    nearest of those (by id without coordinates)."""
    wanted = set(skus)
    rows = [s for s in stock if s.sku in wanted and s.available > 0]
    holders = sorted({s.location_id for s in rows})
    if len(holders) > cap:
        where = {loc.location_id: loc for loc in locations}

        def distance(location_id: str) -> float:
            loc = where.get(location_id)
            if loc is None or ship_to.lat is None or ship_to.lon is None:
                return float("inf")
            return haversine_km(ship_to.lat, ship_to.lon, loc.lat, loc.lon)

        holders = sorted(holders, key=lambda i: (distance(i), i))[:cap]
    kept = set(holders)
    return tuple(sorted((s.location_id, s.sku, s.available) for s in rows if s.location_id in kept))


@dataclass(frozen=True, slots=True)
class Network:
    """The master data a replay runs on (today's: products, locations and carriers)."""

    locations: Sequence[Location]
    carrier_services: Sequence[CarrierService]
    products: Mapping[str, Product]
    channels: Mapping[str, Channel]


@dataclass(frozen=True, slots=True)
class Outcome:
    """One order sourced under one rule set (``plan`` None: no option of its kind)."""

    cost: int = 0  # cost to serve: shipping + handling
    margin: int | None = None
    promise_days: int = 0
    parcels: int = 0
    on_time: bool = False  # promised no later than at capture
    volumes: tuple[tuple[str, int, int], ...] = ()  # location_id, units, parcels
    placed: bool = False


def replay(inp: SimInput, rules: SourcingRules, network: Network) -> Outcome:
    """Source ``inp`` again under ``rules``; the option of the kind chosen at capture (the
    first option when that kind is gone)."""
    channel = network.channels.get(inp.channel)
    backorder = channel is not None and channel.backorder_policy == BackorderPolicy.BACKORDER
    request = SourcingRequest(
        lines=[CartLine(sku, q) for sku, q, _ in inp.lines],
        ship_to=inp.ship_to,
        stock=[StockLevel(sku, loc, on_hand=n) for loc, sku, n in inp.stock],
        locations=network.locations,
        carrier_services=network.carrier_services,
        products={s: p for s, _, _ in inp.lines if (p := network.products.get(s))},
        now=inp.created_at,
        rules=rules,
        channel=inp.channel,
        currency=inp.currency,
        unit_prices={s: p for s, _, p in inp.lines if p is not None} or None,
        excluded_location_ids=channel.excluded_locations if channel else frozenset(),
        allow_partial=backorder,
    )
    result = plan(request)
    chosen = _choose(result.options, inp.kind, inp.pickup_location_id)
    if chosen is None:
        return Outcome()
    volumes: dict[str, list[int]] = {}
    for shipment in chosen.shipments:
        v = volumes.setdefault(shipment.location_id, [0, 0])
        v[0] += shipment.units
        v[1] += shipment.parcels
    promised = chosen.promised_date
    return Outcome(
        cost=chosen.cost.cost_to_serve,
        margin=(chosen.margin or {}).get("margin"),
        promise_days=(promised - inp.created_at.date()).days,
        parcels=chosen.parcels,
        on_time=inp.promised_date is None or promised <= date.fromisoformat(inp.promised_date),
        volumes=tuple((loc, u, p) for loc, (u, p) in sorted(volumes.items())),
        placed=True,
    )


def _choose(options: Sequence[Plan], kind: str | None, pickup: str | None) -> Plan | None:
    if kind is not None and kind in OptionKind._value2member_map_:
        wanted = OptionKind(kind)
        for p in options:
            if wanted in p.kinds and (pickup is None or p.pickup_location_id == pickup):
                return p
    shipping = [p for p in options if p.pickup_location_id is None]
    return next(iter(shipping or options), None)


def _side() -> dict[str, Any]:
    return {
        "orders": 0,
        "unplaceable": 0,
        "cost_to_serve": 0,
        "margin": 0,
        "margin_orders": 0,
        "promise_days": 0,
        "on_time": 0,
        "split_orders": 0,
        "parcels": 0,
        "locations": {},  # location_id -> {"units", "parcels"}
    }


@dataclass
class Tally:
    """What a simulation has added up so far; ``as_doc``/``from_doc`` carry it between steps."""

    replayed: int = 0
    not_replayable: int = 0
    sides: dict[str, dict[str, Any]] = field(default_factory=lambda: {s: _side() for s in SIDES})
    deltas: list[dict[str, Any]] = field(default_factory=list)

    def add(self, order_id: str, current: Outcome, candidate: Outcome) -> None:
        self.replayed += 1
        for name, outcome in zip(SIDES, (current, candidate), strict=True):
            side = self.sides[name]
            if not outcome.placed:
                side["unplaceable"] += 1
                continue
            side["orders"] += 1
            side["cost_to_serve"] += outcome.cost
            if outcome.margin is not None:
                side["margin"] += outcome.margin
                side["margin_orders"] += 1
            side["promise_days"] += outcome.promise_days
            side["on_time"] += int(outcome.on_time)
            side["split_orders"] += int(outcome.parcels > 1)
            side["parcels"] += outcome.parcels
            for loc, units, parcels in outcome.volumes:
                v = side["locations"].setdefault(loc, {"units": 0, "parcels": 0})
                v["units"] += units
                v["parcels"] += parcels
        delta = order_delta(order_id, current, candidate)
        if delta["changed"]:
            self.deltas.append(delta)
            self.deltas.sort(key=lambda d: (-abs(d["cost"]), d["order_id"]))
            del self.deltas[TOP_DELTAS:]

    def as_doc(self) -> dict[str, Any]:
        return {
            "replayed": self.replayed,
            "not_replayable": self.not_replayable,
            "sides": self.sides,
            "deltas": self.deltas,
        }

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any] | None) -> Tally:
        if not doc:
            return cls()
        return cls(
            replayed=int(doc["replayed"]),
            not_replayable=int(doc["not_replayable"]),
            sides=copy.deepcopy(dict(doc["sides"])),
            deltas=copy.deepcopy(list(doc["deltas"])),
        )


def order_delta(order_id: str, current: Outcome, candidate: Outcome) -> dict[str, Any]:
    """Candidate minus current for one order (an unplaceable side counts as 0)."""

    def margin_delta() -> int | None:
        if current.margin is None or candidate.margin is None:
            return None
        return candidate.margin - current.margin

    moved = {loc for loc, _, _ in current.volumes} != {loc for loc, _, _ in candidate.volumes}
    delta = {
        "order_id": order_id,
        "cost": candidate.cost - current.cost,
        "margin": margin_delta(),
        "promise_days": candidate.promise_days - current.promise_days,
        "parcels": candidate.parcels - current.parcels,
        "current_locations": [loc for loc, _, _ in current.volumes],
        "candidate_locations": [loc for loc, _, _ in candidate.volumes],
        "placed": [current.placed, candidate.placed],
    }
    delta["changed"] = bool(
        moved
        or delta["cost"]
        or delta["promise_days"]
        or delta["parcels"]
        or current.placed != candidate.placed
    )
    return delta


def totals(tally: Tally) -> dict[str, Any]:
    """The results view: per side totals and averages, the differences, per-location volumes."""
    view: dict[str, Any] = {
        "orders_replayed": tally.replayed,
        "not_replayable": tally.not_replayable,
    }
    for name in SIDES:
        side = tally.sides[name]
        n = side["orders"]
        view[name] = {
            "orders": n,
            "unplaceable": side["unplaceable"],
            "cost_to_serve": side["cost_to_serve"],
            "margin": side["margin"] if side["margin_orders"] else None,
            "margin_orders": side["margin_orders"],
            "avg_promise_days": round(side["promise_days"] / n, 2) if n else None,
            "on_time_share": round(side["on_time"] / n, 4) if n else None,
            "split_rate": round(side["split_orders"] / n, 4) if n else None,
            "parcels": side["parcels"],
        }
    cur, cand = view["current"], view["candidate"]
    view["difference"] = {
        "cost_to_serve": cand["cost_to_serve"] - cur["cost_to_serve"],
        "margin": (
            cand["margin"] - cur["margin"]
            if cand["margin"] is not None and cur["margin"] is not None
            else None
        ),
        "parcels": cand["parcels"] - cur["parcels"],
        "unplaceable": cand["unplaceable"] - cur["unplaceable"],
    }
    view["locations"] = location_volumes(tally)
    return view


def location_volumes(tally: Tally) -> list[dict[str, Any]]:
    """Units and parcels per location under both rule sets, and the differences."""
    cur, cand = tally.sides["current"]["locations"], tally.sides["candidate"]["locations"]
    zero = {"units": 0, "parcels": 0}
    rows = []
    for loc in sorted(set(cur) | set(cand)):
        a, b = cur.get(loc, zero), cand.get(loc, zero)
        rows.append(
            {
                "location_id": loc,
                "current": {"units": a["units"], "parcels": a["parcels"]},
                "candidate": {"units": b["units"], "parcels": b["parcels"]},
                "units_delta": b["units"] - a["units"],
                "parcels_delta": b["parcels"] - a["parcels"],
            }
        )
    return rows
