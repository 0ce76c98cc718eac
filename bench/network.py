"""Network-aware sourcing benchmark: one order stream, myopic, network-aware and clairvoyant
sourcing, beside the paper.

Run: ``.venv/bin/python bench/network.py [--days 30] [--orders 120] [--seed 11] [--quick]``

The demo network (``tests.fixtures.network``): its ship-capable locations, carriers and 39
demand points. Orders go to demand points weighted by population; a catalogue of ``SKUS``
products with Zipf popularity; 1-3 lines. Stock positions follow replenishment cycles: every
``CYCLE_DAYS`` every location is topped up to its order-up-to level (zero lead time), which is
``COVERAGE`` x the SKU's expected cycle demand split over the locations by fixed shares (not by
where the demand is: what makes myopic sourcing pay later). A 14-day warm-up stream before day 0
only feeds the forecast.

- **myopic**: today's ``plan()``; the customer takes the first-ranked option.
- **network-aware**: the same with ``rules.network_aware``; every morning the values are
  recomputed with ``domain.network_value`` (forecast from the last 14 days of the stream over the
  days left in the cycle, LP against the policy's own stock positions): the LP on the mean
  forecast (the paper's), the mean dual over ``SCENARIOS`` Poisson draws of the demand, and the
  cart's SKUs recomputed before every order (over what is left of the cycle).
- **clairvoyant**: per cycle, an LP that knows every order: each order whole from one location
  or line by line, at the cost of its cheapest route (fractional: a bound, not a plan).

Prints total outbound cost (shipping + handling), split rate, the share of orders promised by
the fastest date the network could offer at that moment, and per network-aware variant the cost
reduction against myopic and the share of the myopic-to-clairvoyant gap it closes, beside
Acimovic & Graves (MSOM 2015): about 1 % and 36 %, with their ratios. Then the LP's time per
SKU at 100 locations x 39 regions against one ``plan()`` measured in the same run, and the bound
for 1,000 SKUs.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

# the repository first; bench/ itself off the path (bench scripts import the repository as packages)
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
if str(Path(__file__).resolve().parent) in sys.path:  # run as a script
    sys.path.remove(str(Path(__file__).resolve().parent))

from chalicelib.domain.network import (
    Capability,
    CartLine,
    Location,
    LocationType,
    Product,
    StockLevel,
)
from chalicelib.domain.network_value import (
    NetworkValues,
    Sale,
    forecast,
    region_of,
    sku_values,
)
from chalicelib.domain.rules import SourcingRules
from chalicelib.domain.sourcing import OptionKind, Plan, SourcingRequest, plan
from chalicelib.domain.sourcing.context import NO_DEADLINE, build_context
from tests.fixtures.network import DemandPoint, SharedNetwork, load_network

SKUS = 30
CYCLE_DAYS = 7
COVERAGE = 1.5
SCENARIOS = 20  # Poisson demand draws per SKU for the expected duals
LOST_PENALTY = 10_000  # clairvoyant: an unserved line (never chosen when stock suffices)
WARMUP_DAYS = 14
LOOKBACK_DAYS = 14
START = date(2026, 3, 2)  # a Monday
SHARES = {"warehouse": 6.0, "3pl": 4.0, "store": 1.0}  # stock split by location kind
SHIP_KINDS = frozenset({OptionKind.FASTEST, OptionKind.CHEAPEST, OptionKind.CONSOLIDATED})
PAPER_REDUCTION, PAPER_GAP = 1.0, 36.0  # Acimovic & Graves (2015), % of outbound cost


@dataclass(frozen=True)
class Order:
    day: int  # from START; negative in the warm-up
    now: datetime
    point: DemandPoint
    lines: dict[str, int]

    @property
    def region(self) -> str:
        return region_of(self.point.address.country, self.point.address.postal_code)


@dataclass
class Outcome:
    cost: int = 0
    orders: int = 0
    split: int = 0
    fastest: int = 0
    lost: int = 0
    seconds: float = 0.0

    def row(self, name: str) -> str:
        served = max(1, self.orders)
        return (
            f"{name:<16} {self.cost / 100:>12,.2f} {100 * self.split / served:>7.1f}% "
            f"{100 * self.fastest / served:>8.1f}% {self.lost:>5} {self.seconds:>7.1f}"
        )


def catalogue(rng: random.Random) -> tuple[dict[str, Product], list[float]]:
    products = {
        f"SKU-{i:02d}": Product(f"SKU-{i:02d}", rng.randint(200, 3000), {"EUR": 2900})
        for i in range(SKUS)
    }
    popularity = [1 / (i + 1) for i in range(SKUS)]  # Zipf, s = 1
    return products, popularity


def stream(
    net: SharedNetwork, skus: list[str], popularity: list[float], days: int, per_day: int, seed: int
) -> list[Order]:
    rng = random.Random(seed)
    weights = [p.population for p in net.demand]
    orders: list[Order] = []
    for day in range(-WARMUP_DAYS, days):
        when = START + timedelta(days=day)
        for _ in range(per_day):
            n = rng.choices((1, 2, 3), weights=(75, 20, 5))[0]
            lines: dict[str, int] = {}
            while len(lines) < n:
                lines[rng.choices(skus, weights=popularity)[0]] = rng.choice((1, 1, 1, 2))
            now = datetime(when.year, when.month, when.day, rng.randint(6, 21), tzinfo=UTC)
            point = rng.choices(net.demand, weights=weights)[0]
            orders.append(Order(day, now, point, lines))
    orders.sort(key=lambda o: (o.day, o.now))
    return orders


def order_up_to(
    locs: list[Location], skus: list[str], popularity: list[float], per_day: int
) -> dict[tuple[str, str], int]:
    """Per (location, SKU): the level every cycle starts with."""
    mean_units = (75 + 2 * 20 + 3 * 5) / 100 * 1.25  # lines per order x units per line
    total_pop = sum(popularity)
    share = {loc.location_id: SHARES[loc.type.value] for loc in locs}
    total_share = sum(share.values())
    levels: dict[tuple[str, str], int] = {}
    for sku, pop in zip(skus, popularity, strict=True):
        cycle = per_day * CYCLE_DAYS * mean_units * pop / total_pop
        for loc in locs:
            protected = 1 if loc.type is LocationType.STORE else 0
            levels[(loc.location_id, sku)] = protected + math.ceil(
                COVERAGE * cycle * share[loc.location_id] / total_share
            )
    return levels


class Policy:
    """Myopic or network-aware sourcing of the stream against its own stock positions."""

    def __init__(
        self,
        net: SharedNetwork,
        locs: list[Location],
        products: dict[str, Product],
        levels: dict[tuple[str, str], int],
        aware: bool,
        scenarios: int = 0,
        per_order: bool = False,
    ) -> None:
        self.net, self.locs, self.products, self.levels = net, locs, products, levels
        self.rules = SourcingRules(network_aware=aware)
        self.aware, self.scenarios, self.out = aware, scenarios, Outcome()
        self.per_order = per_order  # recompute the cart's SKUs before every order
        self.daily: dict[str, dict[str, float]] = {}  # units per SKU and region per day
        self.stock: dict[tuple[str, str], int] = {}
        self.values = NetworkValues()

    def morning(self, day: int, history: list[Order]) -> None:
        if day % CYCLE_DAYS == 0:
            self.stock = dict(self.levels)
        if not self.aware:
            return
        today = START + timedelta(days=day)
        left = CYCLE_DAYS - day % CYCLE_DAYS
        sales = [Sale(START + timedelta(days=o.day), o.region, o.lines) for o in history]
        demand = forecast(sales, today=today, lookback_days=LOOKBACK_DAYS, horizon_days=left)
        self.daily = forecast(sales, today=today, lookback_days=LOOKBACK_DAYS, horizon_days=1)
        now = datetime(today.year, today.month, today.day, tzinfo=UTC)
        self.values = self._values(demand, now, day)

    def _values(
        self, demand: dict[str, dict[str, float]], now: datetime, seed: int
    ) -> NetworkValues:
        values, at = {}, {}
        for sku, regions in demand.items():
            stock = {
                loc.location_id: self.stock.get((loc.location_id, sku), 0) for loc in self.locs
            }
            values[sku] = sku_values(
                stock,
                regions,
                self.locs,
                self.net.carrier_services,
                weight_g=self.products[sku].weight_g,
                currency="EUR",
                scenarios=self.scenarios,
                seed=seed,
                store_protection_units=self.rules.store_protection_units,
            )
            at[sku] = now
        return NetworkValues(values=values, computed_at=at)

    def serve(self, order: Order) -> None:
        start = time.process_time()
        if self.per_order:  # the cart's SKUs, over what is left of the cycle from now
            end = START + timedelta(days=(order.day // CYCLE_DAYS + 1) * CYCLE_DAYS)
            left = (datetime(end.year, end.month, end.day, tzinfo=UTC) - order.now) / timedelta(1)
            demand = {
                sku: {r: q * left for r, q in self.daily.get(sku, {}).items()}
                for sku in order.lines
            }
            self.values = self._values(demand, order.now, 0)
        request = SourcingRequest(
            lines=[CartLine(sku, q) for sku, q in order.lines.items()],
            ship_to=order.point.address,
            stock=[
                StockLevel(sku, loc.location_id, self.stock.get((loc.location_id, sku), 0))
                for sku in order.lines
                for loc in self.locs
            ],
            locations=self.locs,
            carrier_services=self.net.carrier_services,
            products=self.products,
            now=order.now,
            rules=self.rules,
            kinds=SHIP_KINDS,
            network_values=self.values,
        )
        result = plan(request)
        self.out.seconds += time.process_time() - start
        options = [p for p in result.options if p.kind is not OptionKind.CLICK_COLLECT]
        if not options:
            self.out.lost += 1
            return
        chosen: Plan = options[0]
        fastest = min(p.promised_date for p in options)
        self.out.orders += 1
        self.out.cost += chosen.cost.shipping + chosen.cost.handling
        self.out.split += len(chosen.shipments) > 1
        self.out.fastest += chosen.promised_date <= fastest
        for shipment in chosen.shipments:
            for sku, qty in shipment.lines:
                self.stock[(shipment.location_id, sku)] -= qty


def clairvoyant(
    net: SharedNetwork,
    locs: list[Location],
    products: dict[str, Product],
    levels: dict[tuple[str, str], int],
    orders: list[Order],
) -> Outcome:
    """Per cycle, the LP over all its orders (see the module doc): a lower bound on cost."""
    import highspy
    import numpy as np

    out = Outcome()
    stores = {loc.location_id for loc in locs if loc.type is LocationType.STORE}
    start = time.process_time()
    by_cycle: dict[int, list[Order]] = {}
    for order in orders:
        by_cycle.setdefault(order.day // CYCLE_DAYS, []).append(order)
    for cycle in by_cycle.values():
        costs: list[float] = []
        cols: list[list[int]] = []  # rows of each variable
        units: list[list[float]] = []
        rows_of_line: dict[tuple[int, str], int] = {}
        for o, order in enumerate(cycle):
            for sku in order.lines:
                rows_of_line[(o, sku)] = len(rows_of_line)
        n_cover = len(rows_of_line)
        stock_row = {key: n_cover + k for k, key in enumerate(levels)}
        for o, order in enumerate(cycle):
            ample = SourcingRequest(
                lines=[CartLine(sku, q) for sku, q in order.lines.items()],
                ship_to=order.point.address,
                stock=[StockLevel(s, loc.location_id, 999) for s in order.lines for loc in locs],
                locations=locs,
                carrier_services=net.carrier_services,
                products=products,
                now=order.now,
            )
            ctx = build_context(ample)
            for site in ctx.sites:
                whole = ctx.shipment(site, dict(order.lines), NO_DEADLINE)
                if whole is not None:
                    cost = whole[1]
                    costs.append(cost.shipping + cost.handling)
                    cols.append(
                        [rows_of_line[(o, s)] for s in order.lines]
                        + [stock_row[(site.location_id, s)] for s in order.lines]
                    )
                    units.append(
                        [1.0] * len(order.lines) + [float(q) for q in order.lines.values()]
                    )
                if len(order.lines) > 1:
                    for sku, qty in order.lines.items():
                        part = ctx.shipment(site, {sku: qty}, NO_DEADLINE)
                        if part is not None:
                            costs.append(part[1].shipping + part[1].handling)
                            cols.append(
                                [rows_of_line[(o, sku)], stock_row[(site.location_id, sku)]]
                            )
                            units.append([1.0, float(qty)])
        for row in range(n_cover):  # an unserved line keeps the LP feasible
            costs.append(LOST_PENALTY)
            cols.append([row])
            units.append([1.0])
        starts, index, value = [0], [], []
        for rows, vals in zip(cols, units, strict=True):
            index += rows
            value += vals
            starts.append(len(index))
        inf = highspy.kHighsInf
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = len(costs), n_cover + len(stock_row)
        lp.col_cost_ = np.array(costs, dtype=float)
        lp.col_lower_, lp.col_upper_ = np.zeros(len(costs)), np.full(len(costs), inf)
        lp.row_lower_ = np.array([1.0] * n_cover + [-inf] * len(stock_row))
        usable = [
            float(levels[k] - (1 if k[0] in stores else 0)) for k in stock_row
        ]  # shipping keeps a store's last unit (store protection)
        lp.row_upper_ = np.array([inf] * n_cover + usable)
        m = lp.a_matrix_
        m.format_ = highspy.MatrixFormat.kColwise
        m.start_, m.index_ = np.array(starts, dtype=np.int32), np.array(index, dtype=np.int32)
        m.value_, m.num_col_, m.num_row_ = np.array(value), lp.num_col_, lp.num_row_
        solver = highspy.Highs()
        solver.setOptionValue("output_flag", False)
        solver.passModel(lp)
        solver.run()
        if solver.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            raise RuntimeError(f"clairvoyant LP: {solver.getModelStatus()}")
        unserved = solver.getSolution().col_value[len(costs) - n_cover :]
        lost = float(sum(unserved))
        out.cost += round(solver.getInfo().objective_function_value - LOST_PENALTY * lost)
        out.lost += round(lost)  # lines, not orders
        out.orders += len(cycle)
    out.seconds = time.process_time() - start
    return out


def lp_timing(net: SharedNetwork, sample: int, seed: int) -> None:
    """The LP per SKU at 100 locations x the 39 demand regions, against one ``plan()``."""
    rng = random.Random(seed)
    real = [loc for loc in net.locations if Capability.SHIP in loc.capabilities]
    locs = list(real)
    while len(locs) < 100:
        base = rng.choice(real)
        locs.append(
            replace(
                base,
                location_id=f"{base.location_id}-{len(locs)}",
                handling_cost_per_order=base.handling_cost_per_order + rng.randint(-20, 20),
            )
        )
    regions = {
        region_of(p.address.country, p.address.postal_code): p.population / 1e5 for p in net.demand
    }
    start = time.process_time()
    for _ in range(sample):
        stock = {loc.location_id: rng.choice((0, 1, 3, 8, 20)) for loc in locs}
        sku_values(stock, regions, locs, net.carrier_services, weight_g=800, currency="EUR")
    per_sku = (time.process_time() - start) / sample
    product = Product("REF", 800, {"EUR": 2900})
    request = SourcingRequest(
        lines=[CartLine("REF", 1)],
        ship_to=net.demand[0].address,
        stock=[StockLevel("REF", loc.location_id, 5) for loc in locs],
        locations=locs,
        carrier_services=net.carrier_services,
        products={"REF": product},
        now=datetime(2026, 3, 10, 9, tzinfo=UTC),
    )
    start = time.process_time()
    for k in range(20):
        plan(replace(request, now=request.now + timedelta(microseconds=k)))
    reference = (time.process_time() - start) / 20
    print("\n== the LP per SKU: 100 locations x 39 regions (HiGHS via highspy) ==")
    print(
        f"LP + duals per SKU: {1000 * per_sku:.2f} ms CPU ({sample} SKUs); reference, one "
        f"plan() of a 1-line cart over the same 100 locations: {1000 * reference:.2f} ms"
    )
    print(
        f"ratio LP / plan(): {per_sku / reference:.2f}; 1,000 SKUs: {1000 * per_sku:.1f} s "
        f"(= {1000 * per_sku / reference:,.0f} plan() calls)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--orders", type=int, default=120, help="orders per day")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--quick", action="store_true", help="10 days of 60 orders")
    args = parser.parse_args()
    days, per_day = (10, 60) if args.quick else (args.days, args.orders)
    net = load_network()
    locs = [loc for loc in net.locations if Capability.SHIP in loc.capabilities]
    rng = random.Random(args.seed)
    products, popularity = catalogue(rng)
    skus = sorted(products)
    orders = stream(net, skus, popularity, days, per_day, args.seed)
    levels = order_up_to(locs, skus, popularity, per_day)
    myopic = Policy(net, locs, products, levels, aware=False)
    variants = {
        "aware (mean)": Policy(net, locs, products, levels, aware=True),
        f"aware ({SCENARIOS} sc.)": Policy(
            net, locs, products, levels, aware=True, scenarios=SCENARIOS
        ),
        "aware per order": Policy(net, locs, products, levels, aware=True, per_order=True),
    }
    counted = [o for o in orders if o.day >= 0]
    for day in range(days):
        history = [o for o in orders if day - LOOKBACK_DAYS <= o.day < day]
        myopic.morning(day, history)
        for policy in variants.values():
            start = time.process_time()
            policy.morning(day, history)
            policy.out.seconds += time.process_time() - start
        for order in (o for o in counted if o.day == day):
            myopic.serve(order)
            for policy in variants.values():
                policy.serve(order)
    bound = clairvoyant(net, locs, products, levels, counted)
    print(
        f"== {days} days, {len(counted)} orders, {len(locs)} locations, {SKUS} SKUs, "
        f"order-up-to every {CYCLE_DAYS} days (seed {args.seed}) =="
    )
    print(
        f"{'policy':<16} {'outbound EUR':>12} {'split':>8} {'fastest':>9} {'lost':>5} {'CPU s':>7}"
    )
    rows = {"myopic": myopic.out} | {k: p.out for k, p in variants.items()}
    for name, result in (*rows.items(), ("clairvoyant LP", bound)):
        print(result.row(name))
    print(
        "(outbound = shipping + handling; fastest = promised by the fastest date offered; lost ="
        " orders, for the LP unserved lines; the clairvoyant row is a bound: no split/fastest)"
    )
    gap = myopic.out.cost - bound.cost
    print(
        f"\nmyopic-to-clairvoyant gap: {100 * gap / myopic.out.cost:.2f}% of myopic outbound cost"
    )
    print(
        f"{'policy':<16} {'cost cut':>9} {'paper':>6} {'ratio':>6} {'gap closed':>11} {'paper':>6} "
        f"{'ratio':>6} {'CPU/order':>10} {'x myopic':>9}"
    )
    for name, policy in variants.items():
        out = policy.out
        cut = 100 * (myopic.out.cost - out.cost) / myopic.out.cost
        closed = 100 * (myopic.out.cost - out.cost) / gap if gap > 0 else float("nan")
        print(
            f"{name:<16} {cut:>8.2f}% {PAPER_REDUCTION:>5.0f}% {cut / PAPER_REDUCTION:>6.2f} "
            f"{closed:>10.1f}% {PAPER_GAP:>5.0f}% {closed / PAPER_GAP:>6.2f} "
            f"{1000 * out.seconds / len(counted):>8.2f}ms "
            f"{out.seconds / max(1e-9, myopic.out.seconds):>9.2f}"
        )
    lp_timing(net, 20 if args.quick else 100, args.seed)


if __name__ == "__main__":
    main()
