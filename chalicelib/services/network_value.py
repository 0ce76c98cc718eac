"""Network values: the scheduled job that prices every SKU's stock per location, the sales it
forecasts from, and what sourcing reads (``domain.network_value`` has the method).

``record`` keeps a placed order's units and demand region (the order-events consumer, after the
commit; idempotent); the capture's sourcing-inputs record normally holds them already, and the
store then writes nothing. ``run`` (hourly) forecasts from the last ``lookback_days`` of sales and,
for every SKU that sold whose values are missing or older than ``REFRESH_AFTER``, oldest
first, solves its LP against its stock positions now and stores the values with
``computed_at``; it stops after ``budget_seconds`` (the Lambda's timeout is 30 s) and the next
run goes on. ``values`` gives sourcing the cart's values in one batch read (ordering asks only
when the rules are network-aware).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Protocol

from chalicelib.domain.network import CarrierService, Location, Product, StockLevel
from chalicelib.domain.network_value import (
    DEFAULT_HORIZON_DAYS,
    DEFAULT_LOOKBACK_DAYS,
    REFRESH_AFTER,
    NetworkValues,
    Sale,
    forecast,
    region_of,
    sku_values,
)
from chalicelib.domain.order.model import Order
from chalicelib.domain.rules import SourcingRules


class ValueStore(Protocol):
    def put_values(self, sku: str, values: Mapping[str, int], computed_at: datetime) -> None: ...
    def values(self, skus: Iterable[str]) -> NetworkValues: ...
    def record_sale(self, order_id: str, sale: Sale) -> None: ...
    def sales(self, first: date, last: date) -> list[Sale]: ...


class Catalog(Protocol):
    def locations(self) -> list[Location]: ...
    def carrier_services(self) -> list[CarrierService]: ...
    def products(self, skus: Iterable[str]) -> dict[str, Product]: ...
    def rules(self) -> SourcingRules: ...


class Stock(Protocol):
    def for_sku(self, sku: str) -> list[StockLevel]: ...


@dataclass(frozen=True)
class Run:
    skus: int  # SKUs valued
    skipped: int  # due, left for the next run (the time budget)
    fresh: int  # valued less than REFRESH_AFTER ago: not due
    sales: int  # orders read
    seconds: float


class NetworkValueService:
    def __init__(
        self,
        *,
        store: ValueStore,
        catalog: Catalog,
        stock: Stock,
        orders: Callable[[str], Order | None],
        clock: Callable[[], datetime],
        currency: str = "EUR",
        lookback_days: int = DEFAULT_LOOKBACK_DAYS,
        horizon_days: int = DEFAULT_HORIZON_DAYS,
        budget_seconds: float = 20.0,
    ) -> None:
        self._store, self._catalog, self._stock, self._orders = store, catalog, stock, orders
        self._clock, self._currency = clock, currency
        self._lookback, self._horizon, self._budget = lookback_days, horizon_days, budget_seconds

    def record(self, order_id: str) -> bool:
        """Keep the order's units and region for the forecast (False: no such order)."""
        order = self._orders(order_id)
        if order is None:
            return False
        lines: dict[str, int] = {}
        for line in order.lines:
            lines[line.sku] = lines.get(line.sku, 0) + line.quantity
        region = region_of(order.ship_to.country, order.ship_to.postal_code)
        day = date.fromisoformat(order.created_at[:10])
        self._store.record_sale(order.order_id, Sale(day, region, lines))
        return True

    def run(self) -> Run:
        start = time.monotonic()
        now = self._clock()
        today = now.date()
        sales = self._store.sales(today - timedelta(days=self._lookback), today - timedelta(1))
        demand = forecast(
            sales, today=today, lookback_days=self._lookback, horizon_days=self._horizon
        )
        locations = self._catalog.locations()
        services = self._catalog.carrier_services()
        stored = self._store.values(demand).computed_at
        due = sorted(
            (sku for sku in demand if sku not in stored or now - stored[sku] >= REFRESH_AFTER),
            key=lambda sku: (sku in stored, stored.get(sku, now), sku),
        )
        products = self._catalog.products(due)
        protect = self._catalog.rules().store_protection_units
        done = 0
        for sku in due:
            if time.monotonic() - start > self._budget:
                break
            done += 1
            product = products.get(sku)
            if product is None:
                continue
            stock = {level.location_id: level.available for level in self._stock.for_sku(sku)}
            values = sku_values(
                stock,
                demand[sku],
                locations,
                services,
                weight_g=product.weight_g,
                currency=self._currency,
                store_protection_units=protect,
            )
            self._store.put_values(sku, values, now)
        seconds = round(time.monotonic() - start, 3)
        return Run(done, len(due) - done, len(demand) - len(due), len(sales), seconds)

    def values(self, skus: Iterable[str]) -> NetworkValues:
        """The stored values of ``skus`` (one batch read; sourcing judges their age)."""
        return self._store.values(skus)
