"""A return through the local stack: an order the simulated warehouse delivered is returned to
the nearest store and received there by a ``return_received`` event on the warehouse-events
queue; the stock rises at that store, the refund is recorded and the mail is in moto's SES."""

from __future__ import annotations

import email
import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import LocalStack, start_stack
from tests.e2e.signing import send_signed
from tests.e2e.test_order_lifecycle import call, seed, wait_for

BERLIN = {"country": "DE", "postal_code": "10115", "city": "Berlin", "lat": 52.52, "lon": 13.40}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SIMULATOR_STEP_SECONDS", "0.5")
        mp.setenv("SIMULATOR_SHORT_PICK_RATE", "0")
        with start_stack(Path(tmp_path_factory.mktemp("returns"))) as running:
            yield running


def delivered_order(stack: LocalStack, key: str) -> dict[str, Any]:
    order = call(
        stack,
        "POST",
        "/orders",
        key,
        {
            "channel_order_id": "E2E-RET-1",
            "currency": "EUR",
            "customer": {"email": "ret@example.com", "name": "Rita Return"},
            "ship_to": BERLIN,
            "lines": [{"sku": "E2E-MUG", "quantity": 2, "unit_price": 1299}],
            "delivery": {"kind": "fastest"},
        },
    )
    track = f"{stack.api_url}/track/{order['order_id']}?token={order['tracking_token']}"
    wait_for(
        lambda: stack.http.get(track, timeout=10).json().get("status") == "delivered",
        "the simulated warehouse to deliver the order",
    )
    return dict(order)


def store_stock(stack: LocalStack, location_id: str) -> int:
    stock = call(stack, "GET", "/stock/E2E-MUG", stack.admin_key)
    return sum(x["on_hand"] for x in stock["locations"] if x["location_id"] == location_id)


def test_a_delivered_order_is_returned_to_the_nearest_store(stack: LocalStack) -> None:
    key = seed(stack)
    order = delivered_order(stack, key)
    resp = stack.http.post(
        f"{stack.api_url}/returns",
        json={
            "order_id": order["order_id"],
            "token": order["tracking_token"],
            "lines": [{"sku": "E2E-MUG", "quantity": 2, "reason": "wrong_size"}],
        },
        timeout=30,
    )
    assert resp.status_code == 201, resp.text
    rma = resp.json()
    store = rma["options"][0]
    assert (store["kind"], store["location_id"]) == ("store_drop_off", "st-berlin")
    before = store_stock(stack, "st-berlin")

    body = {
        "event_id": f"e2e-{uuid.uuid4()}",
        "type": "return_received",
        "location_id": "st-berlin",
        "occurred_at": datetime.now(UTC).isoformat(),
        "rma_id": rma["rma_id"],
        "lines": [{"sku": "E2E-MUG", "quantity": 2, "condition": "sellable"}],
    }
    send_signed(stack, json.dumps(body), "st-berlin", times=2)  # delivered twice, applied once

    get = f"{stack.api_url}/returns/{rma['rma_id']}?token={order['tracking_token']}"

    def refunded() -> Any:
        seen = stack.http.get(get, timeout=10).json()
        return seen if seen.get("status") == "refunded" else None

    seen = wait_for(refunded, "the return to be received and refunded")
    # The whole order came back: the items and, by policy, the shipping.
    shipping = int(order["delivery"]["price"])
    assert [(r["items"], r["shipping"]) for r in seen["refunds"]] == [(2 * 1299, shipping)]
    time.sleep(2)  # the duplicate has had its turn
    assert store_stock(stack, "st-berlin") == before + 2

    page = stack.http.get(
        f"{stack.api_url}/track/{order['order_id']}?token={order['tracking_token']}", timeout=10
    ).json()
    assert page["returns"][0]["rma_id"] == rma["rma_id"]

    subject = f"We received your return {rma['rma_id']}"

    def return_mail() -> Any:
        data = stack.http.get(f"{stack.moto_url}/moto-api/data.json", timeout=10).json()
        raw = [m["raw_data"] for m in data.get("ses", {}).get("RawMessage", [])]
        parsed = [email.message_from_string(r, policy=default_policy) for r in raw]
        found = [m for m in parsed if isinstance(m, EmailMessage) and m["Subject"] == subject]
        return found or None

    (mail,) = wait_for(return_mail, "the return mail in moto's SES")
    html = mail.get_body(("html",))
    assert html is not None
    amount, content = f"{(2 * 1299 + shipping) / 100:.2f}", html.get_content()
    assert "€" in content and (amount in content or amount.replace(".", ",") in content)
