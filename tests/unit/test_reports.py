"""Report arithmetic on known aggregates, and what an order contributes to them."""

from __future__ import annotations

from datetime import date

from chalicelib.domain import reports as rpt
from chalicelib.domain.network import Address, StockLevel
from chalicelib.domain.order.metrics import delta, fulfilment_time, metrics, split_gauges
from chalicelib.domain.order.model import (
    DeliveryMode,
    Order,
    OrderLine,
    OrderShipment,
    ShipmentStatus,
)

DAYS = rpt.days_between(date(2026, 3, 1), date(2026, 3, 3))
SERIES: rpt.Series = {
    ("shop", "EUR"): {
        "2026-03-01": {
            "orders": 4,
            "units": 10,
            "goods": 10_000,
            "delivery_fees": 1_000,
            "units_shipped": 8,
            "units_cancelled": 1,
            "split_orders": 1,
            "shipments": 5,
            "parcels": 6,
            "fulfilled_orders": 3,
            "on_time_orders": 2,
            "costed_orders": 4,
            "cost": 2_000,
            "baseline_orders": 2,
            "baseline_cost": 1_500,
            "baseline_chosen_cost": 1_100,
            "alloc@dc-a": 7,
            "short@dc-a": 1,
            "alloc@dc-b": 4,
            "sku_shipped@S1": 6,
            "sku_shipped@S2": 2,
            "returned@S1": 3,
            "returned_units": 3,
            "reason@wrong_size": 2,
            "reason@defective": 1,
        },
        "2026-03-03": {"orders": 1, "units": 2, "goods": 3_001, "units_shipped": 2},
    },
    ("market", "CHF"): {"2026-03-02": {"orders": 2, "units": 2, "goods": 5_000}},
}


def test_orders_by_channel_has_a_row_per_day_and_series_and_totals_per_currency():
    report = rpt.orders_by_channel(SERIES, DAYS)
    assert len(report.rows) == 6  # 3 days x 2 series, empty days as zeros
    first = report.rows[3]
    assert (first["date"], first["channel"], first["orders"], first["revenue"]) == (
        "2026-03-01",
        "shop",
        4,
        11_000,
    )
    assert first["average_order_value"] == 2_750
    empty = report.rows[4]
    assert (empty["orders"], empty["revenue"], empty["average_order_value"]) == (0, 0, None)
    totals = {t["currency"]: t for t in report.totals}
    assert totals["EUR"]["orders"] == 5 and totals["EUR"]["revenue"] == 14_001
    assert totals["EUR"]["average_order_value"] == 2_800  # 14001 / 5 = 2800.2
    assert totals["CHF"]["revenue"] == 5_000


def test_fill_rate_is_units_shipped_over_units_ordered():
    (eur, chf) = sorted(rpt.fill_rate(SERIES, DAYS).totals, key=lambda t: t["currency"] != "EUR")
    assert (eur["units_ordered"], eur["units_shipped"], eur["units_open"]) == (12, 10, 1)
    assert eur["fill_rate"] == 0.8333
    assert chf["fill_rate"] == 0.0


def test_split_rate_and_parcels_per_order():
    eur = next(t for t in rpt.split_rate(SERIES, DAYS).totals if t["currency"] == "EUR")
    assert eur["split_rate"] == 0.2 and eur["parcels_per_order"] == 1.2


def test_on_time_rate_counts_fulfilled_orders_only():
    eur = next(t for t in rpt.on_time_rate(SERIES, DAYS).totals if t["currency"] == "EUR")
    assert (eur["on_time_orders"], eur["late_orders"], eur["on_time_rate"]) == (2, 1, 0.6667)
    chf = next(t for t in rpt.on_time_rate(SERIES, DAYS).totals if t["currency"] == "CHF")
    assert chf["on_time_rate"] is None  # nothing delivered: no rate, not 0 %


def test_cost_to_serve_and_the_saving_against_the_nearest_location():
    eur = next(t for t in rpt.cost_to_serve(SERIES, DAYS).totals if t["currency"] == "EUR")
    assert eur["cost_per_order"] == 500
    assert (eur["nearest_cost"], eur["chosen_cost"], eur["saved"]) == (1_500, 1_100, 400)
    assert eur["saved_per_order"] == 200


def test_short_pick_rate_per_location():
    report = rpt.short_pick_rate(SERIES)
    assert report.rows == [
        {"location_id": "dc-a", "units_allocated": 7, "units_short": 1, "short_pick_rate": 0.1429},
        {"location_id": "dc-b", "units_allocated": 4, "units_short": 0, "short_pick_rate": 0.0},
    ]
    assert report.totals[0]["short_pick_rate"] == 0.0909


def test_returns_rate_by_reason_against_all_shipped_and_by_sku_against_its_own():
    report = rpt.returns_rate(SERIES)
    rows = {(r["dimension"], r["key"]): r for r in report.rows}
    assert rows[("reason", "wrong_size")]["returns_rate"] == 0.2  # 2 of 10 shipped
    assert rows[("sku", "S1")]["returns_rate"] == 0.5  # 3 of its 6 shipped
    assert report.totals[0]["returns_rate"] == 0.3


def test_open_backorders_per_channel_and_sku():
    report = rpt.open_backorders(
        {
            "shop": {"open_backorder_orders": 2, "open_backorder@S1": 3, "open_backorder@S2": 0},
            "market": {"open_backorder_orders": 1, "open_backorder@S1": 1},
        }
    )
    assert report.rows == [
        {"channel": "market", "sku": "S1", "units": 1},
        {"channel": "shop", "sku": "S1", "units": 3},
    ]
    assert report.totals == [{"orders": 3, "units": 4, "skus": 1}]


def test_stock_by_location_sums_units_values_and_health():
    levels = {
        "dc-a": [
            StockLevel("S1", "dc-a", on_hand=10, reserved=2, reorder_point=3),  # healthy
            StockLevel("S2", "dc-a", on_hand=3, safety_stock=1, reorder_point=5, quarantine=2),
            StockLevel("S3", "dc-a", on_hand=1, reserved=1),  # out
        ]
    }
    report = rpt.stock_by_location(
        levels, {"S1": 1_000, "S2": 500}, currency="EUR", names={"dc-a": "Kassel"}
    )
    (row,) = report.rows
    assert (row["on_hand"], row["reserved"], row["available"], row["quarantine"]) == (14, 3, 10, 2)
    assert row["value"] == 10 * 1_000 + 3 * 500
    assert (row["healthy_skus"], row["low_skus"], row["out_of_stock_skus"]) == (1, 1, 1)
    assert report.totals[0]["unpriced_skus"] == ["S3"]


def test_the_funnel_is_cumulative_from_placed():
    steps = rpt.funnel({"orders": 5, "funnel_released": 4, "funnel_picked": 3})
    assert [s["orders"] for s in steps] == [5, 4, 3, 0, 0]


# --- what one order adds -----------------------------------------------------------------------


def order(**kw: object) -> Order:
    shipment = OrderShipment(
        shipment_id="o1-s1",
        location_id="dc-a",
        lines={"S1": 2},
        mode=DeliveryMode.SHIP,
        carrier_service="dhl",
        ship_date="2026-03-02",
        promised_date="2026-03-04",
    )
    base: dict[str, object] = {
        "order_id": "o1",
        "channel": "shop",
        "channel_order_id": "C-1",
        "currency": "EUR",
        "customer": {},
        "ship_to": Address(country="DE", postal_code=""),
        "lines": [OrderLine("S1", 2, 1_500)],
        "shipments": [shipment],
        "created_at": "2026-03-01T10:00:00.000Z",
        "delivery": {
            "price": 495,
            "promised_date": "2026-03-04",
            "cost": {"total": 700, "shipping": 600, "handling": 100},
            "nearest_cost": 900,
            "parcels": 1,
        },
        "token_hash": "",
        "request_hash": "",
    }
    base.update(kw)
    return Order(**base)  # type: ignore[arg-type]


def test_a_placed_order_counts_its_units_revenue_and_costs():
    m = metrics(order())
    assert (m["orders"], m["units"], m["goods"], m["delivery_fees"]) == (1, 2, 3_000, 495)
    assert (m["cost"], m["baseline_cost"], m["baseline_chosen_cost"]) == (700, 900, 700)
    assert m["alloc@dc-a"] == 2 and "units_shipped" not in m


def test_shipping_and_delivering_on_time_adds_only_the_difference():
    o = order()
    placed = metrics(o)
    shipment = o.shipments[0]
    shipment.status = ShipmentStatus.SHIPPED
    o.record(at="2026-03-02T15:00:00Z", event="shipped", source="loc", shipment_id="o1-s1")
    shipped = metrics(o)
    assert delta(shipped, placed) == {
        "funnel_released": 1,
        "funnel_picked": 1,
        "funnel_shipped": 1,
        "shipped@dc-a": 2,
        "sku_shipped@S1": 2,
        "units_shipped": 2,
    }
    shipment.status = ShipmentStatus.DELIVERED
    o.record(at="2026-03-04T09:00:00Z", event="delivered", source="loc", shipment_id="o1-s1")
    done = metrics(o)
    assert delta(done, shipped) == {
        "funnel_delivered": 1,
        "fulfilled_orders": 1,
        "on_time_orders": 1,
    }
    assert delta(done, done) == {}  # the same state again adds nothing


def test_a_late_delivery_is_fulfilled_but_not_on_time():
    o = order()
    o.shipments[0].status = ShipmentStatus.DELIVERED
    o.record(at="2026-03-05T09:00:00Z", event="delivered", source="loc", shipment_id="o1-s1")
    assert fulfilment_time(o) == "2026-03-05T09:00:00Z"
    m = metrics(o)
    assert m["fulfilled_orders"] == 1 and "on_time_orders" not in m


def test_backorders_are_gauges_that_go_back_to_zero_when_served():
    o = order(backorders={"S9": 3})
    daily, gauges = split_gauges(metrics(o))
    assert gauges == {"open_backorder_orders": 1, "open_backorder_units": 3, "open_backorder@S9": 3}
    assert "open_backorder_units" not in daily
    before = metrics(o)
    o.backorders = {}
    assert split_gauges(delta(metrics(o), before))[1] == {
        "open_backorder_orders": -1,
        "open_backorder_units": -3,
        "open_backorder@S9": -3,
    }


def test_a_short_pick_counts_against_its_location_and_returns_by_reason():
    o = order()
    o.shipments[0].lines = {"S1": 1}
    o.record(
        at="2026-03-02T08:00:00Z",
        event="short_pick",
        source="loc",
        shipment_id="o1-s1",
        sku="S1",
        missing_quantity=1,
    )
    o.returns = {"r1": {"lines": {"S1": 1}, "reasons": {"S1": "defective"}, "received": {}}}
    m = metrics(o)
    assert (m["alloc@dc-a"], m["short@dc-a"]) == (2, 1)
    assert (m["returned_units"], m["returned@S1"], m["reason@defective"], m["rmas"]) == (1, 1, 1, 1)
