"""The customer's tracking page and customer service's search by tracking number."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.api.fulfilment_kit import at, deliver, dispatch_placed, event, make_shop, place, shipped
from tests.api.seed import auth, seed_channel

EVENTS = "dirigent-warehouse-events"


@pytest.fixture
def shop(client: Any, admin_key: str, aws: Any) -> dict[str, str]:
    return make_shop(client, admin_key, aws)


@pytest.fixture
def shipped_order(client: Any, shop: dict[str, str], aws: Any) -> dict[str, Any]:
    order = place(client, shop["key"], "T-1", [("SKU-2", 2)])
    dispatch_placed(client, aws)
    shipment = order["shipments"][0]
    picked = event("picked", order, shipment, occurred_at=at(minutes=1))
    ship = shipped(order, shipment, "TN-TRACK-1")
    assert deliver(client, "on_warehouse_event", EVENTS, ship, picked) == []
    return order


def track(client: Any, order_id: str, token: str | None) -> tuple[int, dict[str, Any]]:
    query = f"?token={token}" if token is not None else ""
    resp = client.http.get(f"/track/{order_id}{query}")
    return resp.status_code, json.loads(resp.body)


def test_the_token_shows_the_timeline_and_the_shipments(client, shipped_order):
    status, page = track(client, shipped_order["order_id"], shipped_order["tracking_token"])
    assert status == 200, page
    assert page["status"] == "shipped"
    (shipment,) = page["shipments"]
    assert shipment["carrier"] == "DHL"
    assert shipment["tracking_number"] == "TN-TRACK-1"
    assert shipment["promised_date"] == shipped_order["shipments"][0]["promised_date"]
    assert shipment["lines"] == [{"sku": "SKU-2", "quantity": 2}]
    events = [entry["event"] for entry in page["timeline"]]
    assert events == ["placed", "released", "picked", "shipped"]  # by time, not arrival
    assert [e["at"] for e in page["timeline"]] == sorted(e["at"] for e in page["timeline"])
    assert "source" not in json.dumps(page)  # key ids and connectors stay internal
    assert "customer" not in page and "tracking_token" not in page


@pytest.mark.parametrize("token", [None, "", "0" * 32, "not-the-token"])
def test_a_wrong_or_missing_token_is_exactly_an_unknown_order(client, shipped_order, token):
    order_id = shipped_order["order_id"]
    wrong = client.http.get(f"/track/{order_id}" + (f"?token={token}" if token is not None else ""))
    unknown = client.http.get(f"/track/{order_id[:-4]}beef?token={token or ''}")
    assert wrong.status_code == unknown.status_code == 404
    assert json.loads(wrong.body)["error"]["code"] == "not_found"
    assert wrong.body.replace(order_id.encode(), b"X") == unknown.body.replace(
        f"{order_id[:-4]}beef".encode(), b"X"
    )


def test_another_orders_token_does_not_open_this_one(client, shop, shipped_order):
    other = place(client, shop["key"], "T-2", [("SKU-1", 1)])
    status, _ = track(client, shipped_order["order_id"], other["tracking_token"])
    assert status == 404


def test_customer_service_finds_an_order_by_tracking_number(client, shop, shipped_order):
    resp = client.http.get("/orders?tracking_number=TN-TRACK-1", headers=auth(shop["service"]))
    assert resp.status_code == 200, resp.body
    found = json.loads(resp.body)["orders"]
    assert [o["order_id"] for o in found] == [shipped_order["order_id"]]
    history = found[0]["history"]
    assert {"at", "event", "source", "status"} <= set(history[-1])
    seen, shown = found[0]["explanation"], shipped_order["explanation"]  # staff see numbers too
    assert [{k: e[k] for k in c} for e, c in zip(seen, shown, strict=True)] == shown

    resp = client.http.get("/orders?tracking_number=NOPE", headers=auth(shop["service"]))
    assert json.loads(resp.body)["orders"] == []


def test_a_channel_finds_only_its_own_orders_by_tracking_number(
    client, admin_key, shop, shipped_order
):
    stranger = seed_channel(client, admin_key, "marketplace", kind="marketplace")
    resp = client.http.get("/orders?tracking_number=TN-TRACK-1", headers=auth(stranger))
    assert resp.status_code == 200
    assert json.loads(resp.body)["orders"] == []
    resp = client.http.get("/orders?tracking_number=TN-TRACK-1", headers=auth(shop["key"]))
    assert len(json.loads(resp.body)["orders"]) == 1
