"""Network-aware sourcing on moto: placed orders are recorded as sales by the order-events
consumer, the ``network_values`` schedule stores what a unit is worth per location, and an
order under network-aware rules is sourced with it and explains the opportunity term."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.wiring import clock
from tests.api import fulfilment_kit as kit
from tests.api.seed import auth, put, seed_channel, seed_network, seed_product, set_stock

PARIS = {"country": "FR", "postal_code": "75001", "city": "Paris", "lat": 48.85, "lon": 2.35}


@pytest.fixture
def shop(client: Any, admin_key: str, aws: Any) -> str:
    seed_network(client, admin_key)
    key = seed_channel(client, admin_key, "webshop")
    seed_product(client, admin_key, "SKU-1")
    set_stock(aws, "SKU-1", "dc-kassel", 40)
    return key


def run_job(client: Any, monkeypatch: pytest.MonkeyPatch, *, days_later: int) -> None:
    """Fire the schedule as if it ran ``days_later`` days from now (today's sales count then)."""
    later = datetime.now(UTC) + timedelta(days=days_later)
    monkeypatch.setattr(clock, "now", lambda: later)
    event = client.events.generate_cw_event(
        source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]
    )
    client.lambda_.invoke("network_values", event)
    monkeypatch.undo()


def stored(aws: Any) -> dict[str, Any]:
    table = aws.resource("dynamodb").Table("dirigent-catalog")
    item = table.get_item(Key={"pk": "NETVAL", "sk": "SKU-1"}).get("Item")
    assert item is not None
    return {k: item[k] for k in ("values", "computed_at")}


def rules(client: Any, admin_key: str, **values: Any) -> dict[str, Any]:
    resp = client.http.get("/sourcing-rules", headers=auth(admin_key))
    assert resp.status_code == 200, resp.body
    current = dict(json.loads(resp.body))
    if values:
        current = dict(put(client, admin_key, "/sourcing-rules", values))
    return current


def paris_order(client: Any, key: str, coid: str) -> dict[str, Any]:
    return kit.place(
        client, key, coid, [("SKU-1", 1)], ship_to=PARIS, delivery={"kind": "cheapest"}
    )


def test_the_job_values_scarce_stock_and_the_order_explains_the_term(
    client: Any, shop: str, admin_key: str, aws: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert rules(client, admin_key)["network_aware"] is False  # off by default
    for n in range(4):  # Berlin buys 12 units today
        kit.place(client, shop, f"B-{n}", [("SKU-1", 3)])
    kit.dispatch_placed(client, aws)  # the consumer records the sales
    kit.dispatch_placed(client, aws)  # a redelivery records nothing twice
    set_stock(aws, "SKU-1", "dc-kassel", 1)  # Germany's only unit left nearby
    set_stock(aws, "SKU-1", "3pl-venlo", 5)

    run_job(client, monkeypatch, days_later=1)
    # 12 units over 28 days, 7 days ahead: 3 for Germany, 1 at Kassel; the others come from
    # Venlo (950 + 130 + 35) instead of Kassel (410 + 90 + 25)
    values = stored(aws)
    assert {k: int(v) for k, v in values["values"].items()} == {"dc-kassel": 1115 - 525}

    myopic = paris_order(client, shop, "P-1")  # network_aware off: Kassel ships cheaper
    assert [s["location_id"] for s in myopic["shipments"]] == ["dc-kassel"]
    assert not [e for e in myopic["explanation"] if e.get("outcome") == "network_value"]
    set_stock(aws, "SKU-1", "dc-kassel", 1)

    # Venlo promises Paris later (a weekend between): let the cheapest option wait for it
    rules(client, admin_key, network_aware=True, cheapest_max_delay_days=7)
    aware = paris_order(client, shop, "P-2")
    assert [s["location_id"] for s in aware["shipments"]] == ["3pl-venlo"]
    order = kit.get_order(client, admin_key, aware["order_id"])
    (note,) = [e for e in order["explanation"] if e.get("outcome") == "network_value"]
    assert note["applied_skus"] == ["SKU-1"]
    assert note["cost"] == {"opportunity": 0, "by_location": {"3pl-venlo": 0}}


def test_values_older_than_two_days_are_ignored_and_named(
    client: Any, shop: str, admin_key: str, aws: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    for n in range(4):
        kit.place(client, shop, f"B-{n}", [("SKU-1", 3)])
    kit.dispatch_placed(client, aws)
    set_stock(aws, "SKU-1", "dc-kassel", 1)
    set_stock(aws, "SKU-1", "3pl-venlo", 5)
    run_job(client, monkeypatch, days_later=1)
    table = aws.resource("dynamodb").Table("dirigent-catalog")
    old = (datetime.now(UTC) - timedelta(days=3)).isoformat(timespec="seconds")
    table.update_item(  # the job has not run for three days
        Key={"pk": "NETVAL", "sk": "SKU-1"},
        UpdateExpression="SET computed_at = :at",
        ExpressionAttributeValues={":at": old},
    )
    rules(client, admin_key, network_aware=True, cheapest_max_delay_days=7)
    order = paris_order(client, shop, "P-1")
    assert [s["location_id"] for s in order["shipments"]] == ["dc-kassel"]
    view = kit.get_order(client, admin_key, order["order_id"])
    (note,) = [e for e in view["explanation"] if e.get("outcome") == "network_value"]
    assert note["stale_skus"] == ["SKU-1"]
    assert note["cost"] == {"opportunity": 0, "by_location": {"dc-kassel": 0}}


def test_network_aware_must_be_a_boolean(client: Any, admin_key: str) -> None:
    resp = client.http.put(
        "/sourcing-rules", body=json.dumps({"network_aware": "maybe"}), headers=auth(admin_key)
    )
    assert resp.status_code == 422, resp.body
    assert "network_aware" in resp.body.decode()
