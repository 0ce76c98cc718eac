"""Preorders (moto): before release a product sells against its cap only, promised for release
day; shelf stock waits for the preorders and is released to locations so they ship on it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest

from chalicelib import wiring
from chalicelib.consumers import schedules
from tests.api.seed import auth, order_body, seed_channel, seed_network, set_stock, stock

RELEASE = datetime.now(UTC).date() + timedelta(days=20)


@pytest.fixture
def shop(client: Any, admin_key: str, aws: Any) -> dict[str, Any]:
    seed_network(client, admin_key)
    key = seed_channel(client, admin_key, "webshop", backorder_policy="backorder")
    product = {"name": "Game", "weight_g": 300, "prices": {"EUR": 2999}}
    resp = client.http.put(
        "/products/SKU-G",
        body=json.dumps({**product, "release_date": RELEASE.isoformat(), "preorder_cap": 3}),
        headers=auth(admin_key),
    )
    assert resp.status_code == 200, resp.body
    set_stock(aws, "SKU-G", "dc-kassel", 5)  # arrived early: kept for the preorders
    return {"key": key, "admin": admin_key}


def place(client: Any, key: str, coid: str, quantity: int) -> tuple[int, dict[str, Any]]:
    resp = client.http.post(
        "/orders", body=json.dumps(order_body(coid, [("SKU-G", quantity)])), headers=auth(key)
    )
    return resp.status_code, json.loads(resp.body)


def test_a_cap_needs_a_release_date(client, admin_key):
    resp = client.http.put(
        "/products/SKU-X",
        body=json.dumps({"weight_g": 300, "preorder_cap": 3}),
        headers=auth(admin_key),
    )
    assert resp.status_code in (400, 422)
    assert "preorder_cap" in [f["path"] for f in json.loads(resp.body)["error"]["fields"]]


def test_a_preorder_through_release_day(client, shop, aws, monkeypatch):
    quote = client.http.post(
        "/delivery-options",
        body=json.dumps(
            {
                "currency": "EUR",
                "ship_to": {"country": "DE", "postal_code": "10115"},
                "lines": [{"sku": "SKU-G", "quantity": 2}],
            }
        ),
        headers=auth(shop["key"]),
    )
    promise = json.loads(quote.body)["backorder_promises"]["SKU-G"]
    assert promise["preorder"] is True and promise["date"] == RELEASE.isoformat()

    status, first = place(client, shop["key"], "PRE-1", 2)
    assert status == 201, first
    assert first["backorders"] == {"SKU-G": 2} and first["shipments"] == []
    assert first["delivery"]["backorder_promises"]["SKU-G"]["date"] == RELEASE.isoformat()

    status, over = place(client, shop["key"], "PRE-2", 2)  # 2 + 2 > cap 3
    assert status == 409 and over["error"]["fields"][0]["path"] == "lines[0].quantity"
    status, again = place(client, shop["key"], "PRE-1", 2)  # a replay counts nothing twice
    assert status == 200, again
    assert wiring.preorder_counters().count("SKU-G") == 2

    # stock arriving before release is not released to a location yet
    assert wiring.backorders().allocate("SKU-G", "dc-kassel") == 0
    assert schedules.release_preorders() == 0
    assert stock(aws, "SKU-G")["dc-kassel"]["reserved"] == 0

    lead = max(loc.processing_days for loc in wiring.catalog_service().locations())
    window = datetime.combine(RELEASE - timedelta(days=lead), time(6), tzinfo=UTC)
    monkeypatch.setattr(wiring.preorders(), "_clock", lambda: window)
    assert schedules.release_preorders() == 2
    order = wiring.orders().get(first["order_id"])
    assert order.backorders == {} and sum(sum(s.lines.values()) for s in order.shipments) == 2
    assert stock(aws, "SKU-G")["dc-kassel"]["reserved"] == 2

    after = datetime.combine(RELEASE + timedelta(days=1), time(6), tzinfo=UTC)
    monkeypatch.setattr(wiring.preorders(), "_clock", lambda: after)
    status, normal = place(client, shop["key"], "AFTER-1", 2)  # released: sells from the shelf
    assert status == 201 and normal["backorders"] == {} and normal["shipments"], normal
