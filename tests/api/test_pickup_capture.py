"""Click & collect at capture on a channel that never backorders: a pick-up that a store can
hand over is captured even when nothing can ship the cart, and a named pick-up location must
be one the channel may pick up at."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.api.seed import (
    assert_invariants,
    auth,
    order_body,
    seed_channel,
    seed_network,
    seed_product,
    set_stock,
    stock,
)

BERLIN = {"country": "DE", "postal_code": "10115", "lat": 52.5244, "lon": 13.4105}


@pytest.fixture
def shop(client: Any, admin_key: str, aws: Any) -> dict[str, str]:
    seed_network(client, admin_key)
    key = seed_channel(client, admin_key, "marketplace", kind="marketplace")  # rejects
    seed_product(client, admin_key, "SKU-1")
    set_stock(aws, "SKU-1", "st-berlin", 1)  # its last unit: store protection keeps it from ship
    return {"key": key, "admin": admin_key}


def post(client: Any, key: str, path: str, body: Any) -> tuple[int, Any]:
    resp = client.http.post(path, body=json.dumps(body), headers=auth(key))
    return resp.status_code, json.loads(resp.body)


def quote(client: Any, key: str) -> dict[str, Any]:
    cart = {"currency": "EUR", "ship_to": BERLIN, "lines": [{"sku": "SKU-1", "quantity": 1}]}
    status, answer = post(client, key, "/delivery-options", cart)
    assert status == 200, answer
    return dict(answer)


def test_a_quoted_pickup_is_captured_though_nothing_can_ship(client, shop, aws):
    answer = quote(client, shop["key"])
    assert [o["kind"] for o in answer["options"]] == ["click_collect"]
    assert answer["backordered"] == [] and "backorder_promises" not in answer  # never backorders
    option = answer["options"][0]["option_id"]
    body = order_body("pick-1", [("SKU-1", 1)], delivery={"option_id": option})
    status, order = post(client, shop["key"], "/orders", body)
    assert status == 201, order
    assert [s["pickup_location_id"] for s in order["shipments"]] == ["st-berlin"]
    assert stock(aws, "SKU-1")["st-berlin"]["reserved"] == 1
    assert_invariants(aws)


@pytest.mark.parametrize(
    "delivery",
    [{"kind": "click_collect"}, {"kind": "click_collect", "pickup_location_id": "st-berlin"}],
)
def test_a_pickup_by_kind_is_captured_though_nothing_can_ship(client, shop, aws, delivery):
    status, order = post(
        client, shop["key"], "/orders", order_body("pick-2", [("SKU-1", 1)], delivery=delivery)
    )
    assert status == 201, order
    assert order["shipments"][0]["pickup_location_id"] == "st-berlin"


def test_a_reserved_pickup_is_captured_though_nothing_can_ship(client, shop, aws):
    option = quote(client, shop["key"])["options"][0]["option_id"]
    status, held = post(client, shop["key"], "/reservations", {"option_id": option})
    assert status == 201, held
    body = order_body("pick-3", [("SKU-1", 1)], delivery={"reservation_id": held["reservation_id"]})
    status, order = post(client, shop["key"], "/orders", body)
    assert status == 201, order
    assert stock(aws, "SKU-1")["st-berlin"]["reserved"] == 1  # the held unit, taken over
    assert_invariants(aws)


def test_shipping_what_only_a_store_counter_has_is_out_of_stock(client, shop, aws):
    status, answer = post(client, shop["key"], "/orders", order_body("pick-4", [("SKU-1", 1)]))
    assert status == 409 and answer["error"]["code"] == "out_of_stock", answer
    assert stock(aws, "SKU-1")["st-berlin"]["reserved"] == 0


@pytest.mark.parametrize(
    ("location", "reason"),
    [
        ("st-nowhere", "unknown location"),
        ("dc-kassel", "not a click & collect location"),
    ],
)
def test_a_pickup_location_that_cannot_be_one_is_refused_naming_it(
    client, shop, aws, location, reason
):
    delivery = {"kind": "click_collect", "pickup_location_id": location}
    status, answer = post(
        client, shop["key"], "/orders", order_body("pick-5", [("SKU-1", 1)], delivery=delivery)
    )
    assert status == 422, answer
    assert answer["error"]["fields"] == [{"path": "delivery.pickup_location_id", "reason": reason}]
    assert stock(aws, "SKU-1")["st-berlin"]["reserved"] == 0


def test_an_excluded_pickup_location_is_refused_naming_it(client, admin_key, aws):
    seed_network(client, admin_key)
    key = seed_channel(client, admin_key, "outlet", excluded_locations=["st-berlin"])
    seed_product(client, admin_key, "SKU-1")
    set_stock(aws, "SKU-1", "st-berlin", 3)
    delivery = {"kind": "click_collect", "pickup_location_id": "st-berlin"}
    status, answer = post(
        client, key, "/orders", order_body("pick-6", [("SKU-1", 1)], delivery=delivery)
    )
    assert status == 422, answer
    assert answer["error"]["fields"][0]["reason"] == "excluded for this channel"


def test_a_pickup_location_beside_an_option_is_refused(client, shop, aws):
    option = quote(client, shop["key"])["options"][0]["option_id"]
    delivery = {"option_id": option, "pickup_location_id": "st-hamburg"}
    status, answer = post(
        client, shop["key"], "/orders", order_body("pick-7", [("SKU-1", 1)], delivery=delivery)
    )
    assert status in (400, 422), answer
    assert "pickup_location_id" in json.dumps(answer["error"])


def test_a_pickup_location_the_rules_exclude_is_refused_naming_it(client, shop, aws):
    """Excluded as sourcing has it: by the channel or by the rules for the channel."""
    resp = client.http.put(
        "/sourcing-rules",
        body=json.dumps({"excluded_locations": {"marketplace": ["st-berlin"]}}),
        headers=auth(shop["admin"]),
    )
    assert resp.status_code == 200, resp.body
    delivery = {"kind": "click_collect", "pickup_location_id": "st-berlin"}
    status, answer = post(
        client, shop["key"], "/orders", order_body("pick-8", [("SKU-1", 1)], delivery=delivery)
    )
    assert status == 422, answer
    assert answer["error"]["fields"][0]["reason"] == "excluded for this channel"
