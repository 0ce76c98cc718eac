"""CSV exports: every order, stock item and return in the range, inline when small, through
the exports bucket and a pre-signed link when larger than the inline limit."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlparse

import pytest

from chalicelib import wiring
from chalicelib.services.exports import ORDER_COLUMNS, RETURN_COLUMNS, STOCK_COLUMNS
from tests.api.fulfilment_kit import at, deliver, dispatch_placed, event, make_shop, place, shipped
from tests.api.seed import auth, put

EVENTS = "dirigent-warehouse-events"
TODAY = datetime.now(UTC).date()


@pytest.fixture
def shop(client: Any, admin_key: str, aws: Any) -> dict[str, str]:
    return make_shop(client, admin_key, aws)


def get(client: Any, key: str, path: str) -> Any:
    return client.http.get(path, headers=auth(key))


def headers(resp: Any) -> dict[str, str]:
    return {k.lower(): v for k, v in resp.headers.items()}


def rows_of(text: str) -> tuple[list[str], list[dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(text))
    rows = list(reader)
    return list(reader.fieldnames or []), rows


def test_orders_export_has_every_order_of_the_range_one_row_each(client, aws, shop):
    placed = [place(client, shop["key"], f"EXP-{i}", [("SKU-1", 1 + i % 2)]) for i in range(5)]
    name = '=HYPERLINK("http://evil.example")'
    place(
        client,
        shop["key"],
        "EXP-EVIL",
        [("SKU-2", 1)],
        customer={"email": "e@example.com", "name": name},
    )
    resp = get(client, shop["admin"], f"/exports/orders?from={TODAY}&to={TODAY}")
    assert resp.status_code == 200, resp.body
    assert headers(resp)["content-type"].startswith("text/csv")
    assert f'filename="orders_{TODAY}_{TODAY}.csv"' in headers(resp)["content-disposition"]
    columns, rows = rows_of(resp.body.decode())
    assert columns == ORDER_COLUMNS
    assert sorted(r["channel_order_id"] for r in rows) == sorted(
        [o["channel_order_id"] for o in placed] + ["EXP-EVIL"]
    )
    first = next(r for r in rows if r["channel_order_id"] == "EXP-0")
    assert (first["units"], first["goods"], first["lines"]) == ("1", "2999", "SKU-1 x1")
    internal = json.loads(get(client, shop["admin"], f"/orders/{placed[0]['order_id']}").body)
    assert first["cost"] == str(internal["delivery"]["cost"]["total"])
    evil = next(r for r in rows if r["channel_order_id"] == "EXP-EVIL")
    assert evil["customer_name"] == "'" + name  # a spreadsheet shows it, never runs it
    assert headers(resp)["x-export-rows"] == "6"

    yesterday = TODAY - timedelta(days=1)
    resp = get(client, shop["admin"], f"/exports/orders?from={yesterday}&to={yesterday}")
    assert rows_of(resp.body.decode())[1] == []


def test_a_large_export_goes_to_the_bucket_behind_a_presigned_link(client, aws, shop, monkeypatch):
    for i in range(3):
        place(client, shop["key"], f"BIG-{i}", [("SKU-1", 1)])
    inline = get(client, shop["admin"], "/exports/orders").body.decode()
    monkeypatch.setenv("EXPORT_INLINE_MAX_BYTES", str(len(inline.encode()) - 1))
    wiring.reset()
    resp = get(client, shop["admin"], "/exports/orders")
    assert resp.status_code == 200
    link = json.loads(resp.body)
    assert (link["export"], link["rows"], link["bytes"]) == ("orders", 3, len(inline.encode()))
    url = urlparse(link["url"])
    assert "X-Amz-Signature=" in url.query and "X-Amz-Expires=3600" in url.query
    assert url.path.endswith(".csv")
    key = url.path.lstrip("/").removeprefix("dirigent-exports/")  # path or host style
    stored = aws.client("s3").get_object(Bucket="dirigent-exports", Key=key)
    assert stored["Body"].read().decode() == inline
    assert stored["ContentType"].startswith("text/csv")
    assert datetime.fromisoformat(link["expires_at"]) > datetime.now(UTC)


def test_stock_export_lists_every_item_now(client, aws, shop):
    resp = get(client, shop["admin"], "/exports/stock")
    assert resp.status_code == 200
    assert 'filename="stock.csv"' in headers(resp)["content-disposition"]
    columns, rows = rows_of(resp.body.decode())
    assert columns == STOCK_COLUMNS
    assert {(r["sku"], r["location_id"], r["on_hand"]) for r in rows} == {
        ("SKU-1", "dc-kassel", "5"),
        ("SKU-1", "dc-lyon", "5"),
        ("SKU-2", "dc-kassel", "4"),
    }


def test_stock_export_shows_no_units_available_when_safety_stock_exceeds_on_hand(client, aws, shop):
    body = {"on_hand": 2, "safety_stock": 6}
    assert put(client, shop["admin"], "/stock/SKU-2/dc-kassel", body)["available"] == 0
    _, rows = rows_of(get(client, shop["admin"], "/exports/stock").body.decode())
    row = next(r for r in rows if (r["sku"], r["location_id"]) == ("SKU-2", "dc-kassel"))
    assert (row["on_hand"], row["safety_stock"], row["available"]) == ("2", "6", "0")


def test_returns_export_has_one_row_per_rma_line(client, aws, shop):
    order = place(client, shop["key"], "EXP-RET", [("SKU-1", 2), ("SKU-2", 1)])
    dispatch_placed(client, aws)
    for shipment in order["shipments"]:
        steps = [
            shipped(order, shipment),
            event("delivered", order, shipment, occurred_at=at(minutes=9)),
        ]
        assert deliver(client, "on_warehouse_event", EVENTS, *steps) == []
    body = {
        "order_id": order["order_id"],
        "lines": [
            {"sku": "SKU-1", "quantity": 1, "reason": "wrong_size"},
            {"sku": "SKU-2", "quantity": 1, "reason": "defective"},
        ],
    }
    resp = client.http.post("/returns", body=json.dumps(body), headers=auth(shop["service"]))
    assert resp.status_code == 201, resp.body
    rma_id = json.loads(resp.body)["rma_id"]
    columns, rows = rows_of(get(client, shop["admin"], "/exports/returns").body.decode())
    assert columns == RETURN_COLUMNS
    assert sorted((r["rma_id"], r["sku"], r["quantity"], r["reason"]) for r in rows) == [
        (rma_id, "SKU-1", "1", "wrong_size"),
        (rma_id, "SKU-2", "1", "defective"),
    ]


def test_unknown_exports_bad_ranges_and_roles(client, aws, shop):
    resp = get(client, shop["admin"], "/exports/customers")
    assert resp.status_code == 404 and "customers" in json.loads(resp.body)["error"]["message"]
    resp = get(client, shop["admin"], "/exports/orders?from=2026-02-30")
    assert resp.status_code == 422
    assert json.loads(resp.body)["error"]["fields"][0]["path"] == "from"
    resp = get(client, shop["admin"], "/exports/orders?channel=nope")
    assert resp.status_code == 422
    assert get(client, shop["service"], "/exports/orders").status_code == 403
    assert client.http.get("/exports/orders").status_code == 401
    put(
        client,
        shop["admin"],
        "/channels/webshop",
        {"kind": "webshop", "currencies": ["EUR"], "countries": ["DE"]},
    )
    assert get(client, shop["admin"], "/exports/orders?channel=webshop").status_code == 200
