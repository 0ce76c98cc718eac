"""A preorder through to release day on the local stack, on a fixed clock (``DIRIGENT_CLOCK_FILE``):
quoted and accepted against its cap and a purchase order, kept back while stock arrives early
and until the release window, then requested from the location to ship on release day.

No simulated warehouse: the fulfilment request stays on the queue for the test to read.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest

from local.demo import network_documents
from tests.e2e.conftest import LocalStack, start_stack
from tests.e2e.test_order_lifecycle import call, wait_for

pytestmark = pytest.mark.e2e

DAY = date(2030, 3, 4)  # a Monday: D+9 and D+10 are working days at Venlo (NL), no holiday
RELEASE = DAY + timedelta(days=10)
SKU = "E2E-GAME"
LOCATION = "3pl-venlo"  # its processing days are the network's longest: it ships on release day
SHIP_TO = {"country": "DE", "postal_code": "10115", "city": "Berlin"}


@pytest.fixture(scope="module")
def clock_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("clock") / "now"


def set_clock(path: Path, day: date, at: time = time(6)) -> None:
    """Every process of the stack reads the instant on its next call (the file's mtime moves)."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(datetime.combine(day, at, tzinfo=UTC).isoformat(), encoding="utf-8")
    os.replace(tmp, path)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, clock_file: Path) -> Iterator[LocalStack]:
    set_clock(clock_file, DAY)
    env = {"DIRIGENT_CLOCK_FILE": str(clock_file)}
    with start_stack(tmp_path_factory.mktemp("preorders"), sim=False, env=env) as running:
        yield running


def seed(stack: LocalStack) -> str:
    net = network_documents()
    admin = stack.admin_key
    for loc in net["locations"]:
        call(stack, "PUT", f"/locations/{loc['location_id']}", admin, loc)
    for service in net["carrier_services"]:
        call(stack, "PUT", f"/carrier-services/{service['service_id']}", admin, service)
    shop = {"kind": "webshop", "currencies": ["EUR"], "countries": ["DE"]}
    call(stack, "PUT", "/channels/e2e-pre", admin, {**shop, "backorder_policy": "backorder"})
    product = {"name": "Game", "weight_g": 300, "preorder_cap": 3}
    call(stack, "PUT", f"/products/{SKU}", admin, {**product, "release_date": RELEASE.isoformat()})
    po = {
        "supplier": "Studio",
        "location_id": LOCATION,
        "expected_date": (DAY + timedelta(days=5)).isoformat(),
        "lines": [{"sku": SKU, "quantity": 5}],
    }
    call(stack, "PUT", "/purchase-orders/PO-E2E-1", admin, po)
    created = call(stack, "POST", "/api-keys", admin, {"role": "channel", "channel": "e2e-pre"})
    return str(created["api_key"])


def order(stack: LocalStack, key: str, coid: str, quantity: int) -> Any:
    body = {
        "channel_order_id": coid,
        "currency": "EUR",
        "customer": {"email": "ada@example.com", "name": "Ada Lovelace"},
        "ship_to": SHIP_TO,
        "lines": [{"sku": SKU, "quantity": quantity, "unit_price": 5999}],
    }
    return stack.http.post(
        f"{stack.api_url}/orders", json=body, headers=stack.auth(key), timeout=30
    )


def tick(stack: LocalStack) -> None:
    """Every schedule once, as ``make tick`` fires them (the release schedule among them)."""
    done = stack.run("tick")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "fired preorder_release" in done.stdout


def fulfilment_requests(stack: LocalStack, wait_s: int = 1) -> list[dict[str, Any]]:
    sqs = stack.client("sqs")
    url = sqs.get_queue_url(QueueName="dirigent-fulfilment")["QueueUrl"]
    found = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_s)
    return [json.loads(m["Body"]) for m in found.get("Messages", [])]


def test_a_preorder_ships_on_release_day(stack: LocalStack, clock_file: Path) -> None:
    days = {loc["location_id"]: loc["processing_days"] for loc in network_documents()["locations"]}
    lead = max(days.values())  # the release window opens this many days before release
    assert days[LOCATION] == lead
    key = seed(stack)

    quote = call(
        stack,
        "POST",
        "/delivery-options",
        key,
        {"currency": "EUR", "ship_to": SHIP_TO, "lines": [{"sku": SKU, "quantity": 2}]},
    )
    promise = quote["backorder_promises"][SKU]
    assert promise == {
        "date": RELEASE.isoformat(),  # the PO arrives earlier: release day it is
        "po_ids": ["PO-E2E-1"],
        "preorder": True,
        "release_date": RELEASE.isoformat(),
    }

    placed = order(stack, key, "PRE-1", 2)
    assert placed.status_code == 201, placed.text
    first = placed.json()
    assert first["backorders"] == {SKU: 2} and first["shipments"] == []
    assert first["delivery"]["backorder_promises"][SKU]["date"] == RELEASE.isoformat()
    over = order(stack, key, "PRE-2", 2)  # 2 + 2 > the cap of 3
    assert over.status_code == 409, over.text
    assert over.json()["error"]["fields"][0]["path"] == "lines[0].quantity"

    # The stock arrives early; neither its arrival nor the schedule releases the preorder yet.
    call(stack, "PUT", f"/stock/{SKU}/{LOCATION}", stack.admin_key, {"on_hand": 5})
    set_clock(clock_file, RELEASE - timedelta(days=lead + 1))
    tick(stack)
    path = f"/orders/{first['order_id']}"
    waiting = call(stack, "GET", path, stack.admin_key)
    assert waiting["backorders"] == {SKU: 2} and waiting["shipments"] == []
    assert fulfilment_requests(stack) == []

    # The release window opens: the order goes to the location, to ship on release day.
    set_clock(clock_file, RELEASE - timedelta(days=lead))
    tick(stack)
    released = call(stack, "GET", path, stack.admin_key)
    assert released["backorders"] == {}
    (shipment,) = released["shipments"]
    assert shipment["location_id"] == LOCATION and shipment["ship_date"] == RELEASE.isoformat()

    (request,) = wait_for(lambda: fulfilment_requests(stack, wait_s=2), "the fulfilment request")
    assert request["order_id"] == first["order_id"] and request["location_id"] == LOCATION
    assert request["lines"] == [{"sku": SKU, "quantity": 2}]
    assert request["ship_date"] == RELEASE.isoformat()
    stock = call(stack, "GET", f"/stock/{SKU}", stack.admin_key)
    assert stock["total"]["reserved"] == 2
