"""Warehouse events through the SQS handler: once per event, partial batch failures."""

import json
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest

from chalicelib import wiring
from chalicelib.domain.catalog import Kind
from local.demo import network_documents
from tests.api import fulfilment_kit as kit
from tests.api.seed import assert_invariants, stock

QUEUE = "dirigent-warehouse-events"


@pytest.fixture
def known(aws):
    """One location and one product with 10 units."""
    loc = network_documents()["locations"][0]
    wiring.catalog_service().put(Kind.LOCATION, loc["location_id"], loc)
    wiring.catalog_service().put(Kind.PRODUCT, "MUG", {"sku": "MUG", "weight_g": 300})
    wiring.inventory().set_levels("MUG", "dc-kassel", on_hand=10)


def deliver(client, *bodies):
    """Invoke the handler with one record per body, each with a unique messageId."""
    event = client.events.generate_sqs_event(
        message_bodies=[b if isinstance(b, str) else json.dumps(b) for b in bodies],
        queue_name=QUEUE,
    )
    ids = []
    for record in event["Records"]:
        record["messageId"] = str(uuid.uuid4())
        ids.append(record["messageId"])
    kit.sign_records(event)
    payload = client.lambda_.invoke("on_warehouse_event", event).payload
    return ids, [f["itemIdentifier"] for f in payload["batchItemFailures"]]


def received(quantity=5, event_id=None):
    return {
        "event_id": event_id or f"ev-{uuid.uuid4()}",
        "type": "stock_received",
        "location_id": "dc-kassel",
        "occurred_at": "2026-05-02T10:00:00Z",
        "sku": "MUG",
        "quantity": quantity,
    }


def counted(on_hand, at, event_id=None):
    return {
        "event_id": event_id or f"ev-{uuid.uuid4()}",
        "type": "stock_count",
        "location_id": "dc-kassel",
        "occurred_at": at,
        "sku": "MUG",
        "counted_on_hand": on_hand,
        "counted_at": at,
    }


def on_hand():
    return wiring.stock_store().get("MUG", "dc-kassel").on_hand


def test_stock_received_raises_on_hand_once_even_if_delivered_twice(client, known, aws):
    event = received(5)
    assert deliver(client, event)[1] == []
    assert deliver(client, event)[1] == []
    assert on_hand() == 15
    marker = (
        aws.resource("dynamodb")
        .Table("dirigent-orders")
        .get_item(Key={"pk": f"EVENT#dc-kassel/{event['event_id']}", "sk": "EVENT"})["Item"]
    )
    assert int(marker["expires_at"]) > 0


def test_two_locations_that_number_their_events_alike_both_apply(client, known):
    """Each location numbers its own events: the same id from another location is no repeat."""
    lyon = next(loc for loc in network_documents()["locations"] if loc["location_id"] == "dc-lyon")
    wiring.catalog_service().put(Kind.LOCATION, "dc-lyon", lyon)
    wiring.inventory().set_levels("MUG", "dc-lyon", on_hand=1)
    assert deliver(client, received(5, event_id="1"))[1] == []
    assert deliver(client, {**received(2, event_id="1"), "location_id": "dc-lyon"})[1] == []
    assert deliver(client, received(7, event_id="1"))[1] == []  # dc-kassel's again: a repeat
    assert on_hand() == 15
    assert wiring.stock_store().get("MUG", "dc-lyon").on_hand == 3


def test_a_duplicate_within_one_batch_is_applied_once(client, known):
    event = received(3)
    assert deliver(client, event, event)[1] == []
    assert on_hand() == 13


def soon(**delta: float) -> datetime:
    """Counts stamped after the levels ``known`` set (within the 5 minutes of leeway)."""
    return datetime.now(UTC) + timedelta(minutes=1) + timedelta(**delta)


def test_a_stock_count_older_than_the_last_applied_is_ignored(client, known):
    first = soon()
    assert deliver(client, counted(7, first.isoformat()))[1] == []
    in_berlin = (first - timedelta(seconds=30)).astimezone(timezone(timedelta(hours=2)))
    assert deliver(client, counted(3, in_berlin.isoformat()))[1] == []  # earlier: ignored
    assert on_hand() == 7
    later = (first + timedelta(seconds=1)).isoformat().replace("+00:00", "Z")
    assert deliver(client, counted(4, later))[1] == []
    assert on_hand() == 4
    assert wiring.stock_store().violations() == []


def test_a_count_arriving_after_later_movements_keeps_them(client, known):
    """The reproduction: the count used to overwrite the receipt recorded after it."""
    counted_at = datetime.now(UTC).isoformat()
    assert deliver(client, received(5))[1] == []
    assert on_hand() == 15
    assert deliver(client, counted(8, counted_at))[1] == []
    assert on_hand() == 13  # 8 on the shelf then, 5 received since


def test_a_count_in_the_future_goes_to_the_dlq_and_locks_out_nothing(client, known, caplog):
    ids, failures = deliver(client, counted(1, soon(minutes=8).isoformat()))
    assert failures == ids
    logged = [r for r in caplog.records if r.getMessage() == "warehouse event failed"]
    assert any("counted_at" in str(vars(r)) and "future" in str(vars(r)) for r in logged)
    assert on_hand() == 10
    assert deliver(client, counted(6, datetime.now(UTC).isoformat()))[1] == []
    assert on_hand() == 6


def test_a_count_too_old_to_reconcile_goes_to_the_dlq(client, known):
    ids, failures = deliver(client, counted(1, (soon(days=-8)).isoformat()))
    assert failures == ids
    assert on_hand() == 10


@pytest.mark.parametrize(
    "bad", [{"quantity": True}, {"quantity": "3"}, {"quantity": 2.0}], ids=["true", "text", "float"]
)
def test_a_quantity_that_is_no_json_integer_fails_its_record(client, known, bad):
    """Reproduction: ``"quantity": true`` received one unit, a count of ``"12"`` set 12."""
    ids, failures = deliver(client, {**received(), **bad})
    assert failures == ids
    assert on_hand() == 10


def test_a_poison_message_fails_only_itself(client, known):
    poison = {**received(), "quantity": -4}
    ids, failures = deliver(client, received(2), poison, received(3))
    assert failures == [ids[1]]
    assert on_hand() == 15


@pytest.mark.parametrize(
    "body",
    [
        "{not json",
        json.dumps({"type": "teleported", "event_id": "x"}),
        json.dumps({**received(), "occurred_at": "yesterday"}),
        json.dumps({**received(), "sku": None}),
        json.dumps([1, 2]),
    ],
)
def test_unreadable_bodies_fail_their_record_and_are_logged(client, known, caplog, body):
    ids, failures = deliver(client, body)
    assert failures == ids
    logged = [r for r in caplog.records if r.getMessage() == "warehouse event failed"]
    assert any(ids[0] in str(vars(r)) and "reason" in vars(r) for r in logged)
    assert on_hand() == 10


def test_a_receipt_for_an_unknown_sku_fails_its_record(client, known):
    ids, failures = deliver(client, {**received(), "sku": "NOPE"})
    assert failures == ids


def test_a_return_event_for_an_unknown_rma_fails_its_record(client, known):
    body = {
        "location_id": "dc-kassel",
        "occurred_at": "2026-05-02T10:00:00Z",
        "event_id": "p-4",
        "type": "return_received",
        "rma_id": "r-1",
        "lines": [{"sku": "MUG", "quantity": 1, "condition": "damaged"}],
    }
    ids, failures = deliver(client, body)
    assert failures == ids
    assert on_hand() == 10


def test_a_shipment_event_for_an_unknown_order_fails_its_record(client, known):
    body = {
        "location_id": "dc-kassel",
        "occurred_at": "2026-05-02T10:00:00Z",
        "event_id": "p-1",
        "type": "picked",
        "order_id": "o-1",
        "shipment_id": "s-1",
    }
    ids, failures = deliver(client, body)
    assert failures == ids


def test_every_event_type_has_a_use_case():
    from typing import get_args

    from chalicelib.consumers.warehouse_events import USE_CASES, WarehouseEvent

    union = get_args(WarehouseEvent)[0]
    types = {
        t for model in get_args(union) for t in get_args(model.model_fields["type"].annotation)
    }
    assert types == set(USE_CASES)


def test_a_short_pick_resent_under_a_new_event_id_writes_nothing_off_again(client, admin_key, aws):
    """The reproduction: ``missing_quantity`` was relative, so the same short pick resent
    under a new event id wrote the stock off twice. ``picked_quantity`` is absolute."""
    shop = kit.make_shop(client, admin_key, aws)
    order = kit.place(client, shop["key"], "WE-1", [("SKU-1", 3)])
    kit.dispatch_placed(client, aws)
    (shipment,) = order["shipments"]
    before = sum(level["on_hand"] for level in stock(aws, "SKU-1").values())
    picked = [{"sku": "SKU-1", "picked_quantity": 1}]
    short = kit.event("short_pick", order, shipment, lines=picked)
    assert kit.deliver(client, "on_warehouse_event", QUEUE, short) == []
    once, levels = kit.get_order(client, shop["key"], order["order_id"]), stock(aws, "SKU-1")
    assert sum(level["on_hand"] for level in levels.values()) == before - 2
    assert once["shipments"][0]["lines"] == {"SKU-1": 1}

    resent = kit.event("short_pick", order, shipment, lines=picked)  # a new event id
    assert resent["event_id"] != short["event_id"]
    assert kit.deliver(client, "on_warehouse_event", QUEUE, resent) == []
    again = kit.get_order(client, shop["key"], order["order_id"])
    assert stock(aws, "SKU-1") == levels
    assert again["shipments"] == once["shipments"]
    assert_invariants(aws)


def test_a_short_pick_of_several_lines_re_sources_each(client, admin_key, aws):
    shop = kit.make_shop(client, admin_key, aws)
    order = kit.place(client, shop["key"], "WE-2", [("SKU-1", 3), ("SKU-2", 2)])
    kit.dispatch_placed(client, aws)
    (shipment,) = order["shipments"]  # dc-kassel holds both
    lines = [{"sku": "SKU-1", "picked_quantity": 1}, {"sku": "SKU-2", "picked_quantity": 2}]
    short = kit.event("short_pick", order, shipment, lines=lines)
    assert kit.deliver(client, "on_warehouse_event", QUEUE, short) == []
    stored = kit.get_order(client, shop["key"], order["order_id"])
    first, new = stored["shipments"]
    assert first["lines"] == {"SKU-1": 1, "SKU-2": 2}  # SKU-2 was all there
    assert new["lines"] == {"SKU-1": 2} and new["location_id"] == "dc-lyon"
    assert_invariants(aws)


@pytest.mark.parametrize(
    "lines",
    [
        None,  # the old relative shape: {sku, missing_quantity}
        [{"sku": "SKU-1", "picked_quantity": -1}],
        [{"sku": "SKU-1", "picked_quantity": 1}, {"sku": "SKU-1", "picked_quantity": 0}],
    ],
)
def test_a_short_pick_without_absolute_lines_fails_its_record(client, known, caplog, lines):
    body = {
        "event_id": f"ev-{uuid.uuid4()}",
        "type": "short_pick",
        "location_id": "dc-kassel",
        "occurred_at": "2026-05-02T10:00:00Z",
        "order_id": "o-1",
        "shipment_id": "o-1-s1",
        **({"lines": lines} if lines else {"sku": "MUG", "missing_quantity": 1}),
    }
    ids, failures = deliver(client, body)
    assert failures == ids
    logged = [r for r in caplog.records if r.getMessage() == "warehouse event failed"]
    assert any("lines" in str(vars(r)) for r in logged)
