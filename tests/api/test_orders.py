"""Quotes and order capture through the Chalice test client on moto."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from local.demo import network_documents
from tests.api.seed import (
    assert_invariants,
    auth,
    order_body,
    put,
    seed_channel,
    seed_network,
    seed_product,
    set_stock,
    stock,
)


@pytest.fixture
def shop(client: Any, admin_key: str, aws: Any) -> dict[str, Any]:
    seed_network(client, admin_key)
    key = seed_channel(client, admin_key, "webshop")
    other = seed_channel(client, admin_key, "marketplace", kind="marketplace")
    for sku in ("SKU-1", "SKU-2"):
        seed_product(client, admin_key, sku)
    set_stock(aws, "SKU-1", "dc-kassel", 5)
    set_stock(aws, "SKU-1", "st-berlin", 3)
    set_stock(aws, "SKU-2", "dc-lyon", 4)
    return {"key": key, "other": other, "admin": admin_key}


def post(client: Any, key: str, path: str, body: Any) -> tuple[int, dict[str, Any]]:
    resp = client.http.post(path, body=json.dumps(body), headers=auth(key))
    return resp.status_code, json.loads(resp.body)


def test_a_quote_offers_options_whose_ids_an_order_can_name(client, shop, aws):
    status, quote = post(
        client,
        shop["key"],
        "/delivery-options",
        {
            "currency": "EUR",
            "ship_to": {"country": "DE", "postal_code": "10115"},
            "lines": [{"sku": "SKU-1", "quantity": 2}],
        },
    )
    assert status == 200, quote
    assert quote["quote_id"].startswith("q_")
    assert datetime.fromisoformat(quote["expires_at"]) > datetime.now(UTC)
    kinds = {k for o in quote["options"] for k in o["kinds"]}
    assert "fastest" in kinds
    assert all(o["option_id"].startswith(quote["quote_id"] + ".") for o in quote["options"])
    assert all("cost" not in o for o in quote["options"])  # the retailer's cost stays internal

    option = quote["options"][0]
    body = order_body("A-1", [("SKU-1", 2)], delivery={"option_id": option["option_id"]})
    status, order = post(client, shop["key"], "/orders", body)
    assert status == 201, order
    assert order["delivery"]["option_id"] == option["option_id"].split(".")[1]
    assert order["promise_changed"] is False
    assert len(order["tracking_token"]) >= 32
    reserved = sum(s["reserved"] for s in stock(aws, "SKU-1").values())
    assert reserved == 2
    assert_invariants(aws)


def test_an_order_and_its_reservations_are_written_together(client, shop, aws):
    status, order = post(
        client, shop["key"], "/orders", order_body("A-2", [("SKU-1", 4), ("SKU-2", 1)])
    )
    assert status == 201, order
    reserved = {
        (sku, loc): q
        for s in order["shipments"]
        for sku, q in s["lines"].items()
        for loc in [s["location_id"]]
    }
    for (sku, loc), quantity in reserved.items():
        assert stock(aws, sku)[loc]["reserved"] == quantity
    assert order["status"] == "placed"
    assert order["history"][0]["event"] == "placed"
    got = client.http.get(f"/orders/{order['order_id']}", headers=auth(shop["key"]))
    assert got.status_code == 200
    assert "token_hash" not in json.loads(got.body)


def test_a_replay_returns_the_same_order_and_reserves_nothing_more(client, shop, aws):
    body = order_body("A-3", [("SKU-1", 1)])
    first_status, first = post(client, shop["key"], "/orders", body)
    again_status, again = post(client, shop["key"], "/orders", body)
    assert (first_status, again_status) == (201, 200)
    assert again["order_id"] == first["order_id"]
    assert again["tracking_token"] == first["tracking_token"]
    assert sum(s["reserved"] for s in stock(aws, "SKU-1").values()) == 1


def test_the_same_channel_order_id_with_another_body_is_409(client, shop):
    post(client, shop["key"], "/orders", order_body("A-4", [("SKU-1", 1)]))
    status, err = post(client, shop["key"], "/orders", order_body("A-4", [("SKU-1", 2)]))
    assert status == 409
    assert err["error"]["fields"][0]["path"] == "channel_order_id"


def test_out_of_stock_is_409_naming_the_sku_and_writes_nothing(client, shop, aws):
    before = stock(aws, "SKU-2")
    status, err = post(
        client, shop["key"], "/orders", order_body("A-5", [("SKU-1", 1), ("SKU-2", 9)])
    )
    assert status == 409
    assert err["error"]["code"] == "out_of_stock"
    assert err["error"]["skus"] == ["SKU-2"]
    assert stock(aws, "SKU-2") == before
    assert sum(s["reserved"] for s in stock(aws, "SKU-1").values()) == 0
    listed = client.http.get("/orders?channel_order_id=A-5", headers=auth(shop["key"]))
    assert json.loads(listed.body)["orders"] == []


@pytest.mark.parametrize(
    ("mutate", "path"),
    [
        (
            lambda b: b["lines"].__setitem__(0, {"sku": "NOPE", "quantity": 1, "unit_price": 1}),
            "lines[0].sku",
        ),
        (lambda b: b["lines"][0].__setitem__("quantity", 0), "lines[0].quantity"),
        (lambda b: b["lines"][0].__setitem__("quantity", "two"), "lines[0].quantity"),
        (lambda b: b.__setitem__("currency", "USD"), "currency"),
        (lambda b: b.__setitem__("currency", "euro"), "currency"),
        (lambda b: b["customer"].__setitem__("email", "not-an-email"), "customer.email"),
        (lambda b: b.pop("customer"), "customer"),
        (lambda b: b["ship_to"].__setitem__("country", "US"), "ship_to.country"),
        (
            lambda b: b.__setitem__(
                "lines", [{"sku": f"S{i}", "quantity": 1, "unit_price": 1} for i in range(51)]
            ),
            "lines",
        ),
        (lambda b: b.__setitem__("delivery", {"option_id": "q_nope.abc"}), "delivery.option_id"),
        (lambda b: b.__setitem__("delivery", {"kind": "teleport"}), "delivery.kind"),
    ],
)
def test_bad_orders_are_422_naming_the_field(client, shop, aws, mutate, path):
    body = order_body("BAD-1", [("SKU-1", 1)])
    mutate(body)
    status, err = post(client, shop["key"], "/orders", body)
    assert status == 422, err
    assert any(f["path"].startswith(path) for f in err["error"]["fields"]), err
    assert sum(s["reserved"] for s in stock(aws, "SKU-1").values()) == 0


def test_a_channel_sees_only_its_own_orders(client, shop):
    _, order = post(client, shop["key"], "/orders", order_body("A-6", [("SKU-1", 1)]))
    mine = client.http.get(f"/orders/{order['order_id']}", headers=auth(shop["key"]))
    theirs = client.http.get(f"/orders/{order['order_id']}", headers=auth(shop["other"]))
    assert (mine.status_code, theirs.status_code) == (200, 404)
    listed = json.loads(client.http.get("/orders", headers=auth(shop["other"])).body)
    assert listed["orders"] == []


def test_orders_are_found_by_email_channel_order_id_and_day(client, shop):
    ids = [
        post(client, shop["key"], "/orders", order_body(f"L-{i}", [("SKU-1", 1)]))[1]["order_id"]
        for i in range(3)
    ]
    by_channel = json.loads(client.http.get("/orders?limit=2", headers=auth(shop["key"])).body)
    assert len(by_channel["orders"]) == 2 and by_channel["cursor"]
    rest = json.loads(
        client.http.get(
            f"/orders?limit=2&cursor={by_channel['cursor']}", headers=auth(shop["key"])
        ).body
    )
    assert {o["order_id"] for o in by_channel["orders"] + rest["orders"]} == set(ids)
    by_coid = json.loads(
        client.http.get("/orders?channel_order_id=L-1", headers=auth(shop["admin"])).body
    )
    assert [o["order_id"] for o in by_coid["orders"]] == [ids[1]]
    by_email = json.loads(
        client.http.get("/orders?email=ADA@example.com", headers=auth(shop["admin"])).body
    )
    assert len(by_email["orders"]) == 3
    everything = json.loads(client.http.get("/orders", headers=auth(shop["admin"])).body)
    assert {o["order_id"] for o in everything["orders"]} == set(ids)
    bad = client.http.get("/orders?limit=0", headers=auth(shop["admin"]))
    assert bad.status_code == 422


def test_cancel_releases_every_reservation_once(client, shop, aws):
    _, order = post(client, shop["key"], "/orders", order_body("C-1", [("SKU-1", 4), ("SKU-2", 2)]))
    for _ in range(2):
        status, cancelled = post(client, shop["key"], f"/orders/{order['order_id']}/cancel", {})
        assert status == 200, cancelled
        assert cancelled["status"] == "cancelled"
    assert sum(s["reserved"] for s in stock(aws, "SKU-1").values()) == 0
    assert sum(s["reserved"] for s in stock(aws, "SKU-2").values()) == 0
    assert [h["event"] for h in cancelled["history"]] == ["placed", "cancelled"]
    assert_invariants(aws)


def test_admin_keys_cannot_place_orders_without_a_channel(client, shop):
    status, _ = post(client, shop["admin"], "/orders", order_body("X-1", [("SKU-1", 1)]))
    assert status == 403


# --- capture never loses a unit (issue #12) -------------------------------------------------


def heavy_stock_everywhere(client: Any, admin_key: str, aws: Any) -> None:
    """A heavy SKU (2.55 kg) stocked at every location of the demo network: hundreds of units,
    far more than three parcels can carry."""
    seed_product(client, admin_key, "SKU-H", weight_g=2550)
    for loc in network_documents()["locations"]:
        store = loc["type"] == "store"
        set_stock(aws, "SKU-H", loc["location_id"], 6 if store else 120, safety_stock=0)


def units_in_shipments(order: dict[str, Any], sku: str) -> int:
    return sum(s["lines"].get(sku, 0) for s in order["shipments"] if s["status"] != "cancelled")


def test_a_backorder_channel_order_beyond_what_parcels_carry_places_every_unit(client, shop, aws):
    backorder = seed_channel(client, shop["admin"], "bulk", backorder_policy="backorder")
    heavy_stock_everywhere(client, shop["admin"], aws)

    status, order = post(client, backorder, "/orders", order_body("H-1", [("SKU-H", 10_000)]))
    assert status == 201, order
    shipped = units_in_shipments(order, "SKU-H")
    assert shipped > 0  # what fits in the parcels leaves now; before, nothing did
    assert shipped + order["backorders"]["SKU-H"] == 10_000
    assert order["status"] == "backordered"
    assert sum(s["reserved"] for s in stock(aws, "SKU-H").values()) == shipped
    assert_invariants(aws)


def test_a_reject_channel_order_no_plan_can_send_is_409_not_a_cancelled_order(client, shop, aws):
    heavy_stock_everywhere(client, shop["admin"], aws)  # the network has the 500 units

    status, err = post(client, shop["other"], "/orders", order_body("H-2", [("SKU-H", 500)]))
    assert status == 409, err
    assert err["error"]["code"] == "out_of_stock" and err["error"]["skus"] == ["SKU-H"]
    assert [f["path"] for f in err["error"]["fields"]] == ["lines[0].quantity"]
    assert sum(s["reserved"] for s in stock(aws, "SKU-H").values()) == 0
    listed = client.http.get("/orders?channel_order_id=H-2", headers=auth(shop["other"]))
    assert json.loads(listed.body)["orders"] == []


def test_a_channel_never_sees_what_serving_its_order_costs_the_retailer(client, shop):
    """Reproduction: a channel's key saw ``delivery.cost`` and ``nearest_cost``."""
    status, placed = post(client, shop["key"], "/orders", order_body("V-1", [("SKU-1", 1)]))
    assert status == 201
    path = f"/orders/{placed['order_id']}"
    for seen in (
        placed,
        json.loads(client.http.get(path, headers=auth(shop["key"])).body),
        json.loads(client.http.get("/orders", headers=auth(shop["key"])).body)["orders"][0],
    ):
        assert "cost" not in seen["delivery"] and "nearest_cost" not in seen["delivery"]
        assert seen["delivery"]["price"] == placed["delivery"]["price"]
    internal = json.loads(client.http.get(path, headers=auth(shop["admin"])).body)
    assert internal["delivery"]["cost"]["total"] >= 0 and "nearest_cost" in internal["delivery"]


def test_a_unit_price_far_from_the_catalogue_is_refused_naming_the_line(client, shop):
    """Reproduction: a price of 0 was accepted (and later refunded from)."""
    body = order_body("P-1", [("SKU-2", 1), ("SKU-1", 1)])
    body["lines"][1]["unit_price"] = 0
    status, refused = post(client, shop["key"], "/orders", body)
    assert status == 409
    assert [f["path"] for f in refused["error"]["fields"]] == ["lines[1].unit_price"]
    body["lines"][1]["unit_price"] = 2999 - 1000  # within the default 50 %
    assert post(client, shop["key"], "/orders", body)[0] == 201


def test_a_price_the_catalogue_has_no_figure_for_in_the_currency_is_refused(client, shop, aws):
    """Reproduction: a CHF order for an EUR-only SKU at unit_price 0 got 201 on a channel that
    rejects price mismatches (no figure to compare with: unchecked)."""
    put(client, shop["admin"], "/products/SKU-US", {"weight_g": 500, "prices": {"USD": 2999}})
    set_stock(aws, "SKU-US", "dc-kassel", 5)
    body = order_body("P-USD", [("SKU-US", 1)])
    body["lines"][0]["unit_price"] = 0
    status, refused = post(client, shop["key"], "/orders", body)
    assert status == 409, refused
    reason = "SKU-US has no catalogue price in EUR to check it against"
    assert refused["error"]["fields"] == [{"path": "lines[0].unit_price", "reason": reason}]
    ignoring = seed_channel(client, shop["admin"], "outlet", price_mismatch="ignore")
    assert post(client, ignoring, "/orders", body)[0] == 201  # the channel's prices are the truth


def test_a_channel_may_hold_an_order_whose_price_is_off_for_review(client, shop, aws):
    key = seed_channel(client, shop["admin"], "review-shop", price_mismatch="hold")
    body = order_body("P-2", [("SKU-1", 1)])
    body["lines"][0]["unit_price"] = 1
    status, held = post(client, key, "/orders", body)
    assert status == 201 and "manual" in held["holds"]
    assert "lines[0].unit_price" in held["holds"]["manual"]["reason"]


def test_a_channel_caps_the_units_a_customer_buys_of_a_sku_per_day(client, shop):
    """Reproduction: 25 orders from one e-mail for one SKU all got 201."""
    key = seed_channel(client, shop["admin"], "drop-shop", max_units_per_customer_day=2)
    statuses = [
        post(client, key, "/orders", order_body(f"D-{i}", [("SKU-1", 1)]))[0] for i in range(4)
    ]
    assert statuses == [201, 201, 409, 409]
    status, body = post(client, key, "/orders", order_body("D-9", [("SKU-1", 1)]))
    assert status == 409 and body["error"]["fields"][0]["path"] == "lines[0].quantity"
    other = order_body("D-10", [("SKU-1", 1)], customer={"email": "bob@example.com", "name": "Bob"})
    assert post(client, key, "/orders", other)[0] == 201  # another customer
    assert post(client, key, "/orders", order_body("D-11", [("SKU-2", 2)]))[0] == 201  # another SKU
    tagged = order_body(
        "D-13", [("SKU-1", 1)], customer={"email": "Ada+2@Example.com", "name": "A"}
    )
    assert post(client, key, "/orders", tagged)[0] == 409  # a +tag reaches the same inbox
    status, body = post(client, key, "/orders", order_body("D-12", [("SKU-2", 3)]))
    assert status == 422 and body["error"]["fields"][0]["path"] == "lines[0].quantity"
    assert post(client, key, "/orders", order_body("D-0", [("SKU-1", 1)]))[0] == 200  # a replay


@pytest.mark.parametrize("half", [{"lat": 52.5}, {"lon": 13.4}])
def test_half_a_pair_of_coordinates_is_refused(client, shop, half):
    """Reproduction: a lat without its lon was taken (and the distance silently dropped)."""
    ship_to = {"country": "DE", "postal_code": "10115", **half}
    cart = {"currency": "EUR", "ship_to": ship_to, "lines": [{"sku": "SKU-1", "quantity": 1}]}
    status, body = post(client, shop["key"], "/delivery-options", cart)
    assert status == 422, body
    assert [f["path"] for f in body["error"]["fields"]] == ["ship_to"]
