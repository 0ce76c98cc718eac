"""Confirmations back to the platforms through the real handlers on moto: a Shopify order
captured by its webhook ships through a warehouse event, and the webhooks queue's consumer
fulfils it on Shopify (the platform faked behind the guarded HTTP, answering with Shopify's
own client's test fixtures): retried with back-off on 503, failed for good on 422, listed and
retried by hand; nothing goes back when the connector says ``confirmations: false``."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest

from chalicelib import wiring
from chalicelib.domain.catalog import Kind
from chalicelib.domain.webhooks import RETRY_SCHEDULE
from chalicelib.wiring import confirmations as confirmation_wiring
from tests.api.fulfilment_kit import at, deliver, get_order, make_shop, shipped
from tests.api.seed import auth
from tests.api.test_connectors import BERLIN, SECRET, send
from tests.api.test_webhooks import QUEUE, run_webhooks
from tests.fixtures.connectors import shopify as shopify_sample, shopify_fulfillment as samples

SHOPIFY_ORDER_ID = "450789469"
ROOT = f"https://demo.myshopify.com/admin/api/2024-10/orders/{SHOPIFY_ORDER_ID}"


class FakeShopify:
    """Shopify's REST Admin API as the guarded HTTP reaches it: the order, its fulfillment
    orders and the fulfilment it makes; ``posts`` answers the POSTs in turn."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.posts: list[tuple[int, str]] = []

    def request(
        self, method: str, url: str, headers: dict[str, str], body: bytes | None = None
    ) -> tuple[int, bytes]:
        self.calls.append({"method": method, "url": url, "headers": headers, "body": body})
        if method == "GET" and url == f"{ROOT}.json?fields=id,line_items":
            return 200, shopify_sample.ORDER_JSON.encode()
        if method == "GET" and url == f"{ROOT}/fulfillment_orders.json":
            return 200, samples.FULFILLMENT_ORDERS_JSON.encode()
        if method == "GET" and url == f"{ROOT}/refunds.json":
            return 200, b'{"refunds": []}'  # none yet
        if method == "GET" and url == f"{ROOT}/fulfillments.json":  # the one POST made
            made = (
                [json.loads(samples.FULFILLMENT_JSON)["fulfillment"]] if self.fulfilments() else []
            )
            return 200, json.dumps({"fulfillments": made}).encode()
        status, text = self.posts.pop(0) if self.posts else (201, samples.FULFILLMENT_JSON)
        return status, text.encode()

    def fulfilments(self) -> list[dict[str, Any]]:
        return [
            json.loads(c["body"])
            for c in self.calls
            if c["method"] == "POST" and c["url"].endswith("/fulfillments.json")
        ]


@pytest.fixture
def platform(monkeypatch: Any) -> FakeShopify:
    fake = FakeShopify()
    monkeypatch.setattr(confirmation_wiring, "http", lambda: fake)
    return fake


def connect(**extra: Any) -> None:
    """The connector as ``PUT /channels/webshop/connector`` stores it (credentials too)."""
    doc = {
        "platform": "shopify",
        "webhook_secret": SECRET,
        "sku_map": {"IPOD2008RED": "SKU-2"},
        "shop_domain": "demo.myshopify.com",
        "admin_access_token": "shpat_test",
        "channel": "webshop",
        **extra,
    }
    wiring.catalog_service().put(Kind.CONNECTOR, "webshop", doc)


def capture(client: Any) -> dict[str, Any]:
    """Shopify's sample order 450789469, its red iPod only, captured by the webhook."""
    order = json.loads(shopify_sample.ORDER_JSON)["order"]
    order.update(currency="EUR", shipping_address=BERLIN)
    order["line_items"] = [
        {**li, "price": "29.99"} for li in order["line_items"] if li["sku"] == "IPOD2008RED"
    ]
    status, result = send(client, json.dumps(order).encode())
    assert (status, result["status"]) == (200, "captured"), result
    return result


def ship_everything(client: Any, key: str, order_id: str) -> dict[str, Any]:
    order = get_order(client, key, order_id)
    for shipment in order["shipments"]:
        event = shipped(order, shipment, "1Z001985YW99744790")
        assert deliver(client, "on_warehouse_event", "dirigent-warehouse-events", event) == []
    return order


def listed(client: Any, key: str, **query: str) -> list[dict[str, Any]]:
    qs = "&".join(f"{k}={v}" for k, v in query.items())
    resp = client.http.get(f"/channels/webshop/connector/confirmations?{qs}", headers=auth(key))
    assert resp.status_code == 200, resp.body
    return list(json.loads(resp.body)["confirmations"])


@pytest.fixture
def shop(client: Any, admin_key: str, aws: Any) -> dict[str, str]:
    shop = make_shop(client, admin_key, aws)
    connect()
    return shop


def visible_again(aws: Any, receipts: list[str]) -> None:
    sqs = aws.client("sqs")
    url = sqs.get_queue_url(QueueName=QUEUE)["QueueUrl"]
    for receipt in receipts:
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=receipt, VisibilityTimeout=0)


def test_a_shipment_is_fulfilled_on_shopify_after_a_503_with_back_off(client, shop, aws, platform):
    result = capture(client)
    ship_everything(client, shop["service"], result["order_id"])
    platform.posts = [(503, '{"errors":"Service Unavailable"}')]

    failed = run_webhooks(client, aws)
    assert len(failed) == 1  # the confirmation, back in 5 s
    (first,) = listed(client, shop["admin"])
    assert first["status"] == "retrying" and first["kind"] == "shipment"
    assert "503" in first["error"] and first["attempts"][0]["outcome"] == "unavailable"
    wait = datetime.fromisoformat(first["next_retry_at"]) - datetime.fromisoformat(
        first["attempts"][0]["at"]
    )
    assert round(wait.total_seconds()) == RETRY_SCHEDULE[0]

    visible_again(aws, failed)
    assert run_webhooks(client, aws) == []
    (done,) = listed(client, shop["admin"])
    assert done["status"] == "sent" and done["result"] == {"fulfillment_id": 1069019879}
    assert [a["outcome"] for a in done["attempts"]] == ["unavailable", "sent"]
    assert done["channel_order_id"] == SHOPIFY_ORDER_ID and done["order_id"] == result["order_id"]

    # the same fulfilment both times: fulfillment order 1046000823's red iPod, with tracking
    first_post, second_post = platform.fulfilments()
    assert first_post == second_post
    assert first_post["fulfillment"]["tracking_info"] == {
        "number": "1Z001985YW99744790",
        "company": "DHL",
    }
    assert first_post["fulfillment"]["line_items_by_fulfillment_order"] == [
        {
            "fulfillment_order_id": 1046000823,
            "fulfillment_order_line_items": [{"id": 1058737564, "quantity": 1}],
        }
    ]
    assert all(c["headers"]["X-Shopify-Access-Token"] == "shpat_test" for c in platform.calls)

    # another trigger of the same order confirms nothing twice
    confirmation_wiring.webhook_queue().order_changed(result["order_id"])
    calls = len(platform.calls)
    assert run_webhooks(client, aws) == []
    assert len(platform.calls) == calls


def test_a_422_fails_the_confirmation_for_good_and_a_manual_retry_sends_it(
    client, shop, aws, platform
):
    result = capture(client)
    ship_everything(client, shop["service"], result["order_id"])
    platform.posts = [(422, '{"errors":{"base":["Fulfillment order is not open"]}}')]
    assert run_webhooks(client, aws) == []  # refused for good: the message is done
    (failed,) = listed(client, shop["admin"])
    assert failed["status"] == "failed" and failed.get("next_retry_at") is None
    assert "422" in failed["error"] and "Fulfillment order is not open" in failed["error"]
    sqs = aws.client("sqs")
    dlq = sqs.get_queue_url(QueueName=f"{QUEUE}-dlq")["QueueUrl"]
    assert sqs.receive_message(QueueUrl=dlq).get("Messages", []) == []

    path = f"/channels/webshop/connector/confirmations/{failed['confirmation_id']}/retry"
    assert client.http.post(path, headers=auth(shop["service"])).status_code == 403
    retry = client.http.post(path, headers=auth(shop["admin"]))
    assert retry.status_code == 202, retry.body
    assert run_webhooks(client, aws) == []
    (again,) = listed(client, shop["admin"])
    assert again["status"] == "sent" and again["attempts"][-1]["manual"] is True
    unknown = client.http.post(
        "/channels/webshop/connector/confirmations/c0-nope/retry", headers=auth(shop["admin"])
    )
    assert unknown.status_code == 404


def test_nothing_goes_back_when_confirmations_are_off_or_the_order_did_not_come_from_it(
    client, shop, aws, platform
):
    connect(confirmations=False)
    result = capture(client)
    ship_everything(client, shop["service"], result["order_id"])
    assert run_webhooks(client, aws) == []
    assert platform.calls == [] and listed(client, shop["admin"]) == []
    bad = client.http.get(
        "/channels/webshop/connector/confirmations?limit=0", headers=auth(shop["admin"])
    )
    assert bad.status_code == 422


class FakeWoo:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, dict[str, Any]]] = []

    def request(
        self, method: str, url: str, headers: dict[str, str], body: bytes | None = None
    ) -> tuple[int, bytes]:
        self.calls.append((method, url, json.loads(body) if body else {}))
        assert headers["Authorization"] == "Basic Y2tfMTIzOmNzXzQ1Ng=="  # ck_123:cs_456
        return 200, b"{}"


def test_a_woocommerce_order_cancelled_here_is_cancelled_on_the_store(
    client, shop, aws, monkeypatch
):
    from tests.api.fulfilment_kit import dispatch_placed
    from tests.api.test_connectors import woo_body

    woo = FakeWoo()
    monkeypatch.setattr(confirmation_wiring, "http", lambda: woo)
    connect(
        platform="woocommerce",
        sku_map={"93": "SKU-1", "Bar3": "SKU-2"},
        store_url="https://shop.example.com",
        consumer_key="ck_123",
        consumer_secret="cs_456",
    )
    status, result = send(client, woo_body(), platform="woocommerce", topic="order.created")
    assert (status, result["status"]) == (200, "captured"), result
    resp = client.http.post(
        f"/orders/{result['order_id']}/cancel",
        body=json.dumps({"reason": "out of stock"}),
        headers=auth(shop["service"]),
    )
    assert resp.status_code == 200, resp.body
    dispatch_placed(client, aws)  # the order-events consumer sends the trigger
    assert run_webhooks(client, aws) == []
    assert woo.calls == [
        ("PUT", "https://shop.example.com/wp-json/wc/v3/orders/727", {"status": "cancelled"})
    ]
    (record,) = listed(client, shop["admin"])
    assert (record["kind"], record["status"]) == ("cancel", "sent")


def test_units_cancelled_here_are_refunded_on_shopify_as_cancelled_line_items(
    client, shop, aws, platform
):
    """A partial cancel by customer service: the order goes on; Shopify gets a refund of that
    line item with restock type cancel, for the amount its calculation suggests."""
    from tests.api.fulfilment_kit import dispatch_placed

    order = json.loads(shopify_sample.ORDER_JSON)["order"]
    order.update(currency="EUR", shipping_address=BERLIN)
    order["line_items"] = [
        {**li, "price": "29.99", "quantity": 2}
        for li in order["line_items"]
        if li["sku"] == "IPOD2008RED"
    ]
    status, result = send(client, json.dumps(order).encode())
    assert (status, result["status"]) == (200, "captured"), result
    platform.posts = [(200, samples.CALCULATE_LINE_JSON), (201, samples.LINE_REFUND_JSON)]
    resp = client.http.post(
        f"/orders/{result['order_id']}/cancel",
        body=json.dumps({"reason": "customer asked", "lines": [{"sku": "SKU-2", "quantity": 1}]}),
        headers=auth(shop["service"]),
    )
    assert resp.status_code == 200, resp.body
    dispatch_placed(client, aws)
    assert run_webhooks(client, aws) == []
    posts = [(c["url"], json.loads(c["body"])) for c in platform.calls if c["method"] == "POST"]
    line = {"line_item_id": 518995019, "quantity": 1, "restock_type": "cancel"}
    assert posts[0] == (
        f"{ROOT}/refunds/calculate.json",
        {"refund": {"currency": "EUR", "refund_line_items": [line]}},
    )
    assert posts[1][0] == f"{ROOT}/refunds.json"
    assert posts[1][1]["refund"]["refund_line_items"] == [line]
    (record,) = [r for r in listed(client, shop["admin"]) if r["kind"] == "lines_cancelled"]
    assert record["status"] == "sent" and record["data"]["amount"] == 2999
    assert record["result"] == {"refund_id": 929361466}


def test_a_tracking_number_corrected_after_shipping_is_updated_on_shopify(
    client, shop, aws, platform
):
    result = capture(client)
    order = ship_everything(client, shop["service"], result["order_id"])
    assert run_webhooks(client, aws) == []  # the shipment: fulfilled with 1Z001985YW99744790
    (shipment,) = order["shipments"]
    relabelled = {**shipped(order, shipment, "1Z-RELABELLED"), "occurred_at": at(minutes=30)}
    assert deliver(client, "on_warehouse_event", "dirigent-warehouse-events", relabelled) == []
    assert run_webhooks(client, aws) == []

    fix, first = listed(client, shop["admin"])  # newest first
    assert (fix["kind"], fix["status"], first["kind"]) == ("tracking", "sent", "shipment")
    assert fix["data"]["previous"] == "1Z001985YW99744790"
    (update,) = [c for c in platform.calls if c["url"].endswith("/update_tracking.json")]
    assert update["url"].endswith("/fulfillments/1069019879/update_tracking.json")
    assert json.loads(update["body"]) == {
        "fulfillment": {
            "tracking_info": {"number": "1Z-RELABELLED", "company": "DHL"},
            "notify_customer": True,
        }
    }
