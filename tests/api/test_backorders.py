"""Backorder policy: accepted without stock, reserved first come first served on arrival."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
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


# --- allocation over the whole network (issue #12) ----------------------------------------------


def waiting(order: dict[str, Any]) -> dict[str, int]:
    return dict(wiring.orders().get(order["order_id"]).backorders)


def reserved(aws: Any) -> dict[str, int]:
    return {loc: s["reserved"] for loc, s in stock(aws, "SKU-B").items() if s["reserved"]}


def arrivals(aws: Any) -> list[dict[str, Any]]:
    """The stock_arrived announcements waiting on the order-events queue (all drained)."""
    return [m for m in drain(aws, "dirigent-order-events") if m["type"] == "stock_arrived"]


def test_a_head_that_cannot_be_served_does_not_block_the_orders_behind_it(
    client, shop, admin_key, aws
):
    outlet = seed_channel(client, admin_key, "outlet", backorder_policy="backorder")
    seed_rules = client.http.put(
        "/sourcing-rules",
        body=json.dumps({"excluded_locations": {"outlet": ["dc-lyon"]}}),
        headers=auth(admin_key),
    )
    assert seed_rules.status_code == 200, seed_rules.body
    _, head = place(client, outlet, "O-1", 3)  # 2 reserved at dc-kassel, 1 waiting
    _, behind = place(client, shop["key"], "B-10", 2)  # nothing left: 2 waiting

    set_stock(aws, "SKU-B", "dc-lyon", 5)  # only dc-lyon has units, and never for the outlet
    assert wiring.backorders().allocate("SKU-B", "dc-lyon") == 2
    assert waiting(head) == {"SKU-B": 1} and waiting(behind) == {}
    assert reserved(aws) == {"dc-kassel": 2, "dc-lyon": 2}
    assert_invariants(aws)


def test_allocation_takes_units_wherever_the_network_has_them(client, shop, aws):
    _, order = place(client, shop["key"], "B-11", 4)  # 2 reserved at dc-kassel, 2 waiting
    set_stock(aws, "SKU-B", "dc-lyon", 3)  # units at another location than the announcement's

    assert wiring.backorders().allocate("SKU-B", "dc-kassel") == 2
    served = wiring.orders().get(order["order_id"])
    assert served.backorders == {}
    assert [s.location_id for s in served.shipments] == ["dc-kassel", "dc-lyon"]
    assert reserved(aws) == {"dc-kassel": 2, "dc-lyon": 2}
    allocated = [h for h in served.history if h.event == "backorder_allocated"]
    assert [(h.shipment_id, h.detail["quantity"]) for h in allocated] == [
        (served.shipments[1].shipment_id, 2)
    ]
    assert {"location_id": "dc-lyon", "outcome": "chosen", "units": 2} in allocated[0].detail[
        "explanation"
    ]
    assert wiring.orders().backorders("SKU-B") == []
    assert_invariants(aws)


def test_allocation_takes_as_many_units_as_there_are_from_several_locations(client, shop, aws):
    _, order = place(client, shop["key"], "B-12", 9)  # 2 reserved, 7 waiting
    set_stock(aws, "SKU-B", "dc-lyon", 3)
    set_stock(aws, "SKU-B", "3pl-venlo", 2)

    assert wiring.backorders().allocate("SKU-B", "dc-lyon") == 5
    assert waiting(order) == {"SKU-B": 2}
    assert reserved(aws) == {"dc-kassel": 2, "dc-lyon": 3, "3pl-venlo": 2}
    ledger = wiring.orders().get(order["order_id"]).unaccounted()
    assert ledger == {}
    assert_invariants(aws)


def test_allocation_never_uses_a_location_the_channel_excludes(client, shop, admin_key, aws):
    outlet = seed_channel(
        client, admin_key, "outlet", backorder_policy="backorder", excluded_locations=["dc-lyon"]
    )
    _, order = place(client, outlet, "O-2", 4)  # 2 reserved at dc-kassel, 2 waiting

    set_stock(aws, "SKU-B", "dc-lyon", 5)
    assert wiring.backorders().allocate("SKU-B", "dc-lyon") == 0
    assert waiting(order) == {"SKU-B": 2}
    assert reserved(aws) == {"dc-kassel": 2}

    set_stock(aws, "SKU-B", "dc-kassel", 4, reserved=2)
    assert wiring.backorders().allocate("SKU-B", "dc-kassel") == 2
    assert waiting(order) == {} and reserved(aws) == {"dc-kassel": 4}
    assert_invariants(aws)


def test_put_stock_announces_and_serves_a_waiting_backorder(client, shop, admin_key, aws):
    _, order = place(client, shop["key"], "B-13", 3)  # 1 waiting
    drain(aws, "dirigent-order-events")

    resp = client.http.put(
        "/stock/SKU-B/dc-lyon", body=json.dumps({"on_hand": 4}), headers=auth(admin_key)
    )
    assert resp.status_code == 200, resp.body
    announced = arrivals(aws)
    assert [(m["sku"], m["location_id"]) for m in announced] == [("SKU-B", "dc-lyon")]
    assert deliver(client, "on_order_event", "dirigent-order-events", *announced) == []
    assert waiting(order) == {}
    assert reserved(aws) == {"dc-kassel": 2, "dc-lyon": 1}
    assert_invariants(aws)


def test_an_import_announces_the_units_it_adds_and_serves_a_waiting_backorder(
    client, shop, admin_key, aws
):
    _, order = place(client, shop["key"], "B-14", 5)  # 3 waiting
    seed_product(client, admin_key, "SKU-C")  # no backorders: nothing to announce for it
    drain(aws, "dirigent-order-events")

    rows = [
        {"sku": "SKU-B", "location_id": "dc-lyon", "on_hand": 2},
        {"sku": "SKU-B", "location_id": "3pl-venlo", "on_hand": 6},
        {"sku": "SKU-B", "location_id": "dc-kassel", "on_hand": 2},  # all of it reserved
        {"sku": "SKU-C", "location_id": "dc-lyon", "on_hand": 9},
    ]
    resp = client.http.post("/imports/stock", body=json.dumps(rows), headers=auth(admin_key))
    assert resp.status_code == 200 and json.loads(resp.body)["imported"] == 4, resp.body
    announced = arrivals(aws)
    assert sorted((m["sku"], m["location_id"]) for m in announced) == [
        ("SKU-B", "3pl-venlo"),
        ("SKU-B", "dc-lyon"),
    ]
    assert deliver(client, "on_order_event", "dirigent-order-events", *announced) == []
    assert waiting(order) == {}
    assert sum(reserved(aws).values()) == 5
    assert_invariants(aws)


def test_an_applied_count_announces_and_serves_a_waiting_backorder(client, shop, aws):
    """Counts announce once the count reconciliation lands (another part of issue #12)."""
    _, order = place(client, shop["key"], "B-15", 3)  # 1 waiting
    drain(aws, "dirigent-order-events")
    now = datetime.now(UTC).isoformat()
    count = {
        "event_id": f"ev-{uuid.uuid4()}",
        "type": "stock_count",
        "location_id": "dc-kassel",
        "occurred_at": now,
        "sku": "SKU-B",
        "counted_on_hand": 4,
        "counted_at": now,
    }
    assert deliver(client, "on_warehouse_event", "dirigent-warehouse-events", count) == []
    announced = arrivals(aws)
    assert ("SKU-B", "dc-kassel") in [(m["sku"], m["location_id"]) for m in announced]
    assert deliver(client, "on_order_event", "dirigent-order-events", *announced) == []
    assert waiting(order) == {}
    assert reserved(aws) == {"dc-kassel": 3}
    assert_invariants(aws)
