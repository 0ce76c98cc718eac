"""Dispatch over SQS (the outbox), shipment events from locations, mails and pick-up expiry,
through the real handlers on moto."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from typing import Any

import pytest

from chalicelib import wiring
from chalicelib.adapters.sqs import SqsQueues
from chalicelib.services.pickups import PickupExpiry
from local.pollers import Poller, sqs_handlers
from tests.api.fulfilment_kit import (
    at,
    deliver,
    dispatch_placed,
    drain,
    event,
    get_order,
    later_dispatcher,
    mails,
    make_shop,
    message_attributes,
    place,
    shipped,
    unique_by_message_id,
)
from tests.api.seed import assert_invariants, set_stock, stock

EVENTS = "dirigent-warehouse-events"


@pytest.fixture
def shop(client: Any, admin_key: str, aws: Any) -> dict[str, str]:
    return make_shop(client, admin_key, aws)


def on_hand_total(aws: Any, sku: str) -> int:
    return sum(level["on_hand"] for level in stock(aws, sku).values())


def test_a_placed_order_is_released_to_its_locations_and_confirmed(client, shop, aws):
    order = place(client, shop["key"], "F-1", [("SKU-1", 2), ("SKU-2", 1)])
    requests = dispatch_placed(client, aws)

    assert sorted(r["shipment_id"] for r in requests) == sorted(
        s["shipment_id"] for s in order["shipments"]
    )
    first = requests[0]
    assert first["message_id"] == first["shipment_id"]
    assert first["order_id"] == order["order_id"]
    assert first["ship_to"]["postal_code"] == "10115"
    assert {"sku", "quantity"} <= set(first["lines"][0])
    assert first["promised_date"] and first["carrier_service"]
    stored = get_order(client, shop["key"], order["order_id"])
    assert stored["status"] == "processing"
    assert {s["status"] for s in stored["shipments"]} == {"released"}
    assert all(s["dispatched"] for s in stored["shipments"])
    outbox = aws.resource("dynamodb").Table("dirigent-orders").scan()["Items"]
    assert not [i for i in outbox if i["pk"].startswith("OUTBOX#") or "obpk" in i]
    sent = mails()
    assert len(sent) == 1 and "F-1" in sent[0].subject
    assert sent[0].to == ["ada@example.com"]
    assert f"/track/{order['order_id']}?token={order['tracking_token']}" in sent[0].html


def test_a_repeated_order_placed_message_sends_nothing_new_and_mails_once(client, shop, aws):
    order = place(client, shop["key"], "F-2", [("SKU-1", 1)])
    message = drain(aws, "dirigent-order-events")[0]
    assert deliver(client, "on_order_event", "dirigent-order-events", message, message) == []
    assert len(drain(aws, "dirigent-fulfilment")) == len(order["shipments"])
    assert len(mails()) == 1


def test_outbox_a_lost_send_is_recovered_by_the_sweeper_once_per_shipment(
    client, shop, aws, monkeypatch
):
    """The order is written, then every send fails (SQS down): the HTTP answer is still 201.
    The sweeper then dispatches; run twice and raced by a late order_placed, the location
    sees exactly one request per shipment after dropping duplicates by message id."""
    real_send = SqsQueues.send

    def failing(self: SqsQueues, queue: str, body: dict[str, Any]) -> None:
        raise ConnectionError("SQS is down")

    monkeypatch.setattr(SqsQueues, "send", failing)
    order = place(client, shop["key"], "F-3", [("SKU-1", 2), ("SKU-2", 1)])
    monkeypatch.setattr(SqsQueues, "send", real_send)
    assert drain(aws, "dirigent-order-events") == []

    later = later_dispatcher()
    assert wiring.dispatcher().sweep() == 0  # younger than a minute: the consumer's turn
    sent = later.sweep()
    assert later.sweep() == 0  # the mark is gone
    assert wiring.dispatcher().dispatch(order["order_id"]) == 0
    received = drain(aws, "dirigent-fulfilment")
    assert sent == len(order["shipments"])
    assert unique_by_message_id(received) == {s["shipment_id"]: 1 for s in order["shipments"]}
    assert len(mails()) == 1


def test_a_swept_order_gets_what_its_lost_message_would_have_brought(
    client, shop, aws, monkeypatch
):
    """SQS down at capture and the sale not kept there: the sweeper's dispatch then announces
    the order (the webhooks trigger, which carries the channel confirmations too), keeps its
    sale for the forecast and re-checks its SKUs' availability; a late order_placed after it
    sends nothing new and announces nothing the trigger would not."""
    from chalicelib.consumers import availability, schedules
    from chalicelib.wiring.simulation import RecordingSnapshots

    real_send = SqsQueues.send
    monkeypatch.setattr(SqsQueues, "send", lambda *_: (_ for _ in ()).throw(ConnectionError()))
    monkeypatch.setattr(RecordingSnapshots, "record_inputs", lambda *_: False)
    order = place(client, shop["key"], "F-5", [("SKU-1", 2), ("SKU-2", 1)])
    monkeypatch.setattr(SqsQueues, "send", real_send)
    assert drain(aws, "dirigent-order-events") == []
    table = aws.resource("dynamodb").Table("dirigent-orders")
    day = order["created_at"][:10]
    sale_key = {"pk": f"SIMIN#{day}", "sk": order["order_id"]}
    assert "Item" not in table.get_item(Key=sale_key)
    changed: list[str] = []
    monkeypatch.setattr(availability, "stock_changed", lambda skus: changed.extend(skus))
    later = later_dispatcher()
    monkeypatch.setattr(wiring, "dispatcher", lambda: later)

    assert schedules.outbox_sweep() == len(order["shipments"])

    triggers = drain(aws, "dirigent-webhooks")
    assert {"kind": "order_changed", "order_id": order["order_id"]} in triggers
    assert table.get_item(Key=sale_key)["Item"]["lines"]
    assert sorted(changed) == ["SKU-1", "SKU-2"]
    assert schedules.outbox_sweep() == 0  # the mark is gone: nothing is swept twice
    late = {"message_id": "late", "type": "order_placed", "order_id": order["order_id"]}
    assert deliver(client, "on_order_event", "dirigent-order-events", late) == []
    assert len(drain(aws, "dirigent-fulfilment")) == len(order["shipments"])
    assert len(mails()) == 1


def test_outbox_a_crash_after_the_send_re_sends_and_the_receiver_drops_duplicates(
    client, shop, aws, monkeypatch
):
    """The requests went out but the order update failed: the sweeper sends them again."""
    order = place(client, shop["key"], "F-4", [("SKU-1", 2), ("SKU-2", 1)])
    orders = wiring.orders()
    real_update = type(orders).update
    monkeypatch.setattr(
        type(orders), "update", lambda *a, **k: (_ for _ in ()).throw(TimeoutError("crash"))
    )
    message = drain(aws, "dirigent-order-events")[0]
    assert deliver(client, "on_order_event", "dirigent-order-events", message) == [0]
    monkeypatch.setattr(type(orders), "update", real_update)
    later = later_dispatcher(orders=orders)
    later.sweep()
    received = drain(aws, "dirigent-fulfilment")
    assert len(received) == 2 * len(order["shipments"])  # at least once, really twice
    assert unique_by_message_id(received) == {s["shipment_id"]: 2 for s in order["shipments"]}
    stored = get_order(client, shop["key"], order["order_id"])
    assert all(s["dispatched"] for s in stored["shipments"])


def test_a_shipment_goes_picked_shipped_delivered_and_stock_leaves_once(client, shop, aws):
    order = place(client, shop["key"], "F-5", [("SKU-2", 3)])
    dispatch_placed(client, aws)
    shipment = order["shipments"][0]
    before = stock(aws, "SKU-2")["dc-kassel"]
    ship = shipped(order, shipment, "TN-F5")
    picked = event("picked", order, shipment)
    done = event("delivered", order, shipment, occurred_at=at(minutes=60))
    assert deliver(client, "on_warehouse_event", EVENTS, picked, ship, done, ship) == []

    after = stock(aws, "SKU-2")["dc-kassel"]
    assert after["on_hand"] == before["on_hand"] - 3
    assert after["reserved"] == before["reserved"] - 3
    stored = get_order(client, shop["key"], order["order_id"])
    assert stored["status"] == "delivered"
    assert stored["shipments"][0]["carrier"] == "DHL"
    assert stored["shipments"][0]["tracking_number"] == "TN-F5"
    events = [(h["event"], h["source"]) for h in stored["history"]]
    assert ("shipped", "location:dc-kassel") in events
    shipped_mail = [m for m in mails() if "shipped" in m.subject]
    assert len(shipped_mail) == 1 and "TN-F5" in shipped_mail[0].html
    assert "DHL" in shipped_mail[0].html
    assert_invariants(aws)


def test_delivered_before_shipped_is_accepted_and_the_late_shipped_changes_no_stock(
    client, shop, aws
):
    order = place(client, shop["key"], "F-6", [("SKU-2", 2)])
    dispatch_placed(client, aws)
    shipment = order["shipments"][0]
    done = event("delivered", order, shipment)
    assert deliver(client, "on_warehouse_event", EVENTS, done) == []
    level = stock(aws, "SKU-2")["dc-kassel"]
    assert deliver(client, "on_warehouse_event", EVENTS, shipped(order, shipment, "TN-6")) == []
    assert stock(aws, "SKU-2")["dc-kassel"] == level
    stored = get_order(client, shop["key"], order["order_id"])
    assert stored["status"] == "delivered"
    assert stored["shipments"][0]["tracking_number"] == "TN-6"  # the late event's news is kept


def test_a_poison_message_fails_alone_and_the_rest_of_its_batch_is_applied(client, shop, aws):
    order = place(client, shop["key"], "F-7", [("SKU-2", 1)])
    dispatch_placed(client, aws)
    shipment = order["shipments"][0]
    unknown = {**event("picked", order, shipment), "order_id": "o_doesnotexist"}
    wrong_path = event("ready_for_pickup", order, shipment)  # a parcel is never "ready"
    failed = deliver(
        client,
        "on_warehouse_event",
        EVENTS,
        event("picked", order, shipment),
        "{not json",
        unknown,
        wrong_path,
        shipped(order, shipment, "TN-7"),
    )
    assert failed == [1, 2, 3]
    assert get_order(client, shop["key"], order["order_id"])["status"] == "shipped"


def test_a_poison_message_ends_in_the_dlq_after_its_retries(client, shop, aws):
    """Through the local stack's poller: moto redrives after maxReceiveCount receives."""
    from app import app

    order = place(client, shop["key"], "F-8", [("SKU-2", 1)])
    dispatch_placed(client, aws)
    shipment = order["shipments"][0]
    sqs = aws.client("sqs")
    url = sqs.get_queue_url(QueueName=EVENTS)["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody='{"type": "shipped", "event_id": 1}')
    good = json.dumps(shipped(order, shipment, "TN-8"))
    sqs.send_message(QueueUrl=url, MessageBody=good, MessageAttributes=message_attributes(good))
    target = next(t for t in sqs_handlers(app) if t.queue == EVENTS)
    poller = Poller(target, sqs=sqs, stop=threading.Event(), visibility_timeout=0)
    for _ in range(6):  # maxReceiveCount is 5
        poller.poll_once()
    assert drain(aws, f"{EVENTS}-dlq") == [{"type": "shipped", "event_id": 1}]
    assert drain(aws, EVENTS) == []
    assert get_order(client, shop["key"], order["order_id"])["status"] == "shipped"


def test_a_short_pick_is_re_sourced_elsewhere_and_stock_is_conserved(client, shop, aws):
    order = place(client, shop["key"], "F-9", [("SKU-1", 3)])
    dispatch_placed(client, aws)
    shipment = order["shipments"][0]
    origin = shipment["location_id"]
    totals = {sku: on_hand_total(aws, sku) for sku in ("SKU-1", "SKU-2")}
    short = event("short_pick", order, shipment, lines=[{"sku": "SKU-1", "picked_quantity": 1}])
    assert deliver(client, "on_warehouse_event", EVENTS, short, short) == []

    stored = get_order(client, shop["key"], order["order_id"])
    first, new = stored["shipments"]
    assert first["lines"] == {"SKU-1": 1}
    assert new["location_id"] != origin and new["lines"] == {"SKU-1": 2}
    assert new["resourced_from"] == shipment["shipment_id"]
    levels = stock(aws, "SKU-1")
    assert levels[origin]["reserved"] == 1 and levels[new["location_id"]]["reserved"] == 2
    # the missing units were never there: on_hand falls by exactly them (a write-off)
    assert on_hand_total(aws, "SKU-1") == totals["SKU-1"] - 2
    requests = drain(aws, "dirigent-fulfilment")
    assert [r["shipment_id"] for r in requests] == [new["shipment_id"]]  # dispatched at once

    # Both shipments leave: every other change of on_hand is a shipped unit.
    for s, number in ((first, "TN-9a"), (new, "TN-9b")):
        assert deliver(client, "on_warehouse_event", EVENTS, shipped(stored, s, number)) == []
    assert on_hand_total(aws, "SKU-1") == totals["SKU-1"] - 2 - 3
    assert on_hand_total(aws, "SKU-2") == totals["SKU-2"]
    assert sum(level["reserved"] for level in stock(aws, "SKU-1").values()) == 0
    assert get_order(client, shop["key"], order["order_id"])["status"] == "shipped"
    assert_invariants(aws)


def test_a_short_pick_with_no_stock_elsewhere_cancels_the_units_and_mails_the_customer(
    client, shop, aws
):
    order = place(client, shop["key"], "F-10", [("SKU-2", 2)])  # only dc-kassel has SKU-2
    dispatch_placed(client, aws)
    shipment = order["shipments"][0]
    short = event("short_pick", order, shipment, lines=[{"sku": "SKU-2", "picked_quantity": 1}])
    assert deliver(client, "on_warehouse_event", EVENTS, short) == []
    stored = get_order(client, shop["key"], order["order_id"])
    assert stored["shipments"][0]["lines"] == {"SKU-2": 1}
    assert stored["cancelled"] == {"SKU-2": 1}
    assert stock(aws, "SKU-2")["dc-kassel"]["reserved"] == 1
    delayed = [m for m in mails() if m.subject.startswith("News about")]
    assert len(delayed) == 1 and "cancelled" in delayed[0].html


def test_a_backorder_channel_backorders_the_short_units(client, admin_key, aws):
    shop = make_shop(client, admin_key, aws, backorder_policy="backorder")
    order = place(client, shop["key"], "F-11", [("SKU-2", 2)])
    dispatch_placed(client, aws)
    shipment = order["shipments"][0]
    short = event("short_pick", order, shipment, lines=[{"sku": "SKU-2", "picked_quantity": 0}])
    assert deliver(client, "on_warehouse_event", EVENTS, short) == []
    stored = get_order(client, shop["key"], order["order_id"])
    assert stored["backorders"] == {"SKU-2": 2}
    assert stored["status"] == "backordered"
    table = aws.resource("dynamodb").Table("dirigent-orders")
    waiting = table.query(
        KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": "BACKORDER#SKU-2"}
    )["Items"]
    assert [w["order_id"] for w in waiting] == [order["order_id"]]


def test_a_pickup_not_collected_in_time_is_cancelled_and_its_stock_released(client, shop, aws):
    set_stock(aws, "SKU-1", "st-berlin", 4)
    order = place(
        client,
        shop["key"],
        "F-12",
        [("SKU-1", 1)],
        delivery={"kind": "click_collect", "pickup_location_id": "st-berlin"},
    )
    dispatch_placed(client, aws)
    shipment = order["shipments"][0]
    assert shipment["pickup_location_id"] == "st-berlin"
    ready = {
        **event("ready_for_pickup", order, shipment, occurred_at="2026-05-04T10:00:00Z"),
        "location_id": "st-berlin",
    }
    picked = event("picked", order, shipment)
    assert deliver(client, "on_warehouse_event", EVENTS, picked, ready) == []
    stored = get_order(client, shop["key"], order["order_id"])
    assert stored["status"] == "ready_for_pickup"
    assert stored["shipments"][0]["pickup_until"].startswith("2026-05-11T10:00:00")

    expiry = PickupExpiry(
        orders=wiring.orders(),
        log=wiring.fulfilment_log(),
        clock=lambda: datetime(2026, 5, 10, tzinfo=UTC),
    )
    assert expiry.expire() == 0  # still inside the window
    expiry = PickupExpiry(
        orders=wiring.orders(),
        log=wiring.fulfilment_log(),
        clock=lambda: datetime(2026, 5, 12, tzinfo=UTC),
    )
    assert expiry.expire() == 1
    assert expiry.expire() == 0
    stored = get_order(client, shop["key"], order["order_id"])
    assert stored["status"] == "cancelled"
    location = shipment["location_id"]
    assert stock(aws, "SKU-1")[location]["reserved"] == 0
    assert_invariants(aws)


def test_a_collected_pickup_is_not_expired(client, shop, aws):
    set_stock(aws, "SKU-1", "st-berlin", 4)
    order = place(
        client,
        shop["key"],
        "F-13",
        [("SKU-1", 1)],
        delivery={"kind": "click_collect", "pickup_location_id": "st-berlin"},
    )
    dispatch_placed(client, aws)
    shipment = order["shipments"][0]
    ready = {**event("ready_for_pickup", order, shipment), "location_id": "st-berlin"}
    collected = {**event("collected", order, shipment), "location_id": "st-berlin"}
    assert deliver(client, "on_warehouse_event", EVENTS, ready, collected) == []
    expiry = PickupExpiry(
        orders=wiring.orders(),
        log=wiring.fulfilment_log(),
        clock=lambda: datetime(2027, 1, 1, tzinfo=UTC),
    )
    assert expiry.expire() == 0
    stored = get_order(client, shop["key"], order["order_id"])
    assert stored["status"] == "delivered"
    assert sum(level["reserved"] for level in stock(aws, "SKU-1").values()) == 0


def test_the_schedules_and_the_order_events_consumer_are_registered(client):
    from app import app

    names = {source.name for source in app.event_sources}
    assert {"on_order_event", "outbox_sweeper", "pickup_expiry"} <= names


def test_a_location_that_picks_before_the_release_is_saved_still_follows_it_on_the_timeline(
    client, shop, aws, monkeypatch
):
    """Reproduction (e2e, under load): the dispatcher stamped ``released`` after sending and
    mailing, and again after a retry that the location's ``picked`` had forced; the timeline
    (sorted by time) showed picked before released."""
    order = place(client, shop["key"], "F-RACE", [("SKU-2", 1)])
    real = SqsQueues.send_batch
    answered: list[str] = []

    def send_and_pick(self: SqsQueues, queue: str, bodies: list[dict[str, Any]]) -> None:
        real(self, queue, bodies)
        for body in bodies:
            if body["type"] == "fulfilment_request" and body["shipment_id"] not in answered:
                answered.append(body["shipment_id"])
                picked = event("picked", order, {**body, "location_id": body["location_id"]})
                assert (
                    deliver(client, "on_warehouse_event", "dirigent-warehouse-events", picked) == []
                )

    monkeypatch.setattr(SqsQueues, "send_batch", send_and_pick)
    dispatch_placed(client, aws)
    assert answered  # the location answered while the dispatcher had not saved yet
    stored = get_order(client, shop["key"], order["order_id"])
    token = order["tracking_token"]
    page = json.loads(client.http.get(f"/track/{order['order_id']}?token={token}").body)
    assert [e["event"] for e in page["timeline"]] == ["placed", "released", "picked"]
    assert all(s["dispatched"] for s in stored["shipments"])


def test_a_swept_order_whose_follow_ups_fail_stays_dispatched(client, shop, aws, monkeypatch):
    """The follow-ups run after the dispatch and the mark's removal: when they fail, the sweep
    still counts its requests, and the order is not swept again."""
    real_send = SqsQueues.send
    monkeypatch.setattr(SqsQueues, "send", lambda *_: (_ for _ in ()).throw(ConnectionError()))
    order = place(client, shop["key"], "F-6", [("SKU-1", 1)])
    monkeypatch.setattr(SqsQueues, "send", real_send)

    def failing(_: Any) -> None:
        raise RuntimeError("follow-ups down")

    later = later_dispatcher()
    assert later.sweep(then=failing) == len(order["shipments"])
    assert later.sweep(then=failing) == 0
    assert len(drain(aws, "dirigent-fulfilment")) == len(order["shipments"])
