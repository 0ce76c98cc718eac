"""Webhooks out on the local stack, as ``make run`` starts it: a subscription to the stack's
recording receiver (the banner's ``webhooks`` line), an order placed and shipped through a
signed warehouse event, and ``order.placed`` / ``shipment.shipped`` read back from the
receiver, signed, with carrier, tracking number and growing order versions."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook

from tests.e2e.conftest import LocalStack, start_stack
from tests.e2e.signing import send_signed
from tests.e2e.test_order_lifecycle import call, seed

TIMEOUT_S = 90


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """No simulated warehouse: the test ships the order itself."""
    with start_stack(Path(tmp_path_factory.mktemp("webhooks")), sim=False) as running:
        yield running


def received(stack: LocalStack, event_type: str) -> list[dict[str, Any]]:
    url = f"{stack.state['receiver_url']}/received?type={event_type}"
    return list(stack.http.get(url, timeout=10).json()["received"])


def wait_for(stack: LocalStack, event_type: str, count: int = 1) -> list[dict[str, Any]]:
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        got = received(stack, event_type)
        if len(got) >= count:
            return got
        time.sleep(0.5)
    pytest.fail(f"the receiver got no {event_type} in {TIMEOUT_S}s:\n{stack.log_tail()}")


def test_placed_and_shipped_reach_the_local_receiver_signed(stack: LocalStack) -> None:
    key = seed(stack)
    hook = f"{stack.state['receiver_url']}/hooks/erp"
    sub = call(
        stack,
        "PUT",
        "/webhook-subscriptions/e2e-erp",
        stack.admin_key,
        {"url": hook, "events": ["order.placed", "shipment.shipped"]},
    )
    secret = sub["secret"]
    ship_to = {"country": "DE", "postal_code": "10115", "city": "Berlin"}
    quote = call(
        stack,
        "POST",
        "/delivery-options",
        key,
        {"currency": "EUR", "ship_to": ship_to, "lines": [{"sku": "E2E-MUG", "quantity": 1}]},
    )
    order = call(
        stack,
        "POST",
        "/orders",
        key,
        {
            "channel_order_id": f"E2E-WH-{uuid.uuid4().hex[:6]}",
            "currency": "EUR",
            "customer": {"email": "grace@example.com", "name": "Grace Hopper"},
            "ship_to": ship_to,
            "lines": [{"sku": "E2E-MUG", "quantity": 1, "unit_price": 1299}],
            "delivery": {"option_id": quote["options"][0]["option_id"]},
        },
    )
    (placed,) = wait_for(stack, "order.placed")
    assert placed["path"] == "/hooks/erp"
    placed_payload = Webhook(secret).verify(placed["body"], placed["headers"])
    assert placed_payload["data"]["order_id"] == order["order_id"]

    (shipment,) = order["shipments"]
    event = {
        "event_id": f"ev-{uuid.uuid4()}",
        "type": "shipped",
        "location_id": shipment["location_id"],
        "occurred_at": (datetime.now(UTC) + timedelta(minutes=1)).isoformat(),
        "order_id": order["order_id"],
        "shipment_id": shipment["shipment_id"],
        "carrier": "DHL",
        "tracking_number": "E2E-TN-42",
    }
    send_signed(stack, json.dumps(event), shipment["location_id"])
    (shipped,) = wait_for(stack, "shipment.shipped")
    data = Webhook(secret).verify(shipped["body"], shipped["headers"])["data"]
    assert data["order_id"] == order["order_id"]
    assert (data["carrier"], data["tracking_number"]) == ("DHL", "E2E-TN-42")
    assert data["version"] > placed_payload["data"]["version"]
    assert data["sequence"] > placed_payload["data"]["sequence"]

    deliveries = call(stack, "GET", "/webhook-subscriptions/e2e-erp/deliveries", stack.admin_key)[
        "deliveries"
    ]
    assert {d["event_type"]: d["status"] for d in deliveries} == {
        "order.placed": "delivered",
        "shipment.shipped": "delivered",
    }
    assert len(received(stack, "order.placed")) == 1  # announced once
