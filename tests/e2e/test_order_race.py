"""Two customers can never buy the same last unit: 200 concurrent orders for the last 10 units
of a SKU, spread over 3 locations, and 200 concurrent checkout reservations of the last 10,
through the HTTP API of the local stack."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from local.demo import network_documents
from tests.e2e.conftest import LocalStack, start_stack

pytestmark = [pytest.mark.e2e, pytest.mark.stress]

THREADS = 200
ROUNDS = 10
SPREAD = {"dc-kassel": 4, "dc-lyon": 3, "3pl-venlo": 3}  # the last 10 units


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    # No simulated warehouse: nothing but the racing orders touches the stock.
    with start_stack(Path(tmp_path_factory.mktemp("race")), sim=False) as running:
        yield running


def put(stack: LocalStack, path: str, body: Any) -> None:
    resp = stack.http.put(f"{stack.api_url}{path}", json=body, headers=stack.auth(), timeout=30)
    assert resp.status_code < 300, (path, resp.status_code, resp.text)


@pytest.fixture(scope="module")
def channel_key(stack: LocalStack) -> str:
    net = network_documents()
    for loc in net["locations"]:
        put(stack, f"/locations/{loc['location_id']}", loc)
    for service in net["carrier_services"]:
        put(stack, f"/carrier-services/{service['service_id']}", service)
    put(
        stack,
        "/channels/race",
        {"kind": "marketplace", "currencies": ["EUR"], "countries": ["DE", "AT", "FR", "NL"]},
    )
    resp = stack.http.post(
        f"{stack.api_url}/api-keys",
        headers=stack.auth(),
        timeout=30,
        json={"role": "channel", "channel": "race"},
    )
    return str(resp.json()["api_key"])


def order(sku: str, coid: str, quantity: int = 1) -> dict[str, Any]:
    return {
        "channel_order_id": coid,
        "currency": "EUR",
        "customer": {"email": f"{coid}@example.com", "name": "Racer"},
        "ship_to": {"country": "DE", "postal_code": "60311", "lat": 50.11, "lon": 8.68},
        "lines": [{"sku": sku, "quantity": quantity, "unit_price": 1999}],
    }


def stock_of(stack: LocalStack, sku: str) -> dict[str, Any]:
    resp = stack.http.get(f"{stack.api_url}/stock/{sku}", headers=stack.auth(), timeout=30)
    assert resp.status_code == 200, resp.text
    return resp.json()


def assert_invariants(stock: dict[str, Any]) -> None:
    for row in stock["locations"]:
        assert row["reserved"] >= 0, row
        assert row["on_hand"] == row["available"] + row["reserved"] + row["safety_stock"], row


def race(
    stack: LocalStack, key: str, bodies: list[dict[str, Any]], path: str = "/orders"
) -> list[requests.Response]:
    start = threading.Barrier(len(bodies))
    local = threading.local()

    def post(body: dict[str, Any]) -> requests.Response:
        if not hasattr(local, "session"):
            local.session = requests.Session()
        start.wait()
        return local.session.post(
            f"{stack.api_url}{path}",
            json=body,
            timeout=300,
            headers={"Authorization": f"Bearer {key}"},
        )

    with ThreadPoolExecutor(len(bodies)) as pool:
        return list(pool.map(post, bodies))


def test_the_last_ten_units_are_sold_exactly_once(stack, channel_key, stressed):
    for round_no in range(ROUNDS):
        sku = f"RACE-{round_no}"
        put(stack, f"/products/{sku}", {"name": sku, "weight_g": 500, "prices": {"EUR": 1999}})
        for location_id, units in SPREAD.items():
            put(stack, f"/stock/{sku}/{location_id}", {"on_hand": units})
        bodies = [order(sku, f"race-{round_no}-{n}") for n in range(THREADS)]
        responses = race(stack, channel_key, bodies)

        codes = Counter(r.status_code for r in responses)
        assert codes == {201: 10, 409: THREADS - 10}, (round_no, codes)
        for r in responses:
            if r.status_code == 409:
                assert r.json()["error"]["code"] == "out_of_stock"
                assert r.json()["error"]["skus"] == [sku]
        stock = stock_of(stack, sku)
        assert stock["total"]["reserved"] == 10 and stock["total"]["available"] == 0, stock
        assert_invariants(stock)


def test_the_same_order_posted_three_times_at_once_is_one_order(stack, channel_key, stressed):
    put(stack, "/products/REPLAY-1", {"name": "Replay", "weight_g": 500, "prices": {"EUR": 1999}})
    put(stack, "/stock/REPLAY-1/dc-kassel", {"on_hand": 5})
    body = order("REPLAY-1", "replay-1", quantity=2)
    responses = race(stack, channel_key, [body, body, body])

    assert sorted(r.status_code for r in responses) == [200, 200, 201]
    assert len({r.json()["order_id"] for r in responses}) == 1
    stock = stock_of(stack, "REPLAY-1")
    assert stock["total"]["reserved"] == 2
    assert_invariants(stock)


def test_checkouts_reserving_the_last_ten_units_get_exactly_ten(stack, channel_key, stressed):
    sku = "RESV-1"
    put(stack, f"/products/{sku}", {"name": sku, "weight_g": 500, "prices": {"EUR": 1999}})
    put(stack, f"/stock/{sku}/dc-kassel", {"on_hand": 10})
    cart = {
        "currency": "EUR",
        "ship_to": {"country": "DE", "postal_code": "60311", "lat": 50.11, "lon": 8.68},
        "lines": [{"sku": sku, "quantity": 1}],
    }
    quotes = race(stack, channel_key, [cart] * THREADS, "/delivery-options")
    assert {q.status_code for q in quotes} == {200}
    options = [{"option_id": q.json()["options"][0]["option_id"]} for q in quotes]
    assert len({o["option_id"] for o in options}) == THREADS  # one cart each

    responses = race(stack, channel_key, options, "/reservations")
    codes = Counter(r.status_code for r in responses)
    assert codes == {201: 10, 409: THREADS - 10}, codes
    assert {r.json()["error"]["code"] for r in responses if r.status_code == 409} == {
        "out_of_stock"
    }
    stock = stock_of(stack, sku)
    assert stock["total"]["reserved"] == 10 and stock["total"]["available"] == 0, stock

    held = [r.json() for r in responses if r.status_code == 201]
    body = {**order(sku, "resv-1"), "delivery": {"reservation_id": held[0]["reservation_id"]}}
    placed = stack.http.post(
        f"{stack.api_url}/orders",
        json=body,
        timeout=60,
        headers={"Authorization": f"Bearer {channel_key}"},
    )
    assert placed.status_code == 201, placed.text
    stock = stock_of(stack, sku)
    assert stock["total"]["reserved"] == 10, stock  # taken over, not reserved twice
    assert_invariants(stock)
