"""The life of an order through the local stack, as a user of ``make run`` sees it: quote ->
order -> fulfilment request -> simulated warehouse -> delivered, with the customer's tracking
page and the mails that went out."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from local.demo import network_documents
from tests.e2e.conftest import LocalStack, start_stack

TIMEOUT_S = 90


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """A stack of its own with a quick, reliable simulated warehouse (no short picks)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SIMULATOR_STEP_SECONDS", "0.5")
        mp.setenv("SIMULATOR_SHORT_PICK_RATE", "0")
        with start_stack(Path(tmp_path_factory.mktemp("lifecycle"))) as running:
            yield running


def call(stack: LocalStack, method: str, path: str, key: str, body: Any = None) -> Any:
    resp = stack.http.request(
        method, f"{stack.api_url}{path}", json=body, headers=stack.auth(key), timeout=30
    )
    assert resp.status_code < 300, (method, path, resp.status_code, resp.text)
    return resp.json()


def seed(stack: LocalStack) -> str:
    net = network_documents()
    admin = stack.admin_key
    for loc in net["locations"]:
        call(stack, "PUT", f"/locations/{loc['location_id']}", admin, loc)
    for service in net["carrier_services"]:
        call(stack, "PUT", f"/carrier-services/{service['service_id']}", admin, service)
    call(
        stack,
        "PUT",
        "/channels/e2e-shop",
        admin,
        {"kind": "webshop", "currencies": ["EUR"], "countries": ["DE"]},
    )
    call(stack, "PUT", "/products/E2E-MUG", admin, {"name": "Mug", "weight_g": 400})
    call(stack, "PUT", "/stock/E2E-MUG/dc-kassel", admin, {"on_hand": 20})
    created = call(stack, "POST", "/api-keys", admin, {"role": "channel", "channel": "e2e-shop"})
    return str(created["api_key"])


def wait_for(check: Any, what: str) -> Any:
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.5)
    pytest.fail(f"timed out waiting for {what}")


def test_quote_order_warehouse_delivered_with_tracking_and_mails(stack: LocalStack) -> None:
    key = seed(stack)
    ship_to = {"country": "DE", "postal_code": "10115", "city": "Berlin"}
    quote = call(
        stack,
        "POST",
        "/delivery-options",
        key,
        {"currency": "EUR", "ship_to": ship_to, "lines": [{"sku": "E2E-MUG", "quantity": 2}]},
    )
    option = quote["options"][0]
    order = call(
        stack,
        "POST",
        "/orders",
        key,
        {
            "channel_order_id": "E2E-1",
            "currency": "EUR",
            "customer": {"email": "grace@example.com", "name": "Grace Hopper"},
            "ship_to": ship_to,
            "lines": [{"sku": "E2E-MUG", "quantity": 2, "unit_price": 1299}],
            "delivery": {"option_id": option["option_id"]},
        },
    )
    track_url = f"{stack.api_url}/track/{order['order_id']}?token={order['tracking_token']}"

    def delivered() -> Any:
        page = stack.http.get(track_url, timeout=10).json()
        return page if page.get("status") == "delivered" else None

    page = wait_for(delivered, "the simulated warehouse to deliver the order")
    (shipment,) = page["shipments"]
    assert shipment["carrier"] and shipment["tracking_number"].startswith("SIM")
    assert shipment["promised_date"] == order["shipments"][0]["promised_date"]
    events = [entry["event"] for entry in page["timeline"]]
    assert events == ["placed", "released", "picked", "shipped", "delivered"]
    wrong = stack.http.get(f"{stack.api_url}/track/{order['order_id']}?token=x", timeout=10)
    assert wrong.status_code == 404

    stock = call(stack, "GET", "/stock/E2E-MUG", stack.admin_key)
    assert stock["total"]["on_hand"] == 18 and stock["total"]["reserved"] == 0

    def both_mails() -> Any:
        html = stack.http.get(stack.state["mails_url"], timeout=10).text
        return html if "has shipped" in html and "is confirmed" in html else None

    mails = wait_for(both_mails, "the confirmation and shipped mails")
    assert "Your order E2E-1 is confirmed" in mails
    assert shipment["tracking_number"] in mails
