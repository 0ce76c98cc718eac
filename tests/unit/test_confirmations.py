"""Confirmations back to the platforms: which facts an order's history calls for (pure
domain), and the exact requests each platform adapter makes, answered by a fake transport
with the platforms' own published samples (tests/fixtures/connectors/, with their licences)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from chalicelib.adapters.http_delivery import GuardedHttp
from chalicelib.adapters.platform_out import AmazonOut, ShopifyOut, WooCommerceOut
from chalicelib.domain.confirmations import (
    Confirmation,
    ConfirmationKind,
    PlatformRefused,
    PlatformUnavailable,
    channel_skus,
    confirmation_doc,
    confirmation_from_doc,
    decimal_amount,
    drafts,
)
from chalicelib.domain.network import Address
from chalicelib.domain.order.cancel import cancel
from chalicelib.domain.order.model import DeliveryMode, Order, OrderLine, OrderShipment
from chalicelib.domain.order.progress import ShipmentEventType, advance_shipment
from tests.fixtures.connectors import (
    shopify as shopify_order,
    shopify_fulfillment as shopify_samples,
    woocommerce_confirmations as woo_samples,
)

AT = "2026-05-04T10:00:00.000Z"
E = ShipmentEventType
SHOP = {
    "platform": "shopify",
    "shop_domain": "test-shop.myshopify.io",
    "admin_access_token": "this_is_a_test_token",
    "api_version": "2024-04",
    "sku_map": {"IPOD2008GREEN": "SKU-1", "IPOD2008RED": "SKU-2"},
}
WOO = {
    "platform": "woocommerce",
    "store_url": "https://example.com",
    "consumer_key": "ck_123",
    "consumer_secret": "cs_456",
}


def shipment(sid: str, lines: dict[str, int], mode: DeliveryMode = DeliveryMode.SHIP) -> Any:
    return OrderShipment(
        shipment_id=sid,
        location_id="dc",
        lines=dict(lines),
        mode=mode,
        carrier_service="dhl-std",
        ship_date="2026-05-04",
        promised_date="2026-05-06",
    )


def an_order(*shipments: OrderShipment, by: str = "connector:shopify") -> Order:
    lines: dict[str, int] = {}
    for s in shipments:
        for sku, q in s.lines.items():
            lines[sku] = lines.get(sku, 0) + q
    order = Order(
        order_id="o_1",
        channel="webshop",
        channel_order_id="450789469",
        currency="EUR",
        customer={"email": "ada@example.com"},
        ship_to=Address(country="DE", postal_code="10115"),
        lines=[OrderLine(sku, q, 1000) for sku, q in lines.items()],
        shipments=list(shipments),
        created_at=AT,
        delivery={"kind": "fastest"},
        token_hash="h",
        request_hash="r",
    )
    order.record(at=AT, event="placed", source=by)
    return order


def ship(order: Order, sid: str, tracking: str = "TN-1", at: str = AT) -> None:
    s = order.shipment(sid)
    for kind in (E.PICKED, E.SHIPPED):
        advance_shipment(
            order, s, kind, at=at, source="location:dc", carrier="DHL", tracking_number=tracking
        )


# --- what the history calls for -----------------------------------------------------------------


def test_a_shipment_reported_shipped_twice_is_confirmed_once():
    order = an_order(shipment("s1", {"SKU-1": 1}))
    ship(order, "s1")
    ship(order, "s1", at="2026-05-04T11:00:00.000Z")  # the same event again, late
    (one,) = drafts(order, "shopify")
    assert one.kind == ConfirmationKind.SHIPMENT and one.key == "o_1:shipment:s1"
    assert one.data["tracking_number"] == "TN-1" and one.data["complete"] is True
    later = drafts(order, "shopify", since=len(order.history) - 2)
    assert [d.key for d in later] == ["o_1:shipment:s1"]  # the same key: the store dedupes


def test_partial_shipments_are_one_confirmation_each_and_only_the_last_completes():
    order = an_order(shipment("s1", {"SKU-1": 1}), shipment("s2", {"SKU-2": 2}))
    ship(order, "s1", "TN-A")
    first = drafts(order, "shopify")
    assert [(d.data["lines"], d.data["complete"]) for d in first] == [({"SKU-1": 1}, False)]
    mark = len(order.history)
    ship(order, "s2", "TN-B")
    (second,) = drafts(order, "shopify", since=mark)
    assert second.data["lines"] == {"SKU-2": 2} and second.data["complete"] is True
    assert second.data["tracking_number"] == "TN-B"


def test_a_pickup_is_no_parcel_to_confirm():
    order = an_order(shipment("s1", {"SKU-1": 1}, mode=DeliveryMode.PICKUP))
    s = order.shipment("s1")
    for kind in (E.PICKED, E.READY_FOR_PICKUP):
        advance_shipment(order, s, kind, at=AT, source="location:dc")
    assert drafts(order, "shopify") == []


def test_a_cancel_here_is_confirmed_but_not_one_the_platform_asked_for():
    order = an_order(shipment("s1", {"SKU-1": 1}))
    cancel(order, None, at=AT, source="channel:webshop:k1", reason="customer asked")
    (one,) = drafts(order, "shopify")
    assert one.kind == ConfirmationKind.CANCEL and one.data == {"reason": "customer asked"}

    echoed = an_order(shipment("s1", {"SKU-1": 1}))
    cancel(echoed, None, at=AT, source="channel:webshop:shopify", reason="cancelled on shopify")
    assert drafts(echoed, "shopify") == []


def test_each_recorded_refund_is_confirmed_and_a_zero_one_is_not():
    order = an_order(shipment("s1", {"SKU-1": 2}))
    ship(order, "s1")
    mark = len(order.history)
    for refund in (1234, 0, 500):
        order.record(
            at=AT,
            event="return_received",
            source="location:dc",
            rma_id="r_1",
            refund=refund,
            currency="EUR",
        )
    refunds = drafts(order, "shopify", since=mark)
    assert [d.data["amount"] for d in refunds] == [1234, 500]
    assert len({d.key for d in refunds}) == 2


def test_a_partial_cancel_is_confirmed_with_its_units_and_price():
    order = an_order(shipment("s1", {"SKU-1": 2}), shipment("s2", {"SKU-2": 1}))
    cancel(order, {"SKU-1": 1}, at=AT, source="cs:ada", reason="customer changed mind")
    (one,) = drafts(order, "shopify")
    assert one.kind == ConfirmationKind.LINES_CANCELLED
    assert one.data == {
        "lines": {"SKU-1": 1},
        "reason": "customer changed mind",
        "amount": 1000,
        "currency": "EUR",
    }
    mark = len(order.history)
    order.record(at=AT, event="line_cancelled", source="sourcing", skus={"SKU-2": 1})
    (short,) = drafts(order, "shopify", since=mark)
    assert short.data["lines"] == {"SKU-2": 1} and short.key != one.key
    mark = len(order.history)
    order.record(at=AT, event="cancel_confirmed", source="location:dc", freed={"SKU-1": 1})
    (asked,) = drafts(order, "shopify", since=mark)  # a location agreed to a cancel request
    assert asked.data["lines"] == {"SKU-1": 1}
    mark = len(order.history)
    cancel(order, None, at=AT, source="cs:ada", reason="all of it")  # the rest: the order
    assert [d.kind for d in drafts(order, "shopify", since=mark)] == [ConfirmationKind.CANCEL]


def test_a_partial_cancel_the_platform_asked_for_is_not_echoed():
    order = an_order(shipment("s1", {"SKU-1": 2}))
    cancel(order, {"SKU-1": 1}, at=AT, source="channel:webshop:shopify", reason="edited")
    assert drafts(order, "shopify") == []


def test_amounts_skus_and_records_round_trip():
    assert decimal_amount(1234, "EUR") == "12.34"
    assert decimal_amount(1234, "JPY") == "1234"
    assert decimal_amount(1234, "KWD") == "1.234"
    assert channel_skus(SHOP, "SKU-1") == ["IPOD2008GREEN", "SKU-1"]
    c = confirm(ConfirmationKind.SHIPMENT, {"lines": {"SKU-1": 1}})
    assert confirmation_from_doc(json.loads(json.dumps(confirmation_doc(c)))) == c


# --- the platforms' requests --------------------------------------------------------------------


class FakeHttp:
    """Answers in turn; remembers every request."""

    def __init__(self, *answers: tuple[int, str]) -> None:
        self.answers = list(answers)
        self.calls: list[dict[str, Any]] = []

    def request(
        self, method: str, url: str, headers: dict[str, str], body: bytes | None = None
    ) -> tuple[int, bytes]:
        self.calls.append(
            {
                "method": method,
                "url": url,
                "headers": headers,
                "body": json.loads(body) if body else None,
            }
        )
        status, text = self.answers.pop(0)
        return status, text.encode()


def confirm(kind: ConfirmationKind, data: dict[str, Any], **kw: Any) -> Confirmation:
    return Confirmation(
        confirmation_id="c1",
        channel="webshop",
        platform=kw.pop("platform", "shopify"),
        order_id="o_1",
        channel_order_id=kw.pop("channel_order_id", "450789469"),
        kind=kind,
        data=data,
        at=AT,
        created_at=AT,
        **kw,
    )


SHIPPED = {
    "shipment_id": "s1",
    "carrier": "DHL",
    "tracking_number": "1Z001985YW99744790",
    "lines": {"SKU-2": 1},
    "ship_date": AT,
    "complete": True,
}


def test_shopify_fulfils_the_shipments_units_from_the_open_fulfillment_orders():
    http = FakeHttp(
        (200, shopify_order.ORDER_JSON),
        (200, shopify_samples.FULFILLMENT_ORDERS_JSON),
        (201, shopify_samples.FULFILLMENT_JSON),
    )
    result = ShopifyOut(SHOP, http).send(confirm(ConfirmationKind.SHIPMENT, SHIPPED))

    root = "https://test-shop.myshopify.io/admin/api/2024-04"
    assert [(c["method"], c["url"]) for c in http.calls] == [
        ("GET", f"{root}/orders/450789469.json?fields=id,line_items"),
        ("GET", f"{root}/orders/450789469/fulfillment_orders.json"),
        ("POST", f"{root}/fulfillments.json"),
    ]
    assert all(c["headers"]["X-Shopify-Access-Token"] == "this_is_a_test_token" for c in http.calls)
    # SKU-2 is IPOD2008RED, line item 518995019: fulfillment order 1046000823's item 1058737564
    assert http.calls[2]["body"] == {
        "fulfillment": {
            "line_items_by_fulfillment_order": [
                {
                    "fulfillment_order_id": 1046000823,
                    "fulfillment_order_line_items": [{"id": 1058737564, "quantity": 1}],
                }
            ],
            "tracking_info": {"number": "1Z001985YW99744790", "company": "DHL"},
            "notify_customer": True,
        }
    }
    assert result == {"fulfillment_id": 1069019879}


def test_shopify_refuses_for_good_a_sku_on_no_line_item():
    http = FakeHttp((200, shopify_order.ORDER_JSON), (200, shopify_samples.FULFILLMENT_ORDERS_JSON))
    data = {**SHIPPED, "lines": {"SKU-9": 1}}
    with pytest.raises(PlatformRefused, match="no line item for SKU-9"):
        ShopifyOut(SHOP, http).send(confirm(ConfirmationKind.SHIPMENT, data))
    assert [c["method"] for c in http.calls] == ["GET"]  # refused on the order: nothing posted


def test_shopify_a_second_attempt_with_nothing_left_to_fulfil_posts_nothing():
    done = json.loads(shopify_samples.FULFILLMENT_ORDERS_JSON)
    done["fulfillment_orders"][0]["status"] = "closed"
    http = FakeHttp((200, shopify_order.ORDER_JSON), (200, json.dumps(done)))
    result = ShopifyOut(SHOP, http).send(confirm(ConfirmationKind.SHIPMENT, SHIPPED))
    assert result["fulfillment_id"] is None and len(http.calls) == 2


def test_shopify_refunds_the_recorded_amount_against_the_capture():
    http = FakeHttp((200, shopify_samples.TRANSACTIONS_JSON), (201, shopify_samples.REFUND_JSON))
    data = {"rma_id": "r_1", "amount": 500, "currency": "USD"}
    result = ShopifyOut(SHOP, http).send(confirm(ConfirmationKind.REFUND, data))
    root = "https://test-shop.myshopify.io/admin/api/2024-04"
    assert http.calls[0]["url"] == f"{root}/orders/450789469/transactions.json"
    assert (http.calls[1]["method"], http.calls[1]["url"]) == (
        "POST",
        f"{root}/orders/450789469/refunds.json",
    )
    assert http.calls[1]["body"] == {
        "refund": {
            "currency": "USD",
            "notify": True,
            "note": "Return r_1",
            "transactions": [
                {"parent_id": 801038806, "amount": "5.00", "kind": "refund", "gateway": "bogus"}
            ],
        }
    }
    assert result == {"refund_id": 929361467}


def test_shopify_cancels_line_items_with_a_calculated_refund_once():
    http = FakeHttp(
        (200, '{"refunds": []}'),
        (200, shopify_order.ORDER_JSON),
        (200, shopify_samples.CALCULATE_LINE_JSON),
        (201, shopify_samples.LINE_REFUND_JSON),
    )
    data = {"lines": {"SKU-2": 1}, "reason": "short pick", "amount": 19900, "currency": "USD"}
    c = confirm(ConfirmationKind.LINES_CANCELLED, data)
    result = ShopifyOut(SHOP, http).send(c)
    root = "https://test-shop.myshopify.io/admin/api/2024-04/orders/450789469"
    assert [(x["method"], x["url"]) for x in http.calls] == [
        ("GET", f"{root}/refunds.json"),
        ("GET", f"{root}.json?fields=id,line_items"),
        ("POST", f"{root}/refunds/calculate.json"),
        ("POST", f"{root}/refunds.json"),
    ]
    line = {"line_item_id": 518995019, "quantity": 1, "restock_type": "cancel"}  # IPOD2008RED
    assert http.calls[2]["body"] == {"refund": {"currency": "USD", "refund_line_items": [line]}}
    assert http.calls[3]["body"] == {
        "refund": {
            "currency": "USD",
            "notify": True,
            "note": "short pick [dirigent c1]",
            "refund_line_items": [line],
            "transactions": [
                {"parent_id": 801038806, "amount": "41.94", "kind": "refund", "gateway": "bogus"}
            ],
        }
    }
    assert result == {"refund_id": 929361466}
    # a retry after a lost answer finds its refund by the note and posts nothing
    made = json.loads(shopify_samples.LINE_REFUND_JSON)["refund"]
    made["note"] = http.calls[3]["body"]["refund"]["note"]
    again = FakeHttp((200, json.dumps({"refunds": [made]})))
    assert ShopifyOut(SHOP, again).send(c)["refund_id"] == 929361466
    assert len(again.calls) == 1


def test_woocommerce_refunds_cancelled_units_with_their_reason():
    http = FakeHttp((201, woo_samples.REFUND_JSON))
    data = {"lines": {"SKU-1": 2}, "reason": "short pick", "amount": 2598, "currency": "EUR"}
    kind = ConfirmationKind.LINES_CANCELLED
    WooCommerceOut(WOO, http).send(confirm(kind, data, platform="woocommerce"))
    assert http.calls[0]["body"] == {
        "amount": "25.98",
        "reason": "Cancelled: 2 x SKU-1. short pick",
        "api_refund": False,
    }
    assert AmazonOut({}, lambda: FakeSpApi()).unsupported(kind)


def test_shopify_cancels_and_its_errors_are_judged_by_status():
    http = FakeHttp((200, "{}"))
    ShopifyOut(SHOP, http).send(confirm(ConfirmationKind.CANCEL, {"reason": ""}))
    assert http.calls[0]["url"].endswith("/admin/api/2024-04/orders/450789469/cancel.json")
    assert http.calls[0]["method"] == "POST"
    gone = FakeHttp((422, '{"errors":"Cannot cancel a fulfilled order"}'))
    with pytest.raises(PlatformRefused, match=r"422.*Cannot cancel"):
        ShopifyOut(SHOP, gone).send(confirm(ConfirmationKind.CANCEL, {}))
    for status in (429, 503):
        busy = FakeHttp((status, '{"errors":"Exceeded 2 calls per second"}'))
        with pytest.raises(PlatformUnavailable, match=str(status)):
            ShopifyOut(SHOP, busy).send(confirm(ConfirmationKind.CANCEL, {}))


def test_woocommerce_completes_a_fully_shipped_order_and_leaves_a_customer_note():
    http = FakeHttp((200, "{}"), (201, woo_samples.NOTE_JSON))
    result = WooCommerceOut(WOO, http).send(
        confirm(ConfirmationKind.SHIPMENT, SHIPPED, platform="woocommerce", channel_order_id="723")
    )
    auth = "Basic " + base64.b64encode(b"ck_123:cs_456").decode()
    assert [(c["method"], c["url"], c["body"]) for c in http.calls] == [
        ("PUT", "https://example.com/wp-json/wc/v3/orders/723", {"status": "completed"}),
        (
            "POST",
            "https://example.com/wp-json/wc/v3/orders/723/notes",
            {"note": "Shipped with DHL 1Z001985YW99744790", "customer_note": True},
        ),
    ]
    assert all(c["headers"]["Authorization"] == auth for c in http.calls)
    assert result == {"status": "completed", "note_id": 281}


def test_woocommerce_a_partial_shipment_only_notes():
    http = FakeHttp((201, woo_samples.NOTE_JSON))
    data = {**SHIPPED, "complete": False}
    WooCommerceOut(WOO, http).send(
        confirm(ConfirmationKind.SHIPMENT, data, platform="woocommerce", channel_order_id="723")
    )
    assert [c["method"] for c in http.calls] == ["POST"]


def test_woocommerce_cancels_refunds_and_reports_its_error_message():
    http = FakeHttp((200, "{}"), (201, woo_samples.REFUND_JSON))
    out = WooCommerceOut(WOO, http)
    out.send(confirm(ConfirmationKind.CANCEL, {}, platform="woocommerce", channel_order_id="723"))
    refund = {"rma_id": "r_1", "amount": 1000, "currency": "EUR"}
    result = out.send(
        confirm(ConfirmationKind.REFUND, refund, platform="woocommerce", channel_order_id="723")
    )
    assert http.calls[0]["body"] == {"status": "cancelled"}
    assert (http.calls[1]["url"], http.calls[1]["body"]) == (
        "https://example.com/wp-json/wc/v3/orders/723/refunds",
        {"amount": "10.00", "reason": "Return r_1", "api_refund": False},
    )
    assert result == {"refund_id": 726}
    missing = FakeHttp((404, woo_samples.ERROR_JSON))
    with pytest.raises(PlatformRefused, match="Resource doesn't exist"):
        WooCommerceOut(WOO, missing).send(confirm(ConfirmationKind.CANCEL, {}))


class FakeSpApi:
    def __init__(self, error: Exception | None = None) -> None:
        self.confirmed: list[tuple[str, dict[str, Any]]] = []
        self.error = error

    def get_order_items(self, amazon_order_id: str) -> list[dict[str, Any]]:
        return [
            {"SellerSKU": "AMZ-RED", "OrderItemId": "68828574383266", "QuantityOrdered": 1},
            {"SellerSKU": "SKU-1", "OrderItemId": "68828574383267", "QuantityOrdered": 2},
        ]

    def confirm_shipment(self, amazon_order_id: str, body: dict[str, Any]) -> None:
        if self.error:
            raise self.error
        self.confirmed.append((amazon_order_id, body))


class SpApiError(Exception):
    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def test_amazon_confirms_the_shipment_with_the_order_item_ids_of_its_skus():
    api = FakeSpApi()
    config = {"marketplace_ids": ["A1PA6795UKMFR9"], "sku_map": {"AMZ-RED": "SKU-2"}}
    data = {**SHIPPED, "lines": {"SKU-2": 1, "SKU-1": 2}}
    out = AmazonOut(config, lambda: api)
    out.send(confirm(ConfirmationKind.SHIPMENT, data, channel_order_id="303-1-2"))
    assert api.confirmed == [
        (
            "303-1-2",
            {
                "marketplaceId": "A1PA6795UKMFR9",
                "packageDetail": {
                    "packageReferenceId": "s1",
                    "carrierCode": "DHL",
                    "trackingNumber": "1Z001985YW99744790",
                    "shipDate": AT,
                    "orderItems": [
                        {"orderItemId": "68828574383267", "quantity": 2},
                        {"orderItemId": "68828574383266", "quantity": 1},
                    ],
                },
            },
        )
    ]
    assert out.unsupported(ConfirmationKind.REFUND) and not out.unsupported(
        ConfirmationKind.SHIPMENT
    )
    with pytest.raises(PlatformRefused, match="400"):
        AmazonOut(config, lambda: FakeSpApi(SpApiError("InvalidInput", 400))).send(
            confirm(ConfirmationKind.SHIPMENT, data)
        )
    with pytest.raises(PlatformUnavailable):
        AmazonOut(config, lambda: FakeSpApi(SpApiError("QuotaExceeded", 503))).send(
            confirm(ConfirmationKind.SHIPMENT, data)
        )


# --- the guard ----------------------------------------------------------------------------------


class Recorder:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    def request(self, method, url, address, headers, body, timeout):  # type: ignore[no-untyped-def]
        self.seen.append((url, address))
        return 200, b"{}"


def test_platform_calls_go_only_to_public_addresses_over_https():
    transport = Recorder()
    dns = {"shop.example.com": ["93.184.216.34"], "evil.example.com": ["169.254.169.254"]}
    guarded = GuardedHttp(lambda host, port: dns.get(host, []), transport, local=False)
    assert guarded.request("GET", "https://shop.example.com/x", {})[0] == 200
    assert transport.seen == [("https://shop.example.com/x", "93.184.216.34")]
    with pytest.raises(PlatformRefused, match=r"169\.254\.169\.254 is a"):
        guarded.request("GET", "https://evil.example.com/x", {})
    with pytest.raises(PlatformRefused, match="https"):
        guarded.request("GET", "http://shop.example.com/x", {})
    with pytest.raises(OSError):
        guarded.request("GET", "https://nowhere.example.com/x", {})


# --- corrected tracking numbers -----------------------------------------------------------------


def test_a_corrected_tracking_number_is_confirmed_once_with_the_new_and_previous_number():
    order = an_order(shipment("s1", {"SKU-1": 1}))
    ship(order, "s1", "TN-1")
    mark = len(order.history)
    ship(order, "s1", "TN-2", at="2026-05-04T12:00:00.000Z")  # relabelled
    (fix,) = drafts(order, "shopify", since=mark)
    assert fix.kind == ConfirmationKind.TRACKING and fix.key.startswith("o_1:tracking:")
    assert fix.data == {
        "shipment_id": "s1",
        "carrier": "DHL",
        "tracking_number": "TN-2",
        "previous": "TN-1",
    }
    ship(order, "s1", "TN-2", at="2026-05-04T13:00:00.000Z")  # the same event again
    assert [d.key for d in drafts(order, "shopify", since=mark)] == [fix.key]
    ship(order, "s1", "TN-1", at="2026-05-04T11:00:00.000Z")  # an older one, late: no change
    assert [d.key for d in drafts(order, "shopify")].count(fix.key) == 1
    assert [d.kind for d in drafts(order, "shopify")] == [
        ConfirmationKind.SHIPMENT,
        ConfirmationKind.TRACKING,
    ]


FIXED = {"shipment_id": "s1", "carrier": "UPS", "tracking_number": "1Z-NEW", "previous": ""}


def _fulfillments(*numbers: str) -> str:
    made = json.loads(shopify_samples.FULFILLMENT_JSON)["fulfillment"]
    return json.dumps(
        {
            "fulfillments": [
                {**made, "id": 1069019879 + i, "tracking_number": n, "tracking_numbers": [n]}
                for i, n in enumerate(numbers)
            ]
        }
    )


def test_shopify_moves_the_fulfillment_with_the_previous_number_to_the_new_one():
    http = FakeHttp(
        (200, _fulfillments("OTHER-1", "1Z001985YW99744790")),
        (200, shopify_samples.FULFILLMENT_JSON),
    )
    data = {**FIXED, "previous": "1Z001985YW99744790"}
    result = ShopifyOut(SHOP, http).send(confirm(ConfirmationKind.TRACKING, data))
    root = "https://test-shop.myshopify.io/admin/api/2024-04"
    assert [(c["method"], c["url"], c["body"]) for c in http.calls] == [
        ("GET", f"{root}/orders/450789469/fulfillments.json", None),
        (
            "POST",
            f"{root}/fulfillments/1069019880/update_tracking.json",
            {
                "fulfillment": {
                    "tracking_info": {"number": "1Z-NEW", "company": "UPS"},
                    "notify_customer": True,
                }
            },
        ),
    ]
    assert result == {"fulfillment_id": 1069019880}


def test_shopify_a_number_already_there_is_sent_and_none_with_either_waits():
    data = {**FIXED, "previous": "1Z001985YW99744790"}
    done = FakeHttp((200, _fulfillments("1Z-NEW")))
    result = ShopifyOut(SHOP, done).send(confirm(ConfirmationKind.TRACKING, data))
    assert result["fulfillment_id"] == 1069019879 and len(done.calls) == 1  # nothing posted
    early = FakeHttp((200, json.dumps({"fulfillments": []})))
    with pytest.raises(PlatformUnavailable, match="carries 1Z001985YW99744790 yet"):
        ShopifyOut(SHOP, early).send(confirm(ConfirmationKind.TRACKING, data))
    assert [c["method"] for c in early.calls] == ["GET"]


def test_woocommerce_tells_the_customer_the_corrected_number_and_amazon_skips_it():
    http = FakeHttp((201, woo_samples.NOTE_JSON))
    data = {**FIXED, "previous": "1Z-OLD"}
    result = WooCommerceOut(WOO, http).send(
        confirm(ConfirmationKind.TRACKING, data, platform="woocommerce", channel_order_id="723")
    )
    assert [(c["method"], c["url"], c["body"]) for c in http.calls] == [
        (
            "POST",
            "https://example.com/wp-json/wc/v3/orders/723/notes",
            {
                "note": "Tracking corrected: shipped with UPS 1Z-NEW (not 1Z-OLD)",
                "customer_note": True,
            },
        )
    ]
    assert result == {"note_id": 281}
    assert AmazonOut({}, lambda: FakeSpApi()).unsupported(ConfirmationKind.TRACKING)
