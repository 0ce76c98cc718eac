"""Connectors' pure mappings on the platforms' own sample orders: ids beyond 2^53 exact, money
exact in minor units, SKU mapping, clear errors for what a payload lacks; the signature
against RFC 4231's HMAC-SHA256 vector."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from chalicelib.connectors import shopify, woocommerce
from chalicelib.connectors.common import (
    MappedLine,
    PayloadError,
    merge_lines,
    minor_units,
    parse_exact,
    signature,
    signed,
)
from tests.fixtures.connectors import shopify as shopify_sample, woocommerce as woo_sample

BIG_ID = 820982911946154508  # Shopify's documented sample order id: above 2^53


def shopify_order(**changes: Any) -> dict[str, Any]:
    order: dict[str, Any] = parse_exact(shopify_sample.ORDER_JSON)["order"]
    return {**order, **changes}


def woo_order(**changes: Any) -> dict[str, Any]:
    return {**parse_exact(woo_sample.ORDER_JSON), **changes}


# --- signatures -----------------------------------------------------------------------------


def test_the_signature_is_rfc_4231_test_case_2_in_base64():
    expected = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    want = base64.b64encode(bytes.fromhex(expected)).decode()
    assert signature("Jefe", b"what do ya want for nothing?") == want
    assert signed("Jefe", b"what do ya want for nothing?", want)


@pytest.mark.parametrize(
    "given", [None, "", "bm90IGl0", "W8zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM"]
)
def test_a_missing_or_wrong_signature_is_refused(given):
    assert not signed("Jefe", b"what do ya want for nothing?", given)


def test_a_changed_body_does_not_verify():
    good = signature("secret-1", b'{"id":1}')
    assert not signed("secret-1", b'{"id":2}', good)
    assert not signed("", b'{"id":1}', signature("", b'{"id":1}'))  # no secret: never


# --- exact numbers --------------------------------------------------------------------------


def test_a_shopify_id_beyond_2_53_stays_exact():
    raw = shopify_sample.ORDER_JSON.replace('"id": 450789469', f'"id": {BIG_ID}', 1)
    payload = parse_exact(raw)["order"]
    assert float(BIG_ID) != BIG_ID  # what a float parse would have lost
    assert shopify.map_order(payload, {}).platform_order_id == "820982911946154508"


@pytest.mark.parametrize(
    ("amount", "currency", "minor"),
    [
        ("199.00", "USD", 19900),
        ("19.99", "EUR", 1999),  # float(19.99) * 100 is 1998.9999999999998
        ("0.10", "EUR", 10),
        ("1000", "JPY", 1000),
        ("10.500", "KWD", 10500),
        (12, "EUR", 1200),
        ("12345678901234567.89", "EUR", 1234567890123456789),
    ],
)
def test_money_becomes_minor_units_exactly(amount, currency, minor):
    assert minor_units(amount, currency, "price") == minor


@pytest.mark.parametrize(
    ("amount", "currency"),
    [
        ("1.005", "EUR"),
        ("1.5", "JPY"),
        ("-1.00", "EUR"),
        ("abc", "EUR"),
        (None, "EUR"),
        (1.5, "EUR"),
        ("1e999999", "EUR"),  # decimal.Overflow while scaling: a 400 the platform retried
        ("1e30", "EUR"),
    ],
)
def test_money_finer_than_the_currency_or_not_a_decimal_is_refused_naming_the_field(
    amount, currency
):
    with pytest.raises(PayloadError) as err:
        minor_units(amount, currency, "line_items[0].price")
    assert err.value.fields[0].path == "line_items[0].price"


def test_fractions_parse_as_decimals_never_floats():
    assert type(parse_exact(b'{"price": 19.99}')["price"]).__name__ == "Decimal"


# --- Shopify ------------------------------------------------------------------------------


def test_the_shopify_sample_maps_to_lines_prices_customer_and_address():
    mapped = shopify.map_order(shopify_order(), {"IPOD2008GREEN": "SKU-1"})
    assert mapped.platform_order_id == "450789469"
    assert mapped.currency == "USD"
    assert [
        (line.channel_sku, line.sku, line.quantity, line.unit_price) for line in mapped.lines
    ] == [
        ("IPOD2008GREEN", "SKU-1", 1, 19900),
        ("IPOD2008RED", "IPOD2008RED", 1, 19900),  # no mapping: the platform's own SKU
        ("IPOD2008BLACK", "IPOD2008BLACK", 1, 19900),
    ]
    assert mapped.customer == {
        "email": "bob.norman@hostmail.com",
        "name": "Bob Norman",
        "phone": "555-625-1199",
    }
    assert (mapped.ship_to.country, mapped.ship_to.postal_code, mapped.ship_to.city) == (
        "US",
        "40202",
        "Louisville",
    )
    assert mapped.ship_to.line1 == "Chestnut Street 92" and mapped.ship_to.line2 is None
    assert mapped.payment_status == "authorized" and not mapped.cancelled


def test_a_cancelled_shopify_order_says_so():
    order = shopify_order(cancelled_at="2008-01-10T12:00:00-05:00", cancel_reason="customer")
    assert shopify.map_order(order, {}).cancelled


def test_lines_that_map_to_one_sku_are_merged():
    order = shopify_order()
    mapping = {"IPOD2008GREEN": "SKU-1", "IPOD2008RED": "SKU-1"}
    lines = shopify.map_order(order, mapping).lines
    assert [(line.sku, line.quantity, line.unit_price) for line in lines] == [
        ("SKU-1", 2, 19900),
        ("IPOD2008BLACK", 1, 19900),
    ]


def test_lines_at_prices_that_do_not_merge_exactly_are_refused():
    with pytest.raises(PayloadError):
        merge_lines([MappedLine("a", "X", 1, 100), MappedLine("b", "X", 1, 101)])


def test_a_line_without_shipping_is_left_out_with_a_note():
    order = shopify_order()
    order["line_items"][2]["requires_shipping"] = False
    mapped = shopify.map_order(order, {})
    assert [line.sku for line in mapped.lines] == ["IPOD2008GREEN", "IPOD2008RED"]
    assert mapped.notes and "line_items[2]" in mapped.notes[0]


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"shipping_address": None}, "shipping_address"),
        ({"currency": None}, "currency"),
        ({"line_items": []}, "line_items"),
        ({"id": None}, "id"),
    ],
)
def test_a_shopify_order_missing_a_field_is_refused_naming_it(change, path):
    with pytest.raises(PayloadError) as err:
        shopify.map_order(shopify_order(**change), {})
    assert [f.path for f in err.value.fields] == [path]


def test_a_shopify_line_without_quantity_or_price_is_named():
    order = shopify_order()
    del order["line_items"][1]["quantity"]
    with pytest.raises(PayloadError) as err:
        shopify.map_order(order, {})
    assert err.value.fields[0].path == "line_items[1].quantity"
    order = shopify_order()
    order["line_items"][0]["price"] = "abc"
    with pytest.raises(PayloadError) as err:
        shopify.map_order(order, {})
    assert err.value.fields[0].path == "line_items[0].price"


def test_the_shopify_zip_is_required():
    order = shopify_order()
    order["shipping_address"] = {**order["shipping_address"], "zip": ""}
    with pytest.raises(PayloadError) as err:
        shopify.map_order(order, {})
    assert err.value.fields[0].path == "shipping_address.zip"


# --- WooCommerce ----------------------------------------------------------------------------


def test_the_woocommerce_sample_maps_subtotals_to_exact_unit_prices():
    mapped = woocommerce.map_order(woo_order(), {"93": "SKU-1", "Bar3": "SKU-2"})
    assert mapped.platform_order_id == "727" and mapped.currency == "USD"
    assert [
        (line.channel_sku, line.sku, line.quantity, line.unit_price) for line in mapped.lines
    ] == [
        ("93", "SKU-1", 2, 300),  # no SKU on the platform: known by its product id
        ("Bar3", "SKU-2", 1, 1200),
    ]
    assert mapped.customer["email"] == "john.doe@example.com"
    assert mapped.customer["name"] == "John Doe"
    assert (mapped.ship_to.country, mapped.ship_to.postal_code) == ("US", "94103")
    assert mapped.payment_status == "captured" and not mapped.cancelled


def test_a_subtotal_that_does_not_divide_is_rounded_with_a_note():
    order = woo_order()
    order["line_items"][0] = {**order["line_items"][0], "quantity": 3, "subtotal": "10.00"}
    mapped = woocommerce.map_order(order, {})
    assert mapped.lines[0].unit_price == 333
    assert mapped.notes


@pytest.mark.parametrize("status", ["cancelled", "refunded", "failed"])
def test_a_woocommerce_order_in_a_final_status_is_cancelled(status):
    assert woocommerce.map_order(woo_order(status=status), {}).cancelled


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"shipping": None}, "shipping"),
        ({"billing": {}}, "billing.email"),
        ({"currency": ""}, "currency"),
    ],
)
def test_a_woocommerce_order_missing_a_field_is_refused_naming_it(change, path):
    with pytest.raises(PayloadError) as err:
        woocommerce.map_order(woo_order(**change), {})
    assert [f.path for f in err.value.fields] == [path]


def test_the_woocommerce_ping_is_told_from_an_order():
    assert woocommerce.ping_id(b"webhook_id=12") == "12"
    assert woocommerce.ping_id(json.dumps(woo_order()).encode()) is None
    assert woocommerce.ping_id(b"webhook_id=12&x=1") is None
