"""Network-aware sourcing: what a unit of stock at a location is worth to the rest of the network.

Myopic sourcing takes each order's cheapest units; taking the last unit near a dense region then
costs that region an expensive lane tomorrow. Following Acimovic & Graves (MSOM 2015), a unit's
*opportunity cost* is the dual of its location's supply constraint in a transportation LP over
the expected demand until the next replenishment:

    min  sum_lr cost[l, r] * x[l, r] + sum_r penalty * unmet[r]
    s.t. sum_r x[l, r] <= supply[l]                (dual <= 0: minus the unit's value)
         sum_l x[l, r] + unmet[r] = demand[r]
         x, unmet >= 0

- **forecast** (``forecast``): sales velocity per SKU and region, the units sold in the
  ``lookback_days`` before today divided by ``lookback_days`` (a moving average), times the
  ``horizon_days`` to forecast (about one replenishment cycle). A region is the destination's
  country and the first ``REGION_PREFIX_LEN`` characters of its postal code.
- **cost** (``unit_cost``): what sending one unit from a location to a country costs the
  retailer in the sourcing model: the location's handling per order and per unit plus the
  cheapest carrier band for the unit's weight (carrier prices are per country pair, so regions
  of one country share a cost column and are merged before solving: the duals are the same).
- **penalty**: an unmet unit costs the SKU's most expensive lane (by default), so the LP is
  always feasible and scarce stock is worth what it saves over the dearest way to serve.

Solved with HiGHS (``highspy``, imported lazily) per SKU: locations x countries, about 6 ms of
CPU at 100 locations (``bench/network.py``: 1,000 SKUs in about 6 s). ``scenarios`` averages the
duals over Poisson draws of the demand instead (the expected value of the marginal unit).
Values are integers in minor units, never negative. ``NetworkValues``
is what sourcing reads; values older than ``STALE_AFTER`` are ignored (the job refreshes each
SKU's about daily: ``REFRESH_AFTER``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from chalicelib.domain.network import Capability, CarrierService, Location, LocationType, Speed

REGION_PREFIX_LEN = 2
DEFAULT_LOOKBACK_DAYS = 28
DEFAULT_HORIZON_DAYS = 7
REFRESH_AFTER = timedelta(hours=23)  # the hourly job recomputes values older than this
STALE_AFTER = timedelta(days=2)  # sourcing ignores values older than this


def region_of(country: str, postal_code: str) -> str:
    """The demand region of a destination: ``DE-10`` for Berlin 10115."""
    return f"{country}-{postal_code.strip()[:REGION_PREFIX_LEN]}"


def region_country(region: str) -> str:
    return region.split("-", 1)[0]


@dataclass(frozen=True, slots=True)
class Sale:
    """The units of one placed order, per SKU, by the day it was placed and its region."""

    day: date
    region: str
    lines: Mapping[str, int]


def forecast(
    sales: Iterable[Sale],
    *,
    today: date,
    lookback_days: int = DEFAULT_LOOKBACK_DAYS,
    horizon_days: int = DEFAULT_HORIZON_DAYS,
) -> dict[str, dict[str, float]]:
    """Expected units per SKU and region over the next ``horizon_days``: the mean daily sales of
    the ``lookback_days`` before ``today`` (today itself excluded: it is not over), times the
    horizon. Sales outside the window are ignored."""
    if lookback_days <= 0 or horizon_days < 0:
        raise ValueError("lookback_days must be > 0 and horizon_days >= 0")
    first = today - timedelta(days=lookback_days)
    units: dict[str, dict[str, int]] = {}
    for sale in sales:
        if not first <= sale.day < today:
            continue
        for sku, qty in sale.lines.items():
            if qty > 0:
                by_region = units.setdefault(sku, {})
                by_region[sale.region] = by_region.get(sale.region, 0) + qty
    scale = horizon_days / lookback_days
    return {
        sku: {region: qty * scale for region, qty in regions.items()}
        for sku, regions in units.items()
    }


def unit_cost(
    location: Location,
    country: str,
    weight_g: int,
    services: Sequence[CarrierService],
    currency: str,
) -> int | None:
    """The retailer's cost of sending one unit of ``weight_g`` from ``location`` to ``country``
    by its cheapest carrier band (transfers excluded), with the location's handling; None
    without a lane."""
    best: int | None = None
    for service in services:
        if service.speed is Speed.TRANSFER:
            continue
        for lane in service.lanes:
            if lane.from_country != location.country or lane.to_country != country:
                continue
            for band in lane.bands:
                if weight_g <= band.max_weight_g and currency in band.price:
                    price = band.price[currency]
                    best = price if best is None or price < best else best
                    break
    if best is None:
        return None
    return best + location.handling_cost_per_order + location.handling_cost_per_unit


def transportation_values(
    supply: Mapping[str, int],
    demand: Mapping[str, float],
    cost: Mapping[tuple[str, str], int],
    penalty: int | None = None,
    *,
    scenarios: int = 0,
    seed: int = 0,
) -> dict[str, int]:
    """The opportunity cost of one unit at every location of ``supply``: minus the dual of its
    supply constraint in the LP of the module doc, rounded to minor units (>= 0).

    ``cost[(location, region)]`` is the per-unit cost (a missing pair has no lane); ``penalty``
    the cost of an unmet unit (default: the most expensive lane). Regions with identical cost
    columns are merged first (same duals, a smaller LP). With ``scenarios`` > 0 the value is the
    mean dual over that many Poisson draws of the demand (seeded by ``seed``): the expected
    value of the marginal unit, which the LP on the mean overstates when stock is close to it.
    """
    locations = [loc for loc, qty in supply.items() if qty > 0]
    regions = [r for r, qty in demand.items() if qty > 0]
    values = {loc: 0 for loc in supply}
    if not locations or not regions:
        return values
    if penalty is None:
        penalty = max(cost.values(), default=0)
    merged: dict[tuple[int | None, ...], float] = {}
    for region in regions:
        column = tuple(cost.get((loc, region)) for loc in locations)
        merged[column] = merged.get(column, 0.0) + demand[region]
    columns = list(merged.items())
    if scenarios <= 0:
        duals = _solve(locations, columns, penalty, supply)
    else:
        import numpy as np

        rng = np.random.default_rng(seed)
        total = [0.0] * len(locations)
        for _ in range(scenarios):
            drawn = [(c, float(rng.poisson(q))) for c, q in columns]
            for i, dual in enumerate(_solve(locations, drawn, penalty, supply)):
                total[i] += dual
        duals = [t / scenarios for t in total]
    for loc, dual in zip(locations, duals, strict=True):
        values[loc] = max(0, round(-dual))
    return values


def _solve(
    locations: list[str],
    columns: list[tuple[tuple[int | None, ...], float]],
    penalty: int,
    supply: Mapping[str, int],
) -> list[float]:
    """The supply rows' duals of the LP: rows are the locations, then one per demand column;
    variables are the lanes that exist, then one unmet variable per demand column."""
    import highspy
    import numpy as np

    n_loc = len(locations)
    costs: list[float] = []
    starts: list[int] = []
    index: list[int] = []
    for k, (column, _) in enumerate(columns):
        for i, c in enumerate(column):
            if c is not None:
                starts.append(len(index))
                index.extend((i, n_loc + k))
                costs.append(float(c))
    for k in range(len(columns)):
        starts.append(len(index))
        index.append(n_loc + k)
        costs.append(float(penalty))
    starts.append(len(index))
    inf = highspy.kHighsInf
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = len(costs), n_loc + len(columns)
    lp.col_cost_ = np.array(costs)
    lp.col_lower_ = np.zeros(len(costs))
    lp.col_upper_ = np.full(len(costs), inf)
    wanted = [qty for _, qty in columns]
    lp.row_lower_ = np.array([-inf] * n_loc + wanted)
    lp.row_upper_ = np.array([float(supply[loc]) for loc in locations] + wanted)
    matrix = lp.a_matrix_
    matrix.format_ = highspy.MatrixFormat.kColwise
    matrix.start_ = np.array(starts, dtype=np.int32)
    matrix.index_ = np.array(index, dtype=np.int32)
    matrix.value_ = np.ones(len(index))
    matrix.num_col_, matrix.num_row_ = lp.num_col_, lp.num_row_
    solver = highspy.Highs()
    solver.setOptionValue("output_flag", False)
    solver.passModel(lp)
    solver.run()
    if solver.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        raise RuntimeError(f"transportation LP: {solver.getModelStatus()}")
    return list(solver.getSolution().row_dual[:n_loc])


def sku_values(
    stock: Mapping[str, int],
    demand: Mapping[str, float],
    locations: Sequence[Location],
    services: Sequence[CarrierService],
    *,
    weight_g: int,
    currency: str,
    scenarios: int = 0,
    seed: int = 0,
    store_protection_units: int = 0,
) -> dict[str, int]:
    """One SKU's values per location that holds it (only those > 0): the LP over its stock
    (available units per location id) and forecast (units per region). Only locations that
    ship supply it, a store less the ``store_protection_units`` shipping never takes."""
    by_id = {loc.location_id: loc for loc in locations if Capability.SHIP in loc.capabilities}
    supply: dict[str, int] = {}
    for loc, qty in stock.items():
        if loc in by_id:
            usable = qty - (store_protection_units if by_id[loc].type is LocationType.STORE else 0)
            if usable > 0:
                supply[loc] = usable
    if not supply or not demand:
        return {}
    countries = {region_country(r) for r in demand}
    per_country: dict[tuple[str, str], int] = {}
    for loc in supply:
        for country in countries:
            c = unit_cost(by_id[loc], country, weight_g, services, currency)
            if c is not None:
                per_country[(loc, country)] = c
    cost = {
        (loc, region): per_country[(loc, region_country(region))]
        for loc in supply
        for region in demand
        if (loc, region_country(region)) in per_country
    }
    values = transportation_values(supply, demand, cost, scenarios=scenarios, seed=seed)
    return {loc: v for loc, v in values.items() if v > 0}


@dataclass(frozen=True, slots=True)
class NetworkValues:
    """The stored values of the cart's SKUs: per SKU, location id -> opportunity cost of one
    unit (minor units; a location not named is worth 0) and when it was computed."""

    values: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    computed_at: Mapping[str, datetime] = field(default_factory=dict)

    def usable(
        self, skus: Iterable[str], now: datetime
    ) -> tuple[dict[str, Mapping[str, int]], dict[str, str]]:
        """(values of the fresh SKUs, status per SKU): ``applied``, ``stale`` (older than
        ``STALE_AFTER``: ignored) or ``missing`` (never computed: worth 0)."""
        fresh: dict[str, Mapping[str, int]] = {}
        status: dict[str, str] = {}
        for sku in skus:
            at = self.computed_at.get(sku)
            if at is None:
                status[sku] = "missing"
            elif now - at > STALE_AFTER:
                status[sku] = "stale"
            else:
                status[sku] = "applied"
                fresh[sku] = self.values.get(sku, {})
        return fresh, status
