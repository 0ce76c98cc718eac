"""The network-value job with fakes: what it reads, which SKUs it refreshes, what it stores."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta

from chalicelib.domain.network import Address, CarrierService, Location, Product, StockLevel
from chalicelib.domain.network_value import REFRESH_AFTER, NetworkValues, Sale
from chalicelib.domain.order.model import Order, OrderLine
from chalicelib.domain.rules import SourcingRules
from chalicelib.services.network_value import NetworkValueService
from tests.fixtures.network import load_network

NET = load_network()
NOW = datetime(2026, 3, 10, 3, 0, tzinfo=UTC)
YESTERDAY = date(2026, 3, 9)


class Store:
    def __init__(self) -> None:
        self.put: dict[str, tuple[dict[str, int], datetime]] = {}
        self.recorded: dict[str, Sale] = {}
        self.sold: list[Sale] = []

    def put_values(self, sku: str, values: Mapping[str, int], computed_at: datetime) -> None:
        self.put[sku] = (dict(values), computed_at)

    def values(self, skus: Iterable[str]) -> NetworkValues:
        wanted = set(skus)
        return NetworkValues(
            values={s: v for s, (v, _) in self.put.items() if s in wanted},
            computed_at={s: at for s, (_, at) in self.put.items() if s in wanted},
        )

    def record_sale(self, order_id: str, sale: Sale) -> None:
        self.recorded[order_id] = sale

    def sales(self, first: date, last: date) -> list[Sale]:
        return [s for s in self.sold if first <= s.day <= last]


class Catalog:
    def locations(self) -> list[Location]:
        return list(NET.locations)

    def carrier_services(self) -> list[CarrierService]:
        return list(NET.carrier_services)

    def products(self, skus: Iterable[str]) -> dict[str, Product]:
        return {s: Product(s, 400, {"EUR": 1000}) for s in skus if s != "GONE"}

    def rules(self) -> SourcingRules:
        return SourcingRules()


class Stock:
    def for_sku(self, sku: str) -> list[StockLevel]:
        return [StockLevel(sku, "dc-kassel", 2), StockLevel(sku, "dc-lyon", 50)]


def service(store: Store, **kw: object) -> NetworkValueService:
    return NetworkValueService(
        store=store,
        catalog=Catalog(),
        stock=Stock(),
        orders=lambda _: None,
        clock=lambda: NOW,
        **kw,  # type: ignore[arg-type]
    )


def test_the_job_values_the_skus_that_sold_and_skips_fresh_ones() -> None:
    store = Store()
    store.sold = [Sale(YESTERDAY, "DE-10", {"A": 40, "B": 40, "GONE": 1})]
    store.put["B"] = ({"dc-kassel": 1}, NOW - REFRESH_AFTER + timedelta(minutes=5))
    run = service(store).run()
    assert (run.skus, run.skipped, run.fresh, run.sales) == (2, 0, 1, 1)
    values, at = store.put["A"]
    assert at == NOW and values["dc-kassel"] > 0 and "dc-lyon" not in values
    assert store.put["B"][0] == {"dc-kassel": 1}  # fresh: kept
    assert "GONE" not in store.put  # no such product: nothing stored


def test_a_run_out_of_time_leaves_the_oldest_first_for_the_next() -> None:
    store = Store()
    store.sold = [Sale(YESTERDAY, "DE-10", {"A": 9, "B": 9, "C": 9})]
    store.put["A"] = ({}, NOW - timedelta(days=1))
    store.put["C"] = ({}, NOW - timedelta(days=3))
    run = service(store, budget_seconds=-1.0).run()  # over budget before the first SKU
    assert (run.skus, run.skipped) == (0, 3)
    run = service(store).run()
    assert (run.skus, run.skipped) == (3, 0)


def test_record_keeps_the_units_per_sku_and_the_region_of_the_order() -> None:
    store = Store()
    order = Order(
        order_id="o-1",
        channel="webshop",
        channel_order_id="W-1",
        currency="EUR",
        customer={},
        ship_to=Address(country="DE", postal_code="10115"),
        lines=[OrderLine("A", 2, 100), OrderLine("A", 1, 100), OrderLine("B", 1, 100)],
        shipments=[],
        created_at="2026-03-09T10:00:00.000Z",
        delivery={},
        token_hash="",
        request_hash="",
    )
    svc = NetworkValueService(
        store=store,
        catalog=Catalog(),
        stock=Stock(),
        orders=lambda oid: order if oid == "o-1" else None,
        clock=lambda: NOW,
    )
    assert svc.record("o-1") is True
    assert store.recorded["o-1"] == Sale(YESTERDAY, "DE-10", {"A": 3, "B": 1})
    assert svc.record("nope") is False
