"""A product marked hot over HTTP: its stock split over shard items, orders sell every unit
once, the stock reads as one number."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib import wiring
from chalicelib.adapters.stock_shards import HINTS
from chalicelib.consumers import schedules
from tests.api.seed import (
    assert_invariants,
    auth,
    order_body,
    put,
    seed_channel,
    seed_network,
    set_stock,
)
from tests.api.test_orders import post

HOT = {"name": "launch", "weight_g": 800, "prices": {"EUR": 2999}}


def test_a_hot_product_sells_exactly_its_units(client: Any, admin_key: str, aws: Any):
    seed_network(client, admin_key)
    key = seed_channel(client, admin_key, "webshop")
    put(client, admin_key, "/products/HOT-1", HOT)
    set_stock(aws, "HOT-1", "dc-kassel", 6)
    doc = put(client, admin_key, "/products/HOT-1", {**HOT, "hot_shards": 4})
    assert doc["hot_shards"] == 4
    table = aws.resource("dynamodb").Table("dirigent-stock")
    shard = table.get_item(Key={"sku": "HOT-1#3", "location_id": "dc-kassel"})["Item"]
    assert int(shard["available"]) == 1  # 6 over 4 shards: 2, 2, 1, 1
    for n in range(6):
        status, order = post(client, key, "/orders", order_body(f"H-{n}", [("HOT-1", 1)]))
        assert status == 201, order
        assert "stock_shards" not in order
    status, refused = post(client, key, "/orders", order_body("H-9", [("HOT-1", 1)]))
    assert status == 409, refused
    resp = client.http.get("/stock/HOT-1", headers=auth(admin_key))
    level = json.loads(resp.body)["total"]
    assert level["available"] == 0 and level["reserved"] == 6, level


def test_hot_shards_out_of_range_is_a_422_naming_the_field(client: Any, admin_key: str):
    resp = client.http.put(
        "/products/HOT-2", body=json.dumps({**HOT, "hot_shards": 17}), headers=auth(admin_key)
    )
    assert resp.status_code == 422
    assert "hot_shards" in resp.body.decode()


# --- checkout reservations, the low-stock list, locations stocked later -----------------------

CART = {
    "currency": "EUR",
    "ship_to": {"country": "DE", "postal_code": "10115", "lat": 52.5244, "lon": 13.4105},
}


def shards(aws: Any, sku: str = "HOT-1", loc: str = "dc-kassel") -> list[dict[str, int]]:
    """Every stored item of the SKU at the location, shard 0 first."""
    table = aws.resource("dynamodb").Table("dirigent-stock")
    base = table.get_item(Key={"sku": sku, "location_id": loc})["Item"]
    items = [base] + [
        table.get_item(Key={"sku": f"{sku}#{k}", "location_id": loc})["Item"]
        for k in range(1, int(base.get("shard_top", 0)) + 1)
    ]
    return [{n: int(i.get(n, 0)) for n in ("on_hand", "reserved", "available")} for i in items]


def hot_shop(client: Any, admin_key: str, aws: Any, units: int = 6) -> str:
    """HOT-1 with ``units`` at dc-kassel over 4 shards (6: available 2, 2, 1, 1)."""
    seed_network(client, admin_key)
    key = seed_channel(client, admin_key, "webshop", reservation_minutes=10)
    put(client, admin_key, "/products/HOT-1", HOT)
    set_stock(aws, "HOT-1", "dc-kassel", units)
    put(client, admin_key, "/products/HOT-1", {**HOT, "hot_shards": 4})
    return key


def reserve(client: Any, key: str, quantity: int) -> tuple[int, Any]:
    cart = {**CART, "lines": [{"sku": "HOT-1", "quantity": quantity}]}
    status, quote = post(client, key, "/delivery-options", cart)
    assert status == 200, quote
    return post(client, key, "/reservations", {"option_id": quote["options"][0]["option_id"]})


def held_on(aws: Any, reservation_id: str) -> dict[str, int]:
    item = (
        aws.resource("dynamodb")
        .Table("dirigent-orders")
        .get_item(Key={"pk": f"RESV#{reservation_id}", "sk": "RESV"})["Item"]
    )
    return {k: int(v) for k, v in item.get("stock_shards", {}).get("HOT-1@dc-kassel", {}).items()}


def test_a_hot_reservation_takes_units_from_every_shard_and_its_order_inherits_them(
    client: Any, admin_key: str, aws: Any
):
    key = hot_shop(client, admin_key, aws)
    status, res = reserve(client, key, 5)  # more than any one shard has
    assert status == 201, res
    held = held_on(aws, res["reservation_id"])
    assert sum(held.values()) == 5 and len(held) >= 3, held
    assert [s["reserved"] for s in shards(aws)] == [held.get(str(k), 0) for k in range(4)]
    body = order_body("HR-1", [("HOT-1", 6)], delivery={"reservation_id": res["reservation_id"]})
    status, order = post(client, key, "/orders", body)  # the 6th unit is sourced on top
    assert status == 201, order
    stored = wiring.orders().get(order["order_id"])
    assert stored is not None
    mine = {int(k): v for k, v in stored.stock_shards["HOT-1@dc-kassel"].items()}
    assert sum(mine.values()) == 6 and all(mine[int(k)] >= v for k, v in held.items()), mine
    assert [s["reserved"] for s in shards(aws)] == [mine.get(k, 0) for k in range(4)]
    resp = client.http.post(f"/orders/{order['order_id']}/cancel", body="", headers=auth(key))
    assert resp.status_code == 200, resp.body
    assert [s["reserved"] for s in shards(aws)] == [0, 0, 0, 0]  # each unit back to its shard
    assert sum(s["available"] for s in shards(aws)) == 6
    assert_invariants(aws)


def test_released_and_expired_hot_reservations_give_back_to_their_shards(
    client: Any, admin_key: str, aws: Any, monkeypatch: Any
):
    key = hot_shop(client, admin_key, aws)
    before = [s["available"] for s in shards(aws)]
    status, res = reserve(client, key, 4)
    assert status == 201, res
    resp = client.http.delete(f"/reservations/{res['reservation_id']}", headers=auth(key))
    assert resp.status_code == 200, resp.body
    assert [s["available"] for s in shards(aws)] == before
    now = [time.time()]
    monkeypatch.setattr(wiring.reservations(), "_clock", lambda: now[0])
    status, late = reserve(client, key, 6)  # every unit there is
    assert status == 201, late
    assert [s["available"] for s in shards(aws)] == [0, 0, 0, 0]
    cart = {**CART, "lines": [{"sku": "HOT-1", "quantity": 1}]}
    status, refused = post(client, key, "/delivery-options", cart)
    assert status == 409 and refused["error"]["code"] == "out_of_stock", refused
    now[0] += 11 * 60
    assert schedules.expire_reservations() == 1
    assert [s["available"] for s in shards(aws)] == before
    assert [s["reserved"] for s in shards(aws)] == [0, 0, 0, 0]
    assert_invariants(aws)


def test_the_low_stock_list_reads_a_hot_sku_as_one_level(client: Any, admin_key: str, aws: Any):
    hot_shop(client, admin_key, aws)
    put(client, admin_key, "/stock/HOT-1/dc-kassel", {"on_hand": 12, "reorder_point": 4})
    assert [s["available"] for s in shards(aws)] == [3, 3, 3, 3]  # shard 0 alone is below 4

    def low() -> list[dict[str, Any]]:
        resp = client.http.get("/dashboard/data", headers=auth(admin_key))
        assert resp.status_code == 200, resp.body
        return [row for row in json.loads(resp.body)["low_stock"] if row["sku"] == "HOT-1"]

    assert low() == []
    put(client, admin_key, "/stock/HOT-1/dc-kassel", {"on_hand": 4, "reorder_point": 4})
    (row,) = low()
    assert (row["available"], row["on_hand"], row["reorder_point"]) == (4, 4, 4), row


def test_a_location_stocked_after_the_product_went_hot_is_split_when_first_written(
    client: Any, admin_key: str, aws: Any
):
    hot_shop(client, admin_key, aws)
    put(client, admin_key, "/stock/HOT-1/dc-lyon", {"on_hand": 8})
    assert [s["available"] for s in shards(aws, loc="dc-lyon")] == [2, 2, 2, 2]
    assert wiring.inventory().receive("HOT-1", "3pl-venlo", 6, event_id="ev-hot-1")
    assert [s["available"] for s in shards(aws, loc="3pl-venlo")] == [2, 2, 1, 1]
    at = datetime.now(UTC) - timedelta(minutes=1)
    assert wiring.inventory().count("HOT-1", "st-berlin", 5, at, event_id="ev-hot-2")
    assert [s["on_hand"] for s in shards(aws, loc="st-berlin")] == [2, 1, 1, 1]
    resp = client.http.get("/stock/HOT-1", headers=auth(admin_key))
    assert json.loads(resp.body)["total"]["available"] == 6 + 8 + 6 + 5
    assert_invariants(aws)


def test_a_reservation_that_loses_a_shard_race_rereads_and_retries(
    client: Any, admin_key: str, aws: Any, monkeypatch: Any
):
    key = hot_shop(client, admin_key, aws)
    store = wiring.reservations()._store
    create, calls = store.create, []

    def stale_then_create(res: Any) -> None:
        if not calls:  # another Lambda emptied shards 1-3 as far as this one knows
            HINTS.note("HOT-1", "dc-kassel", [6, 0, 0, 0], 4)
        calls.append(res.reservation_id)
        create(res)

    monkeypatch.setattr(store, "create", stale_then_create)
    status, res = reserve(client, key, 5)
    assert status == 201, res
    assert len(calls) == 2  # 5 on shard 0 (it has 2) lost; the consistent re-read spread them
    assert sum(held_on(aws, res["reservation_id"]).values()) == 5
    assert_invariants(aws)


def test_units_shipped_after_a_cancel_come_off_the_shards_that_have_them(
    client: Any, admin_key: str, aws: Any
):
    """Reproduction: in a container with no shard hints (a cold consumer) a shipment that left
    after its confirmed cancel took all its units off shard 0, leaving it at -1 while the other
    shards still sold theirs: one unit sold twice."""
    from tests.api.fulfilment_kit import deliver, dispatch_placed, event, make_shop, shipped
    from tests.api.test_cancellation import cancel, released

    shop = make_shop(client, admin_key, aws)
    wiring.inventory().set_hot_shards("SKU-2", 4)  # 4 units at dc-kassel: 1 per shard
    assert [s["available"] for s in shards(aws, "SKU-2")] == [1, 1, 1, 1]
    order = released(client, aws, shop, "HOT-LATE", [("SKU-2", 2)])
    (shipment,) = order["shipments"]
    assert cancel(client, shop["key"], order["order_id"])[0] == 200
    dispatch_placed(client, aws)
    confirmed = event("cancel_confirmed", order, shipment)
    assert deliver(client, "on_warehouse_event", "dirigent-warehouse-events", confirmed) == []
    HINTS._by_key.clear()  # the next event lands in a fresh container
    late = shipped(order, shipment, "TN-LATE")
    assert deliver(client, "on_warehouse_event", "dirigent-warehouse-events", late) == []
    after = shards(aws, "SKU-2")
    assert all(s["available"] >= 0 for s in after), after
    assert sum(s["on_hand"] for s in after) == 2 and sum(s["reserved"] for s in after) == 0
    assert sum(s["available"] for s in after) == 2
    assert_invariants(aws)
