"""Stock over HTTP: absolute levels, idempotent adjustments, the stock of a SKU."""

import json
import uuid

import pytest

from chalicelib import wiring
from chalicelib.domain.access import Role
from chalicelib.domain.inventory import Movement
from local.demo import network_documents
from tests.api.fulfilment_kit import drain


def auth(key, **extra):
    return {"Authorization": f"Bearer {key}", "Content-Type": "application/json", **extra}


def error_paths(resp):
    return [f["path"] for f in json.loads(resp.body)["error"]["fields"]]


@pytest.fixture
def network(client, admin_key):
    """Two locations and two products."""
    for loc in network_documents()["locations"][:2]:
        path = f"/locations/{loc['location_id']}"
        assert (
            client.http.put(path, body=json.dumps(loc), headers=auth(admin_key)).status_code == 200
        )
    for sku, point in (("MUG", 4), ("CUP", 0)):
        body = json.dumps({"weight_g": 300, "prices": {"EUR": 999}, "reorder_point": point})
        client.http.put(f"/products/{sku}", body=body, headers=auth(admin_key))
    return client


def put_stock(client, key, sku, loc, **levels):
    return client.http.put(f"/stock/{sku}/{loc}", body=json.dumps(levels), headers=auth(key))


def adjust(client, key, body, idempotency_key=None):
    headers = auth(key, **({"Idempotency-Key": idempotency_key} if idempotency_key else {}))
    return client.http.post("/stock/adjustments", body=json.dumps(body), headers=headers)


def test_absolute_levels_default_the_reorder_point_to_the_products(network, admin_key):
    resp = put_stock(network, admin_key, "MUG", "dc-kassel", on_hand=10, safety_stock=2)
    assert resp.status_code == 200
    assert json.loads(resp.body) == {
        "location_id": "dc-kassel",
        "on_hand": 10,
        "reserved": 0,
        "safety_stock": 2,
        "available": 8,
        "reorder_point": 4,
        "in_transit": 0,
        "quarantine": 0,
    }
    resp = put_stock(network, admin_key, "MUG", "dc-kassel", on_hand=5, reorder_point=1)
    assert json.loads(resp.body)["reorder_point"] == 1
    assert json.loads(resp.body)["available"] == 5


def test_stock_of_a_sku_sums_its_locations(network, admin_key):
    put_stock(network, admin_key, "MUG", "dc-kassel", on_hand=10, safety_stock=2)
    put_stock(network, admin_key, "MUG", "dc-lyon", on_hand=3)
    wiring.stock_store().apply("MUG", "dc-lyon", Movement.RESERVE, 1)
    channel_key = wiring.keys().create(Role.CHANNEL, "webshop")["api_key"]
    resp = network.http.get("/stock/MUG", headers=auth(channel_key))
    assert resp.status_code == 200
    body = json.loads(resp.body)
    assert body["total"] == {
        "on_hand": 13,
        "reserved": 1,
        "available": 10,
        "in_transit": 0,
        "quarantine": 0,
        "sellable": 10,
    }
    assert [loc["location_id"] for loc in body["locations"]] == ["dc-kassel", "dc-lyon"]
    assert body["locations"][1]["reserved"] == 1
    empty = json.loads(network.http.get("/stock/CUP", headers=auth(admin_key)).body)
    assert empty == {
        "sku": "CUP",
        "total": {
            "on_hand": 0,
            "reserved": 0,
            "available": 0,
            "in_transit": 0,
            "quarantine": 0,
            "sellable": 0,
        },
        "locations": [],
    }
    assert network.http.get("/stock/NOPE", headers=auth(admin_key)).status_code == 404


def test_unknown_location_or_product_is_404_naming_it(network, admin_key):
    resp = put_stock(network, admin_key, "MUG", "nowhere", on_hand=1)
    assert resp.status_code == 404 and error_paths(resp) == ["location_id"]
    resp = put_stock(network, admin_key, "NOPE", "dc-kassel", on_hand=1)
    assert resp.status_code == 404 and error_paths(resp) == ["sku"]
    body = {"sku": "NOPE", "location_id": "dc-kassel", "delta": 1, "reason": "found"}
    assert adjust(network, admin_key, body).status_code == 404


def test_stock_writes_are_admin_only(network, admin_key):
    service_key = wiring.keys().create(Role.SERVICE)["api_key"]
    assert put_stock(network, service_key, "MUG", "dc-kassel", on_hand=1).status_code == 403
    body = {"sku": "MUG", "location_id": "dc-kassel", "delta": 1, "reason": "found"}
    assert adjust(network, service_key, body).status_code == 403
    assert network.http.get("/stock/MUG").status_code == 401


def test_an_adjustment_moves_on_hand_and_refuses_to_take_reserved_units(network, admin_key):
    put_stock(network, admin_key, "MUG", "dc-kassel", on_hand=10, safety_stock=2)
    wiring.stock_store().apply("MUG", "dc-kassel", Movement.RESERVE, 5)
    body = {"sku": "MUG", "location_id": "dc-kassel", "delta": -4, "reason": "broken"}
    resp = adjust(network, admin_key, body)
    assert resp.status_code == 409
    assert json.loads(resp.body)["error"]["code"] == "insufficient_stock"
    resp = adjust(network, admin_key, {**body, "delta": -3})
    assert resp.status_code == 201
    out = json.loads(resp.body)
    assert (out["on_hand"], out["reserved"], out["available"]) == (7, 5, 0)
    assert out["delta"] == -3 and out["reason"] == "broken"
    assert wiring.stock_store().violations() == []


def test_an_idempotent_adjustment_is_applied_once_and_a_reused_key_is_422(network, admin_key):
    put_stock(network, admin_key, "MUG", "dc-kassel", on_hand=10)
    key = f"adj-{uuid.uuid4()}"
    body = {"sku": "MUG", "location_id": "dc-kassel", "delta": 5, "reason": "found a box"}
    first = adjust(network, admin_key, body, key)
    replay = adjust(network, admin_key, body, key)
    assert first.status_code == replay.status_code == 201
    assert json.loads(first.body) == json.loads(replay.body)
    assert wiring.stock_store().get("MUG", "dc-kassel").on_hand == 15
    other = adjust(network, admin_key, {**body, "delta": 6}, key)
    assert other.status_code == 422 and error_paths(other) == ["Idempotency-Key"]
    assert wiring.stock_store().get("MUG", "dc-kassel").on_hand == 15
    assert adjust(network, admin_key, body, f"adj-{uuid.uuid4()}").status_code == 201
    assert wiring.stock_store().get("MUG", "dc-kassel").on_hand == 20


def test_a_refused_idempotent_adjustment_can_be_retried_with_the_same_key(network, admin_key):
    put_stock(network, admin_key, "MUG", "dc-kassel", on_hand=1)
    key = f"adj-{uuid.uuid4()}"
    body = {"sku": "MUG", "location_id": "dc-kassel", "delta": -2, "reason": "lost"}
    assert adjust(network, admin_key, body, key).status_code == 409
    put_stock(network, admin_key, "MUG", "dc-kassel", on_hand=5)
    assert adjust(network, admin_key, body, key).status_code == 201
    assert wiring.stock_store().get("MUG", "dc-kassel").on_hand == 3


def test_a_positive_adjustment_announces_the_stock_arrived(network, admin_key, aws):
    def arrived():
        events = drain(aws, "dirigent-order-events")
        return [(m["sku"], m["location_id"]) for m in events if m["type"] == "stock_arrived"]

    put_stock(network, admin_key, "MUG", "dc-kassel", on_hand=3)
    assert arrived() == [("MUG", "dc-kassel")]  # absolute levels announce too
    body = {"sku": "MUG", "location_id": "dc-kassel", "delta": -1, "reason": "broken"}
    adjust(network, admin_key, body)
    assert arrived() == []
    adjust(network, admin_key, {**body, "delta": 2, "reason": "found"})
    assert arrived() == [("MUG", "dc-kassel")]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"delta": 0}, "delta"),
        ({"delta": "two"}, "delta"),
        ({"delta": 1.5}, "delta"),
        ({"reason": ""}, "reason"),
        ({"sku": None}, "sku"),
        ({"extra": 1}, "extra"),
    ],
)
def test_a_bad_adjustment_is_422_naming_the_field(network, admin_key, body, field):
    base = {"sku": "MUG", "location_id": "dc-kassel", "delta": 1, "reason": "x"}
    resp = adjust(network, admin_key, {**base, **body})
    assert resp.status_code == 422
    assert field in error_paths(resp)


@pytest.mark.parametrize(
    ("levels", "field"),
    [
        ({"on_hand": -1}, "on_hand"),
        ({"on_hand": 1, "safety_stock": -1}, "safety_stock"),
        ({"on_hand": 1, "reorder_point": -2}, "reorder_point"),
        ({}, "on_hand"),
        ({"on_hand": "many"}, "on_hand"),
    ],
)
def test_bad_levels_are_422_naming_the_field(network, admin_key, levels, field):
    resp = put_stock(network, admin_key, "MUG", "dc-kassel", **levels)
    assert resp.status_code == 422
    assert field in error_paths(resp)


def test_safety_stock_above_on_hand_shows_no_units_available_not_a_negative_count(
    network, admin_key
):
    resp = put_stock(network, admin_key, "MUG", "dc-kassel", on_hand=3, safety_stock=8)
    assert json.loads(resp.body)["available"] == 0
    channel_key = wiring.keys().create(Role.CHANNEL, "webshop")["api_key"]
    body = json.loads(network.http.get("/stock/MUG", headers=auth(channel_key)).body)
    assert [loc["available"] for loc in body["locations"]] == [0]
    assert body["total"]["available"] == 0
