"""Report arithmetic on aggregates: plain numbers in, tables out. No I/O.

The daily reports read ``Series``: per ``(channel, currency)`` the counters of the orders placed
each day (``chalicelib.domain.order.metrics`` names them). Each report is a ``Report``: its
columns, one row per day and series (days without orders give zeros, so charts and CSVs have no
gaps), and ``totals``: the same columns over the whole range, one row per currency (money never
adds up across currencies; rates do not depend on it). Money is in minor units; a rate is a
fraction rounded to 4 places, ``None`` when nothing was there to measure.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

from chalicelib.domain.freshness import feed_view
from chalicelib.domain.network import Location, StockLevel
from chalicelib.domain.order.metrics import FUNNEL, KEY_SEP

Counters = Mapping[str, int]
SeriesKey = tuple[str, str]  # channel, currency
Series = Mapping[SeriesKey, Mapping[str, Counters]]  # -> day (YYYY-MM-DD) -> counters
Column = tuple[str, Callable[[Counters], Any]]


class ReportName(StrEnum):
    ORDERS_BY_CHANNEL = "orders_by_channel"  # orders and revenue per channel per day
    FILL_RATE = "fill_rate"  # units shipped / units ordered
    SPLIT_RATE = "split_rate"  # orders in several shipments, parcels per order
    ON_TIME_RATE = "on_time_rate"  # delivered (or ready for pick-up) by the promised date
    SHORT_PICK_RATE = "short_pick_rate"  # units short-picked / units asked of each location
    OPEN_BACKORDERS = "open_backorders"  # units waiting for stock now, per channel and SKU
    RETURNS_RATE = "returns_rate"  # units asked back / units shipped, by reason and by SKU
    STOCK_BY_LOCATION = "stock_by_location"  # on hand, reserved, available, quarantine, value
    COST_TO_SERVE = "cost_to_serve"  # cost per order, and the saving vs the nearest location


# Reports over the stock or the backorders as they are now: the date range does not apply.
CURRENT_STATE = frozenset({ReportName.OPEN_BACKORDERS, ReportName.STOCK_BY_LOCATION})


@dataclass
class Report:
    name: str
    columns: list[str]
    rows: list[dict[str, Any]]
    totals: list[dict[str, Any]] = field(default_factory=list)


def rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def per(amount: int, count: int) -> int | None:
    """A per-order amount in minor units (rounded half up), None without orders."""
    return (2 * amount + count) // (2 * count) if count else None


def days_between(first: date, last: date) -> list[str]:
    return [(first + timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]


def add(into: dict[str, int], counters: Counters) -> dict[str, int]:
    for name, value in counters.items():
        into[name] = into.get(name, 0) + value
    return into


def _get(name: str) -> Callable[[Counters], int]:
    return lambda c: int(c.get(name, 0))


def _daily(name: ReportName, series: Series, days: Sequence[str], cols: list[Column]) -> Report:
    """One row per day and series, plus totals per currency."""
    rows: list[dict[str, Any]] = []
    by_currency: dict[str, dict[str, int]] = {}
    for channel, currency in sorted(series):
        per_day = series[(channel, currency)]
        for day in days:
            counters = per_day.get(day, {})
            add(by_currency.setdefault(currency, {}), counters)
            row: dict[str, Any] = {"date": day, "channel": channel, "currency": currency}
            rows.append(row | {col: fn(counters) for col, fn in cols})
    totals = [
        {"currency": cur} | {col: fn(c) for col, fn in cols}
        for cur, c in sorted(by_currency.items())
    ]
    return Report(name.value, ["date", "channel", "currency", *(c for c, _ in cols)], rows, totals)


def orders_by_channel(series: Series, days: Sequence[str]) -> Report:
    def revenue(c: Counters) -> int:
        return int(c.get("goods", 0)) + int(c.get("delivery_fees", 0))

    cols: list[Column] = [
        ("orders", _get("orders")),
        ("units", _get("units")),
        ("goods", _get("goods")),
        ("delivery_fees", _get("delivery_fees")),
        ("revenue", revenue),
        ("average_order_value", lambda c: per(revenue(c), int(c.get("orders", 0)))),
        ("cancelled_orders", _get("cancelled_orders")),
    ]
    return _daily(ReportName.ORDERS_BY_CHANNEL, series, days, cols)


def _open_units(c: Counters) -> int:
    return max(
        int(c.get("units", 0)) - int(c.get("units_shipped", 0)) - int(c.get("units_cancelled", 0)),
        0,
    )


def fill_rate(series: Series, days: Sequence[str]) -> Report:
    cols: list[Column] = [
        ("units_ordered", _get("units")),
        ("units_shipped", _get("units_shipped")),
        ("units_cancelled", _get("units_cancelled")),
        ("units_open", _open_units),
        ("fill_rate", lambda c: rate(int(c.get("units_shipped", 0)), int(c.get("units", 0)))),
    ]
    return _daily(ReportName.FILL_RATE, series, days, cols)


def split_rate(series: Series, days: Sequence[str]) -> Report:
    cols: list[Column] = [
        ("orders", _get("orders")),
        ("split_orders", _get("split_orders")),
        ("split_rate", lambda c: rate(int(c.get("split_orders", 0)), int(c.get("orders", 0)))),
        ("shipments", _get("shipments")),
        ("parcels", _get("parcels")),
        ("parcels_per_order", _parcels_per_order),
    ]
    return _daily(ReportName.SPLIT_RATE, series, days, cols)


def _parcels_per_order(c: Counters) -> float | None:
    orders = int(c.get("orders", 0))
    return round(int(c.get("parcels", 0)) / orders, 2) if orders else None


def on_time_rate(series: Series, days: Sequence[str]) -> Report:
    def late(c: Counters) -> int:
        return int(c.get("fulfilled_orders", 0)) - int(c.get("on_time_orders", 0))

    cols: list[Column] = [
        ("fulfilled_orders", _get("fulfilled_orders")),
        ("on_time_orders", _get("on_time_orders")),
        ("late_orders", late),
        (
            "on_time_rate",
            lambda c: rate(int(c.get("on_time_orders", 0)), int(c.get("fulfilled_orders", 0))),
        ),
    ]
    return _daily(ReportName.ON_TIME_RATE, series, days, cols)


def cost_to_serve(series: Series, days: Sequence[str]) -> Report:
    def saved(c: Counters) -> int:
        return int(c.get("baseline_cost", 0)) - int(c.get("baseline_chosen_cost", 0))

    cols: list[Column] = [
        ("orders", _get("costed_orders")),
        ("cost", _get("cost")),
        ("shipping", _get("cost_shipping")),
        ("handling", _get("cost_handling")),
        ("cost_per_order", lambda c: per(int(c.get("cost", 0)), int(c.get("costed_orders", 0)))),
        ("compared_orders", _get("baseline_orders")),
        ("nearest_cost", _get("baseline_cost")),
        ("chosen_cost", _get("baseline_chosen_cost")),
        ("saved", saved),
        ("saved_per_order", lambda c: per(saved(c), int(c.get("baseline_orders", 0)))),
    ]
    return _daily(ReportName.COST_TO_SERVE, series, days, cols)


def total(series: Series, days: Iterable[str] | None = None) -> dict[str, int]:
    """Every counter summed over the series and days (all days when ``days`` is None)."""
    wanted = set(days) if days is not None else None
    out: dict[str, int] = {}
    for per_day in series.values():
        for day, counters in per_day.items():
            if wanted is None or day in wanted:
                add(out, counters)
    return out


def keyed_counters(counters: Counters, name: str) -> dict[str, int]:
    """``{key: value}`` of the counters named ``<name>@<key>``."""
    prefix = name + KEY_SEP
    return {k[len(prefix) :]: v for k, v in counters.items() if k.startswith(prefix)}


def short_pick_rate(series: Series) -> Report:
    counters = total(series)
    asked, short = keyed_counters(counters, "alloc"), keyed_counters(counters, "short")
    rows = [
        {
            "location_id": loc,
            "units_allocated": asked.get(loc, 0),
            "units_short": short.get(loc, 0),
            "short_pick_rate": rate(short.get(loc, 0), asked.get(loc, 0)),
        }
        for loc in sorted(set(asked) | set(short))
    ]
    all_asked, all_short = sum(asked.values()), sum(short.values())
    totals = [
        {
            "units_allocated": all_asked,
            "units_short": all_short,
            "short_pick_rate": rate(all_short, all_asked),
        }
    ]
    columns = ["location_id", "units_allocated", "units_short", "short_pick_rate"]
    return Report(ReportName.SHORT_PICK_RATE.value, columns, rows, totals)


def returns_rate(series: Series) -> Report:
    """By reason: units asked back for it / units shipped. By SKU: units of the SKU asked back
    / units of the SKU shipped."""
    counters = total(series)
    shipped = int(counters.get("units_shipped", 0))
    returned = int(counters.get("returned_units", 0))
    rows: list[dict[str, Any]] = []
    for reason, units in sorted(keyed_counters(counters, "reason").items()):
        rows.append(_returns_row("reason", reason, units, shipped))
    sku_shipped = keyed_counters(counters, "sku_shipped")
    for sku, units in sorted(keyed_counters(counters, "returned").items()):
        rows.append(_returns_row("sku", sku, units, sku_shipped.get(sku, 0)))
    totals = [
        {
            "rmas": int(counters.get("rmas", 0)),
            "units_returned": returned,
            "units_received": int(counters.get("returns_received_units", 0)),
            "units_shipped": shipped,
            "returns_rate": rate(returned, shipped),
        }
    ]
    columns = ["dimension", "key", "units_returned", "units_shipped", "returns_rate"]
    return Report(ReportName.RETURNS_RATE.value, columns, rows, totals)


def _returns_row(dimension: str, key: str, returned: int, shipped: int) -> dict[str, Any]:
    return {
        "dimension": dimension,
        "key": key,
        "units_returned": returned,
        "units_shipped": shipped,
        "returns_rate": rate(returned, shipped),
    }


def open_backorders(gauges: Mapping[str, Counters]) -> Report:
    """Units waiting for stock now, per channel and SKU (``gauges``: per channel)."""
    rows = []
    orders = units = 0
    for channel, counters in sorted(gauges.items()):
        orders += int(counters.get("open_backorder_orders", 0))
        for sku, quantity in sorted(keyed_counters(counters, "open_backorder").items()):
            if quantity > 0:
                rows.append({"channel": channel, "sku": sku, "units": quantity})
                units += quantity
    totals = [{"orders": orders, "units": units, "skus": len({r["sku"] for r in rows})}]
    return Report(ReportName.OPEN_BACKORDERS.value, ["channel", "sku", "units"], rows, totals)


class StockHealth(StrEnum):
    HEALTHY = "healthy"  # available above the reorder point
    LOW = "low"  # available at or below the reorder point, some left
    OUT = "out"  # nothing available


def health(level: StockLevel) -> StockHealth:
    if level.available <= 0:
        return StockHealth.OUT
    if level.available <= level.reorder_point:
        return StockHealth.LOW
    return StockHealth.HEALTHY


STOCK_COLUMNS = [
    "location_id",
    "name",
    "skus",
    "on_hand",
    "reserved",
    "available",
    "quarantine",
    "value",
    "currency",
    "healthy_skus",
    "low_skus",
    "out_of_stock_skus",
]


def stock_by_location(
    levels: Mapping[str, Sequence[StockLevel]],
    prices: Mapping[str, int],
    *,
    currency: str,
    names: Mapping[str, str],
) -> Report:
    """Per location: units, their value at ``prices`` (unit price per SKU in ``currency``;
    SKUs without a price count as 0 and are named in ``unpriced_skus``), and how many SKUs are
    healthy, low or out. ``available`` is never below 0 here (safety stock can exceed it)."""
    rows = []
    grand: dict[str, int] = {}
    unpriced: set[str] = set()
    for loc in sorted(levels):
        row = {"location_id": loc, "name": names.get(loc, loc), "currency": currency}
        sums = {k: 0 for k in STOCK_COLUMNS if k not in ("location_id", "name", "currency")}
        for level in levels[loc]:
            sums["skus"] += 1
            sums["on_hand"] += level.on_hand
            sums["reserved"] += level.reserved
            sums["available"] += max(level.available, 0)
            sums["quarantine"] += level.quarantine
            if level.sku not in prices:
                unpriced.add(level.sku)
            sums["value"] += level.on_hand * prices.get(level.sku, 0)
            sums[_HEALTH_COLUMN[health(level)]] += 1
        rows.append(row | sums)
        add(grand, sums)
    totals = [{"currency": currency, **grand, "unpriced_skus": sorted(unpriced)}]
    return Report(ReportName.STOCK_BY_LOCATION.value, list(STOCK_COLUMNS), rows, totals)


_HEALTH_COLUMN = {
    StockHealth.HEALTHY: "healthy_skus",
    StockHealth.LOW: "low_skus",
    StockHealth.OUT: "out_of_stock_skus",
}


def feed_ages(locations: Iterable[Location], now: datetime) -> list[dict[str, Any]]:
    """The stock feed of each location with an expected interval, the oldest first (never
    reported before all)."""
    rows = [
        {
            "location_id": loc.location_id,
            "name": loc.name or loc.location_id,
            "feed_interval_minutes": loc.feed_interval_minutes,
            "feed_stale_limit_minutes": loc.feed_stale_limit_minutes,
            **feed_view(loc, now),
        }
        for loc in locations
        if loc.feed_interval_minutes
    ]
    rows.sort(key=lambda r: (r["feed_age_minutes"] is not None, -(r["feed_age_minutes"] or 0)))
    return rows


def funnel(counters: Counters) -> list[dict[str, Any]]:
    """Orders placed, and how many of them reached each fulfilment step."""
    steps = [{"stage": "placed", "orders": int(counters.get("orders", 0))}]
    steps += [{"stage": s, "orders": int(counters.get(f"funnel_{s}", 0))} for s in FUNNEL]
    return steps


DAILY: dict[ReportName, Callable[[Series, Sequence[str]], Report]] = {
    ReportName.ORDERS_BY_CHANNEL: orders_by_channel,
    ReportName.FILL_RATE: fill_rate,
    ReportName.SPLIT_RATE: split_rate,
    ReportName.ON_TIME_RATE: on_time_rate,
    ReportName.COST_TO_SERVE: cost_to_serve,
}
OVER_RANGE: dict[ReportName, Callable[[Series], Report]] = {
    ReportName.SHORT_PICK_RATE: short_pick_rate,
    ReportName.RETURNS_RATE: returns_rate,
}
