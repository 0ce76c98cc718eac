"""Connectors through the real handlers on moto: a channel's connector configuration, the
Shopify and WooCommerce webhooks (signed, deduplicated, captured through the normal order
path, cancelled through the normal cancel), rejected orders listed and retried."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from chalicelib.connectors.common import signature
from tests.api.fulfilment_kit import get_order, make_shop
from tests.api.seed import auth, put, set_stock, stock
from tests.fixtures.connectors import shopify as shopify_sample, woocommerce as woo_sample

SECRET = "shpss-test-secret-0123456789"
BIG_ID = 820982911946154508
BERLIN = {
    "address1": "Invalidenstrasse 117",
    "address2": "",
    "city": "Berlin",
    "country": "Germany",
    "country_code": "DE",
    "zip": "10115",
    "name": "Bob Norman",
    "latitude": "52.5244",
    "longitude": "13.4105",
}
SKU_MAP = {"IPOD2008GREEN": "SKU-1", "IPOD2008RED": "SKU-2"}


@pytest.fixture
def shop(client: Any, admin_key: str, aws: Any) -> dict[str, str]:
    shop = make_shop(client, admin_key, aws)
    connect(client, admin_key, sku_map=SKU_MAP)
    return shop


def connect(client: Any, admin_key: str, **body: Any) -> dict[str, Any]:
    doc = {"platform": "shopify", "webhook_secret": SECRET, "sku_map": {}, **body}
    return put(client, admin_key, "/channels/webshop/connector", doc)


def shopify_body(*, lines: int = 2, **changes: Any) -> bytes:
    """Shopify's sample order, shipped to Berlin in EUR at the catalogue's price, with its
    real id replaced by one beyond 2^53 (as Shopify's ids are)."""
    order = json.loads(shopify_sample.ORDER_JSON)["order"]
    order.update(id=BIG_ID, currency="EUR", shipping_address=BERLIN)
    order["line_items"] = [{**line, "price": "29.99"} for line in order["line_items"][:lines]]
    return json.dumps({**order, **changes}).encode()


def send(
    client: Any,
    raw: bytes,
    *,
    topic: str = "orders/create",
    webhook_id: str | None = "wh-1",
    sig: str | None = "sign",
    platform: str = "shopify",
    content_type: str = "application/json",
) -> tuple[int, dict[str, Any]]:
    headers = {"Content-Type": content_type}
    prefix = "X-Shopify" if platform == "shopify" else "X-WC-Webhook"
    if sig == "sign":
        sig = signature(SECRET, raw)
    if sig is not None:
        headers["X-Shopify-Hmac-Sha256" if platform == "shopify" else f"{prefix}-Signature"] = sig
    if topic:
        headers[f"{prefix}-Topic"] = topic
    if webhook_id:
        name = "X-Shopify-Webhook-Id" if platform == "shopify" else f"{prefix}-Delivery-ID"
        headers[name] = webhook_id
    resp = client.http.post(f"/connectors/{platform}/webshop", body=raw, headers=headers)
    return resp.status_code, json.loads(resp.body)


def orders_of(client: Any, key: str) -> list[dict[str, Any]]:
    resp = client.http.get("/orders?channel=webshop", headers=auth(key))
    assert resp.status_code == 200, resp.body
    return list(json.loads(resp.body)["orders"])


def rejected(client: Any, key: str) -> list[dict[str, Any]]:
    resp = client.http.get("/channels/webshop/rejected-orders", headers=auth(key))
    assert resp.status_code == 200, resp.body
    return list(json.loads(resp.body)["rejected_orders"])


def markers(aws: Any) -> list[dict[str, Any]]:
    items = aws.resource("dynamodb").Table("dirigent-orders").scan()["Items"]
    return [i for i in items if str(i["pk"]).startswith("WEBHOOK#")]


def test_the_connector_is_shown_without_its_secret(client, shop):
    resp = client.http.get("/channels/webshop/connector", headers=auth(shop["admin"]))
    view = json.loads(resp.body)
    assert resp.status_code == 200 and view["platform"] == "shopify"
    assert view["webhook_secret_set"] is True and "webhook_secret" not in view
    assert SECRET not in resp.body.decode()
    assert view["sku_map"] == SKU_MAP


def test_a_connector_for_an_unknown_channel_or_platform_is_refused(client, shop):
    body = {"platform": "shopify", "webhook_secret": SECRET}
    resp = client.http.put(
        "/channels/nope/connector", body=json.dumps(body), headers=auth(shop["admin"])
    )
    assert resp.status_code == 404
    body = {"platform": "magento", "webhook_secret": SECRET}
    resp = client.http.put(
        "/channels/webshop/connector", body=json.dumps(body), headers=auth(shop["admin"])
    )
    assert resp.status_code == 422
    assert [f["path"] for f in json.loads(resp.body)["error"]["fields"]] == ["platform"]


def test_a_sku_map_onto_something_that_is_not_one_of_our_skus_is_422_naming_it(client, shop):
    """Reproduction: ``{"IPOD": "not a sku!"}`` was stored; every order of that item was then
    rejected as an unknown product instead of the map being refused."""
    body = {"platform": "shopify", "webhook_secret": SECRET, "sku_map": {"IPOD": "not a sku!"}}
    resp = client.http.put(
        "/channels/webshop/connector", body=json.dumps(body), headers=auth(shop["admin"])
    )
    assert resp.status_code == 422, resp.body
    assert [f["path"] for f in json.loads(resp.body)["error"]["fields"]] == ["sku_map.IPOD"]


def test_a_signed_shopify_order_is_captured_with_its_lines_prices_and_exact_id(client, shop, aws):
    status, result = send(client, shopify_body())
    assert (status, result["status"]) == (200, "captured")
    order = get_order(client, shop["service"], result["order_id"])
    assert order["channel_order_id"] == "820982911946154508"
    assert order["currency"] == "EUR"
    assert sorted((li["sku"], li["quantity"], li["unit_price"]) for li in order["lines"]) == [
        ("SKU-1", 1, 2999),
        ("SKU-2", 1, 2999),
    ]
    assert order["ship_to"]["postal_code"] == "10115"
    assert order["customer"]["email"] == "bob.norman@hostmail.com"
    assert sum(level["reserved"] for level in stock(aws, "SKU-1").values()) == 1


@pytest.mark.parametrize("sig", [None, "", "d3Jvbmc=", signature("another-secret", b"x")])
def test_a_missing_or_bad_signature_is_401_and_nothing_is_stored(client, shop, aws, sig):
    status, body = send(client, shopify_body(lines=3), sig=sig)
    assert status == 401 and body["error"]["code"] == "unauthorized"
    assert orders_of(client, shop["service"]) == []
    assert rejected(client, shop["service"]) == []
    assert markers(aws) == []


def test_a_body_changed_after_signing_is_401(client, shop):
    raw = shopify_body()
    status, _ = send(client, raw.replace(b"29.99", b"0.01"), sig=signature(SECRET, raw))
    assert status == 401
    assert orders_of(client, shop["service"]) == []


def test_a_repeated_webhook_id_is_applied_once(client, shop):
    raw = shopify_body()
    first = send(client, raw, webhook_id="wh-dup")
    again = send(client, raw, webhook_id="wh-dup")
    assert first[1]["status"] == "captured" and again == (200, {"status": "duplicate"})
    other = send(client, raw, webhook_id="wh-other", topic="orders/updated")  # same order
    assert other[1] == {"status": "exists", "order_id": first[1]["order_id"]}
    assert len(orders_of(client, shop["service"])) == 1


def test_an_unmapped_sku_is_rejected_listed_and_captured_on_retry_after_the_map_is_fixed(
    client, shop, admin_key
):
    status, result = send(client, shopify_body(lines=3))
    assert (status, result["status"]) == (200, "rejected")
    assert result["rejected_id"] == "820982911946154508"
    assert orders_of(client, shop["service"]) == []

    (listed,) = rejected(client, shop["service"])
    assert listed["platform"] == "shopify" and listed["topic"] == "orders/create"
    assert [f["path"] for f in listed["reason"]["fields"]] == ["lines[2].sku"]
    assert "IPOD2008BLACK" in listed["reason"]["fields"][0]["reason"]
    assert [line["sku"] for line in listed["mapped"]["lines"]] == [
        "SKU-1",
        "SKU-2",
        "IPOD2008BLACK",
    ]
    assert "raw" not in listed
    one = client.http.get(
        "/channels/webshop/rejected-orders/820982911946154508", headers=auth(shop["service"])
    )
    assert str(BIG_ID) in json.loads(one.body)["raw"]

    path = "/channels/webshop/rejected-orders/820982911946154508/retry"
    still = client.http.post(path, headers=auth(shop["service"]))
    assert still.status_code == 409
    assert rejected(client, shop["service"])[0]["attempts"] == 2

    connect(client, admin_key, sku_map={**SKU_MAP, "IPOD2008BLACK": "SKU-1"})
    retried = client.http.post(path, headers=auth(shop["service"]))
    assert retried.status_code == 200, retried.body
    order = get_order(client, shop["service"], json.loads(retried.body)["order_id"])
    assert sorted((li["sku"], li["quantity"]) for li in order["lines"]) == [
        ("SKU-1", 2),
        ("SKU-2", 1),
    ]
    assert rejected(client, shop["service"]) == []


def test_an_address_the_channel_does_not_serve_is_rejected_not_dropped(client, shop):
    raw = shopify_body(
        shipping_address=json.loads(shopify_sample.ORDER_JSON)["order"]["shipping_address"]
    )
    status, result = send(client, raw)
    assert (status, result["status"]) == (200, "rejected")
    assert [f["path"] for f in result["reason"]["fields"]] == ["ship_to.country"]
    assert len(rejected(client, shop["service"])) == 1


def test_out_of_stock_is_rejected_and_a_retry_after_restock_captures(client, shop, aws):
    set_stock(aws, "SKU-2", "dc-kassel", 0)
    status, result = send(client, shopify_body())
    assert (
        status == 200
        and result["status"] == "rejected"
        and result["reason"]["code"] == "out_of_stock"
    )
    set_stock(aws, "SKU-2", "dc-kassel", 4)
    retried = client.http.post(
        "/channels/webshop/rejected-orders/820982911946154508/retry", headers=auth(shop["service"])
    )
    assert retried.status_code == 200 and json.loads(retried.body)["status"] == "captured"


def test_the_cancel_webhook_cancels_the_order_and_frees_its_stock(client, shop, aws):
    _, placed = send(client, shopify_body())
    raw = shopify_body(cancelled_at="2008-01-10T12:00:00-05:00", cancel_reason="customer")
    status, result = send(client, raw, topic="orders/cancelled", webhook_id="wh-cancel")
    assert (status, result["status"]) == (200, "cancelled")
    order = get_order(client, shop["service"], placed["order_id"])
    assert order["status"] == "cancelled"
    assert sum(level["reserved"] for level in stock(aws, "SKU-1").values()) == 0
    again = send(client, raw, topic="orders/cancelled", webhook_id="wh-cancel-2")
    assert again[1]["status"] == "cancelled"  # idempotent


def test_a_rejected_order_cancelled_on_the_platform_leaves_the_list(client, shop):
    send(client, shopify_body(lines=3))
    send(client, shopify_body(lines=3), topic="orders/cancelled", webhook_id="wh-c")
    assert rejected(client, shop["service"]) == []


def test_another_topic_is_acknowledged_and_ignored(client, shop):
    status, result = send(client, shopify_body(), topic="orders/paid")
    assert (status, result["status"]) == (200, "ignored")
    assert orders_of(client, shop["service"]) == []


# --- WooCommerce ----------------------------------------------------------------------------


def woo_body() -> bytes:
    order = json.loads(woo_sample.ORDER_JSON)
    order.update(currency="EUR")
    order["shipping"] = {
        **order["shipping"],
        "country": "DE",
        "postcode": "10115",
        "city": "Berlin",
    }
    for line in order["line_items"]:
        line["subtotal"] = str(Decimal("29.99") * line["quantity"])
    return json.dumps(order).encode()


def test_woocommerce_ping_is_answered_200_and_stores_nothing(client, shop, admin_key, aws):
    connect(client, admin_key, platform="woocommerce")
    status, result = send(
        client,
        b"webhook_id=12",
        platform="woocommerce",
        topic=None,
        webhook_id=None,
        sig=None,
        content_type="application/x-www-form-urlencoded",
    )
    assert (status, result) == (200, {"status": "ping"})
    assert markers(aws) == []


def test_a_signed_woocommerce_order_is_captured(client, shop, admin_key):
    connect(client, admin_key, platform="woocommerce", sku_map={"93": "SKU-1", "Bar3": "SKU-2"})
    status, result = send(client, woo_body(), platform="woocommerce", topic="order.created")
    assert (status, result["status"]) == (200, "captured"), result
    order = get_order(client, shop["service"], result["order_id"])
    assert order["channel_order_id"] == "727"
    assert sorted((li["sku"], li["quantity"], li["unit_price"]) for li in order["lines"]) == [
        ("SKU-1", 2, 2999),
        ("SKU-2", 1, 2999),
    ]
    bad = send(client, woo_body(), platform="woocommerce", topic="order.created", sig="eA==")
    assert bad[0] == 401


def test_a_shopify_signature_does_not_open_the_woocommerce_door(client, shop):
    status, _ = send(client, woo_body(), platform="woocommerce", topic="order.created")
    assert status == 401  # the channel's connector is Shopify's


def test_a_cancel_before_its_create_leaves_a_tombstone_and_the_late_create_is_not_captured(
    client, shop, aws
):
    raw = shopify_body(cancelled_at="2008-01-10T12:00:00-05:00")
    status, result = send(client, raw, topic="orders/cancelled", webhook_id="wh-early-cancel")
    assert (status, result) == (200, {"status": "cancelled_before_capture"})
    late = send(client, shopify_body(), webhook_id="wh-late-create")
    assert late == (200, {"status": "cancelled_before_capture"})
    assert orders_of(client, shop["service"]) == []
    assert sum(level["reserved"] for level in stock(aws, "SKU-1").values()) == 0


def test_woocommerce_order_deleted_cancels_the_order(client, shop, admin_key, aws):
    connect(client, admin_key, platform="woocommerce", sku_map={"93": "SKU-1", "Bar3": "SKU-2"})
    _, placed = send(client, woo_body(), platform="woocommerce", topic="order.created")
    assert placed["status"] == "captured"
    deleted = json.dumps({"id": 727}).encode()  # WooCommerce's order.deleted body
    status, result = send(
        client, deleted, platform="woocommerce", topic="order.deleted", webhook_id="wc-del"
    )
    assert (status, result["status"]) == (200, "cancelled")
    assert get_order(client, shop["service"], placed["order_id"])["status"] == "cancelled"
    assert sum(level["reserved"] for level in stock(aws, "SKU-1").values()) == 0
