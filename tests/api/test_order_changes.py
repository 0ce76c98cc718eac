"""Holds, payment status, auto-cancel and address changes through the Chalice test client on
moto: what the order, the stock and the fulfilment queue show after each."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib import wiring
from chalicelib.adapters.dynamo_holds import DynamoHoldDeadlines
from chalicelib.api.models.orders import OrderRequest
from chalicelib.services.order_changes import OrderChanges
from local.scheduler import schedules
from tests.api.fulfilment_kit import dispatch_placed, get_order, make_shop, place
from tests.api.seed import assert_invariants, auth, order_body, seed_channel, set_stock, stock

PARIS = {"country": "FR", "postal_code": "75001", "city": "Paris", "lat": 48.86, "lon": 2.35}


@pytest.fixture
def shop(client: Any, admin_key: str, aws: Any) -> dict[str, str]:
    return make_shop(client, admin_key, aws)


def call(client: Any, method: str, key: str, path: str, body: Any = None) -> tuple[int, Any]:
    data = json.dumps(body) if body is not None else None
    resp = getattr(client.http, method)(path, body=data, headers=auth(key))
    return resp.status_code, json.loads(resp.body)


def test_a_hold_keeps_the_order_from_its_location_until_the_last_hold_is_released(
    client, shop, aws
):
    body = order_body("H-1", [("SKU-1", 2)], holds=[{"kind": "payment", "reason": "not paid"}])
    body["payment"] = {"status": "pending"}
    status, order = call(client, "post", shop["key"], "/orders", body)
    assert status == 201, order
    assert order["holds"]["payment"]["reason"] == "not paid"
    assert order["payment_status"] == "pending"
    assert dispatch_placed(client, aws) == []  # held: nothing goes to the location
    reserved = sum(s["reserved"] for s in stock(aws, "SKU-1").values())
    assert reserved == 2  # but the units stay reserved

    path = f"/orders/{order['order_id']}/holds"
    status, held = call(client, "post", shop["service"], path, {"kind": "fraud", "reason": "x"})
    assert status == 200 and set(held["holds"]) == {"payment", "fraud"}
    assert held["history"][-1]["source"].startswith("service:")

    status, _ = call(client, "post", shop["key"], f"{path}/payment/release")
    assert status == 200
    assert dispatch_placed(client, aws) == []  # still held for fraud
    status, released = call(client, "post", shop["service"], f"{path}/fraud/release")
    assert status == 200 and released["holds"] == {}
    requests = dispatch_placed(client, aws)
    assert [r["order_id"] for r in requests] == [order["order_id"]]
    again_status, again = call(client, "post", shop["service"], f"{path}/fraud/release")
    assert again_status == 200 and again["holds"] == {}  # releasing what isn't there: no-op
    assert_invariants(aws)


def test_a_hold_on_an_order_released_everywhere_is_409_naming_the_location(client, shop, aws):
    order = place(client, shop["key"], "H-2", [("SKU-1", 1)])
    dispatch_placed(client, aws)
    path = f"/orders/{order['order_id']}/holds"
    status, err = call(client, "post", shop["key"], path, {"kind": "manual", "reason": "x"})
    assert status == 409, err
    assert "released" in err["error"]["message"]
    assert order["shipments"][0]["location_id"] in err["error"]["message"]


def test_holds_name_bad_input_and_other_channels_get_404(client, shop, admin_key, aws):
    order = place(client, shop["key"], "H-3", [("SKU-1", 1)])
    path = f"/orders/{order['order_id']}/holds"
    status, err = call(client, "post", shop["key"], path, {"kind": "vacation", "reason": "x"})
    assert status == 422 and err["error"]["fields"][0]["path"] == "kind"
    status, err = call(client, "post", shop["key"], f"{path}/vacation/release")
    assert status == 422 and err["error"]["fields"][0]["path"] == "kind"
    other = seed_channel(client, admin_key, "marketplace", kind="marketplace")
    status, _ = call(client, "post", other, path, {"kind": "manual", "reason": "x"})
    assert status == 404
    bad = order_body("H-4", [("SKU-1", 1)], auto_cancel_after_hours=3)
    status, err = call(client, "post", shop["key"], "/orders", bad)
    assert status == 422 and "holds" in err["error"]["fields"][0]["reason"]


def test_an_order_still_held_at_its_deadline_is_cancelled_by_the_schedule(client, shop, aws):
    body = order_body(
        "H-5",
        [("SKU-1", 2)],
        holds=[{"kind": "payment", "reason": "awaiting capture"}],
        auto_cancel_after_hours=1,
    )
    status, order = call(client, "post", shop["key"], "/orders", body)
    assert status == 201, order
    assert order["auto_cancel_at"]
    expiry = OrderChanges(
        orders=wiring.orders(),
        desk=wiring.order_desk(),
        network=wiring.catalog_service(),
        snapshots=wiring.snapshots(),
        events=wiring.order_events(),
        deadlines=DynamoHoldDeadlines(wiring.table("dirigent-orders")),
        clock=lambda: datetime.now(UTC) + timedelta(hours=1, minutes=1),
    )
    assert wiring.order_changes().expire_holds() == 0  # not yet
    assert expiry.expire_holds() == 1
    assert expiry.expire_holds() == 0
    stored = get_order(client, shop["key"], order["order_id"])
    assert stored["status"] == "cancelled"
    assert stored["history"][-1]["source"] == "admin:schedule:hold-expiry"
    assert sum(s["reserved"] for s in stock(aws, "SKU-1").values()) == 0
    assert_invariants(aws)


def test_payment_status_changes_land_on_the_timeline_with_who(client, shop, aws):
    order = place(client, shop["key"], "P-1", [("SKU-1", 1)])
    path = f"/orders/{order['order_id']}"
    status, changed = call(client, "patch", shop["key"], path, {"payment": {"status": "failed"}})
    assert status == 200, changed
    assert changed["payment_status"] == "failed"
    assert changed["status"] == "placed"  # a failed payment cancels nothing by itself
    entry = changed["history"][-1]
    assert entry["event"] == "payment_updated" and entry["source"].startswith("channel:webshop")
    status, err = call(client, "patch", shop["key"], path, {"payment": {"status": "lost"}})
    assert status == 422 and err["error"]["fields"][0]["path"] == "payment.status"
    status, err = call(client, "patch", shop["key"], path, {})
    assert status == 422


def test_a_new_address_before_release_resources_and_states_the_new_promise(client, shop, aws):
    body = order_body("A-1", [("SKU-1", 2)], holds=[{"kind": "address", "reason": "editable"}])
    status, order = call(client, "post", shop["key"], "/orders", body)
    assert status == 201, order
    assert order["shipments"][0]["location_id"] == "dc-kassel"
    path = f"/orders/{order['order_id']}"
    status, changed = call(client, "patch", shop["key"], path, {"ship_to": PARIS})
    assert status == 200, changed
    assert changed["ship_to"]["city"] == "Paris"
    live = [s for s in changed["shipments"] if s["status"] != "cancelled"]
    assert [s["location_id"] for s in live] == ["dc-lyon"]
    assert changed["delivery"]["promised_date"] == live[0]["promised_date"]
    assert changed["promise_changed"] == (
        changed["delivery"]["promised_date"] != order["delivery"]["promised_date"]
    )
    assert stock(aws, "SKU-1")["dc-kassel"]["reserved"] == 0
    assert stock(aws, "SKU-1")["dc-lyon"]["reserved"] == 2
    assert changed["history"][-1]["event"] == "address_changed"
    assert_invariants(aws)

    call(client, "post", shop["key"], f"{path}/holds/address/release")
    requests = dispatch_placed(client, aws)
    assert [(r["location_id"], r["ship_to"]["city"]) for r in requests] == [("dc-lyon", "Paris")]


def test_a_new_address_after_release_is_409_naming_the_shipment(client, shop, aws):
    order = place(client, shop["key"], "A-2", [("SKU-1", 1)])
    dispatch_placed(client, aws)
    before = stock(aws, "SKU-1")
    path = f"/orders/{order['order_id']}"
    status, err = call(client, "patch", shop["key"], path, {"ship_to": PARIS})
    assert status == 409, err
    assert err["error"]["fields"][0]["path"] == "ship_to"
    assert f"{order['shipments'][0]['shipment_id']} to dc-kassel" in err["error"]["message"]
    assert stock(aws, "SKU-1") == before
    assert get_order(client, shop["key"], order["order_id"])["ship_to"]["city"] == "Berlin"


def test_a_click_and_collect_order_keeps_its_store_or_the_change_is_refused(client, shop, aws):
    set_stock(aws, "SKU-1", "st-berlin", 3)
    body = order_body(
        "A-3",
        [("SKU-1", 1)],
        delivery={"kind": "click_collect", "pickup_location_id": "st-berlin"},
        holds=[{"kind": "address", "reason": "editable"}],
    )
    status, order = call(client, "post", shop["key"], "/orders", body)
    assert status == 201, order
    path = f"/orders/{order['order_id']}"
    near = {"country": "DE", "postal_code": "10245", "lat": 52.51, "lon": 13.45}
    status, changed = call(client, "patch", shop["key"], path, {"ship_to": near})
    assert status == 200, changed
    assert changed["delivery"]["pickup_location_id"] == "st-berlin"
    before = stock(aws, "SKU-1")
    status, err = call(client, "patch", shop["key"], path, {"ship_to": PARIS})
    assert status == 409, err
    assert err["error"]["fields"][0]["path"] == "ship_to"
    assert stock(aws, "SKU-1") == before
    assert_invariants(aws)


def test_a_new_address_in_a_country_the_channel_does_not_sell_to_names_the_country(
    client, shop, aws
):
    order = place(client, shop["key"], "A-4", [("SKU-1", 1)])
    path = f"/orders/{order['order_id']}"
    spain = {"country": "ES", "postal_code": "28001"}
    status, err = call(client, "patch", shop["key"], path, {"ship_to": spain})
    assert status == 422, err
    assert err["error"]["fields"][0]["path"] == "ship_to.country"


def test_the_endpoints_and_the_schedule_are_registered(client):
    from app import app

    assert "hold_expiry" in {s.name for s in schedules(app)}
    paths = json.loads(client.http.get("/openapi.json").body)["paths"]
    assert "post" in paths["/orders/{order_id}/holds"]
    assert "post" in paths["/orders/{order_id}/holds/{kind}/release"]
    assert "patch" in paths["/orders/{order_id}"]


def test_a_body_without_holds_hashes_as_before_they_existed():
    body = order_body("R-1", [("SKU-1", 1)])
    legacy = OrderRequest.model_validate(body).model_dump(mode="json")
    for key in ("holds", "payment", "auto_cancel_after_hours"):
        legacy.pop(key)
    assert OrderRequest.model_validate(body).hashed() == legacy
