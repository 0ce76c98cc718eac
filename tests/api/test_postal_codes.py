"""A ship-to's country must be one and its postal code must have that country's shape (quotes,
orders and locations answer 422 naming the field, and nothing is written); codes are stored
normalized; marketplace orders are captured with a note instead (the platform took them)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from local.demo import network_documents
from tests.api.fulfilment_kit import get_order, make_shop
from tests.api.seed import auth, order_body
from tests.api.test_connectors import BERLIN, connect, send, shopify_body

QUOTE_LINES = [{"sku": "SKU-1", "quantity": 1}]


def _fields(resp: Any) -> list[str]:
    return [f["path"] for f in json.loads(resp.body)["error"]["fields"]]


def _quote(client: Any, key: str, ship_to: dict[str, Any]) -> Any:
    body = {"currency": "EUR", "ship_to": ship_to, "lines": QUOTE_LINES}
    return client.http.post("/delivery-options", body=json.dumps(body), headers=auth(key))


def _order(client: Any, key: str, coid: str, ship_to: dict[str, Any]) -> Any:
    body = order_body(coid, [("SKU-1", 1)], ship_to=ship_to)
    return client.http.post("/orders", body=json.dumps(body), headers=auth(key))


@pytest.mark.parametrize("country", ["ZZ", "XX", "EU", "UK"])
def test_a_quote_or_order_to_a_country_that_is_none_is_a_422_naming_it(
    client, admin_key, aws, country
):
    shop = make_shop(client, admin_key, aws)
    ship_to = {"country": country, "postal_code": "10115"}
    resp = _quote(client, shop["key"], ship_to)
    assert resp.status_code == 422, resp.body
    assert _fields(resp) == ["ship_to.country"]
    resp = _order(client, shop["key"], f"C-{country}", ship_to)
    assert resp.status_code == 422 and _fields(resp) == ["ship_to.country"], resp.body


@pytest.mark.parametrize(
    ("country", "postal_code"),
    [
        ("DE", "ABCDE"),
        ("DE", "1011"),
        ("DE", "101150"),
        ("NL", "1234"),  # the letters are part of a Dutch postal code
        ("NL", "12345"),
        ("FR", "7500"),
        ("AT", "10100"),
        ("DE", "10115;DROP"),
        ("DE", "---"),
    ],
)
def test_a_postal_code_not_of_its_country_is_a_422_naming_it_and_no_order_is_written(
    client, admin_key, aws, country, postal_code
):
    shop = make_shop(client, admin_key, aws)
    ship_to = {"country": country, "postal_code": postal_code}
    resp = _quote(client, shop["key"], ship_to)
    assert resp.status_code == 422, resp.body
    assert _fields(resp) == ["ship_to.postal_code"]
    assert country in resp.body.decode()  # the reason names the country it was judged by
    resp = _order(client, shop["key"], "BAD-ZIP", ship_to)
    assert resp.status_code == 422 and _fields(resp) == ["ship_to.postal_code"], resp.body
    listed = client.http.get("/orders?channel_order_id=BAD-ZIP", headers=auth(shop["admin"]))
    assert json.loads(listed.body)["orders"] == []


def test_postal_codes_are_stored_in_their_normal_form(client, admin_key, aws):
    shop = make_shop(client, admin_key, aws)
    amsterdam = {"country": "NL", "postal_code": " 1012js ", "lat": 52.3731, "lon": 4.8922}
    resp = _order(client, shop["key"], "NL-1", amsterdam)
    assert resp.status_code == 201, resp.body
    order = get_order(client, shop["service"], json.loads(resp.body)["order_id"])
    assert order["ship_to"]["postal_code"] == "1012JS"  # upper case, spaces only trimmed
    resp = _order(client, shop["key"], "NL-2", {**amsterdam, "postal_code": "1012  js"})
    order = get_order(client, shop["service"], json.loads(resp.body)["order_id"])
    assert order["ship_to"]["postal_code"] == "1012 JS"


def test_a_country_without_postal_codes_takes_the_placeholder_a_channel_sends(
    client, admin_key, aws
):
    shop = make_shop(client, admin_key, aws, countries=["DE", "AE"])
    resp = _quote(client, shop["key"], {"country": "AE", "postal_code": "00000"})
    assert resp.status_code != 422 or "ship_to.postal_code" not in _fields(resp), resp.body
    resp = _quote(client, shop["key"], {"country": "AE", "postal_code": "   "})
    assert resp.status_code == 422 and _fields(resp) == ["ship_to.postal_code"], resp.body


def test_a_location_whose_postal_code_is_not_of_its_country_is_a_422_and_not_stored(
    client, admin_key
):
    location = network_documents()["locations"][0]
    doc = {**location, "address": {**location["address"], "postal_code": "ABC"}}
    path = f"/locations/{location['location_id']}"
    headers = auth(admin_key)
    resp = client.http.put(path, body=json.dumps(doc), headers=headers)
    assert resp.status_code == 422, resp.body
    assert _fields(resp) == ["address.postal_code"]
    assert client.http.get(path, headers=headers).status_code == 404


def test_a_marketplace_order_with_a_malformed_postal_code_is_captured_with_a_note(
    client, admin_key, aws
):
    make_shop(client, admin_key, aws)
    connect(client, admin_key, sku_map={"IPOD2008GREEN": "SKU-1", "IPOD2008RED": "SKU-2"})
    raw = shopify_body(shipping_address={**BERLIN, "zip": "1O115"})  # a letter O for a zero
    status, result = send(client, raw)
    assert (status, result["status"]) == (200, "captured"), result
    assert any(n.startswith("shipping_address.zip: '1O115'") for n in result["notes"]), result
