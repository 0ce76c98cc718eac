"""Cancels after release on the local stack, answered by the simulated warehouse: one it
confirms, one it rejects, and one it never answers and ships anyway. The stock is exact after
each (the simulator's answer is steered by the cancel reason, see ``local/simulator.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from local.demo import network_documents
from tests.e2e.conftest import LocalStack, start_stack
from tests.e2e.test_order_lifecycle import call, wait_for

SHIP_TO = {"country": "DE", "postal_code": "10115", "city": "Berlin"}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """Slow steps, so that a cancel reaches the warehouse before the parcel leaves."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SIMULATOR_STEP_SECONDS", "4")
        mp.setenv("SIMULATOR_SHORT_PICK_RATE", "0")
        mp.setenv("SIMULATOR_CANCEL_REJECT_RATE", "0")
        with start_stack(Path(tmp_path_factory.mktemp("cancels"))) as running:
            yield running


@pytest.fixture(scope="module")
def key(stack: LocalStack) -> str:
    admin = stack.admin_key
    net = network_documents()
    for loc in net["locations"]:
        call(stack, "PUT", f"/locations/{loc['location_id']}", admin, loc)
    for service in net["carrier_services"]:
        call(stack, "PUT", f"/carrier-services/{service['service_id']}", admin, service)
    shop = {"kind": "webshop", "currencies": ["EUR"], "countries": ["DE"]}
    call(stack, "PUT", "/channels/e2e-cancels", admin, shop)
    for sku in ("E2E-C1", "E2E-C2", "E2E-C3"):
        call(stack, "PUT", f"/products/{sku}", admin, {"name": sku, "weight_g": 400})
        call(stack, "PUT", f"/stock/{sku}/dc-kassel", admin, {"on_hand": 10})
    created = call(stack, "POST", "/api-keys", admin, {"role": "channel", "channel": "e2e-cancels"})
    return str(created["api_key"])


def released_order(stack: LocalStack, key: str, sku: str, coid: str) -> dict[str, Any]:
    order = call(
        stack,
        "POST",
        "/orders",
        key,
        {
            "channel_order_id": coid,
            "currency": "EUR",
            "customer": {"email": "ada@example.com", "name": "Ada Lovelace"},
            "ship_to": SHIP_TO,
            "lines": [{"sku": sku, "quantity": 2, "unit_price": 999}],
        },
    )
    path = f"/orders/{order['order_id']}"

    def released() -> Any:
        found = call(stack, "GET", path, key)
        return found if found["shipments"][0]["status"] == "released" else None

    return dict(wait_for(released, "the order's release to dc-kassel"))


def settled(stack: LocalStack, key: str, order_id: str, status: str, event: str) -> Any:
    def check() -> Any:
        found = call(stack, "GET", f"/orders/{order_id}", key)
        events = [h["event"] for h in found["history"]]
        return found if found["status"] == status and event in events else None

    return wait_for(check, f"the order to be {status} with {event}")


def kassel(stack: LocalStack, sku: str) -> dict[str, int]:
    found = call(stack, "GET", f"/stock/{sku}", stack.admin_key)
    (level,) = [lvl for lvl in found["locations"] if lvl["location_id"] == "dc-kassel"]
    return dict(level)


def test_a_cancel_the_warehouse_confirms_frees_the_stock(stack: LocalStack, key: str) -> None:
    order = released_order(stack, key, "E2E-C1", "E2E-CANCEL-1")
    asked = call(
        stack, "POST", f"/orders/{order['order_id']}/cancel", key, {"reason": "sim:confirm"}
    )
    assert asked["cancellation"]["requested"] == [{"sku": "E2E-C1", "quantity": 2}]

    done = settled(stack, key, order["order_id"], "cancelled", "cancel_confirmed")
    assert done["shipments"][0]["status"] == "cancelled"
    level = kassel(stack, "E2E-C1")
    assert (level["on_hand"], level["reserved"], level["available"]) == (10, 0, 10)


def test_a_cancel_the_warehouse_rejects_ships_and_tells_customer_service(
    stack: LocalStack, key: str
) -> None:
    order = released_order(stack, key, "E2E-C2", "E2E-CANCEL-2")
    call(stack, "POST", f"/orders/{order['order_id']}/cancel", key, {"reason": "sim:reject"})

    done = settled(stack, key, order["order_id"], "delivered", "cancel_rejected")
    assert done["shipments"][0]["cancel"] == "rejected"
    level = kassel(stack, "E2E-C2")
    assert (level["on_hand"], level["reserved"], level["available"]) == (8, 0, 8)

    def service_mail() -> Any:
        html = stack.http.get(stack.state["mails_url"], timeout=10).text
        return html if "Cancel not done: order E2E-CANCEL-2" in html else None

    wait_for(service_mail, "customer service's mail about the rejected cancel")


def test_a_shipment_that_leaves_after_its_cancel_comes_off_the_stock_once(
    stack: LocalStack, key: str
) -> None:
    order = released_order(stack, key, "E2E-C3", "E2E-CANCEL-3")
    call(stack, "POST", f"/orders/{order['order_id']}/cancel", key, {"reason": "sim:ignore"})

    done = settled(stack, key, order["order_id"], "delivered", "shipped_after_cancel")
    assert done["shipments"][0]["after_cancel"] is True
    level = kassel(stack, "E2E-C3")
    assert (level["on_hand"], level["reserved"], level["available"]) == (8, 0, 8)
