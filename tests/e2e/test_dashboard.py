"""The operations dashboard in headless Chromium against the local stack with demo data and a
few orders that the simulated warehouse fulfils: the key is asked once, the charts render with
data, the live order list drills down into an order's timeline and sourcing explanation, and
the browser logs no error. A screenshot is kept in ``artifacts/dashboard.png``.

Needs Debian's ``chromium`` (``apt-get install -y chromium``; ``.ci/run`` installs it) and
Playwright for Python (requirements-dev.txt), never ``playwright install``.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import ROOT, LocalStack, start_stack

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "artifacts"
TIMEOUT_S = 120
SHIP_TO = {"country": "DE", "postal_code": "10115", "city": "Berlin", "lat": 52.52, "lon": 13.40}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SIMULATOR_STEP_SECONDS", "0.5")
        mp.setenv("SIMULATOR_SHORT_PICK_RATE", "0")
        with start_stack(Path(tmp_path_factory.mktemp("dashboard")), demo=True) as running:
            yield running


def browser_path() -> str:
    found = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
    if not found:
        pytest.fail(
            f"Chromium is not installed ({CHROMIUM} is missing): run "
            "`apt-get update && apt-get install -y chromium` (.ci/run does)"
        )
    return found


def call(stack: LocalStack, method: str, path: str, key: str, body: Any = None) -> Any:
    resp = stack.http.request(
        method, f"{stack.api_url}{path}", json=body, headers=stack.auth(key), timeout=60
    )
    assert resp.status_code < 300, (method, path, resp.status_code, resp.text)
    return resp.json()


def place_demo_orders(stack: LocalStack) -> list[dict[str, Any]]:
    """Orders from two demo channels, some with several lines (maybe several parcels)."""
    carts = [
        ("webshop", [("SKU-0001", 1)]),
        ("webshop", [("SKU-0002", 2), ("SKU-0003", 1)]),
        ("marketplace", [("SKU-0004", 1)]),
        ("marketplace", [("SKU-0005", 3)]),
        ("webshop", [("SKU-0006", 1), ("SKU-0007", 1), ("SKU-0008", 2)]),
        ("store-till", [("SKU-0009", 1)]),
    ]

    def price(sku: str) -> int:  # what the catalogue says: the channel checks prices
        return int(call(stack, "GET", f"/products/{sku}", stack.admin_key)["prices"]["EUR"])

    orders = []
    for i, (channel, lines) in enumerate(carts):
        body = {
            "channel_order_id": f"DASH-{i + 1}",
            "currency": "EUR",
            "customer": {"email": f"buyer{i}@example.com", "name": f"Buyer {i}"},
            "ship_to": SHIP_TO,
            "lines": [{"sku": s, "quantity": q, "unit_price": price(s)} for s, q in lines],
            "delivery": {"kind": "fastest"},
        }
        orders.append(call(stack, "POST", "/orders", stack.keys[channel], body))
    return orders


def wait_for(check: Any, what: str) -> Any:
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.5)
    pytest.fail(f"timed out waiting for {what}")


def bar_values(page: Any, selector: str) -> list[float]:
    return [
        float(v)
        for v in page.eval_on_selector_all(selector, "els => els.map(e => e.dataset.value)")
    ]


def test_the_dashboard_shows_live_figures_and_drills_into_an_order(stack: LocalStack) -> None:
    executable = browser_path()
    from playwright.sync_api import sync_playwright

    orders = place_demo_orders(stack)
    service = stack.keys["service"]

    def delivered() -> bool:
        states = [call(stack, "GET", f"/orders/{o['order_id']}", service)["status"] for o in orders]
        return states.count("delivered") >= 3

    wait_for(delivered, "the simulated warehouse to deliver some orders")
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "dashboard-order.png"
    errors: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=executable,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 1200})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(f"{stack.api_url}/dashboard")
            page.wait_for_selector("#key-dialog:not([hidden])")
            page.fill("#key-input", service)
            page.click("#key-form button[type=submit]")

            page.wait_for_selector("#chart-orders rect.bar")
            assert sum(bar_values(page, "#chart-orders rect.bar")) >= len(orders)
            funnel = bar_values(page, "#chart-funnel rect.bar")
            assert funnel[0] >= len(orders) and funnel[-1] >= 3  # placed ... delivered
            health = page.eval_on_selector_all(
                "#chart-stock rect.bar", "els => els.map(e => e.dataset.location)"
            )
            assert len(set(health)) >= 10  # the demo's locations, each with its SKUs
            assert int(page.inner_text("#kpi-orders")) >= len(orders)
            assert page.inner_text("#kpi-fill").endswith("%")

            page.wait_for_selector("#orders tbody tr[data-order-id]")
            page.wait_for_selector("#low-stock tbody tr")
            page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)
            page.click("#orders tbody tr[data-order-id]")
            page.wait_for_selector("#order-timeline li")
            events = page.eval_on_selector_all(
                "#order-timeline .what", "els => els.map(e => e.textContent)"
            )
            assert events[0] == "placed"
            explanation = page.inner_text("#order-explanation")
            assert "chosen" in explanation
            assert page.is_visible("#drawer")

            # A reload keeps the key: no second question.
            page.reload()
            page.wait_for_selector("#chart-orders rect.bar")
            assert page.is_hidden("#key-dialog")
            page.click("#orders tbody tr[data-order-id]")
            page.wait_for_selector("#order-timeline li")
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    print(f"dashboard screenshots: {ARTIFACTS / 'dashboard.png'}, {shot}")
    assert errors == [], errors


def test_the_page_is_public_but_its_data_needs_a_key(stack: LocalStack) -> None:
    assert stack.state["dashboard"] is True  # the banner prints the dashboard's address
    assert f"{stack.api_url}/dashboard" in stack.log.read_text()
    page = stack.http.get(f"{stack.api_url}/dashboard", timeout=10)
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "://" not in page.text  # nothing from elsewhere: no CDN
    script = stack.http.get(f"{stack.api_url}/dashboard/assets/app.js", timeout=10)
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert stack.http.get(f"{stack.api_url}/dashboard/data", timeout=10).status_code == 401
    assert stack.http.get(f"{stack.api_url}/dashboard/assets/x.js", timeout=10).status_code == 404
