"""The foundation end to end: the local stack serves the API, feeds SQS into the real handlers,
fires schedules on ``tick`` and stops cleanly on Ctrl-C."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import LocalStack, start_stack
from tests.e2e.signing import send_signed

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]


def _put(stack: LocalStack, path: str, body: dict[str, Any]) -> dict[str, Any]:
    resp = stack.http.put(f"{stack.api_url}{path}", json=body, headers=stack.auth(), timeout=30)
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


def _on_hand(stack: LocalStack, sku: str, location_id: str) -> int:
    resp = stack.http.get(f"{stack.api_url}/stock/{sku}", headers=stack.auth(), timeout=30)
    assert resp.status_code == 200, resp.text
    rows = [r for r in resp.json()["locations"] if r["location_id"] == location_id]
    return int(rows[0]["on_hand"])


def _location(location_id: str) -> dict[str, Any]:
    return {
        "type": "warehouse",
        "name": f"E2E {location_id}",
        "address": {
            "line1": "Am Lager 1",
            "city": "Kassel",
            "postal_code": "34117",
            "country": "DE",
        },
        "lat": 51.31,
        "lon": 9.49,
        "timezone": "Europe/Berlin",
        "capabilities": ["ship"],
        "cutoff_time": "16:00",
    }


def test_the_api_answers_with_the_admin_key(local_stack: LocalStack) -> None:
    resp = local_stack.http.post(
        f"{local_stack.api_url}/api-keys",
        json={"role": "service"},
        headers=local_stack.auth(),
        timeout=30,
    )
    assert resp.status_code == 201, resp.text
    anonymous = local_stack.http.post(
        f"{local_stack.api_url}/api-keys", json={"role": "service"}, timeout=30
    )
    assert anonymous.status_code == 401


def test_a_method_no_route_has_is_a_405_with_allow(local_stack: LocalStack) -> None:
    for method, path in (("TRACE", "/orders"), ("CONNECT", "/health"), ("PATCH", "/health")):
        resp = local_stack.http.request(
            method, f"{local_stack.api_url}{path}", headers=local_stack.auth(), timeout=30
        )
        assert resp.status_code == 405, (method, path, resp.status_code, resp.text)
        assert "GET" in resp.headers["Allow"], resp.headers


def test_a_stock_received_event_raises_on_hand(local_stack: LocalStack) -> None:
    queue = "dirigent-warehouse-events"
    assert queue in local_stack.state["queues"].values(), local_stack.state["queues"]
    run = uuid.uuid4().hex[:8]
    sku, location_id = f"E2E-{run}", f"wh-{run}"
    _put(local_stack, f"/locations/{location_id}", _location(location_id))
    _put(local_stack, f"/products/{sku}", {"name": "E2E product", "weight_g": 500})
    _put(local_stack, f"/stock/{sku}/{location_id}", {"on_hand": 5})
    event = {
        "event_id": f"evt-{run}",
        "type": "stock_received",
        "location_id": location_id,
        "occurred_at": datetime.now(UTC).isoformat(),
        "sku": sku,
        "quantity": 3,
    }
    send_signed(local_stack, json.dumps(event), location_id)

    deadline = time.monotonic() + 30
    while _on_hand(local_stack, sku, location_id) != 8:
        assert time.monotonic() < deadline, f"on_hand never rose:\n{local_stack.log_tail()}"
        time.sleep(0.3)


def test_tick_fires_every_schedule_once(local_stack: LocalStack) -> None:
    result = local_stack.run("tick")
    assert result.returncode == 0, result.stdout + result.stderr
    schedules = local_stack.state["schedules"]
    for name, expression in schedules.items():
        assert f"fired {name} ({expression}): ok" in result.stdout
    if not schedules:
        assert "nothing fired" in result.stdout


def test_tick_without_a_running_stack_says_so(local_stack: LocalStack) -> None:
    result = local_stack.run("tick", "--moto-port", "1")
    assert result.returncode == 1
    assert "no local stack" in result.stderr


def test_ctrl_c_stops_everything_quickly(tmp_path: Path) -> None:
    with start_stack(tmp_path) as stack:
        seconds = stack.stop()  # asserts the exit and that no process is left
        assert stack.process.returncode == 0, stack.log_tail()
        assert seconds < 10


def test_demo_data_is_loaded_through_the_api(tmp_path: Path) -> None:
    with start_stack(tmp_path, demo=True) as stack:
        assert "service" in stack.keys and len(stack.keys) > 1, "channel and service keys"
        resp = stack.http.get(
            f"{stack.api_url}/locations", headers=stack.auth(stack.keys["service"]), timeout=30
        )
        assert resp.status_code == 200
        assert len(resp.json()["locations"]) > 5
