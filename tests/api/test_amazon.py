"""Amazon through the real handlers on moto: the connector's configuration (secrets hidden,
endpoints checked), the ``amazon_poll`` schedule against the local fake of SP-API (in
process), orders captured once, rejected and retried, cancelled, and the watermark."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib.adapters.sp_api import HttpTransport, SpApi
from chalicelib.wiring import amazon as amazon_wiring, webhooks as webhook_wiring
from local.fake_spapi import FakeSellingPartner, serve
from tests.api.fulfilment_kit import get_order, make_shop
from tests.api.seed import auth, stock
from tests.fixtures.connectors import amazon as sample

GLOBAL = "93.184.216.34"
BERLIN = {
    "Name": "Michigan address",
    "AddressLine1": "Invalidenstrasse 117",
    "City": "Berlin",
    "PostalCode": "10115",
    "CountryCode": "DE",
}
SKU_MAP = {"NABetaASINB00551Q3CS": "SKU-1"}
CREDENTIALS = {
    "lwa_client_id": "amzn1.application-oa2-client.0123456789",
    "lwa_client_secret": "amzn1.oa2-cs.v1.secret-0123456789",
    "refresh_token": "Atzr|IwEBIrefresh-0123456789",
    "marketplace_ids": ["A1PA6795UKMFR9"],
}


class FakeDns:
    def __init__(self) -> None:
        self.hosts: dict[str, list[str]] = {}

    def resolve(self, host: str, port: int) -> list[str]:
        if host[0].isdigit() or ":" in host:
            return [host]
        return self.hosts.get(host, [GLOBAL])


@pytest.fixture
def dns(monkeypatch: Any) -> FakeDns:
    fake = FakeDns()
    monkeypatch.setattr(webhook_wiring, "resolver", lambda: fake.resolve)
    return fake


@pytest.fixture
def amazon(monkeypatch: Any, dns: FakeDns) -> FakeSellingPartner:
    fake = FakeSellingPartner(page_size=2, refresh_token=CREDENTIALS["refresh_token"])
    naps: list[float] = []
    monkeypatch.setattr(
        amazon_wiring, "sp_api", lambda config: SpApi(config, http=fake, sleep=naps.append)
    )
    return fake


@pytest.fixture
def shop(client: Any, admin_key: str, aws: Any, amazon: FakeSellingPartner) -> dict[str, str]:
    shop = make_shop(client, admin_key, aws)
    assert connect(client, admin_key).status_code == 200
    return shop


def connect(client: Any, admin_key: str, **body: Any) -> Any:
    doc = {"platform": "amazon", **CREDENTIALS, "sku_map": SKU_MAP, **body}
    return client.http.put(
        "/channels/webshop/connector", body=json.dumps(doc), headers=auth(admin_key)
    )


def order(amazon_order_id: str = "902-3159896-1390916", **changes: Any) -> dict[str, Any]:
    """getOrder's published example, ready to ship to Berlin in EUR."""
    doc = json.loads(sample.GET_ORDER_EXAMPLE_JSON)["payload"]
    doc.update(AmazonOrderId=amazon_order_id, OrderStatus="Unshipped", ShippingAddress=BERLIN)
    doc["OrderTotal"] = {"CurrencyCode": "EUR", "Amount": "59.98"}
    return {**doc, **changes}


def items(quantity: int = 2, sku: str = "NABetaASINB00551Q3CS") -> list[dict[str, Any]]:
    """getOrderItems' published sandbox item, at the catalogue's price in EUR."""
    (item,) = json.loads(sample.GET_ORDER_ITEMS_SANDBOX_JSON)["payload"]["OrderItems"]
    total = f"{29.99 * quantity:.2f}"
    return [
        {
            **item,
            "SellerSKU": sku,
            "QuantityOrdered": quantity,
            "ItemPrice": {"CurrencyCode": "EUR", "Amount": total},
        }
    ]


def poll(client: Any, aws: Any) -> None:
    """Fire the schedule with the channel due now (its last poll moved back an hour)."""
    table = aws.resource("dynamodb").Table("dirigent-orders")
    item = table.get_item(Key={"pk": "POLL#webshop", "sk": "POLL"}).get("Item")
    if item:
        doc = json.loads(item["doc"])
        table.put_item(Item={**item, "doc": json.dumps({**doc, "polled_at": 0})})
    event = client.events.generate_cw_event(
        source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]
    )
    client.lambda_.invoke("amazon_poll", event)


def poll_state(aws: Any) -> dict[str, Any]:
    table = aws.resource("dynamodb").Table("dirigent-orders")
    return dict(json.loads(table.get_item(Key={"pk": "POLL#webshop", "sk": "POLL"})["Item"]["doc"]))


def orders_of(client: Any, key: str) -> list[dict[str, Any]]:
    resp = client.http.get("/orders?channel=webshop", headers=auth(key))
    assert resp.status_code == 200, resp.body
    return list(json.loads(resp.body)["orders"])


def rejected(client: Any, key: str) -> list[dict[str, Any]]:
    resp = client.http.get("/channels/webshop/rejected-orders", headers=auth(key))
    return list(json.loads(resp.body)["rejected_orders"])


def reserved(aws: Any, sku: str) -> int:
    return sum(level["reserved"] for level in stock(aws, sku).values())


# --- configuration ---------------------------------------------------------------------------


def test_the_amazon_connector_is_shown_with_defaults_and_without_its_secrets(client, shop):
    resp = client.http.get("/channels/webshop/connector", headers=auth(shop["admin"]))
    view = json.loads(resp.body)
    assert view["platform"] == "amazon" and view["marketplace_ids"] == ["A1PA6795UKMFR9"]
    assert view["endpoint"] == "https://sellingpartnerapi-eu.amazon.com"
    assert view["lwa_endpoint"] == "https://api.amazon.com/auth/o2/token"
    assert view["poll_minutes"] == 5 and view["confirmations"] is True
    assert view["lwa_client_secret_set"] is True and view["refresh_token_set"] is True
    for secret in ("lwa_client_secret", "refresh_token"):
        assert secret not in view and CREDENTIALS[secret] not in resp.body.decode()
    assert "webhook_secret_set" not in view


def test_a_put_without_the_secrets_keeps_the_stored_ones(client, shop, admin_key):
    body = {k: v for k, v in CREDENTIALS.items() if k not in ("lwa_client_secret", "refresh_token")}
    resp = client.http.put(
        "/channels/webshop/connector",
        body=json.dumps({"platform": "amazon", **body, "poll_minutes": 15}),
        headers=auth(admin_key),
    )
    assert resp.status_code == 200, resp.body
    view = json.loads(resp.body)
    assert view["poll_minutes"] == 15 and view["refresh_token_set"] is True


def test_a_new_amazon_connector_needs_its_credentials_and_no_webhook_secret(
    client, admin_key, aws, amazon
):
    make_shop(client, admin_key, aws)
    resp = connect(client, admin_key, lwa_client_secret=None, refresh_token=None)
    assert resp.status_code == 422
    assert [f["path"] for f in json.loads(resp.body)["error"]["fields"]] == [
        "lwa_client_secret",
        "refresh_token",
    ]
    resp = connect(client, admin_key, webhook_secret="shpss-0123456789")
    assert resp.status_code == 422
    assert json.loads(resp.body)["error"]["fields"][0]["path"] == "webhook_secret"
    resp = connect(client, admin_key, marketplace_ids=[])
    assert resp.status_code == 422


@pytest.mark.parametrize(
    ("body", "field", "reason"),
    [
        ({"endpoint": "http://sellingpartnerapi-eu.amazon.com"}, "endpoint", "https"),
        ({"lwa_endpoint": "https://10.0.0.7/auth/o2/token"}, "lwa_endpoint", "private"),
        ({"endpoint": "https://169.254.169.254/"}, "endpoint", "refused address"),
        ({"endpoint": "https://sneaky.example.com/"}, "endpoint", "loopback"),
        ({"poll_minutes": 61}, "poll_minutes", ""),
    ],
)
def test_a_refused_amazon_endpoint_is_422_naming_the_field(
    client, admin_key, aws, amazon, dns, body, field, reason
):
    dns.hosts["sneaky.example.com"] = [GLOBAL, "127.0.0.1"]
    make_shop(client, admin_key, aws)
    resp = connect(client, admin_key, **body)
    assert resp.status_code == 422, resp.body
    (error,) = json.loads(resp.body)["error"]["fields"]
    assert error["path"] == field and reason in error["reason"], error


def test_shopify_and_woocommerce_credentials_are_kept_hidden_and_checked(
    client, admin_key, aws, dns
):
    make_shop(client, admin_key, aws)
    doc = {
        "platform": "shopify",
        "webhook_secret": "shpss-0123456789",
        "shop_domain": "demo.myshopify.com",
        "admin_access_token": "shpat_0123456789abcdef",
    }
    resp = client.http.put(
        "/channels/webshop/connector", body=json.dumps(doc), headers=auth(admin_key)
    )
    view = json.loads(resp.body)
    assert resp.status_code == 200, resp.body
    assert view["api_version"] == "2024-10"
    assert view["api_base_url"] == "https://demo.myshopify.com"
    assert view["admin_access_token_set"] is True and "shpat_" not in resp.body.decode()
    dns.hosts["internal.example.com"] = ["192.168.1.20"]
    doc = {
        "platform": "woocommerce",
        "webhook_secret": "wc-secret-0123456789",
        "store_url": "https://internal.example.com",
        "consumer_key": "ck_1",
        "consumer_secret": "cs_0123456789",
    }
    resp = client.http.put(
        "/channels/webshop/connector", body=json.dumps(doc), headers=auth(admin_key)
    )
    assert resp.status_code == 422
    assert json.loads(resp.body)["error"]["fields"][0]["path"] == "store_url"


# --- polling ---------------------------------------------------------------------------------


def test_a_polled_order_is_captured_once_however_often_it_is_polled(client, shop, aws, amazon):
    amazon.put_order(order(), items())
    poll(client, aws)
    (placed,) = orders_of(client, shop["service"])
    got = get_order(client, shop["service"], placed["order_id"])
    assert got["channel_order_id"] == "902-3159896-1390916"
    assert [(li["sku"], li["quantity"], li["unit_price"]) for li in got["lines"]] == [
        ("SKU-1", 2, 2999)
    ]
    assert got["ship_to"]["postal_code"] == "10115" and got["currency"] == "EUR"
    assert reserved(aws, "SKU-1") == 2
    item_calls = [p for _, p in amazon.requests if p.endswith("/orderItems")]
    poll(client, aws)  # inside the overlap: the same order again
    assert len(orders_of(client, shop["service"])) == 1 and reserved(aws, "SKU-1") == 2
    assert [p for _, p in amazon.requests if p.endswith("/orderItems")] == item_calls
    assert [m for m, p in amazon.requests if p == "/auth/o2/token"] == ["POST", "POST"]


def test_every_page_is_followed_and_a_repeated_page_captures_nothing_twice(
    client, shop, aws, amazon
):
    amazon.throttle_every = 4  # an occasional 429, retried
    for n in range(5):
        amazon.put_order(order(f"902-0000000-000000{n}"), items(quantity=1))
    poll(client, aws)
    assert len(orders_of(client, shop["service"])) == 5
    assert any(p == "/orders/v0/orders" for _, p in amazon.requests)
    table = aws.resource("dynamodb").Table("dirigent-orders")
    state = poll_state(aws)
    assert "next_token" not in state
    # a run that stopped after page one: the next run repeats from there
    table.put_item(
        Item={
            "pk": "POLL#webshop",
            "sk": "POLL",
            "doc": json.dumps({**state, "watermark": "2020-01-01T00:00:00Z", "next_token": None}),
        }
    )
    poll(client, aws)
    assert len(orders_of(client, shop["service"])) == 5 and reserved(aws, "SKU-1") == 5


def test_an_unmapped_sku_is_rejected_and_captured_on_retry_after_the_map_is_fixed(
    client, shop, aws, amazon, admin_key
):
    amazon.put_order(order(), items(sku="CBA_OTF_1"))
    poll(client, aws)
    assert orders_of(client, shop["service"]) == []
    (listed,) = rejected(client, shop["service"])
    assert listed["platform"] == "amazon" and listed["id"] == "902-3159896-1390916"
    assert listed["topic"] == "Unshipped"
    assert [f["path"] for f in listed["reason"]["fields"]] == ["lines[0].sku"]
    path = "/channels/webshop/rejected-orders/902-3159896-1390916/retry"
    assert client.http.post(path, headers=auth(shop["service"])).status_code == 409
    connect(client, admin_key, sku_map={"CBA_OTF_1": "SKU-2"})
    retried = client.http.post(path, headers=auth(shop["service"]))
    assert retried.status_code == 200, retried.body
    got = get_order(client, shop["service"], json.loads(retried.body)["order_id"])
    assert [(li["sku"], li["quantity"]) for li in got["lines"]] == [("SKU-2", 2)]
    assert rejected(client, shop["service"]) == []
    poll(client, aws)
    assert len(orders_of(client, shop["service"])) == 1


def test_an_order_without_an_address_we_serve_is_rejected_not_dropped(client, shop, aws, amazon):
    (first, _) = json.loads(sample.GET_ORDERS_SANDBOX_JSON)["payload"]["Orders"]
    sandbox_items = json.loads(sample.GET_ORDER_ITEMS_SANDBOX_JSON)["payload"]["OrderItems"]
    amazon.put_order(first, sandbox_items)  # the sandbox's Unshipped order, without an address
    amazon.put_order(
        order("902-8745147-1934268", ShippingAddress={**BERLIN, "CountryCode": "US"}), items()
    )
    poll(client, aws)
    reasons = {
        r["id"]: [f["path"] for f in r["reason"]["fields"]]
        for r in rejected(client, shop["service"])
    }
    assert reasons == {
        "902-1845936-5435065": ["ShippingAddress"],
        "902-8745147-1934268": ["ship_to.country"],
    }


def test_a_pending_order_waits_and_a_cancelled_one_is_cancelled(client, shop, aws, amazon):
    amazon.put_order(order(OrderStatus="Pending"), items())
    poll(client, aws)
    assert orders_of(client, shop["service"]) == []
    assert not [p for _, p in amazon.requests if p.endswith("/orderItems")]
    amazon.put_order(order(), items())
    poll(client, aws)
    (placed,) = orders_of(client, shop["service"])
    amazon.put_order(order(OrderStatus="Canceled"))
    poll(client, aws)
    assert get_order(client, shop["service"], placed["order_id"])["status"] == "cancelled"
    assert reserved(aws, "SKU-1") == 0


def test_an_order_cancelled_before_we_saw_it_is_never_captured(client, shop, aws, amazon):
    amazon.put_order(order(OrderStatus="Canceled"), items())
    poll(client, aws)
    amazon.put_order(order(), items())  # a late, stale read of the order
    poll(client, aws)
    assert orders_of(client, shop["service"]) == [] and reserved(aws, "SKU-1") == 0


def test_a_failing_poll_keeps_its_watermark_and_the_next_one_catches_up(client, shop, aws, amazon):
    amazon.put_order(order("902-0000000-0000001"), items(quantity=1))
    poll(client, aws)
    before = poll_state(aws)["watermark"]
    amazon.put_order(order("902-0000000-0000002"), items(quantity=1))
    amazon.throttle_every = 1  # every Orders API call throttled: the run gives up
    poll(client, aws)
    assert poll_state(aws)["watermark"] == before and poll_state(aws)["failures"] == 1
    assert len(orders_of(client, shop["service"])) == 1
    amazon.throttle_every = 0
    poll(client, aws)
    assert len(orders_of(client, shop["service"])) == 2 and poll_state(aws)["watermark"] >= before


def test_the_local_fake_answers_over_http():
    fake = FakeSellingPartner(page_size=1)
    fake.put_order(order("902-0000000-0000001"), items(quantity=1))
    fake.put_order(order("902-0000000-0000002"), items(quantity=1))
    server = serve(fake)
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        config = {**CREDENTIALS, "endpoint": base, "lwa_endpoint": f"{base}/auth/o2/token"}
        api = SpApi(config, http=HttpTransport(allow_loopback=True), sleep=lambda s: None)
        first = api.get_orders("2000-01-01T00:00:00Z")
        last = api.get_orders("2000-01-01T00:00:00Z", first["NextToken"])
        ids = [o["AmazonOrderId"] for o in first["Orders"] + last["Orders"]]
        assert ids == ["902-0000000-0000001", "902-0000000-0000002"] and "NextToken" not in last
        assert api.get_order_items("902-0000000-0000001")[0]["SellerSKU"] == "NABetaASINB00551Q3CS"
        refused = SpApi(config, http=HttpTransport(), sleep=lambda s: None)
        with pytest.raises(Exception, match="loopback"):
            refused.get_orders("2000-01-01T00:00:00Z")
    finally:
        server.shutdown()
        server.server_close()


def test_a_shipped_amazon_order_is_confirmed_with_its_order_item_ids(client, shop, aws, amazon):
    """Polled, shipped through a warehouse event, confirmed by the webhooks queue's consumer
    with ``confirmShipment`` against the fake (its OrderItemId found by SellerSKU); a cancel of
    units is recorded as skipped, with the reason."""
    from tests.api.fulfilment_kit import deliver, dispatch_placed, shipped
    from tests.api.test_webhooks import run_webhooks

    amazon.put_order(order(), items())
    poll(client, aws)
    (placed,) = orders_of(client, shop["service"])
    dispatch_placed(client, aws)
    got = get_order(client, shop["service"], placed["order_id"])
    for shipment in got["shipments"]:
        event = shipped(got, shipment, "1Z999AA10123456784")
        assert deliver(client, "on_warehouse_event", "dirigent-warehouse-events", event) == []
    dispatch_placed(client, aws)
    assert run_webhooks(client, aws) == []
    ((amazon_id, body),) = amazon.confirmations
    (item,) = json.loads(sample.GET_ORDER_ITEMS_SANDBOX_JSON)["payload"]["OrderItems"]
    assert amazon_id == "902-3159896-1390916"
    assert body["marketplaceId"] == "A1PA6795UKMFR9"
    package = body["packageDetail"]
    assert package["trackingNumber"] == "1Z999AA10123456784"
    assert package["orderItems"] == [{"orderItemId": item["OrderItemId"], "quantity": 2}]
    resp = client.http.get("/channels/webshop/connector/confirmations", headers=auth(shop["admin"]))
    (record,) = json.loads(resp.body)["confirmations"]
    assert (record["kind"], record["status"]) == ("shipment", "sent")
