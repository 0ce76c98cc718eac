"""Stale stock feeds end to end on moto: stock reports record a location's feed time, a stale
location is discounted or skipped by sourcing and in what a channel sees, a count makes it
usable again, and staff see feed ages on the location and the dashboard."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib import wiring
from local.demo import network_documents
from tests.api import fulfilment_kit as kit
from tests.api.seed import auth, put, seed_channel, seed_network, seed_product, set_stock

KASSEL = "dc-kassel"
FEED = {"feed_interval_minutes": 60, "feed_stale_limit_minutes": 240}


def kassel_doc(**changes: Any) -> dict[str, Any]:
    (doc,) = [d for d in network_documents()["locations"] if d["location_id"] == KASSEL]
    return {**doc, **changes}


@pytest.fixture
def shop(client: Any, admin_key: str, aws: Any) -> dict[str, str]:
    seed_network(client, admin_key)
    key = seed_channel(client, admin_key, "webshop")
    seed_product(client, admin_key, "SKU-1")
    set_stock(aws, "SKU-1", KASSEL, 5)  # straight into the table: no report recorded
    set_stock(aws, "SKU-1", "dc-lyon", 5)
    return {"key": key, "admin": admin_key}


def get(client: Any, key: str, path: str) -> dict[str, Any]:
    resp = client.http.get(path, headers=auth(key))
    assert resp.status_code == 200, resp.body
    return dict(json.loads(resp.body))


def fastest(client: Any, key: str, quantity: int = 2) -> dict[str, Any]:
    body = {
        "currency": "EUR",
        "ship_to": {"country": "DE", "postal_code": "10115"},
        "lines": [{"sku": "SKU-1", "quantity": quantity}],
    }
    resp = client.http.post("/delivery-options", body=json.dumps(body), headers=auth(key))
    assert resp.status_code == 200, resp.body
    options = json.loads(resp.body)["options"]
    return dict(next(o for o in options if "fastest" in o["kinds"]))


def ships_from(option: dict[str, Any]) -> set[str]:
    return {s["location_id"] for s in option["shipments"]}


def stale_entries(option: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for e in option["explanation"] if e.get("outcome") == "stale_feed"]


def reported(minutes_ago: float) -> None:
    """Record a report of Kassel ``minutes_ago`` (through the adapter the services use)."""
    assert wiring.catalog().mark_feed(KASSEL, datetime.now(UTC) - timedelta(minutes=minutes_ago))


def counted(on_hand: int) -> dict[str, Any]:
    now = datetime.now(UTC).isoformat()
    return {
        "event_id": f"ev-{uuid.uuid4()}",
        "type": "stock_count",
        "location_id": KASSEL,
        "occurred_at": now,
        "sku": "SKU-1",
        "counted_on_hand": on_hand,
        "counted_at": now,
    }


def kassel_stock(client: Any, key: str) -> dict[str, Any]:
    rows = get(client, key, "/stock/SKU-1")["locations"]
    return dict(next(r for r in rows if r["location_id"] == KASSEL))


def test_a_stale_location_is_skipped_and_used_again_after_a_count(client, shop):
    assert ships_from(fastest(client, shop["key"])) == {KASSEL}  # the nearest, while trusted
    put(client, shop["admin"], f"/locations/{KASSEL}", kassel_doc(**FEED))
    never = fastest(client, shop["key"])  # an interval and no report ever: not sourced
    assert KASSEL not in ships_from(never)
    assert any(KASSEL in e["location_ids"] for e in stale_entries(never))

    reported(minutes_ago=300)  # past the limit of 240
    assert KASSEL not in ships_from(fastest(client, shop["key"]))

    assert kit.deliver(client, "on_warehouse_event", kit.WAREHOUSE_EVENTS, counted(5)) == []
    again = fastest(client, shop["key"])
    assert ships_from(again) == {KASSEL}
    assert stale_entries(again) == []
    view = get(client, shop["admin"], f"/locations/{KASSEL}")
    assert view["feed_status"] == "fresh" and view["feed_age_minutes"] == 0


def test_every_kind_of_stock_report_records_the_feed_time(client, shop, aws):
    put(client, shop["admin"], f"/locations/{KASSEL}", kassel_doc(**FEED))
    assert get(client, shop["admin"], f"/locations/{KASSEL}")["feed_at"] is None
    table = aws.resource("dynamodb").Table("dirigent-catalog")

    def forget() -> None:
        table.update_item(Key={"pk": "LOCATION", "sk": KASSEL}, UpdateExpression="REMOVE feed_at")
        wiring.catalog().invalidate()

    def recorded() -> bool:
        return get(client, shop["admin"], f"/locations/{KASSEL}")["feed_status"] == "fresh"

    put(client, shop["admin"], f"/stock/SKU-1/{KASSEL}", {"on_hand": 6})
    assert recorded()
    forget()
    adjustment = {"sku": "SKU-1", "location_id": KASSEL, "delta": 1, "reason": "found"}
    assert (
        client.http.post(
            "/stock/adjustments", body=json.dumps(adjustment), headers=auth(shop["admin"])
        ).status_code
        == 201
    )
    assert recorded()
    forget()
    receipt = {**counted(0), "type": "stock_received", "quantity": 2}
    assert kit.deliver(client, "on_warehouse_event", kit.WAREHOUSE_EVENTS, receipt) == []
    assert recorded()
    forget()
    rows = [{"sku": "SKU-1", "location_id": KASSEL, "on_hand": 9}]
    resp = client.http.post("/imports/stock", body=json.dumps(rows), headers=auth(shop["admin"]))
    assert resp.status_code in (200, 201, 202), resp.body
    assert recorded()


def test_putting_the_location_again_keeps_its_feed_time(client, shop):
    put(client, shop["admin"], f"/locations/{KASSEL}", kassel_doc(**FEED))
    reported(minutes_ago=30)
    before = get(client, shop["admin"], f"/locations/{KASSEL}")
    assert before["feed_at"] is not None and before["feed_age_minutes"] == 30
    put(client, shop["admin"], f"/locations/{KASSEL}", kassel_doc(name="Kassel DC", **FEED))
    after = get(client, shop["admin"], f"/locations/{KASSEL}")
    assert after["name"] == "Kassel DC"
    assert after["feed_at"] == before["feed_at"] and after["feed_status"] == "fresh"
    listed = get(client, shop["admin"], "/locations")["locations"]
    assert next(d for d in listed if d["location_id"] == KASSEL)["feed_at"] == before["feed_at"]


def test_a_channel_sees_the_stale_discount_that_sourcing_applies(client, shop):
    put(client, shop["admin"], f"/locations/{KASSEL}", kassel_doc(**FEED))
    reported(minutes_ago=150)  # halfway from the interval (60) to the limit (240)
    row = kassel_stock(client, shop["key"])
    assert (row["available"], row["sellable"], row["feed_status"]) == (5, 2, "stale")
    lyon = next(
        r
        for r in get(client, shop["key"], "/stock/SKU-1")["locations"]
        if r["location_id"] == "dc-lyon"
    )
    assert (lyon["sellable"], lyon["feed_status"]) == (5, "fresh")

    within = fastest(client, shop["key"], quantity=2)  # 2 sellable: still from Kassel
    assert ships_from(within) == {KASSEL}
    (entry,) = stale_entries(within)
    assert entry["location_id"] == KASSEL and entry["discount_pct"] == 50
    assert KASSEL not in ships_from(fastest(client, shop["key"], quantity=3))  # more than sellable


def test_the_dashboard_shows_the_feed_age_of_each_location_with_an_interval(client, shop):
    put(client, shop["admin"], f"/locations/{KASSEL}", kassel_doc(**FEED))
    (row,) = get(client, shop["admin"], "/dashboard/data")["feed_ages"]
    assert row["location_id"] == KASSEL and row["feed_status"] == "skipped"
    assert row["feed_age_minutes"] is None and row["feed_interval_minutes"] == 60
    reported(minutes_ago=90)
    (row,) = get(client, shop["admin"], "/dashboard/data")["feed_ages"]
    assert (row["feed_age_minutes"], row["feed_status"]) == (90, "stale")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"feed_interval_minutes": 0}, "feed_interval_minutes"),
        ({"feed_interval_minutes": 10_081}, "feed_interval_minutes"),
        ({"feed_interval_minutes": "often"}, "feed_interval_minutes"),
        ({"feed_interval_minutes": 60, "feed_stale_limit_minutes": 60}, "feed_stale_limit_minutes"),
        (
            {"feed_interval_minutes": 60, "feed_stale_limit_minutes": 43_201},
            "feed_stale_limit_minutes",
        ),
        ({"feed_stale_limit_minutes": 120}, "feed_stale_limit_minutes"),
        ({"feed_at": "2026-01-01T00:00:00Z"}, "feed_at"),  # recorded by reports, never set
    ],
)
def test_bad_feed_settings_are_refused_naming_the_field(client, admin_key, change, field):
    resp = client.http.put(
        f"/locations/{KASSEL}", body=json.dumps(kassel_doc(**change)), headers=auth(admin_key)
    )
    assert resp.status_code == 422, resp.body
    assert [f["path"] for f in json.loads(resp.body)["error"]["fields"]] == [field]
