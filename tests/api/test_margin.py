"""Margins through the API: products' cost prices, the rules' margin and cost fields, the
margin report per channel and day, and explanations with numbers (order, backorder, short pick)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from chalicelib import wiring
from tests.api.fulfilment_kit import deliver, dispatch_placed, event, get_order, make_shop, place
from tests.api.seed import auth, order_body, seed_channel, seed_network, set_stock

EVENTS = "dirigent-warehouse-events"
TODAY = datetime.now(UTC).date().isoformat()


@pytest.fixture
def shop(client: Any, admin_key: str, aws: Any) -> dict[str, str]:
    found = make_shop(client, admin_key, aws)
    put_product(client, admin_key, "SKU-1", cost_prices={"EUR": 1200})  # SKU-2 has none
    return found


def put_product(client: Any, key: str, sku: str, **fields: Any) -> Any:
    body = {"name": sku, "weight_g": 800, "prices": {"EUR": 2999}, **fields}
    return client.http.put(f"/products/{sku}", body=json.dumps(body), headers=auth(key))


def errors(resp: Any) -> set[str]:
    return {f["path"] for f in json.loads(resp.body)["error"]["fields"]}


def test_cost_prices_are_validated_and_stored(client, admin_key):
    for bad in ({"EUR": -1}, {"eur": 100}, {"EUR": "x"}):
        resp = put_product(client, admin_key, "SKU-C", cost_prices=bad)
        assert resp.status_code == 422, resp.body
        assert any("cost_prices" in f for f in errors(resp))
    assert (
        put_product(client, admin_key, "SKU-C", cost_prices={"EUR": 1234, "CHF": 1300}).status_code
        == 200
    )
    got = json.loads(client.http.get("/products/SKU-C", headers=auth(admin_key)).body)
    assert got["cost_prices"] == {"EUR": 1234, "CHF": 1300}


@pytest.mark.parametrize(
    ("rules", "field"),
    [
        ({"min_margin_pct": 150}, "min_margin_pct"),
        ({"min_margin": {"EUR": -5}}, "min_margin.EUR"),
        ({"min_margin": {"euro": 5}}, "min_margin.euro"),
        ({"road_distance_factor": 0.5}, "road_distance_factor"),
        ({"cost_per_parcel_km": -1}, "cost_per_parcel_km"),
        ({"co2e_kg_per_tonne_km": {"standard": 1000}}, "co2e_kg_per_tonne_km.standard"),
        (
            {"min_item_value_by_location": {"type:shop": {"EUR": 1}}},
            "min_item_value_by_location.type:shop",
        ),
    ],
)
def test_the_rules_margin_and_cost_fields_are_validated(client, admin_key, rules, field):
    resp = client.http.put("/sourcing-rules", body=json.dumps(rules), headers=auth(admin_key))
    assert resp.status_code == 422, resp.body
    assert field in errors(resp)


def test_valid_cost_rules_are_stored(client, admin_key):
    seed_network(client, admin_key, locations=["dc-lyon"])
    rules = {
        "min_margin": {"EUR": 500},
        "min_margin_pct": 5,
        "min_item_value_by_location": {"type:store": {"EUR": 2000}, "dc-lyon": {"EUR": 100}},
        "cost_per_parcel_km": 0.5,
        "co2e_cost_per_kg": 10,
    }
    resp = client.http.put("/sourcing-rules", body=json.dumps(rules), headers=auth(admin_key))
    assert resp.status_code == 200, resp.body
    got = json.loads(client.http.get("/sourcing-rules", headers=auth(admin_key)).body)
    assert got["min_item_value_by_location"]["type:store"] == {"EUR": 2000}
    assert got["road_distance_factor"] == 1.3


def test_the_margin_report_per_channel_and_day(client, aws, shop):
    known = place(client, shop["key"], "M-1", [("SKU-1", 2)])
    place(client, shop["key"], "M-2", [("SKU-2", 1)])  # no cost price: unknown, not zero
    order = get_order(client, shop["service"], known["order_id"])
    margin = order["delivery"]["margin"]
    cost = order["delivery"]["cost"]
    assert margin["cost_of_goods"] == 2 * 1200
    assert margin["cost_to_serve"] == cost["shipping"] + cost["handling"]
    assert (
        margin["margin"] == 2 * 2999 + order["delivery"]["price"] - 2400 - margin["cost_to_serve"]
    )

    resp = client.http.get("/reports/margin?channel=webshop", headers=auth(shop["admin"]))
    assert resp.status_code == 200, resp.body
    body = json.loads(resp.body)
    assert body["report"] == "margin"
    (row,) = [r for r in body["rows"] if r["date"] == TODAY]
    assert (row["orders"], row["unknown_orders"], row["margin"]) == (1, 1, margin["margin"])
    assert row["cost_of_goods"] == 2400 and row["revenue"] == margin["revenue"]
    assert body["totals"][0]["margin"] == margin["margin"]
    csv_resp = client.http.get("/reports/margin?format=csv", headers=auth(shop["admin"]))
    assert csv_resp.body.decode().splitlines()[0].startswith("date,channel,currency,orders")
    bad = client.http.get("/reports/margin?channel=nope", headers=auth(shop["admin"]))
    assert bad.status_code == 422 and "channel" in errors(bad)
    assert client.http.get("/reports/margin", headers=auth(shop["key"])).status_code == 403


def test_an_orders_explanation_carries_the_numbers_of_the_losers(client, shop):
    placed = place(client, shop["key"], "M-3", [("SKU-1", 1)])
    order = get_order(client, shop["service"], placed["order_id"])
    head = order["explanation"][0]
    assert (
        head["cost"] == order["delivery"]["cost"] and head["margin"] == order["delivery"]["margin"]
    )
    losers = [e for e in order["explanation"] if e.get("alternative")]
    assert losers and all({"cost", "promised_date", "parcels"} <= set(e) for e in losers)
    assert all(
        e["cost"]["total"] >= head["cost"]["total"] or e["outcome"] != "costlier" for e in losers
    )
    seen_by_channel = get_order(client, shop["key"], placed["order_id"])
    assert "margin" not in seen_by_channel["delivery"]
    assert all("cost" not in e and "margin" not in e for e in seen_by_channel["explanation"])


def test_backorder_allocation_records_its_explanation(client, admin_key, aws):
    make_shop(client, admin_key, aws)
    key = seed_channel(client, admin_key, "outlet", backorder_policy="backorder")
    set_stock(aws, "SKU-2", "dc-kassel", 0)
    resp = client.http.post(
        "/orders", body=json.dumps(order_body("BO-1", [("SKU-2", 2)])), headers=auth(key)
    )
    assert resp.status_code == 201, resp.body
    order_id = json.loads(resp.body)["order_id"]
    set_stock(aws, "SKU-2", "dc-lyon", 5)
    assert wiring.backorders().allocate("SKU-2", "dc-lyon") == 2
    served = wiring.orders().get(order_id)
    (allocated,) = [h for h in served.history if h.event == "backorder_allocated"]
    explanation = allocated.detail["explanation"]
    assert explanation[0]["cost"]["total"] >= 0 and "promised_date" in explanation[0]
    assert {"location_id": "dc-lyon", "outcome": "chosen", "units": 2} in explanation


def test_short_pick_re_sourcing_records_its_explanation(client, aws, shop):
    order = place(client, shop["key"], "M-SHORT", [("SKU-1", 3)])
    dispatch_placed(client, aws)
    (shipment,) = order["shipments"]
    short = event("short_pick", order, shipment, lines=[{"sku": "SKU-1", "picked_quantity": 2}])
    assert deliver(client, "on_warehouse_event", EVENTS, short) == []
    after = get_order(client, shop["service"], order["order_id"])
    (resourced,) = [h for h in after["history"] if h["event"] == "resourced"]
    explanation = resourced["detail"]["explanation"]
    chosen = [e for e in explanation if e.get("outcome") == "chosen"]
    assert [e["location_id"] for e in chosen] == [resourced["detail"]["location_id"]]
    assert explanation[0]["cost"]["total"] == sum(
        explanation[0]["cost"][k]
        for k in ("shipping", "handling", "split_penalty", "distance", "co2e")
    ) - explanation[0]["cost"]["holding_saved"] - explanation[0]["cost"][
        "rule_rewards"
    ] + explanation[0]["cost"].get("opportunity", 0)
    assert {
        "outcome": "excluded",
        "count": 1,
        "location_ids": [shipment["location_id"]],
    } in explanation
