"""Bad input on every route: always a 4xx that names the field, never a 5xx.

Table-driven: add a ``Case`` per route (or per kind of mistake) to ``CASES``. ``body`` is sent
as it is when it is a ``str``, as JSON otherwise; ``field`` is a path that must appear in the
error's ``fields`` (``None``: any 4xx will do, e.g. for 404 of unknown ids).
"""

from __future__ import annotations

import base64
import dataclasses
import json
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.exceptions import ClientError

from chalicelib import wiring
from chalicelib.api.http import MAX_JSON_DEPTH
from local.demo import network_documents
from tests.api.fulfilment_kit import make_shop, place
from tests.api.seed import auth, order_body, seed_network, seed_product, stock

LOCATION = network_documents()["locations"][0]
SERVICE = network_documents()["carrier_services"][0]
CHANNEL = {"kind": "webshop", "currencies": ["EUR"], "countries": ["DE"]}
ADJUSTMENT = {"sku": "MUG", "location_id": "dc-kassel", "delta": 1, "reason": "found"}
BIG = "x" * 1_000_001


@dataclass(frozen=True)
class Case:
    method: str
    path: str
    body: Any
    status: int
    field: str | None = None
    headers: dict[str, str] = dataclasses.field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.method} {self.path} -> {self.status} {self.field or ''}".strip()


CASES = [
    # --- master data -------------------------------------------------------------------
    Case("PUT", "/channels/webshop", "{nope", 400, "body"),
    Case("PUT", "/channels/webshop", "", 400, "body"),
    Case("PUT", "/channels/webshop", BIG, 413, "body"),
    Case("PUT", "/channels/webshop", [], 422, "body"),
    Case("PUT", "/channels/webshop", {"kind": "webshop"}, 422, "currencies"),
    Case("PUT", "/channels/webshop", {**CHANNEL, "strict": "very"}, 422, "strict"),
    Case("PUT", "/channels/web%20shop", CHANNEL, 400, "channel"),
    Case("PUT", "/channels/" + "c" * 65, CHANNEL, 400, "channel"),
    Case("GET", "/channels/" + "c" * 200, None, 400, "channel"),
    Case("GET", "/channels/ghost", None, 404, "channel"),
    Case("PUT", "/locations/dc-kassel", {**LOCATION, "lat": "north"}, 422, "lat"),
    Case("PUT", "/locations/dc-kassel", {**LOCATION, "cutoff_time": "6pm"}, 422, "cutoff_time"),
    Case("PUT", "/locations/dc-kassel", {**LOCATION, "address": None}, 422, "address"),
    Case(
        "PUT",
        "/locations/dc-kassel",
        {**LOCATION, "handling_cost_per_order": -1},
        422,
        "handling_cost_per_order",
    ),
    Case("GET", "/locations/ghost", None, 404, "location_id"),
    # Chalice's own answers, in the shape of every other error (they were {"Code": ...})
    Case("DELETE", "/locations/dc-kassel", None, 405, "method"),
    Case(
        "PUT", "/locations/dc-kassel", LOCATION, 415, "Content-Type", {"Content-Type": "text/plain"}
    ),
    # never open: no ship date within a year, every quote stocked there was a 500
    Case(
        "PUT",
        "/locations/dc-kassel",
        {**LOCATION, "closed_weekdays": list(range(7))},
        422,
        "closed_weekdays",
    ),
    Case(
        "PUT",
        "/locations/dc-kassel",
        {**LOCATION, "fulfilment_queue": "no-such-queue"},
        422,
        "fulfilment_queue",
    ),
    Case(
        "PUT",
        "/locations/dc-kassel",
        {**LOCATION, "fulfilment_queue": "dirigent-warehouse-events"},
        422,
        "fulfilment_queue",
    ),
    Case(
        "PUT",
        "/locations/dc-kassel",
        {**LOCATION, "fulfilment_queue": "dirigent-fulfilment-dlq"},
        422,
        "fulfilment_queue",
    ),
    Case("PUT", "/products/MUG", {"weight_g": -5}, 422, "weight_g"),
    Case("PUT", "/products/MUG", {"weight_g": 1, "prices": {"EUR": "ten"}}, 422, "prices.EUR"),
    Case("PUT", "/products/MUG", {"weight_g": 10**12}, 422, "weight_g"),
    Case("GET", "/products/ghost", None, 404, "sku"),
    Case("PUT", "/carrier-services/parcel", {**SERVICE, "speed": "warp"}, 422, "speed"),
    Case("PUT", "/carrier-services/parcel", {**SERVICE, "lanes": []}, 422, "lanes"),
    # pricing reads the last band as the top one: bands out of order priced 3 parcels for 1
    Case(
        "PUT",
        "/carrier-services/parcel",
        {
            **SERVICE,
            "lanes": [{**SERVICE["lanes"][0], "bands": SERVICE["lanes"][0]["bands"][::-1]}],
        },
        422,
        "lanes[0].bands",
    ),
    Case(
        "PUT",
        "/carrier-services/parcel",
        {**SERVICE, "lanes": [SERVICE["lanes"][0]] * 2},
        422,
        "lanes",
    ),
    Case(
        "PUT",
        "/carrier-services/parcel",
        {**SERVICE, "remote_extra_days": -1},
        422,
        "remote_extra_days",
    ),
    Case("PUT", "/sourcing-rules", {"cost_weight": "cheap"}, 422, "cost_weight"),
    # beyond the calendar (a date out of range, a timedelta overflow: 500s)
    Case(
        "PUT",
        "/sourcing-rules",
        {"cheapest_max_delay_days": 3_000_000},
        422,
        "cheapest_max_delay_days",
    ),
    Case(
        "PUT", "/sourcing-rules", {"cheapest_max_delay_days": 10**9}, 422, "cheapest_max_delay_days"
    ),
    Case("PUT", "/sourcing-rules", {"holding_horizon_days": 10**9}, 422, "holding_horizon_days"),
    Case("PUT", "/sourcing-rules", {"max_parcels": 10**6}, 422, "max_parcels"),
    Case(
        "POST",
        "/sourcing-rules/simulations",
        {
            "rules": {"cheapest_max_delay_days": 10**9},
            "period": {"from": "2026-11-01", "to": "2026-11-02"},
        },
        422,
        "cheapest_max_delay_days",
    ),
    Case("PUT", "/sourcing-rules", "{", 400, "body"),
    Case("PUT", "/sourcing-rules", {"max_parcels": 10**40}, 422, "max_parcels"),
    Case("PUT", "/sourcing-rules", '{"cost_weight": 1e400}', 400, "body"),
    Case("PUT", "/sourcing-rules", '{"cost_weight": NaN}', 400, "body"),
    Case(
        "PUT",
        "/sourcing-rules",
        {"free_shipping_threshold": {"EUR": 10**38}},
        422,
        "free_shipping_threshold.EUR",
    ),
    Case("PUT", "/sourcing-rules", "[" * 10_000 + "]" * 10_000, 400, "body"),
    Case("PUT", "/products/MUG", {"weight_g": 1, "prices": {"EUR": 10**38}}, 422, "prices.EUR"),
    Case("GET", "/products/" + "p" * 200, None, 400, "sku"),
    Case("GET", "/locations/..%2F..", None, 400, "location_id"),
    # --- stock --------------------------------------------------------------------------
    Case("PUT", "/stock/MUG/dc-kassel", {"on_hand": -1}, 422, "on_hand"),
    Case("PUT", "/stock/MUG/dc-kassel", {"on_hand": 1.5}, 422, "on_hand"),
    # numbers are JSON numbers: true was 1, "5" was 5 and "1_0" was 10
    Case("PUT", "/stock/MUG/dc-kassel", {"on_hand": True}, 422, "on_hand"),
    Case("PUT", "/stock/MUG/dc-kassel", {"on_hand": "5"}, 422, "on_hand"),
    Case("POST", "/stock/adjustments", {**ADJUSTMENT, "delta": "1_0"}, 422, "delta"),
    Case("PUT", "/channels/web", {**CHANNEL, "strict": "yes"}, 422, "strict"),
    Case("PUT", "/stock/MUG/dc-kassel", {"on_hand": 10**9}, 422, "on_hand"),
    Case("PUT", "/stock/MUG/ghost", {"on_hand": 1}, 404, "location_id"),
    Case("PUT", "/stock/ghost/dc-kassel", {"on_hand": 1}, 404, "sku"),
    Case("POST", "/stock/adjustments", {**ADJUSTMENT, "delta": 0}, 422, "delta"),
    # dc-kassel holds 1 MUG: the largest delta still allowed would take on_hand past 10^7
    Case("POST", "/stock/adjustments", {**ADJUSTMENT, "delta": 10**7}, 422, "delta"),
    Case("POST", "/stock/adjustments", {**ADJUSTMENT, "delta": None}, 422, "delta"),
    Case("POST", "/stock/adjustments", {"sku": "MUG"}, 422, "location_id"),
    Case("POST", "/stock/adjustments", {**ADJUSTMENT, "location_id": "ghost"}, 404, "location_id"),
    Case("POST", "/stock/adjustments", {**ADJUSTMENT, "delta": -1000}, 409, "quantity"),
    Case("POST", "/stock/adjustments", "[", 400, "body"),
    Case(
        "POST",
        "/stock/adjustments",
        ADJUSTMENT,
        422,
        "Idempotency-Key",
        {"Idempotency-Key": "k" * 201},
    ),
    Case("GET", "/stock/ghost", None, 404, "sku"),
    Case("GET", "/stock/" + "s" * 65, None, 400, "sku"),
    Case("PUT", "/stock/MUG/" + "l" * 200, {"on_hand": 1}, 400, "location_id"),
    # --- orders, returns, tracking, alerts ------------------------------------------------
    Case("GET", "/orders/" + "o" * 200, None, 400, "order_id"),
    Case("POST", "/orders/" + "o" * 200 + "/cancel", {}, 400, "order_id"),
    Case("GET", "/orders?email=" + "a" * 300 + "@example.com", None, 400, "email"),
    Case("GET", "/orders?channel=web%20shop", None, 400, "channel"),
    Case("GET", "/orders?channel_order_id=" + "c" * 101, None, 400, "channel_order_id"),
    Case("GET", "/orders?status=" + "s" * 300, None, 400, "status"),
    Case("GET", "/orders?status=bogus", None, 422, "status"),  # was 200 with no orders
    Case("GET", "/orders?limit=٣", None, 422, "limit"),
    Case("GET", "/returns/" + "r" * 200 + "?token=x", None, 400, "rma_id"),
    Case("GET", "/track/" + "o" * 200 + "?token=x", None, 400, "order_id"),
    Case("GET", "/alert-groups/" + "g" * 65, None, 400, "group_id"),
    Case("GET", "/reports/" + "n" * 65, None, 400, "name"),
    # --- a limit in digits int() refuses ('²'.isdigit() is true) ---------------------------
    Case("GET", "/sourcing-rules/simulations/s_0123456789abcdef?limit=²", None, 422, "limit"),
    Case(
        "GET", "/webhook-subscriptions/ws_0123456789abcdef/deliveries?limit=²", None, 422, "limit"
    ),
    Case("GET", "/purchase-orders?location_id=dc-kassel&limit=²", None, 422, "limit"),
    Case("GET", "/channels/webshop/connector/confirmations?limit=²", None, 422, "limit"),
    Case(
        "GET",
        "/channels/webshop/availability?changed_since=2026-01-01T00:00:00Z&limit=²",
        None,
        422,
        "limit",
    ),
    Case("GET", "/purchase-orders?location_id=dc-kassel&limit=٣", None, 422, "limit"),
    # --- imports ------------------------------------------------------------------------
    Case("POST", "/imports/products", {"rows": []}, 422, "body"),
    Case("POST", "/imports/products", [{}] * 20_001, 422, "body"),
    Case("POST", "/imports/sausages", [], 404, "kind"),
    Case(
        "POST", "/imports/stock", "sku,on_hand\n" + BIG, 413, "body", {"Content-Type": "text/csv"}
    ),
]


@pytest.fixture
def known(client, admin_key):
    """dc-kassel and MUG exist, so the cases can reach past the 404s."""
    hdrs = {"Authorization": f"Bearer {admin_key}", "Content-Type": "application/json"}
    client.http.put("/locations/dc-kassel", body=json.dumps(LOCATION), headers=hdrs)
    client.http.put("/products/MUG", body=json.dumps({"weight_g": 10}), headers=hdrs)
    client.http.put("/stock/MUG/dc-kassel", body=json.dumps({"on_hand": 1}), headers=hdrs)
    return hdrs


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_bad_input_gets_a_4xx_naming_the_field(client, known, case):
    body = case.body if isinstance(case.body, str | None) else json.dumps(case.body)
    headers = {**known, **case.headers}
    resp = client.http.request(case.method, case.path, headers=headers, body=body)
    assert 400 <= resp.status_code < 500, resp.body
    assert resp.status_code == case.status, resp.body
    error = json.loads(resp.body)["error"]
    assert error["code"] and error["message"]
    if case.field is not None:
        assert case.field in [f["path"] for f in error["fields"]], error


# --- the reproductions of issue #14 --------------------------------------------------------


DEEP = {
    "arrays": "[" * 10_000 + "]" * 10_000,
    "objects": '{"a":' * 10_000 + "1" + "}" * 10_000,
    "unbalanced": "[" * 10_000 + "}",
    "just over the limit": "[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1),
}


@pytest.mark.parametrize("body", DEEP.values(), ids=DEEP.keys())
def test_deep_json_on_a_route_without_a_key_is_a_400_naming_the_body(client, body):
    resp = client.http.post("/returns", body=body, headers={"Content-Type": "application/json"})
    assert resp.status_code == 400, resp.body
    error = json.loads(resp.body)["error"]
    assert error["fields"][0]["path"] == "body" and "nested" in error["message"]


def test_json_as_deep_as_the_limit_still_parses(client):
    depth = MAX_JSON_DEPTH
    resp = client.http.post(
        "/returns",
        body="[" * depth + "]" * depth,
        headers={"Content-Type": "application/json"},
    )
    assert resp.status_code == 422, resp.body  # parsed: the model refuses a list


def test_brackets_inside_strings_do_not_count_as_nesting(client):
    body = json.dumps({"order_id": "[" * 100, "token": '{"[\\', "lines": []})
    resp = client.http.post("/returns", body=body, headers={"Content-Type": "application/json"})
    assert resp.status_code == 422, resp.body
    assert "lines" in [f["path"] for f in json.loads(resp.body)["error"]["fields"]]


@pytest.mark.parametrize(
    ("body", "key"),
    [
        ('{"on_hand": 1, "on_hand": 900}', "on_hand"),
        ('{"safety_stock": 0, "extra": {"a": 1, "a": 2}}', "a"),
    ],
)
def test_a_key_given_twice_is_a_400_naming_it_and_nothing_is_written(
    client, admin_key, aws, body, key
):
    seed_network(client, admin_key, locations=["dc-kassel"])
    seed_product(client, admin_key, "SKU-1")
    headers = {"Authorization": f"Bearer {admin_key}", "Content-Type": "application/json"}
    resp = client.http.put("/stock/SKU-1/dc-kassel", body=body, headers=headers)
    assert resp.status_code == 400, resp.body
    assert [f["path"] for f in json.loads(resp.body)["error"]["fields"]] == [key]
    assert stock(aws, "SKU-1") == {}


def test_a_unit_price_beyond_dynamodbs_range_is_a_422_naming_it(client, admin_key, aws):
    shop = make_shop(client, admin_key, aws)
    lines = [{"sku": "SKU-1", "quantity": 1, "unit_price": 10**38}]
    resp = client.http.post(
        "/orders",
        body=json.dumps({**order_body("BIG-1", [("SKU-1", 1)]), "lines": lines}),
        headers=auth(shop["key"]),
    )
    assert resp.status_code == 422, resp.body
    assert "lines[0].unit_price" in [f["path"] for f in json.loads(resp.body)["error"]["fields"]]
    listed = client.http.get("/orders?channel_order_id=BIG-1", headers=auth(admin_key))
    assert json.loads(listed.body)["orders"] == []


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _listing(client, key, query=""):
    resp = client.http.get(f"/orders?limit=1{query}", headers=auth(key))
    return resp.status_code, json.loads(resp.body)


@pytest.fixture
def two_orders(client, admin_key, aws):
    shop = make_shop(client, admin_key, aws)
    for coid in ("CUR-1", "CUR-2"):
        place(client, shop["key"], coid, [("SKU-1", 1)])
    return shop


def test_a_forged_or_tampered_cursor_is_a_400_naming_the_cursor(client, two_orders):
    key = two_orders["admin"]
    status, first = _listing(client, key)
    assert status == 200 and first["cursor"]
    body, _, mac = first["cursor"].partition(".")
    raw_key = {"pk": "ORDER#x", "sk": "ORDER", "gsi2pk": "DAY#2020-01-01", "gsi2sk": "x"}
    forged = [
        base64.urlsafe_b64encode(json.dumps(raw_key).encode()).decode(),  # the old format
        "2020-01-01:" + base64.urlsafe_b64encode(json.dumps(raw_key).encode()).decode(),
        f"{body}.{_b64(bytes(16))}",  # a made-up signature
        f"{_b64(b'2020-01-01:')}.{mac}",  # another day under a real signature
        "A" + first["cursor"],
        "%%%",
        "x" * 5000,
    ]
    for cursor in forged:
        status, body = _listing(client, key, f"&cursor={cursor}")
        assert status == 400, (cursor, body)
        assert [f["path"] for f in body["error"]["fields"]] == ["cursor"], body
    status, rest = _listing(client, key, f"&cursor={first['cursor']}")
    assert status == 200 and rest["orders"][0]["order_id"] != first["orders"][0]["order_id"]


def test_a_cursor_continues_only_the_listing_it_came_from(client, two_orders):
    _, first = _listing(client, two_orders["key"])
    for other in ("&status=cancelled", "&email=ada@example.com", "&from=2020-01-01"):
        status, body = _listing(client, two_orders["key"], f"{other}&cursor={first['cursor']}")
        assert status == 400 and body["error"]["fields"][0]["path"] == "cursor", (other, body)
    # another caller (here: the admin, across channels) cannot continue it either
    status, body = _listing(client, two_orders["admin"], f"&cursor={first['cursor']}")
    assert status == 400, body


def test_a_validation_exception_from_dynamodb_is_a_400_and_logged(client, admin_key, monkeypatch):
    refused = ClientError(
        {"Error": {"Code": "ValidationException", "Message": "key too large"}}, "GetItem"
    )

    def get(*args, **kwargs):
        raise refused

    monkeypatch.setattr(wiring.catalog_service(), "doc", get)
    resp = client.http.get("/products/MUG", headers=auth(admin_key))
    assert resp.status_code == 400, resp.body
    error = json.loads(resp.body)["error"]
    assert error["code"] == "bad_request" and error["fields"][0]["path"] == "body"
    assert "key too large" not in resp.body.decode()  # the store's words stay in the log


def test_other_store_errors_stay_a_500(client, admin_key, monkeypatch):
    def get(*args, **kwargs):
        raise ClientError({"Error": {"Code": "InternalServerError", "Message": "x"}}, "GetItem")

    monkeypatch.setattr(wiring.catalog_service(), "doc", get)
    assert client.http.get("/products/MUG", headers=auth(admin_key)).status_code == 500
