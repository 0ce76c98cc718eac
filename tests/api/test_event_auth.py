"""Warehouse events are authenticated: each location signs the raw body of its messages with a
key of its own (the ``Signature`` attribute), an admin rotates that key, and a single receipt
or count is bounded. Forged, unsigned or stale-keyed events change nothing and fail their
record with the reason (SQS dead-letters them after their retries)."""

from __future__ import annotations

import json
import threading
import uuid
from typing import Any

import pytest

from chalicelib import wiring
from chalicelib.consumers.warehouse_events import MAX_UNITS_PER_EVENT
from chalicelib.domain.event_signing import signature
from local.pollers import Poller, QueueHandler
from tests.api.fulfilment_kit import (
    WAREHOUSE_EVENTS,
    at,
    deliver,
    dispatch_placed,
    event,
    get_order,
    location_signature,
    make_shop,
    place,
    shipped,
)
from tests.api.seed import auth, stock

ISSUE = "/locations/{}/event-key"


@pytest.fixture
def shop(client: Any, admin_key: str, aws: Any) -> dict[str, str]:
    return make_shop(client, admin_key, aws)


def _send(client: Any, *bodies: Any, **kw: Any) -> list[int]:
    return deliver(client, "on_warehouse_event", WAREHOUSE_EVENTS, *bodies, **kw)


def _reasons() -> list[str]:
    return [f["reason"] for f in wiring.operations().status()["failures"]]


def _received(quantity: int, location_id: str = "dc-kassel") -> str:
    return json.dumps(
        {
            "event_id": f"ev-{uuid.uuid4()}",
            "type": "stock_received",
            "location_id": location_id,
            "occurred_at": at(),
            "sku": "SKU-1",
            "quantity": quantity,
        }
    )


def _issue(client: Any, key: str, location_id: str = "dc-kassel") -> Any:
    return client.http.post(ISSUE.format(location_id), headers=auth(key))


def _signed_with(secret: str, body: str, version: int | None = None) -> dict[str, str]:
    attributes = {"Signature": signature(secret, body)}
    if version is not None:
        attributes["KeyVersion"] = str(version)
    return attributes


def test_an_unsigned_event_for_a_real_order_changes_nothing_and_fails_its_record(
    client: Any, shop: dict[str, str], aws: Any
) -> None:
    order = place(client, shop["key"], "A-1", [("SKU-2", 1)])
    dispatch_placed(client, aws)
    shipment = order["shipments"][0]
    before = stock(aws, "SKU-2")["dc-kassel"]
    dispatched = get_order(client, shop["key"], order["order_id"])
    done = event("delivered", order, shipment, occurred_at=at(minutes=60))

    assert _send(client, shipped(order, shipment), done, signed=False) == [0, 1]

    stored = get_order(client, shop["key"], order["order_id"])
    assert stored["status"] == dispatched["status"] == "processing"
    assert stored["history"] == dispatched["history"]
    assert all(s.get("carrier") is None for s in stored["shipments"])
    assert stock(aws, "SKU-2")["dc-kassel"] == before
    assert _reasons() and all(
        r.startswith("UnauthenticatedEvent: Signature: missing") for r in _reasons()
    )


def test_an_event_signed_by_one_location_claiming_another_fails(
    client: Any, shop: dict[str, str], aws: Any
) -> None:
    order = place(client, shop["key"], "A-2", [("SKU-2", 1)])
    dispatch_placed(client, aws)
    shipment = order["shipments"][0]
    assert shipment["location_id"] == "dc-kassel"
    body = json.dumps(event("delivered", order, shipment, occurred_at=at(minutes=60)))

    assert _send(client, body, attributes=location_signature(body, "dc-lyon")) == [0]
    assert get_order(client, shop["key"], order["order_id"])["status"] != "delivered"
    assert "Signature: does not match the body (location dc-kassel" in _reasons()[0]

    # Signed by dc-lyon as itself, for dc-kassel's shipment: refused by the order, too.
    as_lyon = json.dumps({**json.loads(body), "location_id": "dc-lyon"})
    assert _send(client, as_lyon) == [0]
    assert get_order(client, shop["key"], order["order_id"])["status"] != "delivered"


def test_a_signed_event_applies(client: Any, shop: dict[str, str], aws: Any) -> None:
    order = place(client, shop["key"], "A-3", [("SKU-2", 1)])
    dispatch_placed(client, aws)
    shipment = order["shipments"][0]
    done = event("delivered", order, shipment, occurred_at=at(minutes=60))
    assert _send(client, shipped(order, shipment), done) == []
    assert get_order(client, shop["key"], order["order_id"])["status"] == "delivered"

    before = stock(aws, "SKU-1")["dc-kassel"]["on_hand"]
    assert _send(client, _received(3)) == []
    assert stock(aws, "SKU-1")["dc-kassel"]["on_hand"] == before + 3


def test_a_receipt_or_count_beyond_the_bound_fails_naming_the_field(
    client: Any, shop: dict[str, str], aws: Any
) -> None:
    before = stock(aws, "SKU-1")["dc-kassel"]
    count = json.dumps(
        {
            "event_id": f"ev-{uuid.uuid4()}",
            "type": "stock_count",
            "location_id": "dc-kassel",
            "occurred_at": at(),
            "sku": "SKU-1",
            "counted_on_hand": MAX_UNITS_PER_EVENT + 1,
            "counted_at": at(),
        }
    )
    assert _send(client, _received(10_000_000), count) == [0, 1]
    assert stock(aws, "SKU-1")["dc-kassel"] == before
    reasons = sorted(_reasons())
    assert "stock_count.counted_on_hand" in reasons[0] and "100000" in reasons[0]
    assert "stock_received.quantity" in reasons[1] and "100000" in reasons[1]

    assert _send(client, _received(MAX_UNITS_PER_EVENT)) == []
    assert stock(aws, "SKU-1")["dc-kassel"]["on_hand"] == before["on_hand"] + MAX_UNITS_PER_EVENT


def test_an_event_from_an_unknown_location_fails(client: Any, shop: dict[str, str]) -> None:
    body = _received(1, location_id="wh-nowhere")
    assert _send(client, body, attributes=location_signature(body, "wh-nowhere")) == [0]
    assert _reasons() == ["UnauthenticatedEvent: location_id: no location 'wh-nowhere'"]


def test_a_rotation_invalidates_the_old_key_at_once(
    client: Any, shop: dict[str, str], aws: Any
) -> None:
    first = json.loads(_issue(client, shop["admin"]).body)
    second = json.loads(_issue(client, shop["admin"]).body)
    assert (first["key_version"], second["key_version"]) == (1, 2)
    assert first["secret"] != second["secret"]
    start = stock(aws, "SKU-1")["dc-kassel"]["on_hand"]

    body = _received(2)
    assert _send(client, body, attributes=_signed_with(first["secret"], body)) == [0]
    assert _send(client, body, attributes=_signed_with(first["secret"], body, 1)) == [0]
    assert "KeyVersion: '1' is not the current key version of location dc-kassel (2)" in (
        " ".join(_reasons())
    )
    assert stock(aws, "SKU-1")["dc-kassel"]["on_hand"] == start

    assert _send(client, body, attributes=_signed_with(second["secret"], body, 2)) == []
    assert _send(client, body, attributes=_signed_with(second["secret"], body)) == []  # once
    assert stock(aws, "SKU-1")["dc-kassel"]["on_hand"] == start + 2


def test_the_key_endpoint_is_admin_only_and_answers_the_secret_once(
    client: Any, shop: dict[str, str]
) -> None:
    for key in (shop["key"], shop["service"]):
        assert _issue(client, key).status_code == 403
    assert client.http.post(ISSUE.format("dc-kassel")).status_code == 401
    unknown = _issue(client, shop["admin"], "wh-nowhere")
    assert unknown.status_code == 404 and "location_id" in unknown.body.decode()

    resp = _issue(client, shop["admin"])
    assert resp.status_code == 201, resp.body
    assert resp.headers["Cache-Control"] == "no-store"
    issued = json.loads(resp.body)
    assert issued["location_id"] == "dc-kassel" and issued["signature_attribute"] == "Signature"
    assert issued["secret"].startswith("whk_") and len(issued["secret"]) >= 64
    location = client.http.get("/locations/dc-kassel", headers=auth(shop["admin"]))
    assert issued["secret"] not in location.body.decode()
    assert json.loads(_issue(client, shop["admin"]).body)["secret"] != issued["secret"]


def test_the_local_poller_hands_the_signature_to_the_handler(aws: Any) -> None:
    seen: list[dict[str, Any]] = []

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        seen.extend(event["Records"])
        return {"batchItemFailures": []}

    sqs = aws.client("sqs")
    target = QueueHandler(name="on_test", queue=WAREHOUSE_EVENTS, batch_size=10, handler=handler)
    poller = Poller(target, sqs=sqs, stop=threading.Event(), visibility_timeout=0)
    url = sqs.get_queue_url(QueueName=WAREHOUSE_EVENTS)["QueueUrl"]
    sqs.send_message(
        QueueUrl=url,
        MessageBody="{}",
        MessageAttributes={"Signature": {"DataType": "String", "StringValue": "ab12"}},
    )
    assert poller.poll_once() == 1
    assert seen[0]["messageAttributes"]["Signature"]["stringValue"] == "ab12"
