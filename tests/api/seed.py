"""Seed a moto account through the API (master data) and the stock table (stock levels)."""

from __future__ import annotations

import json
from typing import Any

from local.demo import network_documents


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}


def put(client: Any, key: str, path: str, body: dict[str, Any]) -> Any:
    resp = client.http.put(path, body=json.dumps(body), headers=auth(key))
    assert resp.status_code in (200, 201), (path, resp.status_code, resp.body)
    return json.loads(resp.body)


def seed_network(client: Any, admin_key: str, *, locations: list[str] | None = None) -> None:
    """Locations and carrier services of shared/data/network-eu.json."""
    net = network_documents()
    for loc in net["locations"]:
        if locations is None or loc["location_id"] in locations:
            put(client, admin_key, f"/locations/{loc['location_id']}", loc)
    for service in net["carrier_services"]:
        put(client, admin_key, f"/carrier-services/{service['service_id']}", service)


def seed_channel(client: Any, admin_key: str, name: str, **overrides: Any) -> str:
    """A channel selling in EUR to DE/AT/FR/NL, and a key for it."""
    body = {"kind": "webshop", "currencies": ["EUR"], "countries": ["DE", "AT", "FR", "NL"]}
    put(client, admin_key, f"/channels/{name}", {**body, **overrides})
    resp = client.http.post(
        "/api-keys", body=json.dumps({"role": "channel", "channel": name}), headers=auth(admin_key)
    )
    assert resp.status_code == 201, resp.body
    return json.loads(resp.body)["api_key"]


def seed_product(client: Any, admin_key: str, sku: str, *, weight_g: int = 800, price: int = 2999):
    put(
        client,
        admin_key,
        f"/products/{sku}",
        {"name": sku, "weight_g": weight_g, "prices": {"EUR": price}},
    )


def set_stock(
    aws: Any, sku: str, location_id: str, on_hand: int, *, reserved: int = 0, safety_stock: int = 0
) -> None:
    table = aws.resource("dynamodb").Table("dirigent-stock")
    table.put_item(
        Item={
            "sku": sku,
            "location_id": location_id,
            "on_hand": on_hand,
            "reserved": reserved,
            "safety_stock": safety_stock,
            "available": on_hand - reserved - safety_stock,
            "reorder_point": 0,
        }
    )


def stock(aws: Any, sku: str) -> dict[str, dict[str, int]]:
    table = aws.resource("dynamodb").Table("dirigent-stock")
    items = table.query(KeyConditionExpression="sku = :s", ExpressionAttributeValues={":s": sku})
    return {
        i["location_id"]: {
            k: int(i[k]) for k in ("on_hand", "reserved", "safety_stock", "available")
        }
        for i in items["Items"]
    }


def assert_invariants(aws: Any) -> None:
    for item in aws.resource("dynamodb").Table("dirigent-stock").scan()["Items"]:
        on_hand, reserved = int(item["on_hand"]), int(item["reserved"])
        assert reserved >= 0, item
        assert int(item["available"]) == on_hand - reserved - int(item["safety_stock"]), item


def order_body(coid: str, lines: list[tuple[str, int]], **overrides: Any) -> dict[str, Any]:
    body = {
        "channel_order_id": coid,
        "currency": "EUR",
        "customer": {"email": "ada@example.com", "name": "Ada Lovelace"},
        "ship_to": {
            "country": "DE",
            "postal_code": "10115",
            "city": "Berlin",
            "lat": 52.5244,
            "lon": 13.4105,
        },
        "lines": [{"sku": s, "quantity": q, "unit_price": 2999} for s, q in lines],
        "delivery": {"kind": "fastest"},
    }
    return {**body, **overrides}
