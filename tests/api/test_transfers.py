"""Click & collect transfers (warehouse -> in transit -> pick-up store) and quarantine, through
the real handlers on moto: the units are booked where they physically are, whatever order and
however often the events arrive, and a cancel or an expiry frees them at the store, or sends
them back to their source when that is the store's policy."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib import wiring
from chalicelib.services.pickups import PickupExpiry
from local.demo import network_documents
from local.simulator import plan_events
from tests.api.fulfilment_kit import (
    deliver,
    dispatch_placed,
    drain,
    event,
    get_order,
    make_shop,
    place,
    shipped,
)
from tests.api.seed import assert_invariants, auth

EVENTS = "dirigent-warehouse-events"
STORE = "st-berlin"


@pytest.fixture
def shop(client: Any, admin_key: str, aws: Any) -> dict[str, str]:
    return make_shop(client, admin_key, aws)  # SKU-1 only at dc-kassel and dc-lyon


def levels(client: Any, key: str, sku: str = "SKU-1") -> dict[str, Any]:
    resp = client.http.get(f"/stock/{sku}", headers=auth(key))
    assert resp.status_code == 200, resp.body
    return dict(json.loads(resp.body))


def at(client: Any, key: str, location_id: str, sku: str = "SKU-1") -> dict[str, int]:
    """``on_hand, reserved, available, in_transit, quarantine`` of one location (zeros when
    it has no stock item)."""
    names = ("on_hand", "reserved", "available", "in_transit", "quarantine")
    for row in levels(client, key, sku)["locations"]:
        if row["location_id"] == location_id:
            return {n: row[n] for n in names}
    return dict.fromkeys(names, 0)


def units(on_hand: int = 0, reserved: int = 0, in_transit: int = 0, quarantine: int = 0):
    return {
        "on_hand": on_hand,
        "reserved": reserved,
        "available": on_hand - reserved,
        "in_transit": in_transit,
        "quarantine": quarantine,
    }


def a_transfer(client: Any, shop: dict[str, str], aws: Any, coid: str) -> tuple[dict, dict]:
    order = place(
        client,
        shop["key"],
        coid,
        [("SKU-1", 1)],
        delivery={"kind": "click_collect", "pickup_location_id": STORE},
    )
    dispatch_placed(client, aws)
    (shipment,) = order["shipments"]
    assert shipment["pickup_location_id"] == STORE and shipment["location_id"] != STORE
    return order, shipment


def from_store(kind: str, order: dict, shipment: dict, **extra: Any) -> dict:
    return {**event(kind, order, shipment, **extra), "location_id": STORE}


def test_a_transfer_moves_its_unit_source_in_transit_store_then_out(client, shop, aws):
    order, shipment = a_transfer(client, shop, aws, "T-1")
    source = shipment["location_id"]
    assert at(client, shop["admin"], source) == units(5, reserved=1)

    assert deliver(client, "on_warehouse_event", EVENTS, shipped(order, shipment)) == []
    assert get_order(client, shop["key"], order["order_id"])["shipments"][0]["status"] == (
        "in_transit"
    )
    assert at(client, shop["admin"], source) == units(4)
    assert at(client, shop["admin"], STORE) == units(in_transit=1)
    total = levels(client, shop["admin"])["total"]
    assert (total["on_hand"], total["in_transit"], total["reserved"]) == (9, 1, 0)

    ready = from_store("ready_for_pickup", order, shipment)
    assert deliver(client, "on_warehouse_event", EVENTS, ready) == []
    assert at(client, shop["admin"], STORE) == units(1, reserved=1)
    stored = get_order(client, shop["key"], order["order_id"])
    assert stored["status"] == "ready_for_pickup"

    assert (
        deliver(client, "on_warehouse_event", EVENTS, from_store("collected", order, shipment))
        == []
    )
    assert at(client, shop["admin"], STORE) == units(0)
    assert at(client, shop["admin"], source) == units(4)
    assert get_order(client, shop["key"], order["order_id"])["status"] == "delivered"
    assert_invariants(aws)


def test_events_out_of_order_and_twice_book_the_unit_once_where_it_is(client, shop, aws):
    order, shipment = a_transfer(client, shop, aws, "T-2")
    source = shipment["location_id"]
    ready = from_store("ready_for_pickup", order, shipment)
    sent = shipped(order, shipment)
    picked = event("picked", order, shipment)
    # The store reports the arrival before the warehouse reports the departure; each twice.
    assert deliver(client, "on_warehouse_event", EVENTS, ready, ready, sent, picked, sent) == []
    assert at(client, shop["admin"], source) == units(4)
    assert at(client, shop["admin"], STORE) == units(1, reserved=1)
    collected = from_store("collected", order, shipment)
    assert deliver(client, "on_warehouse_event", EVENTS, collected, ready, collected) == []
    assert at(client, shop["admin"], STORE) == units(0)
    assert at(client, shop["admin"], source) == units(4)
    assert_invariants(aws)


def test_collected_while_booked_in_transit_takes_the_unit_off_the_transit(client, shop, aws):
    order, shipment = a_transfer(client, shop, aws, "T-3")
    collected = from_store("collected", order, shipment)
    assert deliver(client, "on_warehouse_event", EVENTS, shipped(order, shipment), collected) == []
    assert at(client, shop["admin"], STORE) == units(0)
    assert at(client, shop["admin"], shipment["location_id"]) == units(4)


def test_an_expired_pickup_frees_the_unit_at_the_store_not_at_the_warehouse(client, shop, aws):
    order, shipment = a_transfer(client, shop, aws, "T-4")
    source = shipment["location_id"]
    ready = from_store("ready_for_pickup", order, shipment, occurred_at="2026-05-04T10:00:00Z")
    assert deliver(client, "on_warehouse_event", EVENTS, shipped(order, shipment), ready) == []
    expiry = PickupExpiry(
        orders=wiring.orders(),
        log=wiring.fulfilment_log(),
        clock=lambda: datetime(2026, 5, 12, tzinfo=UTC),
    )
    assert expiry.expire() == 1
    assert get_order(client, shop["key"], order["order_id"])["status"] == "cancelled"
    # Before: the unit was released at the warehouse (available 5 there) while in the store.
    assert at(client, shop["admin"], source) == units(4)
    assert at(client, shop["admin"], STORE) == units(1)
    assert_invariants(aws)


def test_a_cancel_after_arrival_frees_the_unit_at_the_store(client, shop, aws):
    order, shipment = a_transfer(client, shop, aws, "T-5")
    source = shipment["location_id"]
    ready = from_store("ready_for_pickup", order, shipment)
    assert deliver(client, "on_warehouse_event", EVENTS, shipped(order, shipment), ready) == []
    resp = client.http.post(
        f"/orders/{order['order_id']}/cancel",
        body=json.dumps({"reason": "changed my mind"}),
        headers=auth(shop["key"]),
    )
    assert resp.status_code == 200, resp.body
    confirmed = {
        **from_store("cancel_confirmed", order, shipment),
        "order_id": order["order_id"],
    }
    assert deliver(client, "on_warehouse_event", EVENTS, confirmed, confirmed) == []
    assert get_order(client, shop["key"], order["order_id"])["status"] == "cancelled"
    assert at(client, shop["admin"], STORE) == units(1)
    assert at(client, shop["admin"], source) == units(4)
    assert_invariants(aws)


# --- transfer back (the store's collect_unclaimed policy) ---------------------------------


def sends_back(client: Any, admin: str, policy: str = "transfer_back") -> Any:
    (doc,) = [d for d in network_documents()["locations"] if d["location_id"] == STORE]
    body = json.dumps({**doc, "collect_unclaimed": policy})
    return client.http.put(f"/locations/{STORE}", body=body, headers=auth(admin))


def history(client: Any, key: str, order: dict) -> list[str]:
    return [h["event"] for h in get_order(client, key, order["order_id"])["history"]]


def back_request(aws: Any) -> dict[str, Any]:
    (request,) = [m for m in drain(aws, "dirigent-fulfilment") if m["type"] == "transfer_request"]
    return request


def test_an_expired_pickup_at_a_transfer_back_store_goes_back_to_its_source(client, shop, aws):
    assert sends_back(client, shop["admin"]).status_code in (200, 201)
    order, shipment = a_transfer(client, shop, aws, "T-B1")
    source = shipment["location_id"]
    ready = from_store("ready_for_pickup", order, shipment, occurred_at="2026-05-04T10:00:00Z")
    assert deliver(client, "on_warehouse_event", EVENTS, shipped(order, shipment), ready) == []
    expiry = PickupExpiry(
        orders=wiring.orders(),
        log=wiring.fulfilment_log(),
        clock=lambda: datetime(2026, 5, 12, tzinfo=UTC),
        network=wiring.catalog_service(),
    )
    assert expiry.expire() == 1
    # Held out of sale at the store (keep would make it sellable there), nothing at the source.
    assert at(client, shop["admin"], STORE) == units(1, reserved=1)
    assert at(client, shop["admin"], source) == units(4)
    assert_invariants(aws)

    wiring.dispatcher().sweep(min_age=timedelta(0))
    request = back_request(aws)
    assert (request["location_id"], request["to_location_id"]) == (STORE, source)
    assert request["lines"] == [{"sku": "SKU-1", "quantity": 1}]
    assert request["message_id"] == f"{shipment['shipment_id']}:back:" + request["message_id"][-8:]

    sent = from_store("transfer_back_shipped", order, shipment)
    assert deliver(client, "on_warehouse_event", EVENTS, sent, sent) == []
    assert at(client, shop["admin"], STORE) == units(0)
    assert at(client, shop["admin"], source) == units(4, in_transit=1)
    assert levels(client, shop["admin"])["total"]["in_transit"] == 1
    drain(aws, "dirigent-order-events")

    received = event("transfer_back_received", order, shipment)
    again = event("transfer_back_received", order, shipment)  # resent under a new id
    assert deliver(client, "on_warehouse_event", EVENTS, received, again) == []
    assert at(client, shop["admin"], source) == units(5)
    assert at(client, shop["admin"], STORE) == units(0)
    arrived = [m for m in drain(aws, "dirigent-order-events") if m["type"] == "stock_arrived"]
    assert [(m["sku"], m["location_id"]) for m in arrived] == [("SKU-1", source)]
    timeline = history(client, shop["key"], order)
    assert timeline.index("transfer_back_requested") < timeline.index("transfer_back_shipped")
    assert timeline.index("transfer_back_shipped") < timeline.index("transfer_back_received")
    assert_invariants(aws)


def test_a_cancel_after_arrival_sends_the_unit_back_whatever_order_the_events(client, shop, aws):
    assert sends_back(client, shop["admin"]).status_code in (200, 201)
    order, shipment = a_transfer(client, shop, aws, "T-B2")
    source = shipment["location_id"]
    ready = from_store("ready_for_pickup", order, shipment)
    assert deliver(client, "on_warehouse_event", EVENTS, shipped(order, shipment), ready) == []
    resp = client.http.post(
        f"/orders/{order['order_id']}/cancel",
        body=json.dumps({"reason": "changed my mind"}),
        headers=auth(shop["key"]),
    )
    assert resp.status_code == 200, resp.body
    drain(aws, "dirigent-fulfilment")  # the cancel request to the store
    confirmed = from_store("cancel_confirmed", order, shipment)
    assert deliver(client, "on_warehouse_event", EVENTS, confirmed, confirmed) == []
    assert at(client, shop["admin"], STORE) == units(1, reserved=1)
    request = back_request(aws)  # sent with the dispatch after the confirmation
    assert (request["location_id"], request["to_location_id"]) == (STORE, source)

    # The source books the unit in before the store reports sending it; then that comes late.
    received = event("transfer_back_received", order, shipment)
    late = from_store("transfer_back_shipped", order, shipment)
    assert deliver(client, "on_warehouse_event", EVENTS, received, late) == []
    assert at(client, shop["admin"], STORE) == units(0)
    assert at(client, shop["admin"], source) == units(5)
    assert get_order(client, shop["key"], order["order_id"])["status"] == "cancelled"
    assert "transfer_back_shipped_ignored" in history(client, shop["key"], order)
    assert_invariants(aws)


def test_a_cancel_in_transit_holds_the_unit_at_the_store_for_the_way_back(client, shop, aws):
    assert sends_back(client, shop["admin"]).status_code in (200, 201)
    order, shipment = a_transfer(client, shop, aws, "T-B3")
    assert deliver(client, "on_warehouse_event", EVENTS, shipped(order, shipment)) == []
    resp = client.http.post(
        f"/orders/{order['order_id']}/cancel",
        body=json.dumps({"reason": "too slow"}),
        headers=auth(shop["key"]),
    )
    assert resp.status_code == 200, resp.body
    confirmed = from_store("cancel_confirmed", order, shipment)
    assert deliver(client, "on_warehouse_event", EVENTS, confirmed) == []
    # Not sellable at the store (keep would land it there available): held for the way back.
    assert at(client, shop["admin"], STORE) == units(1, reserved=1)
    assert back_request(aws)["to_location_id"] == shipment["location_id"]
    assert_invariants(aws)


def test_a_transfer_still_at_its_source_just_frees_there(client, shop, aws):
    assert sends_back(client, shop["admin"]).status_code in (200, 201)
    order, shipment = a_transfer(client, shop, aws, "T-B4")
    resp = client.http.post(
        f"/orders/{order['order_id']}/cancel",
        body=json.dumps({"reason": "x"}),
        headers=auth(shop["key"]),
    )
    assert resp.status_code == 200, resp.body
    drain(aws, "dirigent-fulfilment")
    confirmed = event("cancel_confirmed", order, shipment)
    assert deliver(client, "on_warehouse_event", EVENTS, confirmed) == []
    assert at(client, shop["admin"], shipment["location_id"]) == units(5)
    assert at(client, shop["admin"], STORE) == units(0)
    assert [m["type"] for m in drain(aws, "dirigent-fulfilment")] == []


def test_the_simulated_store_and_source_bring_the_unit_home(client, shop, aws):
    assert sends_back(client, shop["admin"]).status_code in (200, 201)
    order, shipment = a_transfer(client, shop, aws, "T-B6")
    ready = from_store("ready_for_pickup", order, shipment, occurred_at="2026-05-04T10:00:00Z")
    assert deliver(client, "on_warehouse_event", EVENTS, shipped(order, shipment), ready) == []
    wiring.pickup_expiry()._clock = lambda: datetime(2026, 5, 12, tzinfo=UTC)
    assert wiring.pickup_expiry().expire() == 1
    wiring.dispatcher().sweep(min_age=timedelta(0))
    planned = plan_events(back_request(aws), rng=random.Random(1), short_rate=0)
    now = datetime.now(UTC).isoformat()
    sent = [{**e, "event_id": f"sim-{i}", "occurred_at": now} for i, e in enumerate(planned)]
    assert [(e["type"], e["location_id"]) for e in sent] == [
        ("transfer_back_shipped", STORE),
        ("transfer_back_received", shipment["location_id"]),
    ]
    assert deliver(client, "on_warehouse_event", EVENTS, *sent, *sent) == []
    assert at(client, shop["admin"], shipment["location_id"]) == units(5)
    assert at(client, shop["admin"], STORE) == units(0)
    assert_invariants(aws)


def test_a_transfer_back_event_without_a_request_is_dead_lettered(client, shop, aws):
    order, shipment = a_transfer(client, shop, aws, "T-B5")
    sent = from_store("transfer_back_shipped", order, shipment)
    assert deliver(client, "on_warehouse_event", EVENTS, sent) != []


def test_a_bad_collect_unclaimed_policy_is_a_4xx_naming_the_field(client, shop, aws):
    resp = sends_back(client, shop["admin"], "give_away")
    assert 400 <= resp.status_code < 500, resp.body
    assert "collect_unclaimed" in [f["path"] for f in json.loads(resp.body)["error"]["fields"]]


# --- quarantine ---------------------------------------------------------------------------


def quarantined(aws: Any, quantity: int, *, on_hand: int = 2) -> None:
    aws.resource("dynamodb").Table("dirigent-stock").put_item(
        Item={
            "sku": "SKU-2",
            "location_id": "dc-kassel",
            "on_hand": on_hand,
            "reserved": 0,
            "safety_stock": 0,
            "available": on_hand,
            "reorder_point": 0,
            "headroom": on_hand,
            "quarantine": quantity,
        }
    )


def quarantine(client: Any, key: str, body: dict[str, Any], idempotency_key: str = "") -> Any:
    headers = auth(key)
    if idempotency_key:
        headers["Idempotency-Key"] = idempotency_key
    return client.http.post(
        "/stock/SKU-2/dc-kassel/quarantine", body=json.dumps(body), headers=headers
    )


def test_quarantined_units_released_become_sellable_and_are_announced(client, shop, aws):
    quarantined(aws, 3)
    drain(aws, "dirigent-order-events")
    body = {"action": "release", "quantity": 2, "reason": "repacked"}
    resp = quarantine(client, shop["admin"], body)
    assert resp.status_code == 200, resp.body
    out = json.loads(resp.body)
    assert (out["on_hand"], out["available"], out["quarantine"]) == (4, 4, 1)
    assert out["action"] == "release" and out["sku"] == "SKU-2"
    announced = drain(aws, "dirigent-order-events")
    assert [(m["type"], m["sku"], m["location_id"]) for m in announced] == [
        ("stock_arrived", "SKU-2", "dc-kassel")
    ]
    assert at(client, shop["admin"], "dc-kassel", "SKU-2") == units(4, quarantine=1)
    assert levels(client, shop["admin"], "SKU-2")["total"]["quarantine"] == 1
    assert_invariants(aws)


def test_quarantined_units_written_off_leave_the_books(client, shop, aws):
    quarantined(aws, 3)
    body = {"action": "write_off", "quantity": 3, "reason": "broken"}
    resp = quarantine(client, shop["service"], body)
    assert resp.status_code == 200, resp.body
    assert at(client, shop["admin"], "dc-kassel", "SKU-2") == units(2)


def test_more_than_is_quarantined_is_a_409_naming_quantity(client, shop, aws):
    quarantined(aws, 1)
    resp = quarantine(client, shop["admin"], {"action": "write_off", "quantity": 2, "reason": "x"})
    assert resp.status_code == 409, resp.body
    error = json.loads(resp.body)["error"]
    assert [f["path"] for f in error["fields"]] == ["quantity"]
    assert at(client, shop["admin"], "dc-kassel", "SKU-2") == units(2, quarantine=1)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"action": "repair", "quantity": 1, "reason": "x"}, "action"),
        ({"action": "release", "quantity": 0, "reason": "x"}, "quantity"),
        ({"action": "release", "quantity": 1}, "reason"),
    ],
)
def test_a_bad_quarantine_request_is_a_4xx_naming_the_field(client, shop, aws, body, field):
    quarantined(aws, 1)
    resp = quarantine(client, shop["admin"], body)
    assert 400 <= resp.status_code < 500, resp.body
    assert field in [f["path"] for f in json.loads(resp.body)["error"]["fields"]]


def test_a_channel_may_not_touch_quarantine(client, shop, aws):
    quarantined(aws, 1)
    resp = quarantine(client, shop["key"], {"action": "release", "quantity": 1, "reason": "x"})
    assert resp.status_code == 403


def test_a_replayed_quarantine_release_with_its_key_releases_once(client, shop, aws):
    quarantined(aws, 3)
    body = {"action": "release", "quantity": 1, "reason": "repacked"}
    first = quarantine(client, shop["admin"], body, idempotency_key="q-1")
    again = quarantine(client, shop["admin"], body, idempotency_key="q-1")
    assert first.status_code == again.status_code == 200
    assert json.loads(first.body) == json.loads(again.body)
    assert at(client, shop["admin"], "dc-kassel", "SKU-2") == units(3, quarantine=2)
    other = quarantine(client, shop["admin"], {**body, "quantity": 2}, idempotency_key="q-1")
    assert other.status_code == 422
