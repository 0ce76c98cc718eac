"""Checkout reservations (moto): a quote's option kept for a cart, taken over by its order,
released, extended once, and given back by the expiry sweeper."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from chalicelib import wiring
from chalicelib.consumers import schedules
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

CART = {
    "currency": "EUR",
    "ship_to": {"country": "DE", "postal_code": "10115", "lat": 52.5244, "lon": 13.4105},
    "lines": [{"sku": "SKU-1", "quantity": 2}],
}


@pytest.fixture
def shop(client: Any, admin_key: str, aws: Any) -> dict[str, Any]:
    seed_network(client, admin_key)
    key = seed_channel(client, admin_key, "webshop", reservation_minutes=10)
    other = seed_channel(client, admin_key, "marketplace", kind="marketplace")
    lenient = seed_channel(
        client, admin_key, "outlet", kind="marketplace", resource_expired_reservations=True
    )
    seed_product(client, admin_key, "SKU-1")
    set_stock(aws, "SKU-1", "dc-kassel", 3)
    return {"key": key, "other": other, "lenient": lenient, "admin": admin_key}


def call(client: Any, key: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    resp = getattr(client.http, method)(
        path, body=json.dumps(body) if body is not None else None, headers=auth(key)
    )
    return resp.status_code, json.loads(resp.body) if resp.body else None


def reserve(client: Any, key: str, quantity: int = 2) -> tuple[int, Any]:
    cart = {**CART, "lines": [{"sku": "SKU-1", "quantity": quantity}]}
    status, quote = call(client, key, "post", "/delivery-options", cart)
    assert status == 200, quote
    option = quote["options"][0]["option_id"]
    return call(client, key, "post", "/reservations", {"option_id": option})


def reserved(aws: Any) -> int:
    return sum(s["reserved"] for s in stock(aws, "SKU-1").values())


@pytest.fixture
def clock(monkeypatch: Any) -> list[float]:
    """The reservation service's clock, moved by the test (``clock[0]``)."""
    now = [time.time()]
    monkeypatch.setattr(wiring.reservations(), "_clock", lambda: now[0])
    return now


def test_a_reservation_keeps_the_units_and_its_order_takes_them_over(client, shop, aws):
    status, res = reserve(client, shop["key"])
    assert status == 201, res
    assert res["status"] == "open" and res["reservation_id"].startswith("r_")
    assert res["units"] == [{"sku": "SKU-1", "location_id": "dc-kassel", "quantity": 2}]
    assert reserved(aws) == 2  # reserved everywhere: stock, availability, reports

    # another cart sees only what is left
    status, answer = call(client, shop["other"], "post", "/delivery-options", CART)
    assert status == 409 and answer["error"]["code"] == "out_of_stock", answer

    body = order_body("R-1", [("SKU-1", 2)], delivery={"reservation_id": res["reservation_id"]})
    status, order = call(client, shop["key"], "post", "/orders", body)
    assert status == 201, order
    assert [s["location_id"] for s in order["shipments"]] == ["dc-kassel"]
    assert reserved(aws) == 2  # taken over, not reserved twice
    status, after = call(client, shop["key"], "get", f"/reservations/{res['reservation_id']}")
    assert after["status"] == "consumed" and after["order_id"] == order["order_id"]

    status, replay = call(client, shop["key"], "post", "/orders", body)
    assert status == 200 and replay["order_id"] == order["order_id"]
    body2 = {**body, "channel_order_id": "R-2"}
    status, second = call(client, shop["key"], "post", "/orders", body2)
    assert status == 409 and second["error"]["fields"][0]["path"] == "reservation_id", second
    assert reserved(aws) == 2
    assert_invariants(aws)


def test_a_retried_reservation_is_the_same_one(client, shop, aws):
    _, quote = call(client, shop["key"], "post", "/delivery-options", CART)
    option = {"option_id": quote["options"][0]["option_id"]}
    first = call(client, shop["key"], "post", "/reservations", option)
    again = call(client, shop["key"], "post", "/reservations", option)
    assert first[0] == 201 and again[0] == 200
    assert again[1]["reservation_id"] == first[1]["reservation_id"]
    assert reserved(aws) == 2


def test_release_gives_the_units_back_once(client, shop, aws):
    _, res = reserve(client, shop["key"])
    path = f"/reservations/{res['reservation_id']}"
    status, released = call(client, shop["key"], "delete", path)
    assert status == 200 and released["status"] == "released"
    assert reserved(aws) == 0
    status, again = call(client, shop["key"], "delete", path)
    assert status == 200 and again["status"] == "released"
    assert reserved(aws) == 0
    body = order_body("R-3", [("SKU-1", 2)], delivery={"reservation_id": res["reservation_id"]})
    status, order = call(client, shop["key"], "post", "/orders", body)
    assert status == 409 and "released" in order["error"]["message"], order


def test_another_channel_cannot_see_or_use_a_reservation(client, shop):
    _, res = reserve(client, shop["key"])
    path = f"/reservations/{res['reservation_id']}"
    assert call(client, shop["other"], "get", path)[0] == 404
    assert call(client, shop["other"], "delete", path)[0] == 404
    body = order_body("R-4", [("SKU-1", 2)], delivery={"reservation_id": res["reservation_id"]})
    status, answer = call(client, shop["other"], "post", "/orders", body)
    assert status == 404, answer


def test_an_order_must_hold_every_reserved_unit(client, shop, aws):
    _, res = reserve(client, shop["key"])
    body = order_body("R-5", [("SKU-1", 1)], delivery={"reservation_id": res["reservation_id"]})
    status, answer = call(client, shop["key"], "post", "/orders", body)
    assert status == 422 and answer["error"]["fields"][0]["path"] == "lines", answer
    assert reserved(aws) == 2
    more = order_body("R-5", [("SKU-1", 3)], delivery={"reservation_id": res["reservation_id"]})
    status, order = call(client, shop["key"], "post", "/orders", more)  # the 3rd is sourced
    assert status == 201, order
    assert reserved(aws) == 3
    assert_invariants(aws)


def test_bad_reservation_input_is_a_400_naming_the_field(client, shop):
    for body, field in (
        ({}, "option_id"),
        ({"option_id": "nope"}, "option_id"),
        ({"option_id": "q_0000000000000000.abc"}, "option_id"),
        ({"option_id": "x", "extra": 1}, "extra"),
    ):
        status, answer = call(client, shop["key"], "post", "/reservations", body)
        assert status in (400, 422), (body, answer)
        assert field in [f["path"] for f in answer["error"]["fields"]], answer
    bad = order_body("R-6", [("SKU-1", 2)], delivery={"reservation_id": "r_../../x"})
    status, answer = call(client, shop["key"], "post", "/orders", bad)
    assert status in (400, 422)
    both = order_body("R-6", [("SKU-1", 2)], delivery={"reservation_id": "r_" + "0" * 20})
    both["delivery"]["kind"] = "fastest"
    assert call(client, shop["key"], "post", "/orders", both)[0] in (400, 422)
    unknown = order_body("R-6", [("SKU-1", 2)], delivery={"reservation_id": "r_" + "0" * 20})
    status, answer = call(client, shop["key"], "post", "/orders", unknown)
    assert status == 404, answer
    assert call(client, shop["admin"], "post", "/reservations", {"option_id": "q_1.a"})[0] == 403


def test_the_sweeper_gives_expired_units_back_and_an_order_is_then_refused(
    client, shop, aws, clock
):
    _, res = reserve(client, shop["key"])
    assert reserved(aws) == 2
    assert schedules.expire_reservations() == 0  # not due yet
    clock[0] += 10 * 60 + 1  # the channel's 10 minutes passed
    body = order_body("R-7", [("SKU-1", 2)], delivery={"reservation_id": res["reservation_id"]})
    status, answer = call(client, shop["key"], "post", "/orders", body)  # not swept yet
    assert status == 409 and answer["error"]["code"] == "reservation_expired", answer
    assert schedules.expire_reservations() == 1
    assert schedules.expire_reservations() == 0  # each once
    assert reserved(aws) == 0  # orderable again after one sweep
    status, answer = call(client, shop["key"], "post", "/orders", body)
    assert status == 409 and answer["error"]["code"] == "reservation_expired", answer
    status, order = call(
        client, shop["other"], "post", "/orders", order_body("M-1", [("SKU-1", 3)])
    )
    assert status == 201, order
    assert_invariants(aws)


def test_extend_once_keeps_the_units_longer(client, shop, aws, clock):
    _, res = reserve(client, shop["key"])
    path = f"/reservations/{res['reservation_id']}"
    clock[0] += 8 * 60
    status, longer = call(client, shop["key"], "post", path + "/extend")
    assert status == 200 and longer["extended"] is True, longer
    assert longer["expires_at"] > res["expires_at"]
    status, twice = call(client, shop["key"], "post", path + "/extend")
    assert status == 409 and twice["error"]["fields"][0]["path"] == "reservation_id"
    clock[0] += 5 * 60  # past the first expiry, not the extended one
    assert schedules.expire_reservations() == 0
    assert reserved(aws) == 2
    clock[0] += 6 * 60
    status, late = call(client, shop["key"], "post", path + "/extend")
    assert status == 409 and late["error"]["code"] == "reservation_expired"
    assert schedules.expire_reservations() == 1 and reserved(aws) == 0


def test_a_channel_that_resources_takes_over_or_sources_again(client, shop, aws, clock):
    _, res = reserve(client, shop["lenient"])
    clock[0] += 16 * 60  # the default 15 minutes passed, not swept yet
    body = order_body("O-1", [("SKU-1", 2)], delivery={"reservation_id": res["reservation_id"]})
    status, order = call(client, shop["lenient"], "post", "/orders", body)
    assert status == 201, order
    assert reserved(aws) == 2  # the held units, taken over
    assert schedules.expire_reservations() == 0  # consumed: nothing to sweep

    _, swept = reserve(client, shop["lenient"], quantity=1)
    clock[0] += 16 * 60
    assert schedules.expire_reservations() == 1
    assert reserved(aws) == 2
    body = order_body("O-2", [("SKU-1", 1)], delivery={"reservation_id": swept["reservation_id"]})
    status, order = call(client, shop["lenient"], "post", "/orders", body)
    assert status == 201, order  # sourced anew
    assert reserved(aws) == 3
    assert_invariants(aws)


def test_the_sweeper_after_a_crash_between_reservation_and_order(
    client, shop, aws, clock, monkeypatch
):
    """The order's Lambda dies before its transaction: the reservation stays until its
    time, then the sweeper gives the units back; nothing is held twice."""
    _, res = reserve(client, shop["key"])

    def crash(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("Lambda timed out")

    monkeypatch.setattr(wiring.orders(), "create", crash)
    body = order_body("C-1", [("SKU-1", 2)], delivery={"reservation_id": res["reservation_id"]})
    status, _ = call(client, shop["key"], "post", "/orders", body)
    assert status == 500
    monkeypatch.undo()
    monkeypatch.setattr(wiring.reservations(), "_clock", lambda: clock[0])
    assert reserved(aws) == 2 and wiring.orders().get("webshop:C-1") is None
    clock[0] += 11 * 60
    assert schedules.expire_reservations() == 1
    assert reserved(aws) == 0
    assert_invariants(aws)


def test_an_option_too_split_for_one_transaction_is_refused_naming_it(client, shop, aws):
    """34 lines, each split over 3 locations: 102 holds, more than one transaction makes."""
    skus = [f"WIDE-{i:02d}" for i in range(34)]
    for sku in skus:
        seed_product(client, shop["admin"], sku, weight_g=100)
        for loc in ("dc-kassel", "3pl-venlo", "dc-lyon"):
            set_stock(aws, sku, loc, 1)
    cart = {**CART, "lines": [{"sku": sku, "quantity": 3} for sku in skus]}
    status, quote = call(client, shop["key"], "post", "/delivery-options", cart)
    assert status == 200, quote
    option = quote["options"][0]["option_id"]
    status, answer = call(client, shop["key"], "post", "/reservations", {"option_id": option})
    assert status == 422, answer
    assert [f["path"] for f in answer["error"]["fields"]] == ["option_id"]
    assert all(s["reserved"] == 0 for sku in skus for s in stock(aws, sku).values())
    assert_invariants(aws)
