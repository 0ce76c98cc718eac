"""A product marked hot over HTTP: its stock split over shard items, orders sell every unit
once, the stock reads as one number."""

from __future__ import annotations

import json
from typing import Any

from tests.api.seed import auth, order_body, put, seed_channel, seed_network, set_stock
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
