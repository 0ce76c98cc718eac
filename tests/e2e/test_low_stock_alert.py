"""Low-stock alerts through the local stack: orders lower the stock below its reorder point,
``make tick`` (``python -m local tick``) fires the schedule, and exactly one digest arrives —
on a second tick too, since the item has not recovered."""

from __future__ import annotations

import csv
import email
import io
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import Any

from local.demo import network_documents
from tests.e2e.conftest import LocalStack

SKU = "E2E-LOW"
BUYER = "purchasing@e2e.example"


def call(stack: LocalStack, method: str, path: str, key: str, body: Any = None) -> Any:
    resp = stack.http.request(
        method, f"{stack.api_url}{path}", json=body, headers=stack.auth(key), timeout=30
    )
    assert resp.status_code < 300, (method, path, resp.status_code, resp.text)
    return resp.json()


def seed(stack: LocalStack) -> str:
    """The network, a channel, a SKU with 6 at dc-kassel only (reorder point 3), a group."""
    admin = stack.admin_key
    net = network_documents()
    for loc in net["locations"]:
        call(stack, "PUT", f"/locations/{loc['location_id']}", admin, loc)
    for service in net["carrier_services"]:
        call(stack, "PUT", f"/carrier-services/{service['service_id']}", admin, service)
    channel = {"kind": "webshop", "currencies": ["EUR"], "countries": ["DE"]}
    call(stack, "PUT", "/channels/low-shop", admin, channel)
    call(stack, "PUT", f"/products/{SKU}", admin, {"name": "Low mug", "weight_g": 400})
    levels = {"on_hand": 6, "safety_stock": 0, "reorder_point": 3}
    call(stack, "PUT", f"/stock/{SKU}/dc-kassel", admin, levels)
    group = {"scope": "all", "recipients": [BUYER]}
    call(stack, "PUT", "/alert-groups/purchasing", admin, group)
    created = call(stack, "POST", "/api-keys", admin, {"role": "channel", "channel": "low-shop"})
    return str(created["api_key"])


def order(stack: LocalStack, key: str, coid: str, quantity: int) -> None:
    body = {
        "channel_order_id": coid,
        "currency": "EUR",
        "customer": {"email": "ada@example.com", "name": "Ada Lovelace"},
        "ship_to": {"country": "DE", "postal_code": "10115", "city": "Berlin"},
        "lines": [{"sku": SKU, "quantity": quantity, "unit_price": 1500}],
        "delivery": {"kind": "fastest"},
    }
    call(stack, "POST", "/orders", key, body)


def tick(stack: LocalStack) -> None:
    done = stack.run("tick")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "fired low_stock_alerts" in done.stdout


def digests(stack: LocalStack) -> list[dict[str, Any]]:
    data = stack.http.get(f"{stack.moto_url}/moto-api/data.json", timeout=30).json()
    return [m for m in data["ses"].get("RawMessage", []) if "Low stock" in m["raw_data"]]


def test_orders_below_the_reorder_point_give_exactly_one_digest_per_tick_cycle(local_stack):
    key = seed(local_stack)
    tick(local_stack)
    assert digests(local_stack) == []  # 6 available > 3

    order(local_stack, key, "LOW-1", 2)
    order(local_stack, key, "LOW-2", 2)  # 2 available <= 3
    tick(local_stack)
    (digest,) = digests(local_stack)
    assert set(digest["destinations"]) == {BUYER}
    message = email.message_from_string(digest["raw_data"], policy=default_policy)
    assert isinstance(message, EmailMessage)
    assert "Low stock: 1 item" in message["Subject"]
    (attachment,) = list(message.iter_attachments())
    (row,) = list(csv.DictReader(io.StringIO(attachment.get_content())))
    assert (row["sku"], row["location_id"], row["available"]) == (SKU, "dc-kassel", "2")

    tick(local_stack)
    assert len(digests(local_stack)) == 1  # still low: not mailed again
    page = local_stack.http.get(local_stack.state["mails_url"], timeout=30).text
    assert "Low stock: 1 item" in page and SKU in page
