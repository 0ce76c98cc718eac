"""Reports and the dashboard's figures, read from the aggregates (never by scanning orders).

A daily report reads one Query per channel and currency (the days of the range, every shard);
the location and returns reports sum the same items; open backorders read the gauges; stock by
location reads the stock table's ``by-location`` index, one query per location.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol

from chalicelib.domain import reports as rpt
from chalicelib.domain.alerts.rules import is_low
from chalicelib.domain.channel import Channel
from chalicelib.domain.errors import FieldError, InvalidInput, NotFound
from chalicelib.domain.network import Location, Product, StockLevel
from chalicelib.domain.reports import Report, ReportName

MAX_DAYS = 366
DEFAULT_DAYS = 30
DASHBOARD_DAYS = 14
LOW_STOCK_LIST = 50
_CURRENCY = re.compile(r"^[A-Z]{3}$")


class Aggregates(Protocol):
    def daily(
        self, channel: str, currency: str, first: date, last: date
    ) -> dict[str, dict[str, int]]: ...
    def open_backorders(
        self, channels: Iterable[str] | None = None
    ) -> dict[str, dict[str, int]]: ...


class Network(Protocol):
    def channels(self) -> list[Channel]: ...
    def locations(self) -> list[Location]: ...
    def products(self, skus: Iterable[str]) -> dict[str, Product]: ...


class StockByLocation(Protocol):
    def by_location(self, location_id: str) -> list[StockLevel]: ...


class LowStockIndex(Protocol):
    def low_at(self, location_id: str) -> list[StockLevel]: ...


@dataclass(frozen=True)
class Query:
    """What a report is asked for: a day range (inclusive) and optional filters."""

    first: date
    last: date
    channel: str | None = None
    currency: str | None = None


def parse_query(
    params: Mapping[str, str], *, today: date, default_days: int = DEFAULT_DAYS
) -> Query:
    """``from``/``to`` (YYYY-MM-DD, default: the last 30 days to today), ``channel``,
    ``currency``; InvalidInput (422) naming the field otherwise."""
    last = _date(params["to"], "to") if params.get("to") else today
    first = (
        _date(params["from"], "from")
        if params.get("from")
        else last - timedelta(days=default_days - 1)
    )
    if first > last:
        raise InvalidInput("from is after to", fields=[FieldError("from", "after to")])
    if (last - first).days >= MAX_DAYS:
        raise InvalidInput(
            "the range is too long",
            fields=[FieldError("from", f"at most {MAX_DAYS} days before to")],
        )
    currency = params.get("currency") or None
    if currency is not None and not _CURRENCY.match(currency):
        raise InvalidInput(
            "currency is not an ISO 4217 code", fields=[FieldError("currency", "like EUR")]
        )
    return Query(first, last, params.get("channel") or None, currency)


def _date(text: str, name: str) -> date:
    try:
        if len(text) != 10:
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(
            f"{name} must be a date", fields=[FieldError(name, "not a YYYY-MM-DD date")]
        ) from None


class ReportService:
    def __init__(
        self,
        *,
        aggregates: Aggregates,
        network: Network,
        stock: StockByLocation,
        low_stock: LowStockIndex,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._aggregates, self._network, self._stock = aggregates, network, stock
        self._low, self._clock = low_stock, clock

    def today(self) -> date:
        return self._clock().date()

    def as_of(self) -> str:
        return self._clock().isoformat(timespec="seconds")

    def run(self, name: str, query: Query) -> Report:
        """The report ``name`` (NotFound naming it when there is no such report)."""
        try:
            report = ReportName(name)
        except ValueError:
            raise NotFound(
                f"there is no report {name!r}",
                fields=[FieldError("name", f"one of {', '.join(r.value for r in ReportName)}")],
            ) from None
        if report == ReportName.OPEN_BACKORDERS:
            channels = [query.channel] if query.channel else None
            self.check_channel(query)
            return rpt.open_backorders(self._aggregates.open_backorders(channels))
        if report == ReportName.STOCK_BY_LOCATION:
            return self.stock_by_location(query.currency)
        series = self.series(query)
        if report in rpt.DAILY:
            return rpt.DAILY[report](series, rpt.days_between(query.first, query.last))
        return rpt.OVER_RANGE[report](series)

    def check_channel(self, query: Query) -> None:
        """InvalidInput (422) when the query names a channel the catalog does not know."""
        self._series_keys(query)

    def series(self, query: Query) -> rpt.Series:
        return {
            key: self._aggregates.daily(key[0], key[1], query.first, query.last)
            for key in self._series_keys(query)
        }

    def _series_keys(self, query: Query) -> list[rpt.SeriesKey]:
        """The (channel, currency) pairs the catalog knows, filtered by the query."""
        channels = self._network.channels()
        if query.channel and query.channel not in {c.channel for c in channels}:
            raise InvalidInput(
                f"unknown channel {query.channel}", fields=[FieldError("channel", "unknown")]
            )
        return sorted(
            (c.channel, cur)
            for c in channels
            for cur in c.currencies
            if query.channel in (None, c.channel) and query.currency in (None, cur)
        )

    def stock_by_location(self, currency: str | None) -> Report:
        currency = currency or self._default_currency()
        locations = self._network.locations()
        levels = {loc.location_id: self._stock.by_location(loc.location_id) for loc in locations}
        skus = {level.sku for found in levels.values() for level in found}
        products = self._network.products(skus)
        prices = {sku: p.prices[currency] for sku, p in products.items() if currency in p.prices}
        names = {loc.location_id: loc.name or loc.location_id for loc in locations}
        return rpt.stock_by_location(levels, prices, currency=currency, names=names)

    def _default_currency(self) -> str:
        currencies = sorted({cur for c in self._network.channels() for cur in c.currencies})
        return "EUR" if not currencies or "EUR" in currencies else currencies[0]

    def low_stock(self) -> list[dict[str, Any]]:
        """Items at or below their reorder point, the emptiest first (one index query per
        location)."""
        low = [
            level
            for loc in self._network.locations()
            for level in self._low.low_at(loc.location_id)
            if is_low(level)
        ]
        low.sort(key=lambda lvl: (lvl.available - lvl.reorder_point, lvl.sku, lvl.location_id))
        return [
            {
                "sku": lvl.sku,
                "location_id": lvl.location_id,
                "on_hand": lvl.on_hand,
                "reserved": lvl.reserved,
                "available": max(lvl.available, 0),
                "reorder_point": lvl.reorder_point,
            }
            for lvl in low
        ]

    def dashboard(self) -> dict[str, Any]:
        """The operations dashboard's figures: KPIs, charts and the low-stock list."""
        today = self.today()
        first = today - timedelta(days=DEFAULT_DAYS - 1)
        series = self.series(Query(first, today))
        chart_days = rpt.days_between(today - timedelta(days=DASHBOARD_DAYS - 1), today)
        month, day = rpt.total(series), rpt.total(series, [today.isoformat()])
        backorders = rpt.open_backorders(self._aggregates.open_backorders()).totals[0]
        low = self.low_stock()
        stock = self.stock_by_location(None)
        return {
            "as_of": self.as_of(),
            "today": today.isoformat(),
            "kpis": {
                "orders_today": day.get("orders", 0),
                "units_today": day.get("units", 0),
                "fill_rate": rpt.rate(month.get("units_shipped", 0), month.get("units", 0)),
                "on_time_rate": rpt.rate(
                    month.get("on_time_orders", 0), month.get("fulfilled_orders", 0)
                ),
                "open_backorders": backorders["orders"],
                "open_backorder_units": backorders["units"],
                "low_stock": len(low),
                "window_days": DEFAULT_DAYS,
            },
            "orders_per_day": {
                "days": chart_days,
                "series": [
                    {
                        "channel": channel,
                        "currency": currency,
                        "orders": [per_day.get(d, {}).get("orders", 0) for d in chart_days],
                    }
                    for (channel, currency), per_day in sorted(series.items())
                ],
            },
            "funnel": rpt.funnel(month),
            "stock_health": stock.rows,
            "low_stock": low[:LOW_STOCK_LIST],
            "feed_ages": rpt.feed_ages(self._network.locations(), self._clock()),
        }
