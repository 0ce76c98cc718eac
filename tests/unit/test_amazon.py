"""Amazon: the mapping of SP-API orders (from Amazon's own published examples), the SP-API
client against a fake transport (LWA token caching, NextToken paging, 429 back-off) and the
poller's watermark with fakes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from chalicelib.adapters.sp_api import Answer, SpApi, SpApiError, Throttled
from chalicelib.connectors import amazon
from chalicelib.connectors.common import PayloadError
from chalicelib.domain.errors import FieldError, InvalidInput
from chalicelib.services.amazon_poll import AmazonPoller
from tests.fixtures.connectors import amazon as sample

CONFIG = {
    "endpoint": "https://sp.example",
    "lwa_endpoint": "https://lwa.example/auth/o2/token",
    "lwa_client_id": "amzn1.application-oa2-client.test",
    "lwa_client_secret": "lwa-secret-0123456789",
    "refresh_token": "Atzr|refresh-0123456789",
    "marketplace_ids": ["A1PA6795UKMFR9", "ATVPDKIKX0DER"],
}


def unshipped_order(**changes: Any) -> dict[str, Any]:
    """getOrder's example (it has a ShippingAddress and BuyerInfo), made ready to ship."""
    order = json.loads(sample.GET_ORDER_EXAMPLE_JSON)["payload"]
    return {**order, "OrderStatus": "Unshipped", **changes}


def usd_items() -> list[dict[str, Any]]:
    return list(json.loads(sample.GET_ORDER_ITEMS_SANDBOX_JSON)["payload"]["OrderItems"])


# --- mapping ---------------------------------------------------------------------------------


def test_an_unshipped_order_maps_with_exact_money_and_its_ids_as_strings():
    mapped = amazon.map_order({"order": unshipped_order(), "items": usd_items()}, {})
    assert mapped.platform_order_id == "902-3159896-1390916"
    assert mapped.currency == "USD"
    ((line),) = mapped.lines
    assert (line.channel_sku, line.sku, line.quantity, line.unit_price) == (
        "NABetaASINB00551Q3CS",
        "NABetaASINB00551Q3CS",
        1,
        1000,
    )
    assert mapped.customer == {"email": "user@example.com", "name": "John Doe"}
    assert (mapped.ship_to.country, mapped.ship_to.postal_code) == ("US", "48817")
    assert mapped.payment_status == "captured" and not mapped.cancelled


def test_item_price_is_the_line_total_and_is_divided_by_the_quantity():
    item = {
        **usd_items()[0],
        "QuantityOrdered": 2,
        "ItemPrice": {"CurrencyCode": "USD", "Amount": "21.98"},
    }
    mapped = amazon.map_order(
        {"order": unshipped_order(), "items": [item]}, {"NABetaASINB00551Q3CS": "SKU-1"}
    )
    assert [(li.sku, li.quantity, li.unit_price) for li in mapped.lines] == [("SKU-1", 2, 1099)]
    odd = {**item, "ItemPrice": {"CurrencyCode": "USD", "Amount": "21.99"}}
    mapped = amazon.map_order({"order": unshipped_order(), "items": [odd]}, {})
    assert mapped.lines[0].unit_price == 1100 and "rounded" in mapped.notes[0]


def test_the_published_jpy_example_is_refused_for_a_price_finer_than_a_yen():
    items = json.loads(sample.GET_ORDER_ITEMS_EXAMPLE_JSON)["payload"]["OrderItems"]
    with pytest.raises(PayloadError) as err:
        amazon.map_order({"order": unshipped_order(), "items": items}, {})
    assert [f.path for f in err.value.fields] == ["OrderItems[0].ItemPrice.Amount"]


def test_an_order_without_its_address_is_refused_naming_the_field():
    (order, _) = json.loads(sample.GET_ORDERS_SANDBOX_JSON)["payload"]["Orders"]
    assert amazon.action(order) == amazon.Action.CAPTURE
    with pytest.raises(PayloadError) as err:
        amazon.map_order({"order": order, "items": usd_items()}, {})
    assert [f.path for f in err.value.fields] == ["ShippingAddress"]


def test_a_line_with_nothing_ordered_is_left_out_with_a_note():
    items = [*usd_items(), {**usd_items()[0], "SellerSKU": "GONE", "QuantityOrdered": 0}]
    mapped = amazon.map_order({"order": unshipped_order(), "items": items}, {})
    assert [li.channel_sku for li in mapped.lines] == ["NABetaASINB00551Q3CS"]
    assert "GONE" in mapped.notes[0]


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"OrderStatus": "Pending"}, amazon.Action.WAIT),
        ({"OrderStatus": "PendingAvailability"}, amazon.Action.WAIT),
        ({"OrderStatus": "Unshipped"}, amazon.Action.CAPTURE),
        ({"OrderStatus": "PartiallyShipped"}, amazon.Action.CAPTURE),
        ({"OrderStatus": "Canceled"}, amazon.Action.CANCEL),
        ({"OrderStatus": "Shipped"}, amazon.Action.SKIP),
        ({"OrderStatus": "Unshipped", "FulfillmentChannel": "AFN"}, amazon.Action.SKIP),
    ],
)
def test_what_a_poll_does_follows_the_order_status(changes, expected):
    assert amazon.action(unshipped_order(**changes)) == expected


def test_the_published_pending_order_waits():
    (order,) = json.loads(sample.GET_ORDERS_EXAMPLE_JSON)["payload"]["Orders"]
    assert amazon.action(order) == amazon.Action.WAIT


# --- the SP-API client -----------------------------------------------------------------------


class FakeAmazon:
    """Answers LWA and the Orders API from scripted queues; records every request."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, dict[str, str], bytes | None]] = []
        self.scripts: dict[str, list[Answer]] = {}
        self.tokens = 0

    def script(self, path: str, *answers: Answer) -> None:
        self.scripts.setdefault(path, []).extend(answers)

    def request(
        self, method: str, url: str, headers: dict[str, str], body: bytes | None, timeout: float
    ) -> Answer:
        self.requests.append((method, url, headers, body))
        path = urlsplit(url).path
        if path == "/auth/o2/token":
            self.tokens += 1
            doc = {"access_token": f"Atza|token-{self.tokens}", "expires_in": 3600}
            return Answer(200, json.dumps(doc).encode())
        queue = self.scripts.get(path) or []
        return queue.pop(0) if queue else Answer(404, b'{"errors":[{"code":"NotFound"}]}')

    def calls(self, path: str) -> list[tuple[str, str, dict[str, str], bytes | None]]:
        return [r for r in self.requests if urlsplit(r[1]).path == path]


def ok(doc: str | dict[str, Any]) -> Answer:
    return Answer(200, (doc if isinstance(doc, str) else json.dumps(doc)).encode())


def client(fake: FakeAmazon, now: list[float] | None = None, slept: list[float] | None = None):
    clock = now if now is not None else [1_000_000.0]
    naps = slept if slept is not None else []
    return SpApi(CONFIG, http=fake, sleep=naps.append, clock=lambda: clock[0], jitter=lambda: 1.0)


def test_get_orders_sends_the_lwa_token_and_the_query_and_returns_the_payload():
    fake = FakeAmazon()
    fake.script("/orders/v0/orders", ok(sample.GET_ORDERS_EXAMPLE_JSON))
    payload = client(fake).get_orders("2026-12-01T00:00:00Z")
    assert payload["NextToken"] == "2YgYW55IGNhcm5hbCBwbGVhc3VyZS4"
    (lwa,) = fake.calls("/auth/o2/token")
    form = parse_qs((lwa[3] or b"").decode())
    assert form == {
        "grant_type": ["refresh_token"],
        "refresh_token": [CONFIG["refresh_token"]],
        "client_id": [CONFIG["lwa_client_id"]],
        "client_secret": [CONFIG["lwa_client_secret"]],
    }
    (call,) = fake.calls("/orders/v0/orders")
    assert call[2]["x-amz-access-token"] == "Atza|token-1"
    query = parse_qs(urlsplit(call[1]).query)
    assert query == {
        "MarketplaceIds": ["A1PA6795UKMFR9,ATVPDKIKX0DER"],
        "LastUpdatedAfter": ["2026-12-01T00:00:00Z"],
    }


def test_the_access_token_is_cached_until_it_expires():
    fake, now = FakeAmazon(), [1_000_000.0]
    fake.script("/orders/v0/orders", *[ok(sample.GET_ORDERS_SANDBOX_JSON)] * 3)
    api = client(fake, now)
    api.get_orders("2026-12-01T00:00:00Z")
    api.get_orders("2026-12-01T00:00:00Z")
    assert fake.tokens == 1
    now[0] += 3600
    api.get_orders("2026-12-01T00:00:00Z")
    assert fake.tokens == 2
    tokens = [c[2]["x-amz-access-token"] for c in fake.calls("/orders/v0/orders")]
    assert tokens == ["Atza|token-1", "Atza|token-1", "Atza|token-2"]


def test_the_next_token_is_sent_for_the_next_page():
    fake = FakeAmazon()
    fake.script("/orders/v0/orders", ok(sample.GET_ORDERS_NEXT_PAGE_JSON))
    payload = client(fake).get_orders("2026-12-01T00:00:00Z", "2YgYW55IGNhcm5hbCBwbGVhc3VyZS4")
    assert "NextToken" not in payload
    (call,) = fake.calls("/orders/v0/orders")
    assert parse_qs(urlsplit(call[1]).query)["NextToken"] == ["2YgYW55IGNhcm5hbCBwbGVhc3VyZS4"]


def test_order_items_follow_their_next_token_to_the_last_page():
    fake = FakeAmazon()
    path = "/orders/v0/orders/903-1671087-0812628/orderItems"
    first = json.loads(sample.GET_ORDER_ITEMS_EXAMPLE_JSON)
    last = json.loads(sample.GET_ORDER_ITEMS_SANDBOX_JSON)
    fake.script(path, ok(first), ok(last))
    items = client(fake).get_order_items("903-1671087-0812628")
    assert [i["OrderItemId"] for i in items] == [
        "68828574383266",
        "79039765272157",
        "05015851154158",
    ]
    second = fake.calls(path)[1]
    assert parse_qs(urlsplit(second[1]).query) == {"NextToken": [first["payload"]["NextToken"]]}


def test_a_429_is_retried_after_a_growing_delay_that_honours_retry_after():
    fake, slept = FakeAmazon(), []
    throttled = Answer(429, b'{"errors":[{"code":"QuotaExceeded"}]}', {"retry-after": "3"})
    fake.script(
        "/orders/v0/orders", Answer(429), Answer(429), throttled, ok(sample.GET_ORDERS_SANDBOX_JSON)
    )
    payload = client(fake, slept=slept).get_orders("2026-12-01T00:00:00Z")
    assert len(payload["Orders"]) == 2
    assert slept == [1.0, 2.0, 4.0]  # full jitter off: 1, 2, 4 (4 >= Retry-After 3)
    fake.script(
        "/orders/v0/orders",
        Answer(429, b"", {"x-amzn-ratelimit-limit": "0.5"}),
        ok(sample.GET_ORDERS_SANDBOX_JSON),
    )
    slept.clear()
    client(fake, slept=slept).get_orders("2026-12-01T00:00:00Z")
    assert slept == [2.0]  # one request at the operation's rate (0.5/s), above the back-off


def test_a_wait_longer_than_the_bound_gives_up_at_once():
    fake, slept = FakeAmazon(), []
    fake.script("/orders/v0/orders", Answer(429, b"", {"x-amzn-ratelimit-limit": "0.0167"}))
    with pytest.raises(Throttled):
        client(fake, slept=slept).get_orders("2026-12-01T00:00:00Z")
    assert slept == []  # a minute's wait does not fit a run: the next schedule resumes


def test_throttling_gives_up_within_its_bound():
    fake, slept = FakeAmazon(), []
    fake.script("/orders/v0/orders", *[Answer(429)] * 20)
    with pytest.raises(Throttled):
        client(fake, slept=slept).get_orders("2026-12-01T00:00:00Z")
    assert sum(slept) <= 12 and len(fake.calls("/orders/v0/orders")) <= 6


def test_a_refusal_is_an_error_naming_amazons_reason():
    fake = FakeAmazon()
    body = b'{"errors":[{"code":"InvalidInput","message":"Invalid Input"}]}'
    fake.script("/orders/v0/orders", Answer(400, body))
    with pytest.raises(SpApiError, match="InvalidInput: Invalid Input"):
        client(fake).get_orders("2026-12-01T00:00:00Z")


def test_confirm_shipment_posts_the_body_to_the_order():
    fake = FakeAmazon()
    path = "/orders/v0/orders/902-1106328-1059050/shipmentConfirmation"
    fake.script(path, Answer(204))
    body = {"marketplaceId": "ATVPDKIKX0DER", "packageDetail": {"trackingNumber": "112345678"}}
    client(fake).confirm_shipment("902-1106328-1059050", body)
    (call,) = fake.calls(path)
    assert call[0] == "POST" and json.loads(call[3] or b"") == body


# --- the poller's watermark ------------------------------------------------------------------


class Pages:
    """getOrders answering one scripted page per call; a failure where scripted."""

    def __init__(self, pages: list[dict[str, Any] | Exception]) -> None:
        self.pages, self.asked = pages, []

    def get_orders(self, after: str, token: str | None = None) -> dict[str, Any]:
        self.asked.append((after, token))
        page = self.pages.pop(0)
        if isinstance(page, Exception):
            raise page
        return page

    def get_order_items(self, amazon_order_id: str) -> list[dict[str, Any]]:
        return usd_items()


class Captures:
    def __init__(self) -> None:
        self.applied: list[str] = []

    def connectors(self, platform: str) -> list[dict[str, Any]]:
        return [{"channel": "amazon-de", "platform": "amazon", "poll_minutes": 5}]

    def captured(self, channel: str, platform: str, platform_order_id: str) -> bool:
        return platform_order_id in self.applied

    def capture_polled(self, config: dict[str, Any], doc: dict[str, Any]) -> dict[str, Any]:
        self.applied.append(doc["order"]["AmazonOrderId"])
        return {"status": "captured"}


class State(dict):
    def get(self, channel: str, default: Any = None) -> Any:  # type: ignore[override]
        return super().get(channel, default)

    def save(self, channel: str, doc: dict[str, Any]) -> None:
        self[channel] = dict(doc)


NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


def poller(api: Pages, captures: Captures, state: State) -> AmazonPoller:
    return AmazonPoller(connectors=captures, state=state, api=lambda c: api, clock=lambda: NOW)


def test_a_completed_window_moves_the_watermark_to_its_start_less_the_overlap():
    state, captures = State(), Captures()
    state.save("amazon-de", {"watermark": "2026-12-02T08:00:00Z", "polled_at": 0})
    page = {"Orders": [unshipped_order()]}
    (result,) = poller(Pages([page]), captures, state).run()
    assert result.done and captures.applied == ["902-3159896-1390916"]
    assert state["amazon-de"]["watermark"] == "2026-12-02T08:55:00Z"


def test_a_failure_midway_keeps_the_watermark_and_the_next_run_goes_on_from_its_page():
    state, captures = State(), Captures()
    state.save("amazon-de", {"watermark": "2026-12-02T08:00:00Z", "polled_at": 0})
    first = {"Orders": [unshipped_order()], "NextToken": "page-2"}
    api = Pages([first, Throttled("still 429")])
    (result,) = poller(api, captures, state).run()
    assert result.error.startswith("Throttled") and not result.done
    assert state["amazon-de"]["watermark"] == "2026-12-02T08:00:00Z"
    assert state["amazon-de"]["next_token"] == "page-2"
    api = Pages([{"Orders": [unshipped_order(AmazonOrderId="902-0000000-0000002")]}])
    poller(api, captures, state).run()
    assert api.asked == [("2026-12-02T08:00:00Z", "page-2")]
    assert state["amazon-de"] == {"watermark": "2026-12-02T08:55:00Z", "polled_at": NOW.timestamp()}


def test_a_channel_is_not_polled_before_its_poll_minutes():
    state, captures = State(), Captures()
    state.save(
        "amazon-de", {"watermark": "2026-12-02T08:00:00Z", "polled_at": NOW.timestamp() - 60}
    )
    assert poller(Pages([]), captures, state).run() == []


# --- connector configuration -----------------------------------------------------------------


def test_a_config_keeps_stored_secrets_of_its_own_platform_only():
    from chalicelib.services.connector_config import complete, config_view

    stored = {"platform": "amazon", **CONFIG}
    body = {"platform": "amazon", "lwa_client_id": "id", "marketplace_ids": ["A1PA6795UKMFR9"]}
    doc = complete(body, stored, check_target=None)
    assert doc["refresh_token"] == CONFIG["refresh_token"] and doc["poll_minutes"] == 5
    view = config_view(doc)
    assert view["refresh_token_set"] and view["lwa_client_secret_set"]
    assert not {"refresh_token", "lwa_client_secret"} & set(view)
    with pytest.raises(InvalidInput) as err:
        complete(body, {**stored, "platform": "shopify"}, check_target=None)
    assert [f.path for f in err.value.fields] == ["lwa_client_secret", "refresh_token"]


def test_a_config_names_the_endpoint_its_guard_refuses():
    from chalicelib.domain.webhooks import BadWebhook
    from chalicelib.services.connector_config import complete

    def guard(url: str) -> list[str]:
        if url.startswith("https://lwa."):
            raise BadWebhook("no", fields=[FieldError("url", "10.0.0.1 is a private address")])
        return ["93.184.216.34"]

    with pytest.raises(InvalidInput) as err:
        complete({"platform": "amazon", **CONFIG}, None, check_target=guard)
    assert [(f.path, f.reason) for f in err.value.fields] == [
        ("lwa_endpoint", "10.0.0.1 is a private address")
    ]
