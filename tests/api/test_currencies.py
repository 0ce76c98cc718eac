"""Two currencies end to end: a EUR webshop and the Swiss CHF channel of the demo (German mails
with Swiss formats, sourced from Zürich and the one warehouse with a lane to CH). Orders are
placed, confirmed and reported in both; no report ever adds euros and francs. And a channel's
mail fields: validated (422 naming the field), its sender, and no mail at all when it is off."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from babel.numbers import format_currency

from local.demo import CH_SOURCES, channel_documents, network_documents, swiss_documents
from tests.api.fulfilment_kit import dispatch_placed, mails
from tests.api.seed import auth, order_body, put, seed_channel, seed_network, set_stock

TODAY = datetime.now(UTC).date().isoformat()
ZUERICH = {"country": "CH", "postal_code": "8001", "city": "Zürich", "lat": 47.3667, "lon": 8.55}


@pytest.fixture
def shops(client: Any, admin_key: str, aws: Any) -> dict[str, str]:
    seed_network(client, admin_key)
    swiss = swiss_documents()
    for loc in swiss["locations"]:
        put(client, admin_key, f"/locations/{loc['location_id']}", loc)
    for service in swiss["carrier_services"]:
        put(client, admin_key, f"/carrier-services/{service['service_id']}", service)
    keys = {
        "webshop": seed_channel(client, admin_key, "webshop"),
        "webshop-ch": seed_channel(client, admin_key, "webshop-ch", **swiss_channel()),
        "admin": admin_key,
    }
    for sku, eur, chf in (("SKU-1", 2999, 123_450), ("SKU-2", 1500, 1590)):
        body = {"name": sku, "weight_g": 800, "prices": {"EUR": eur, "CHF": chf}}
        put(client, admin_key, f"/products/{sku}", body)
        for location_id in ("dc-kassel", "st-zuerich", "dc-lyon"):
            set_stock(aws, sku, location_id, 10)
    return keys


def swiss_channel() -> dict[str, Any]:
    """The demo's ``webshop-ch`` (CHF, de-CH, sourced from ``CH_SOURCES``)."""
    demo = channel_documents(network_documents()["locations"], swiss_documents()["locations"])
    return {k: v for k, v in demo["webshop-ch"].items() if k != "name"}


def lines(*items: tuple[str, int, int]) -> list[dict[str, Any]]:
    return [{"sku": s, "quantity": q, "unit_price": p} for s, q, p in items]


def place(client: Any, key: str, coid: str, items: list[tuple[str, int, int]], **kw: Any) -> dict:
    """Place an order of ``(sku, quantity, unit_price)`` lines."""
    body = {**order_body(coid, []), **kw, "lines": lines(*items)}
    resp = client.http.post("/orders", body=json.dumps(body), headers=auth(key))
    assert resp.status_code == 201, resp.body
    return dict(json.loads(resp.body))


def swiss_order(client: Any, key: str, coid: str, *items: tuple[str, int, int]) -> dict:
    return place(client, key, coid, list(items), currency="CHF", ship_to=ZUERICH)


def report(client: Any, key: str, name: str, query: str = "") -> dict[str, Any]:
    resp = client.http.get(f"/reports/{name}{query}", headers=auth(key))
    assert resp.status_code == 200, resp.body
    return dict(json.loads(resp.body))


def test_orders_in_eur_and_chf_are_reported_per_currency_never_added(client, aws, shops):
    eur = [
        place(client, shops["webshop"], "EU-1", [("SKU-1", 2, 2999)]),
        place(client, shops["webshop"], "EU-2", [("SKU-2", 1, 1500)]),
    ]
    chf = [
        swiss_order(client, shops["webshop-ch"], "CH-1", ("SKU-1", 1, 123_450)),
        swiss_order(client, shops["webshop-ch"], "CH-2", ("SKU-2", 3, 1590)),
    ]
    for order in chf:  # Switzerland is outside the EU: only Zürich and Kassel ship there
        assert order["currency"] == "CHF"
        assert {s["location_id"] for s in order["shipments"]} <= set(CH_SOURCES)
    dispatch_placed(client, aws)

    body = report(client, shops["admin"], "orders_by_channel")
    totals = {row["currency"]: row for row in body["totals"]}
    assert sorted(totals) == ["CHF", "EUR"]
    assert totals["EUR"]["orders"] == 2 and totals["EUR"]["goods"] == 2 * 2999 + 1500
    assert totals["CHF"]["orders"] == 2 and totals["CHF"]["goods"] == 123_450 + 3 * 1590
    fees = {
        cur: sum(o["delivery"]["price"] for o in orders)
        for cur, orders in (("EUR", eur), ("CHF", chf))
    }
    for cur in ("EUR", "CHF"):
        assert totals[cur]["revenue"] == totals[cur]["goods"] + fees[cur]
    today = {(r["channel"], r["currency"]): r for r in body["rows"] if r["date"] == TODAY}
    assert today[("webshop-ch", "CHF")]["goods"] == totals["CHF"]["goods"]
    assert today[("webshop", "EUR")]["goods"] == totals["EUR"]["goods"]
    assert {r["currency"] for r in body["rows"] if r["channel"] == "webshop-ch"} == {"CHF"}

    only = report(client, shops["admin"], "orders_by_channel", "?currency=CHF")
    assert [t["currency"] for t in only["totals"]] == ["CHF"]
    assert only["totals"][0]["revenue"] == totals["CHF"]["revenue"]
    csv_body = client.http.get(
        "/reports/orders_by_channel?format=csv&currency=EUR", headers=auth(shops["admin"])
    ).body.decode()
    assert "webshop-ch" not in csv_body and "CHF" not in csv_body

    cost = {t["currency"]: t for t in report(client, shops["admin"], "cost_to_serve")["totals"]}
    assert sorted(cost) == ["CHF", "EUR"] and cost["CHF"]["orders"] == 2

    dashboard = json.loads(client.http.get("/dashboard/data", headers=auth(shops["admin"])).body)
    series = {(s["channel"], s["currency"]) for s in dashboard["orders_per_day"]["series"]}
    assert ("webshop-ch", "CHF") in series and ("webshop", "EUR") in series
    assert dashboard["kpis"]["orders_today"] == 4  # counts add up; money is never on a KPI


def test_a_swiss_order_is_confirmed_in_german_with_swiss_francs(client, aws, shops):
    order = swiss_order(client, shops["webshop-ch"], "CH-9", ("SKU-1", 1, 123_450))
    dispatch_placed(client, aws)
    (mail,) = [m for m in mails() if "CH-9" in m.subject]
    assert mail.subject == "Ihre Bestellung CH-9 ist bestätigt"
    assert mail.text.startswith("Hallo Ada Lovelace,\n\nvielen Dank für Ihre Bestellung CH-9.")
    total = 123_450 + order["delivery"]["price"]
    shown = format_currency(Decimal(total) / 100, "CHF", locale="de_CH")
    assert shown.startswith("CHF\u00a01\u2019") and shown.endswith(f".{total % 100:02d}")
    assert f"Bestellsumme: {shown}" in mail.text
    promised = datetime.fromisoformat(order["delivery"]["promised_date"])
    months = ("Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August")
    months += ("September", "Oktober", "November", "Dezember")
    day = f"{promised.day}. {months[promised.month - 1]} {promised.year}"
    assert f"Zugesagte Lieferung: {day}" in mail.text
    assert mail.text.rstrip().endswith("Dirigent Schweiz")
    assert '<html lang="de">' in mail.html


def test_a_french_channel_writes_french_dates(client, aws, shops):
    key = seed_channel(client, shops["admin"], "webshop-fr", countries=["FR"], language="fr")
    paris = {
        "country": "FR",
        "postal_code": "75001",
        "city": "Paris",
        "lat": 48.8534,
        "lon": 2.3488,
    }
    order = place(client, key, "FR-1", [("SKU-2", 1, 1500)], ship_to=paris)
    dispatch_placed(client, aws)
    (mail,) = [m for m in mails() if "FR-1" in m.subject]
    assert mail.subject == "Votre commande FR-1 est confirmée"
    promised = datetime.fromisoformat(order["delivery"]["promised_date"])
    months = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août")
    months += ("septembre", "octobre", "novembre", "décembre")
    day = f"{promised.day} {months[promised.month - 1]} {promised.year}"
    assert f"Livraison promise\u00a0: {day}" in mail.text  # fr_FR: "5 mars 2026"
    total = Decimal(1500 + order["delivery"]["price"]) / 100
    assert f"Total de la commande\u00a0: {format_currency(total, 'EUR', locale='fr_FR')}" in (
        mail.text
    )
    assert format_currency(total, "EUR", locale="fr_FR").endswith("\u00a0€")


def test_a_channel_that_sends_no_customer_mail_gets_none(client, aws, shops):
    key = seed_channel(
        client, shops["admin"], "marketplace", kind="marketplace", customer_mail=False
    )
    order = place(client, key, "MP-1", [("SKU-2", 1, 1500)])
    dispatch_placed(client, aws)
    assert [m for m in mails() if "MP-1" in m.subject] == []
    seen = json.loads(
        client.http.get(f"/orders/{order['order_id']}", headers=auth(shops["admin"])).body
    )
    assert seen["status"] != "cancelled"  # skipped is no error: the order goes on
    assert any(h["event"] == "released" for h in seen["history"])


def test_a_channel_mail_comes_from_its_sender(client, aws, shops):
    aws.client("ses").verify_email_identity(EmailAddress="schweiz@dirigent.example")
    body = {**swiss_channel(), "mail_from": "schweiz@Dirigent.EXAMPLE"}
    put(client, shops["admin"], "/channels/webshop-ch", body)
    seen = json.loads(client.http.get("/channels/webshop-ch", headers=auth(shops["admin"])).body)
    assert seen["mail_from"] == "schweiz@dirigent.example"  # the domain normalised
    swiss_order(client, shops["webshop-ch"], "CH-FROM", ("SKU-2", 1, 1590))
    dispatch_placed(client, aws)
    (mail,) = [m for m in mails() if "CH-FROM" in m.subject]
    assert mail.source == "schweiz@dirigent.example"
    assert str(mail.message["From"]) == "schweiz@dirigent.example"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("language", "it"),
        ("language", "DE"),
        ("locale", "de-ZZ"),
        ("locale", "german"),
        ("display_name", "  "),
        ("mail_from", "not-an-address"),
        ("mail_from", "shop@elsewhere.example"),  # not the stage's sending domain
        ("customer_mail", "sometimes"),
    ],
)
def test_bad_mail_fields_are_422_naming_the_field(client, admin_key, field, value):
    body = {"kind": "webshop", "currencies": ["CHF"], "countries": ["CH"], field: value}
    resp = client.http.put("/channels/x", body=json.dumps(body), headers=auth(admin_key))
    assert resp.status_code == 422, resp.body
    assert field in {f["path"] for f in json.loads(resp.body)["error"]["fields"]}


def test_the_mail_fields_round_trip_with_their_defaults(client, admin_key):
    put(
        client,
        admin_key,
        "/channels/plain",
        {"kind": "webshop", "currencies": ["EUR"], "countries": ["DE"]},
    )
    seen = json.loads(client.http.get("/channels/plain", headers=auth(admin_key)).body)
    assert (seen["language"], seen["locale"], seen["display_name"], seen["mail_from"]) == (
        "en",
        None,
        None,
        None,
    )
    assert seen["customer_mail"] is True
