"""Warehouse events through the SQS handler: once per event, partial batch failures."""

import json
import uuid

import pytest

from chalicelib import wiring
from chalicelib.domain.catalog import Kind
from local.demo import network_documents

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
        .get_item(Key={"pk": f"EVENT#{event['event_id']}", "sk": "EVENT"})["Item"]
    )
    assert int(marker["expires_at"]) > 0


def test_a_duplicate_within_one_batch_is_applied_once(client, known):
    event = received(3)
    assert deliver(client, event, event)[1] == []
    assert on_hand() == 13


def test_a_stock_count_older_than_the_last_applied_is_ignored(client, known):
    assert deliver(client, counted(7, "2026-05-02T12:00:00+00:00"))[1] == []
    assert deliver(client, counted(3, "2026-05-02T13:30:00+02:00"))[1] == []  # 11:30 UTC
    assert on_hand() == 7
    assert deliver(client, counted(4, "2026-05-02T12:00:01Z"))[1] == []
    assert on_hand() == 4
    assert wiring.stock_store().violations() == []


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
    types = {get_args(model.model_fields["type"].annotation)[0] for model in get_args(union)}
    assert types == set(USE_CASES)
