"""Where a return should go, ranked for the customer and the retailer.

- **Store drop-off**: stores that accept returns (capability ``returns``) in the customer's
  country, nearest first by great-circle distance from the order's ship-to coordinates; each
  day a store is closed every week counts as ``CLOSED_DAY_KM`` of extra distance. Without
  coordinates the shared postal-code prefix stands in for distance.
- **Carrier return**: a prepaid label to the non-store location (warehouse, 3PL) that accepts
  returns and needs the units most (the most units below its reorder point for the returned
  SKUs, as far as the return fills them); when none needs them, to the one that is cheapest to
  receive at (label price from the carrier rate cards + handling per unit).

A drop-off within ``NEAR_KM`` ranks before the carrier (no label to pay, the customer goes
anyway); farther stores rank after it. Every option says why in its ``explanation``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from chalicelib.domain.geo import haversine_km
from chalicelib.domain.network import (
    Address,
    Capability,
    CarrierService,
    Location,
    LocationType,
    Product,
    Speed,
    StockLevel,
)

MAX_STORES = 3
MAX_STORE_KM = 100.0  # farther than this, a store is no real option
NEAR_KM = 25.0
CLOSED_DAY_KM = 5.0
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


class ReturnOptionKind(StrEnum):
    STORE_DROP_OFF = "store_drop_off"  # the customer hands the parcel in at a store
    CARRIER = "carrier"  # a prepaid label; the carrier takes it to a warehouse


@dataclass(frozen=True, slots=True)
class ReturnOption:
    rank: int
    kind: ReturnOptionKind
    location_id: str
    explanation: str
    distance_km: float | None = None
    open_days: tuple[str, ...] = ()
    carrier_service: str | None = None
    why: str = ""  # "nearest", "most_needed" or "cheapest"

    def as_dict(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["kind"] = self.kind.value
        doc["open_days"] = list(self.open_days)
        return doc


@dataclass(frozen=True, slots=True)
class _Store:
    location: Location
    distance_km: float | None
    score: float


def rank_options(
    *,
    ship_to: Address,
    lines: Mapping[str, int],
    locations: Sequence[Location],
    stock: Mapping[tuple[str, str], StockLevel],
    carriers: Sequence[CarrierService],
    products: Mapping[str, Product],
    currency: str,
) -> list[ReturnOption]:
    """The ranked options for returning ``lines`` (sku -> units) from ``ship_to``."""
    stores = _stores(ship_to, locations)
    carrier = _carrier_option(ship_to, lines, locations, stock, carriers, products, currency)
    near = [s for s in stores if s.distance_km is not None and s.distance_km <= NEAR_KM]
    far = [s for s in stores if s not in near]
    ordered: list[tuple[ReturnOptionKind, Any]] = [
        *((ReturnOptionKind.STORE_DROP_OFF, s) for s in near),
        *([(ReturnOptionKind.CARRIER, carrier)] if carrier else []),
        *((ReturnOptionKind.STORE_DROP_OFF, s) for s in far),
    ]
    out = []
    for rank, (kind, found) in enumerate(ordered, start=1):
        if kind == ReturnOptionKind.CARRIER:
            out.append(ReturnOption(rank=rank, **found))
        else:
            out.append(_store_option(rank, found))
    return out


def _stores(ship_to: Address, locations: Sequence[Location]) -> list[_Store]:
    candidates = [
        loc
        for loc in locations
        if loc.type == LocationType.STORE
        and loc.can(Capability.RETURNS)
        and loc.country == ship_to.country
    ]
    found = []
    for loc in candidates:
        closed = len(loc.closed_weekdays) * CLOSED_DAY_KM
        if ship_to.lat is not None and ship_to.lon is not None:
            km = haversine_km(ship_to.lat, ship_to.lon, loc.lat, loc.lon)
            if km <= MAX_STORE_KM:
                found.append(_Store(loc, round(km, 1), km + closed))
        else:
            shared = _shared_prefix(ship_to.postal_code, loc.postal_code)
            found.append(_Store(loc, None, -shared * 100 + closed))
    found.sort(key=lambda s: (s.score, s.location.location_id))
    return found[:MAX_STORES]


def _store_option(rank: int, store: _Store) -> ReturnOption:
    loc = store.location
    days = tuple(d for i, d in enumerate(WEEKDAYS) if i not in loc.closed_weekdays)
    name = loc.name or loc.location_id
    where = (
        f"{store.distance_km:.1f} km from the delivery address"
        if store.distance_km is not None
        else f"postal area {loc.postal_code[:2]} (the address has no coordinates)"
    )
    return ReturnOption(
        rank=rank,
        kind=ReturnOptionKind.STORE_DROP_OFF,
        location_id=loc.location_id,
        distance_km=store.distance_km,
        open_days=days,
        why="nearest",
        explanation=(
            f"Drop it off at {name}, {where}, open {_days_text(days)}: no label needed, "
            "and the units go straight back on sale there."
        ),
    )


def _carrier_option(
    ship_to: Address,
    lines: Mapping[str, int],
    locations: Sequence[Location],
    stock: Mapping[tuple[str, str], StockLevel],
    carriers: Sequence[CarrierService],
    products: Mapping[str, Product],
    currency: str,
) -> dict[str, Any] | None:
    returns = [loc for loc in locations if loc.can(Capability.RETURNS)]
    candidates = [loc for loc in returns if loc.type != LocationType.STORE] or returns
    weight = sum(products[s].weight_g * q for s, q in lines.items() if s in products)
    units = sum(lines.values())
    scored = []
    for loc in candidates:
        label = _label(ship_to.country, loc.country, weight, carriers, currency)
        if label is None:
            continue  # no carrier lane from the customer to it
        need = _need(loc, lines, stock, products)
        cost = label[1] + loc.handling_cost_per_unit * units
        scored.append((loc, need, cost, label[0]))
    if not scored:
        return None
    most_needed = max(need_total for _, need_total, _, _ in scored) > 0
    if most_needed:
        loc, need, cost, service = min(scored, key=lambda x: (-x[1], x[2], x[0].location_id))
        why = "most_needed"
        reason = f"it needs these units most: {need} below its reorder point for these items"
    else:
        loc, need, cost, service = min(scored, key=lambda x: (x[2], x[0].location_id))
        why = "cheapest"
        reason = (
            f"it is the cheapest to receive at ({cost / 100:.2f} {currency} label and handling)"
        )
    return {
        "kind": ReturnOptionKind.CARRIER,
        "location_id": loc.location_id,
        "carrier_service": service,
        "why": why,
        "explanation": (
            f"Send it with the prepaid {service} label to {loc.name or loc.location_id}: {reason}."
        ),
    }


def _need(
    loc: Location,
    lines: Mapping[str, int],
    stock: Mapping[tuple[str, str], StockLevel],
    products: Mapping[str, Product],
) -> int:
    """Units of the return that would fill a gap below the reorder point at ``loc``."""
    total = 0
    for sku, quantity in lines.items():
        level = stock.get((sku, loc.location_id))
        product = products.get(sku)
        point = level.reorder_point if level else (product.reorder_point if product else 0)
        available = level.available if level else 0
        total += min(quantity, max(0, point - available))
    return total


def _label(
    origin: str, destination: str, weight_g: int, carriers: Sequence[CarrierService], currency: str
) -> tuple[str, int] | None:
    """The cheapest parcel price (service id, minor units) from ``origin`` to ``destination``;
    rate cards are read both ways, as lanes are written from the shipping side."""
    best: tuple[str, int] | None = None
    for service in carriers:
        if service.speed == Speed.TRANSFER:
            continue
        for lane in service.lanes:
            if {lane.from_country, lane.to_country} != {origin, destination}:
                continue
            band = next((b for b in lane.bands if weight_g <= b.max_weight_g), None)
            if band is None or currency not in band.price:
                continue
            if best is None or band.price[currency] < best[1]:
                best = (service.service_id, int(band.price[currency]))
    return best


def _shared_prefix(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def _days_text(days: Sequence[str]) -> str:
    if not days:
        return "never"
    indexes = [WEEKDAYS.index(d) for d in days]
    if indexes == list(range(indexes[0], indexes[-1] + 1)) and len(days) > 2:
        return f"{days[0]}-{days[-1]}"
    return ", ".join(days)
