"""Reports through the API on orders that really went through capture, warehouse events,
cancels and returns: the figures come from the aggregates those state changes wrote, exactly
once however often an event arrives."""

from __future__ import annotations

import csv
import io
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.api.fulfilment_kit import (
    at,
    deliver,
    dispatch_placed,
    event,
    get_order,
    make_shop,
    place,
    shipped,
)
from tests.api.seed import auth, seed_product, set_stock

EVENTS = "dirigent-warehouse-events"
TODAY = datetime.now(UTC).date().isoformat()


@pytest.fixture
def shop(client: Any, admin_key: str, aws: Any) -> dict[str, str]:
    return make_shop(client, admin_key, aws)


def report(client: Any, key: str, name: str, query: str = "") -> tuple[int, Any]:
    resp = client.http.get(f"/reports/{name}{query}", headers=auth(key))
    ctype = headers(resp).get("content-type", "")
    return resp.status_code, json.loads(resp.body) if "json" in ctype else resp.body.decode()


def headers(resp: Any) -> dict[str, str]:
    return {k.lower(): v for k, v in resp.headers.items()}


def ok(client: Any, key: str, name: str, query: str = "") -> Any:
    status, body = report(client, key, name, query)
    assert status == 200, body
    return body


def today_row(body: dict[str, Any], channel: str = "webshop") -> dict[str, Any]:
    (row,) = [r for r in body["rows"] if r["date"] == TODAY and r["channel"] == channel]
    return row


def fulfil(client: Any, order: dict[str, Any], *, late_days: int = 0) -> None:
    """Pick, ship and deliver every shipment (``late_days`` after its promised date)."""
    for shipment in order["shipments"]:
        steps = [
            event("picked", order, shipment, occurred_at=at(minutes=1)),
            shipped(order, shipment),
        ]
        if late_days:
            promised = datetime.fromisoformat(shipment["promised_date"]).replace(tzinfo=UTC)
            when = (promised + timedelta(days=late_days, hours=12)).isoformat()
        else:
            when = at(minutes=10)
        steps.append(event("delivered", order, shipment, occurred_at=when))
        assert deliver(client, "on_warehouse_event", EVENTS, *steps) == []


def test_orders_revenue_fill_split_and_on_time_from_real_orders(client, aws, shop):
    first = place(client, shop["key"], "REP-1", [("SKU-1", 2)])
    second = place(client, shop["key"], "REP-2", [("SKU-1", 3), ("SKU-2", 1)])
    place(client, shop["key"], "REP-3", [("SKU-2", 1)])
    dispatch_placed(client, aws)
    fulfil(client, first)
    fulfil(client, second, late_days=2)

    orders = today_row(ok(client, shop["admin"], "orders_by_channel"))
    assert orders["orders"] == 3 and orders["units"] == 7
    assert orders["goods"] == 7 * 2999
    fee = sum(o["delivery"]["price"] for o in (first, second))
    assert orders["revenue"] - orders["goods"] >= fee

    fill = ok(client, shop["service"], "fill_rate")
    (total,) = fill["totals"]
    assert (total["units_ordered"], total["units_shipped"], total["units_open"]) == (7, 6, 1)
    assert total["fill_rate"] == round(6 / 7, 4)

    on_time = ok(client, shop["admin"], "on_time_rate")["totals"][0]
    assert (on_time["fulfilled_orders"], on_time["on_time_orders"], on_time["late_orders"]) == (
        2,
        1,
        1,
    )
    assert on_time["on_time_rate"] == 0.5

    split = ok(client, shop["admin"], "split_rate")["totals"][0]
    shipments = sum(len(o["shipments"]) for o in (first, second)) + 1
    assert split["orders"] == 3 and split["shipments"] == shipments
    assert split["parcels"] >= shipments


def test_a_duplicated_event_counts_once_and_a_cancel_counts_its_units(client, aws, shop):
    order = place(client, shop["key"], "REP-DUP", [("SKU-1", 2)])
    other = place(client, shop["key"], "REP-CANCEL", [("SKU-2", 3)])
    dispatch_placed(client, aws)
    (shipment,) = order["shipments"]
    ship = shipped(order, shipment)
    done = event("delivered", order, shipment, occurred_at=at(minutes=20))
    assert deliver(client, "on_warehouse_event", EVENTS, ship, ship, done) == []
    assert deliver(client, "on_warehouse_event", EVENTS, done, ship) == []  # again, later
    resp = client.http.post(f"/orders/{other['order_id']}/cancel", headers=auth(shop["service"]))
    assert resp.status_code == 200, resp.body
    client.http.post(f"/orders/{other['order_id']}/cancel", headers=auth(shop["service"]))
    dispatch_placed(client, aws)  # released already: the location is asked, and agrees
    confirms = [event("cancel_confirmed", other, s) for s in other["shipments"]]
    assert deliver(client, "on_warehouse_event", EVENTS, *confirms) == []

    fill = ok(client, shop["admin"], "fill_rate")["totals"][0]
    assert (fill["units_ordered"], fill["units_shipped"], fill["units_cancelled"]) == (5, 2, 3)
    assert fill["units_open"] == 0
    orders = today_row(ok(client, shop["admin"], "orders_by_channel"))
    assert orders["orders"] == 2 and orders["cancelled_orders"] == 1
    on_time = ok(client, shop["admin"], "on_time_rate")["totals"][0]
    assert on_time["fulfilled_orders"] == 1 and on_time["on_time_orders"] == 1


def test_short_picks_per_location_and_cost_to_serve(client, aws, shop):
    order = place(client, shop["key"], "REP-SHORT", [("SKU-1", 3)])
    dispatch_placed(client, aws)
    (shipment,) = order["shipments"]
    short = event("short_pick", order, shipment, lines=[{"sku": "SKU-1", "picked_quantity": 2}])
    assert deliver(client, "on_warehouse_event", EVENTS, short, short) == []

    rows = {r["location_id"]: r for r in ok(client, shop["admin"], "short_pick_rate")["rows"]}
    origin = rows[shipment["location_id"]]
    assert (origin["units_allocated"], origin["units_short"]) == (3, 1)
    assert origin["short_pick_rate"] == round(1 / 3, 4)
    elsewhere = [r for loc, r in rows.items() if loc != shipment["location_id"]]
    assert sum(r["units_allocated"] for r in elsewhere) == 1  # re-sourced there

    cost = ok(client, shop["admin"], "cost_to_serve")["totals"][0]
    order = get_order(client, shop["service"], order["order_id"])  # costs are internal
    assert cost["orders"] == 1 and cost["cost"] == order["delivery"]["cost"]["total"]
    assert cost["compared_orders"] == 1
    assert cost["nearest_cost"] == order["delivery"]["nearest_cost"]
    assert cost["saved"] == order["delivery"]["nearest_cost"] - order["delivery"]["cost"]["total"]


def test_returns_rate_by_reason_and_by_sku(client, aws, shop):
    order = place(client, shop["key"], "REP-RET", [("SKU-1", 3), ("SKU-2", 1)])
    dispatch_placed(client, aws)
    fulfil(client, order)
    body = {
        "order_id": order["order_id"],
        "token": order["tracking_token"],
        "lines": [
            {"sku": "SKU-1", "quantity": 2, "reason": "wrong_size"},
            {"sku": "SKU-2", "quantity": 1, "reason": "defective"},
        ],
    }
    resp = client.http.post("/returns", body=json.dumps(body), headers=auth(shop["service"]))
    assert resp.status_code == 201, resp.body

    returns = ok(client, shop["admin"], "returns_rate")
    rows = {(r["dimension"], r["key"]): r for r in returns["rows"]}
    assert rows[("reason", "wrong_size")]["units_returned"] == 2
    assert rows[("reason", "defective")]["returns_rate"] == 0.25
    assert rows[("sku", "SKU-1")]["returns_rate"] == round(2 / 3, 4)
    assert rows[("sku", "SKU-2")]["returns_rate"] == 1.0
    assert returns["totals"][0]["returns_rate"] == 0.75


def test_open_backorders_rise_with_capture_and_fall_when_cancelled(client, admin_key, aws):
    shop = make_shop(client, admin_key, aws, backorder_policy="backorder")
    order = place(client, shop["key"], "REP-BO", [("SKU-2", 6)])  # 4 in stock
    body = ok(client, admin_key, "open_backorders")
    assert body["rows"] == [{"channel": "webshop", "sku": "SKU-2", "units": 2}]
    assert body["totals"][0]["orders"] == 1 and "as_of" in body
    client.http.post(f"/orders/{order['order_id']}/cancel", headers=auth(shop["service"]))
    assert ok(client, admin_key, "open_backorders")["rows"] == []


def test_stock_by_location_values_units_at_the_product_price(client, aws, shop, admin_key):
    seed_product(client, admin_key, "SKU-3", price=2000)  # the order pays 2999: within 50 %
    set_stock(aws, "SKU-3", "dc-kassel", 7)
    place(client, shop["key"], "REP-STOCK", [("SKU-3", 2)])
    rows = {r["location_id"]: r for r in ok(client, admin_key, "stock_by_location")["rows"]}
    kassel = rows["dc-kassel"]
    # SKU-1 5, SKU-2 4 at 29.99, SKU-3 7 at 20.00 (2 of them reserved, still on hand)
    assert kassel["on_hand"] == 16 and kassel["reserved"] == 2 and kassel["available"] == 14
    assert kassel["value"] == 9 * 2999 + 7 * 2000 and kassel["currency"] == "EUR"
    assert kassel["skus"] == 3 and kassel["out_of_stock_skus"] == 0


def test_csv_has_a_header_and_one_row_per_day_and_series(client, aws, shop):
    place(client, shop["key"], "REP-CSV", [("SKU-1", 1)])
    start = (datetime.now(UTC).date() - timedelta(days=6)).isoformat()
    resp = client.http.get(
        f"/reports/orders_by_channel?from={start}&to={TODAY}&format=csv",
        headers=auth(shop["admin"]),
    )
    assert resp.status_code == 200
    assert headers(resp)["content-type"].startswith("text/csv")
    disposition = headers(resp)["content-disposition"]
    assert f'filename="orders_by_channel_{start}_{TODAY}.csv"' in disposition
    text = resp.body.decode()
    assert text.endswith("\r\n")
    rows = list(csv.reader(io.StringIO(text)))
    header = rows[0]
    assert header[:3] == ["date", "channel", "currency"]
    assert "revenue" in header and "average_order_value" in header
    assert [r[0] for r in rows[1:]] == [
        (datetime.now(UTC).date() - timedelta(days=6 - i)).isoformat() for i in range(7)
    ]
    last = dict(zip(header, rows[-1], strict=True))
    assert (last["channel"], last["orders"], last["goods"]) == ("webshop", "1", "2999")
    empty = dict(zip(header, rows[1], strict=True))
    assert empty["orders"] == "0" and empty["average_order_value"] == ""


def test_bad_requests_name_the_field(client, aws, shop):
    admin = shop["admin"]
    status, body = report(client, admin, "profit_by_moon_phase")
    assert status == 404 and "profit_by_moon_phase" in body["error"]["message"]
    assert body["error"]["fields"][0]["path"] == "name"
    for query, path in [
        ("?from=2026-13-01", "from"),
        ("?to=yesterday", "to"),
        ("?from=2026-05-02&to=2026-05-01", "from"),
        ("?from=2024-01-01&to=2026-01-01", "from"),
        ("?format=xml", "format"),
        ("?currency=euro", "currency"),
        ("?channel=nope", "channel"),
    ]:
        status, body = report(client, admin, "fill_rate", query)
        assert status == 422, (query, body)
        assert body["error"]["fields"][0]["path"] == path, query
    status, _ = report(client, shop["key"], "fill_rate")
    assert status == 403
    assert client.http.get("/reports/fill_rate").status_code == 401


def test_a_channel_and_currency_filter_narrow_the_series(client, aws, shop, admin_key):
    from tests.api.seed import seed_channel

    other = seed_channel(client, admin_key, "marketplace", currencies=["EUR", "CHF"])
    place(client, shop["key"], f"REP-{uuid.uuid4().hex[:6]}", [("SKU-1", 1)])
    place(client, other, f"REP-{uuid.uuid4().hex[:6]}", [("SKU-1", 2)])
    everything = ok(client, admin_key, "orders_by_channel", f"?from={TODAY}")
    assert {(r["channel"], r["currency"]) for r in everything["rows"]} == {
        ("marketplace", "CHF"),
        ("marketplace", "EUR"),
        ("webshop", "EUR"),
    }
    narrowed = ok(
        client, admin_key, "orders_by_channel", f"?from={TODAY}&channel=marketplace&currency=EUR"
    )
    assert [(r["channel"], r["orders"], r["units"]) for r in narrowed["rows"]] == [
        ("marketplace", 1, 2)
    ]
    assert narrowed["filters"] == {"channel": "marketplace", "currency": "EUR"}


def test_the_aggregates_equal_the_sum_of_every_stored_order_s_metrics(client, aws, shop):
    """Whatever happened (duplicates, out of order, short picks, cancels, returns), the daily
    items hold exactly what the stored orders count now."""
    from chalicelib.adapters.dynamo_orders import order_from_item
    from chalicelib.domain.order.metrics import metrics, split_gauges

    first = place(client, shop["key"], "INV-1", [("SKU-1", 3)])
    second = place(client, shop["key"], "INV-2", [("SKU-2", 2)])
    dispatch_placed(client, aws)
    (a,) = first["shipments"]
    short = event("short_pick", first, a, lines=[{"sku": "SKU-1", "picked_quantity": 2}])
    done = event("delivered", first, a, occurred_at=at(minutes=30))
    ship = shipped(first, a)
    assert deliver(client, "on_warehouse_event", EVENTS, done, short, ship, done, short) == []
    client.http.post(f"/orders/{second['order_id']}/cancel", headers=auth(shop["service"]))

    items = aws.resource("dynamodb").Table("dirigent-orders").scan()["Items"]
    expected: dict[str, int] = {}
    for item in items:
        if item["pk"].startswith("ORDER#"):
            daily, _ = split_gauges(metrics(order_from_item(item)))
            for name, value in daily.items():
                expected[name] = expected.get(name, 0) + value
    stored: dict[str, int] = {}
    for item in items:
        if item["pk"].startswith("AGG#orders#"):
            for name, value in item.items():
                if name not in ("pk", "sk") and int(value):
                    stored[name] = stored.get(name, 0) + int(value)
    assert stored == expected
    assert expected["units_shipped"] == 2 and expected["short@" + a["location_id"]] == 1
