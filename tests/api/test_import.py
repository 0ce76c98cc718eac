"""Bulk import of products and stock: JSON or CSV, errors per row, good rows kept."""

import json
import json as _json

import pytest

from chalicelib import wiring
from chalicelib.domain.catalog import Kind
from chalicelib.domain.inventory import Movement
from local.demo import network_documents


def auth(key, content_type="application/json"):
    return {"Authorization": f"Bearer {key}", "Content-Type": content_type}


def post(client, kind, body, key, content_type="application/json"):
    data = body if isinstance(body, str) else json.dumps(body)
    return client.http.post(f"/imports/{kind}", body=data, headers=auth(key, content_type))


@pytest.fixture
def locations(aws):
    for loc in network_documents()["locations"][:2]:
        wiring.catalog_service().put(Kind.LOCATION, loc["location_id"], loc)


def test_products_from_json_keep_good_rows_and_report_bad_ones(client, admin_key):
    rows = [
        {"sku": "A", "name": "Alpha", "weight_g": 100, "prices": {"EUR": 500}},
        {"sku": "B", "weight_g": -1},
        {"name": "no sku", "weight_g": 5},
        {"sku": "C", "weight_g": 200, "reorder_point": 3},
    ]
    resp = post(client, "products", rows, admin_key)
    assert resp.status_code == 200
    report = json.loads(resp.body)
    assert (report["received"], report["imported"]) == (4, 2)
    assert {(e["row"], e["field"]) for e in report["errors"]} == {(2, "weight_g"), (3, "sku")}
    products = wiring.catalog_service().products(["A", "B", "C"])
    assert sorted(products) == ["A", "C"] and products["C"].reorder_point == 3


def test_products_from_csv_fold_price_columns(client, admin_key):
    csv_text = (
        "sku,name,weight_g,price_EUR,price_CHF,returnable\n"
        "A,Alpha,100,500,550,true\n"
        "B,Beta,oops,600,,false\n"
        "C,Gamma,300,700,,false\n"
    )
    report = json.loads(post(client, "products", csv_text, admin_key, "text/csv").body)
    assert report["imported"] == 2
    assert report["errors"] == [
        {"row": 2, "field": "weight_g", "reason": report["errors"][0]["reason"]}
    ]
    a, c = wiring.catalog_service().product("A"), wiring.catalog_service().product("C")
    assert a.prices == {"EUR": 500, "CHF": 550} and a.returnable is True
    assert c.prices == {"EUR": 700} and c.returnable is False


def test_stock_import_creates_new_items_and_keeps_reservations_of_existing_ones(
    client, admin_key, locations
):
    post(client, "products", [{"sku": "A", "weight_g": 1, "reorder_point": 2}], admin_key)
    wiring.inventory().set_levels("A", "dc-kassel", on_hand=10)
    wiring.stock_store().apply("A", "dc-kassel", Movement.RESERVE, 4)
    rows = [
        {"sku": "A", "location_id": "dc-kassel", "on_hand": 6, "safety_stock": 1},
        {"sku": "A", "location_id": "dc-lyon", "on_hand": 5},
        {"sku": "A", "location_id": "nowhere", "on_hand": 5},
        {"sku": "Z", "location_id": "dc-lyon", "on_hand": 5},
        {"sku": "A", "location_id": "dc-lyon", "on_hand": -5},
    ]
    report = json.loads(post(client, "stock", rows, admin_key).body)
    assert report["imported"] == 2
    assert [(e["row"], e["field"]) for e in report["errors"]] == [
        (3, "location_id"),
        (4, "sku"),
        (5, "on_hand"),
    ]
    kassel = wiring.stock_store().get("A", "dc-kassel")
    assert (kassel.on_hand, kassel.reserved, kassel.available) == (6, 4, 1)
    lyon = wiring.stock_store().get("A", "dc-lyon")
    assert (lyon.on_hand, lyon.available, lyon.reorder_point) == (5, 5, 2)
    assert wiring.stock_store().violations() == []


def test_stock_from_csv(client, admin_key, locations):
    post(client, "products", [{"sku": "A", "weight_g": 1}], admin_key)
    csv_text = "sku,location_id,on_hand,safety_stock,reorder_point\nA,dc-lyon,7,2,1\n"
    report = json.loads(post(client, "stock", csv_text, admin_key, "text/csv").body)
    assert report == {"kind": "stock", "received": 1, "imported": 1, "errors": []}
    assert wiring.stock_store().get("A", "dc-lyon").available == 5


def test_a_csv_row_with_more_cells_than_the_header_is_refused(client, admin_key, locations):
    """Reproduction: an unquoted thousands separator ("1,500") imported on_hand 1, silently."""
    post(client, "products", [{"sku": "A", "weight_g": 1}], admin_key)
    csv_text = "sku,location_id,on_hand\nA,dc-lyon,1,500\nA,dc-kassel,3\n"
    report = json.loads(post(client, "stock", csv_text, admin_key, "text/csv").body)
    assert (report["received"], report["imported"]) == (2, 1)
    assert [(e["row"], e["field"]) for e in report["errors"]] == [(1, "cells_beyond_the_header")]
    assert wiring.stock_store().get("A", "dc-lyon") is None
    assert wiring.stock_store().get("A", "dc-kassel").on_hand == 3


def test_imports_need_a_list_a_known_kind_and_an_admin(client, admin_key):
    assert post(client, "products", {"sku": "A"}, admin_key).status_code == 422
    assert post(client, "prices", [], admin_key).status_code == 404
    assert post(client, "products", "{bad", admin_key).status_code == 400
    from chalicelib.domain.access import Role

    service_key = wiring.keys().create(Role.SERVICE)["api_key"]
    assert post(client, "products", [], service_key).status_code == 403


class _ClientSession:
    """``requests.Session`` stand-in that sends to the Chalice test client."""

    def __init__(self, client):
        self.client, self.headers = client, {}

    def request(self, method, url, json=None, timeout=None):
        path = url.split("://", 1)[1].split("/", 1)[1]
        headers = {**self.headers, "Content-Type": "application/json"}
        resp = self.client.http.request(
            method, "/" + path, body=_json.dumps(json).encode(), headers=headers
        )
        return _Resp(resp)


class _Resp:
    def __init__(self, resp):
        self.status_code, self.text = resp.status_code, resp.body.decode()

    def json(self):
        return _json.loads(self.text)


def test_the_demo_loads_through_the_api_and_its_keys_work(client, admin_key, monkeypatch):
    from local import demo

    monkeypatch.setattr(demo.requests, "Session", lambda: _ClientSession(client))
    keys = demo.load_demo("http://demo.invalid", admin_key)
    assert sorted(keys) == [
        "marketplace",
        "service",
        "store-till",
        "webshop",
        "webshop-ch",
        "webshop-fr",
    ]
    catalog = wiring.catalog_service()
    assert len(catalog.locations()) == 15 and len(catalog.carrier_services()) == 4
    assert catalog.channel("webshop").backorder_policy == "backorder"
    swiss = catalog.channel("webshop-ch")
    assert swiss is not None and swiss.currencies == {"CHF"} and swiss.language == "de"
    assert swiss.formatting_locale() == "de_CH"
    assert {loc.location_id for loc in catalog.locations()} - swiss.excluded_locations == {
        "st-zuerich",
        "dc-kassel",
    }
    assert catalog.channel("marketplace").customer_mail is False  # marketplaces forbid it
    assert catalog.rules().version == 1
    assert len(catalog.products([f"SKU-{n:04d}" for n in range(1, 201)])) == 200
    stock = wiring.stock_store()
    assert len(stock.by_location("dc-kassel")) == 200
    assert 0 < len(stock.by_location("st-berlin")) < 200
    assert stock.violations() == []
    resp = client.http.get("/stock/SKU-0001", headers=auth(keys["webshop"]))
    assert resp.status_code == 200
    # deterministic: the same products on every run
    assert demo.product_rows()[:3] == demo.product_rows()[:3]
    again = demo.load_demo("http://demo.invalid", admin_key)
    assert again["webshop"] != keys["webshop"]
    assert len(stock.by_location("dc-kassel")) == 200


def queued(aws):
    sqs = aws.client("sqs")
    url = sqs.get_queue_url(QueueName="dirigent-order-events")["QueueUrl"]
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(m["Body"]) for m in messages]


def test_a_stock_import_announces_nothing_for_skus_no_backorder_waits_for(
    client, admin_key, locations, aws
):
    post(client, "products", [{"sku": "A", "weight_g": 1}], admin_key)
    rows = [{"sku": "A", "location_id": "dc-lyon", "on_hand": 5}]
    assert json.loads(post(client, "stock", rows, admin_key).body)["imported"] == 1
    # no stock_arrived (one query per SKU, not one message per row of a big import); one
    # stock_changed for all the SKUs, for the availability feed
    assert [(m["type"], m.get("skus")) for m in queued(aws)] == [("stock_changed", ["A"])]


def test_a_stock_import_is_kept_when_announcing_fails(client, admin_key, locations, monkeypatch):
    post(client, "products", [{"sku": "A", "weight_g": 1}], admin_key)

    def down(*_args, **_kwargs):
        raise RuntimeError("the orders table is unreachable")

    monkeypatch.setattr(wiring.orders(), "backorders", down)
    rows = [{"sku": "A", "location_id": "dc-lyon", "on_hand": 5}]
    resp = post(client, "stock", rows, admin_key)
    assert resp.status_code == 200 and json.loads(resp.body)["imported"] == 1
    assert wiring.stock_store().get("A", "dc-lyon").available == 5
