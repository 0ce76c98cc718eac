"""Backorder policy: accepted without stock, reserved first come first served on arrival."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib import wiring
from tests.api.fulfilment_kit import deliver, drain
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


@pytest.fixture
def shop(client: Any, admin_key: str, aws: Any) -> dict[str, Any]:
    seed_network(client, admin_key)
    key = seed_channel(client, admin_key, "webshop", backorder_policy="backorder")
    strict = seed_channel(client, admin_key, "marketplace", kind="marketplace")
    seed_product(client, admin_key, "SKU-B")
    set_stock(aws, "SKU-B", "dc-kassel", 2)
    return {"key": key, "reject": strict}


def place(client: Any, key: str, coid: str, quantity: int) -> tuple[int, dict[str, Any]]:
    resp = client.http.post(
        "/orders", body=json.dumps(order_body(coid, [("SKU-B", quantity)])), headers=auth(key)
    )
    return resp.status_code, json.loads(resp.body)


def test_a_reject_channel_refuses_what_it_cannot_source(client, shop):
    status, err = place(client, shop["reject"], "R-1", 5)
    assert status == 409 and err["error"]["skus"] == ["SKU-B"]


def test_a_backorder_channel_accepts_and_waits_for_stock(client, shop, aws):
    status, order = place(client, shop["key"], "B-1", 5)
    assert status == 201, order
    assert order["backorders"] == {"SKU-B": 3}
    assert sum(sum(s["lines"].values()) for s in order["shipments"]) == 2
    assert stock(aws, "SKU-B")["dc-kassel"]["reserved"] == 2


def test_arriving_stock_serves_backorders_first_come_first_served(client, shop, aws):
    _, first = place(client, shop["key"], "B-2", 4)  # 2 reserved, 2 waiting
    _, second = place(client, shop["key"], "B-3", 3)  # nothing left: 3 waiting
    assert second["status"] == "backordered" and second["shipments"] == []

    set_stock(aws, "SKU-B", "dc-lyon", 3)
    served = wiring.backorders().allocate("SKU-B", "dc-lyon")
    assert served == 3  # 2 for the first order, 1 for the second

    first_now = wiring.orders().get(first["order_id"])
    second_now = wiring.orders().get(second["order_id"])
    assert first_now.backorders == {} and second_now.backorders == {"SKU-B": 2}
    assert [s.location_id for s in first_now.shipments] == ["dc-kassel", "dc-lyon"]
    assert stock(aws, "SKU-B")["dc-lyon"]["reserved"] == 3
    assert_invariants(aws)
    # a second delivery of the same arrival finds nothing more to take
    assert wiring.backorders().allocate("SKU-B", "dc-lyon") == 0


def test_cancelling_a_backordered_order_leaves_the_queue(client, shop, aws):
    _, order = place(client, shop["key"], "B-4", 6)
    resp = client.http.post(
        f"/orders/{order['order_id']}/cancel", body="{}", headers=auth(shop["key"])
    )
    assert json.loads(resp.body)["status"] == "cancelled"
    assert wiring.orders().backorders("SKU-B") == []
    assert stock(aws, "SKU-B")["dc-kassel"]["reserved"] == 0


def test_units_freed_by_a_cancel_reach_a_waiting_backorder_by_the_arrival_path(client, shop, aws):
    _, first = place(client, shop["key"], "B-5", 2)  # takes both units at dc-kassel
    _, waiting = place(client, shop["key"], "B-6", 1)  # backordered: nothing left
    assert waiting["backorders"] == {"SKU-B": 1}
    drain(aws, "dirigent-order-events")

    resp = client.http.post(
        f"/orders/{first['order_id']}/cancel", body="{}", headers=auth(shop["key"])
    )
    assert resp.status_code == 200, resp.body
    announced = drain(aws, "dirigent-order-events")
    arrivals = [m for m in announced if m["type"] == "stock_arrived"]
    assert [(m["sku"], m["location_id"]) for m in arrivals] == [("SKU-B", "dc-kassel")]
    assert wiring.orders().get(waiting["order_id"]).backorders == {"SKU-B": 1}  # not yet

    assert deliver(client, "on_order_event", "dirigent-order-events", *announced) == []
    served = wiring.orders().get(waiting["order_id"])
    assert served.backorders == {}
    assert [s.location_id for s in served.shipments] == ["dc-kassel"]
    assert stock(aws, "SKU-B")["dc-kassel"]["reserved"] == 1
    assert_invariants(aws)
