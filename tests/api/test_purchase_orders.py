"""Purchase orders over HTTP and the warehouse-events queue (moto): PUT/GET/list/cancel, ASNs
and receipts against PO lines, and the promise dates backorders get from them."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from chalicelib import wiring
from chalicelib.domain.supply import arrival
from tests.api.fulfilment_kit import deliver, mails
from tests.api.seed import auth, order_body, seed_channel, seed_network, seed_product, stock

QUEUE = "dirigent-warehouse-events"
BERLIN = {"country": "DE", "postal_code": "10115", "city": "Berlin"}


def weekday_ahead(weeks: int, weekday: int = 1) -> date:
    """A ``weekday`` (Tuesday by default) ``weeks`` weeks ahead: clear of today's cut-off."""
    today = datetime.now(UTC).date()
    return today + timedelta(days=(weekday - today.weekday()) % 7 + 7 * weeks)


def promised(po_date: date, location_id: str = "dc-kassel") -> str:
    """What the calendar makes of a receipt on ``po_date`` for Berlin (domain-tested)."""
    from chalicelib.domain.network import Address

    network = wiring.catalog_service()
    location = next(loc for loc in network.locations() if loc.location_id == location_id)
    when = arrival(
        location,
        network.carrier_services(),
        Address(country="DE", postal_code="10115"),
        datetime.now(UTC),
        po_date,
    )
    assert when is not None
    return when.isoformat()


@pytest.fixture
def shop(client: Any, admin_key: str, aws: Any) -> dict[str, Any]:
    seed_network(client, admin_key)
    key = seed_channel(client, admin_key, "webshop", backorder_policy="backorder")
    seed_product(client, admin_key, "SKU-P")
    return {"key": key, "admin": admin_key}


def put_po(client: Any, key: str, po_id: str, body: dict[str, Any]) -> tuple[int, dict]:
    resp = client.http.put(f"/purchase-orders/{po_id}", body=json.dumps(body), headers=auth(key))
    return resp.status_code, json.loads(resp.body)


def po_body(expected: date, quantity: int = 5, **kw: Any) -> dict[str, Any]:
    return {
        "supplier": "Acme",
        "location_id": "dc-kassel",
        "expected_date": expected.isoformat(),
        "lines": [{"sku": "SKU-P", "quantity": quantity}],
        **kw,
    }


def place(client: Any, key: str, coid: str, quantity: int) -> dict[str, Any]:
    resp = client.http.post(
        "/orders", body=json.dumps(order_body(coid, [("SKU-P", quantity)])), headers=auth(key)
    )
    assert resp.status_code == 201, resp.body
    return dict(json.loads(resp.body))


def promise_of(order_id: str) -> dict[str, Any]:
    order = wiring.orders().get(order_id)
    assert order is not None
    return dict(order.delivery["backorder_promises"]["SKU-P"])


def warehouse(kind: str, **fields: Any) -> dict[str, Any]:
    return {
        "event_id": f"ev-{uuid.uuid4()}",
        "type": kind,
        "location_id": "dc-kassel",
        "occurred_at": datetime.now(UTC).isoformat(),
        **fields,
    }


def test_a_po_is_created_read_changed_listed_and_cancelled(client, shop):
    status, created = put_po(client, shop["admin"], "po-1", po_body(weekday_ahead(2)))
    assert status == 201, created
    assert created["status"] == "open" and created["version"] == 1
    assert created["lines"][0] | {"line_id": "1", "open": 5, "received": 0} == created["lines"][0]

    status, changed = put_po(client, shop["admin"], "po-1", po_body(weekday_ahead(3), 8))
    assert status == 200 and changed["lines"][0]["quantity"] == 8 and changed["version"] == 2
    status, stale = put_po(client, shop["admin"], "po-1", po_body(weekday_ahead(3), version=1))
    assert status == 409, stale

    put_po(client, shop["admin"], "po-2", po_body(weekday_ahead(4)))
    first = client.http.get(
        "/purchase-orders?location_id=dc-kassel&status=open&limit=1", headers=auth(shop["admin"])
    )
    page = json.loads(first.body)
    assert first.status_code == 200 and len(page["purchase_orders"]) == 1 and page["cursor"]
    second = json.loads(
        client.http.get(
            f"/purchase-orders?location_id=dc-kassel&status=open&limit=1&cursor={page['cursor']}",
            headers=auth(shop["admin"]),
        ).body
    )
    ids = {p["po_id"] for p in page["purchase_orders"] + second["purchase_orders"]}
    assert ids == {"po-1", "po-2"}

    cancel = client.http.post("/purchase-orders/po-2/cancel", headers=auth(shop["admin"]))
    assert json.loads(cancel.body)["status"] == "cancelled"
    again = client.http.post("/purchase-orders/po-2/cancel", headers=auth(shop["admin"]))
    assert again.status_code == 200 and json.loads(again.body)["status"] == "cancelled"
    got = client.http.get("/purchase-orders/po-2", headers=auth(shop["admin"]))
    assert json.loads(got.body)["status"] == "cancelled"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"location_id": "nowhere"}, "location_id"),
        ({"lines": [{"sku": "SKU-NONE", "quantity": 1}]}, "lines[0].sku"),
        ({"lines": [{"sku": "SKU-P", "quantity": 0}]}, "lines[0].quantity"),
        ({"expected_date": "next week"}, "expected_date"),
        ({"lines": []}, "lines"),
    ],
)
def test_bad_input_is_a_4xx_naming_the_field(client, shop, change, field):
    status, err = put_po(client, shop["admin"], "po-bad", {**po_body(weekday_ahead(2)), **change})
    assert 400 <= status < 500, err
    assert field in [f["path"] for f in err["error"]["fields"]], err


def test_a_forged_or_foreign_list_cursor_is_a_400_naming_cursor(client, shop):
    for n in (1, 2):
        put_po(client, shop["admin"], f"po-{n}", po_body(weekday_ahead(2)))
    url = "/purchase-orders?location_id=dc-kassel&status=open&limit=1"
    cursor = json.loads(client.http.get(url, headers=auth(shop["admin"])).body)["cursor"]
    body, _, mac = cursor.partition(".")
    store_key = {"gsi1pk": "POLOC#dc-kassel", "gsi1sk": "open#", "pk": "PO#po-1", "sk": "PO"}
    forged = base64.urlsafe_b64encode(json.dumps(store_key).encode()).decode()
    tampered = body[:-2] + ("AA" if body[-2:] != "AA" else "BB") + "." + mac
    for bad, query in [
        (forged, url),  # a store key made up by the caller: the old, unsigned form
        (tampered, url),
        (cursor, "/purchase-orders?location_id=dc-kassel&limit=1"),  # another listing's
    ]:
        resp = client.http.get(f"{query}&cursor={bad}", headers=auth(shop["admin"]))
        assert resp.status_code == 400, resp.body
        assert [f["path"] for f in json.loads(resp.body)["error"]["fields"]] == ["cursor"]
    good = client.http.get(f"{url}&cursor={cursor}", headers=auth(shop["admin"]))
    assert good.status_code == 200 and len(json.loads(good.body)["purchase_orders"]) == 1


def test_only_admin_keys_write_purchase_orders(client, shop):
    status, _ = put_po(client, shop["key"], "po-x", po_body(weekday_ahead(2)))
    assert status == 403


def test_a_backorder_is_promised_from_the_po_in_the_quote_and_on_the_order(client, shop):
    tuesday = weekday_ahead(2)
    put_po(client, shop["admin"], "po-1", po_body(tuesday, 3))
    quote = client.http.post(
        "/delivery-options",
        body=json.dumps(
            {"currency": "EUR", "ship_to": BERLIN, "lines": [{"sku": "SKU-P", "quantity": 2}]}
        ),
        headers=auth(shop["key"]),
    )
    doc = json.loads(quote.body)
    assert quote.status_code == 200, doc
    assert doc["backorder_promises"]["SKU-P"] == {"date": promised(tuesday), "po_ids": ["po-1"]}

    first = place(client, shop["key"], "PO-A", 2)
    assert first["delivery"]["backorder_promises"]["SKU-P"]["date"] == promised(tuesday)
    second = place(client, shop["key"], "PO-B", 2)  # only 1 unit of po-1 is left for it
    assert second["delivery"]["backorder_promises"]["SKU-P"]["date"] is None


def test_a_slipped_po_moves_the_promises_and_mails_the_customers(client, shop):
    tuesday = weekday_ahead(2)
    put_po(client, shop["admin"], "po-1", po_body(tuesday, 2))
    put_po(client, shop["admin"], "po-2", po_body(weekday_ahead(4), 2))
    first = place(client, shop["key"], "SL-1", 2)
    second = place(client, shop["key"], "SL-2", 2)
    assert promise_of(first["order_id"])["po_ids"] == ["po-1"]
    before = len(mails())

    later = weekday_ahead(3)
    status, _ = put_po(client, shop["admin"], "po-1", po_body(later, 2))
    assert status == 200
    assert promise_of(first["order_id"]) == {"date": promised(later), "po_ids": ["po-1"]}
    assert promise_of(second["order_id"])["po_ids"] == ["po-2"]  # not moved: not mailed
    sent = mails()[before:]
    assert [m.to for m in sent] == [["ada@example.com"]]
    when = date.fromisoformat(promised(later))  # written as Babel's English long date
    assert f"{when:%B} {when.day}, {when.year}" in sent[0].text and "SL-1" in sent[0].subject

    put_po(client, shop["admin"], "po-1", po_body(later, 2))  # the same again: nothing moves
    assert len(mails()) == before + 1


def test_asn_and_receipts_move_the_po_and_serve_backorders(client, shop, aws):
    tuesday = weekday_ahead(2)
    put_po(client, shop["admin"], "po-1", po_body(tuesday, 4))
    order = place(client, shop["key"], "RC-1", 3)

    later = weekday_ahead(3)
    asn = warehouse(
        "asn_created",
        asn_id="asn-1",
        po_id="po-1",
        expected_date=later.isoformat(),
        lines=[{"po_line": "1", "sku": "SKU-P", "quantity": 4}],
    )
    assert deliver(client, "on_warehouse_event", QUEUE, asn, asn) == []
    po = wiring.purchase_orders().get("po-1")
    assert po.expected_date == later.isoformat() and po.lines[0].in_transit == 4
    assert promise_of(order["order_id"])["date"] == promised(later)

    receipt = warehouse("stock_received", sku="SKU-P", quantity=5, po_id="po-1", po_line="1")
    assert deliver(client, "on_warehouse_event", QUEUE, receipt, receipt) == []
    po = wiring.purchase_orders().get("po-1")
    assert (po.status.value, po.lines[0].received, po.lines[0].over_received) == ("received", 5, 1)
    assert stock(aws, "SKU-P")["dc-kassel"]["on_hand"] == 5  # once, though delivered twice

    status, err = put_po(client, shop["admin"], "po-1", po_body(later, 4))
    assert status == 409 and err["error"]["fields"][0]["path"] == "lines[0].quantity"


def test_a_receipt_naming_an_unknown_po_still_counts_the_units(client, shop, aws):
    receipt = warehouse("stock_received", sku="SKU-P", quantity=2, po_id="po-none", po_line="1")
    assert deliver(client, "on_warehouse_event", QUEUE, receipt) == []
    assert stock(aws, "SKU-P")["dc-kassel"]["on_hand"] == 2
