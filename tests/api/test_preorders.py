"""Preorders (moto): before release a product sells against its cap only, promised for release
day; shelf stock waits for the preorders and is released to locations so they ship on it."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest

from chalicelib import wiring
from chalicelib.consumers import schedules
from chalicelib.domain.order.model import order_id_for
from chalicelib.services.preorders import CLAIM_GRACE, PreorderService
from tests.api.seed import auth, order_body, seed_channel, seed_network, set_stock, stock

RELEASE = date(2030, 3, 14)  # a Thursday: Kassel ships on it


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


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Callable[[date], None]:
    """The clock of every service that dates preorders, fixed at 06:00 UTC of a day (the
    wiring's clock file is for the local stage only)."""
    at = [datetime.combine(RELEASE - timedelta(days=20), time(6), tzinfo=UTC)]
    for service in (wiring.ordering(), wiring.promises(), wiring.preorders(), wiring.backorders()):
        monkeypatch.setattr(service, "_clock", lambda: at[0])

    def set_day(day: date) -> None:
        at[0] = datetime.combine(day, time(6), tzinfo=UTC)

    return set_day


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


def test_a_preorder_through_release_day(client, shop, aws, clock):
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

    # The window opens for the slowest location (3pl-venlo, 1 processing day); Kassel ships the
    # day it is asked to, so its units wait for release day.
    lead = max(loc.processing_days for loc in wiring.catalog_service().locations())
    assert lead == 1
    clock(RELEASE - timedelta(days=lead))
    assert wiring.preorders().held("SKU-G") is False
    assert schedules.release_preorders() == 0
    assert stock(aws, "SKU-G")["dc-kassel"]["reserved"] == 0

    clock(RELEASE)
    assert schedules.release_preorders() == 2
    order = wiring.orders().get(first["order_id"])
    assert order.backorders == {}
    assert [(s.location_id, s.ship_date, sum(s.lines.values())) for s in order.shipments] == [
        ("dc-kassel", RELEASE.isoformat(), 2)
    ]
    assert stock(aws, "SKU-G")["dc-kassel"]["reserved"] == 2

    clock(RELEASE + timedelta(days=1))
    status, normal = place(client, shop["key"], "AFTER-1", 2)  # released: sells from the shelf
    assert status == 201 and normal["backorders"] == {} and normal["shipments"], normal


# --- claims whose order was never written ------------------------------------------------------


def later(monkeypatch: pytest.MonkeyPatch, delta: timedelta) -> None:
    """The preorder clock moved on by ``delta``."""
    at = datetime.now(UTC) + delta
    monkeypatch.setattr(wiring.preorders(), "_clock", lambda: at)


def crash_on_create(monkeypatch: pytest.MonkeyPatch) -> None:
    """The order transaction never happens: the process dies right after the claim."""

    def crash(*args: Any, **kw: Any) -> None:
        raise RuntimeError("killed before the order transaction")

    monkeypatch.setattr(wiring.orders(), "create", crash)


def test_a_claim_whose_order_was_never_written_is_swept_after_the_grace_time(
    client, shop, monkeypatch
):
    with monkeypatch.context() as crashing:
        crash_on_create(crashing)
        status, _ = place(client, shop["key"], "LOST-1", 2)
        assert status == 500
    assert wiring.orders().get(order_id_for("webshop", "LOST-1")) is None
    assert wiring.preorder_counters().count("SKU-G") == 2  # the leak: the cap shrank to 1
    status, _ = place(client, shop["key"], "PRE-2", 2)
    assert status == 409

    assert schedules.release_preorders() == 0  # within the grace time: kept
    assert wiring.preorder_counters().count("SKU-G") == 2

    later(monkeypatch, CLAIM_GRACE + timedelta(minutes=1))
    schedules.release_preorders()
    assert wiring.preorder_counters().count("SKU-G") == 0
    status, body = place(client, shop["key"], "PRE-2", 3)  # the whole cap is free again
    assert status == 201, body
    assert wiring.preorder_counters().count("SKU-G") == 3


def test_a_claim_with_its_order_is_kept(client, shop, monkeypatch):
    status, body = place(client, shop["key"], "PRE-1", 2)
    assert status == 201, body
    later(monkeypatch, timedelta(days=2))
    assert wiring.preorders().sweep() == 0
    assert wiring.preorder_counters().count("SKU-G") == 2
    status, _ = place(client, shop["key"], "PRE-2", 2)
    assert status == 409


def test_a_cancelled_preorder_gives_its_units_back_to_the_cap(client, shop, monkeypatch):
    status, body = place(client, shop["key"], "PRE-1", 2)
    assert status == 201, body
    assert place(client, shop["key"], "PRE-2", 2)[0] == 409  # 1 of 3 left
    resp = client.http.post(
        f"/orders/{body['order_id']}/cancel", body="{}", headers=auth(shop["admin"])
    )
    assert resp.status_code == 200, resp.body
    later(monkeypatch, CLAIM_GRACE + timedelta(minutes=1))
    assert wiring.preorders().sweep() == 2
    assert wiring.preorder_counters().count("SKU-G") == 0
    assert wiring.preorders().sweep() == 0  # freed once
    status, body = place(client, shop["key"], "PRE-2", 3)
    assert status == 201, body


def cancel_units(client: Any, admin: str, order_id: str, quantity: int) -> None:
    resp = client.http.post(
        f"/orders/{order_id}/cancel",
        body=json.dumps({"lines": [{"sku": "SKU-G", "quantity": quantity}]}),
        headers=auth(admin),
    )
    assert resp.status_code == 200, resp.body


def racing_sweepers(counters: Any, clock: Callable[[], datetime]) -> list[PreorderService]:
    """Two sweepers that both list the SKU's claims before either releases or cuts one
    (DynamoDB serialises transactions; in-process moto does not, hence one at a time)."""
    both_listed = threading.Barrier(2, timeout=10)
    one_at_a_time = threading.Lock()

    class Racing:
        def sweepable(self, sku: str, before: str) -> Any:
            with one_at_a_time:
                found = counters.sweepable(sku, before)
            both_listed.wait()
            return found

        def release(self, claim: Any) -> bool:
            with one_at_a_time:
                return bool(counters.release(claim))

        def shrink(self, shrink: Any) -> bool:
            with one_at_a_time:
                return bool(counters.shrink(shrink))

        def __getattr__(self, name: str) -> Any:
            return getattr(counters, name)

    return [
        PreorderService(
            catalog=wiring.catalog_service(), counters=Racing(), lead_days=lambda: 1, clock=clock
        )
        for _ in range(2)
    ]


def test_a_partial_cancel_gives_the_cancelled_units_back_to_the_cap(client, shop, monkeypatch):
    """Reproduction: a live preorder cancelled in part kept its whole claim, so the cap stayed
    short of the cancelled units until the order went."""
    status, body = place(client, shop["key"], "PRE-1", 3)
    assert status == 201, body
    cancel_units(client, shop["admin"], body["order_id"], 1)
    assert place(client, shop["key"], "PRE-2", 1)[0] == 409  # not before the sweep
    later(monkeypatch, CLAIM_GRACE + timedelta(minutes=1))
    assert wiring.preorders().sweep() == 1
    assert wiring.preorder_counters().count("SKU-G") == 2
    assert wiring.preorders().sweep() == 0  # freed once; the 2 still wanted stay claimed
    status, other = place(client, shop["key"], "PRE-2", 1)
    assert status == 201, other
    assert place(client, shop["key"], "PRE-3", 1)[0] == 409  # the cap of 3 holds
    cancel_units(client, shop["admin"], body["order_id"], 2)  # the rest: cancelled as a whole
    assert wiring.preorders().sweep() == 2
    assert wiring.preorder_counters().count("SKU-G") == 1


def test_a_claim_is_not_cut_when_its_order_changed_after_it_was_read(client, shop, monkeypatch):
    status, body = place(client, shop["key"], "PRE-1", 3)
    assert status == 201, body
    cancel_units(client, shop["admin"], body["order_id"], 1)
    counters = wiring.preorder_counters()
    (listed,) = counters.sweepable("SKU-G", "9999").shrinks
    assert (listed.claim.units, listed.keep) == (3, 2)
    cancel_units(client, shop["admin"], body["order_id"], 1)  # meanwhile: a new version
    assert counters.shrink(listed) is False  # it would have kept 2 of the 1 still wanted
    assert counters.count("SKU-G") == 3
    later(monkeypatch, CLAIM_GRACE + timedelta(minutes=1))
    assert wiring.preorders().sweep() == 2  # read again: 1 still wanted
    assert counters.count("SKU-G") == 1


def test_two_sweeps_at_once_cut_a_claim_once(client, shop, monkeypatch):
    status, body = place(client, shop["key"], "PRE-1", 3)
    assert status == 201, body
    cancel_units(client, shop["admin"], body["order_id"], 2)
    at = datetime.now(UTC) + CLAIM_GRACE + timedelta(minutes=1)
    sweepers = racing_sweepers(wiring.preorder_counters(), clock=lambda: at)
    with ThreadPoolExecutor(2) as pool:
        freed = list(pool.map(lambda s: s.sweep(), sweepers))
    assert sorted(freed) == [0, 2]
    assert wiring.preorder_counters().count("SKU-G") == 1


def test_a_retried_order_keeps_its_claim_even_when_a_sweep_listed_it(client, shop, monkeypatch):
    with monkeypatch.context() as crashing:
        crash_on_create(crashing)
        status, _ = place(client, shop["key"], "LOST-1", 2)
        assert status == 500
    later(monkeypatch, CLAIM_GRACE * 2)
    counters = wiring.preorder_counters()
    (listed,) = counters.sweepable("SKU-G", "9999").orphans
    status, body = place(client, shop["key"], "LOST-1", 2)  # the client retries meanwhile
    assert status == 201, body
    assert counters.release(listed) is False
    assert counters.count("SKU-G") == 2 and wiring.preorders().sweep() == 0


def test_two_sweeps_at_once_free_a_claim_once(client, shop, monkeypatch):
    counters = wiring.preorder_counters()
    assert counters.claim("SKU-G", "ghost", 2, 3, at="2020-01-01T00:00:00.000Z")
    sweepers = racing_sweepers(counters, clock=lambda: datetime.now(UTC))
    with ThreadPoolExecutor(2) as pool:
        freed = list(pool.map(lambda s: s.sweep(), sweepers))
    assert sorted(freed) == [0, 2]
    assert counters.count("SKU-G") == 0
    assert wiring.preorders().sweep() == 0  # and a later run finds nothing


def test_a_claim_stored_without_its_time_is_swept_when_it_has_no_order(shop, monkeypatch):
    wiring.table(wiring.settings().orders_table).put_item(
        Item={"pk": "PREORDER#SKU-G", "sk": "ORDER#old", "units": 1}
    )
    wiring.table(wiring.settings().orders_table).put_item(
        Item={"pk": "PREORDER#SKU-G", "sk": "COUNT", "units": 1}
    )
    assert wiring.preorders().sweep() == 1
    assert wiring.preorder_counters().count("SKU-G") == 0


def test_an_order_refused_for_its_prices_claims_nothing_of_the_cap(client, shop, clock):
    """A price outside the channel's tolerance is refused before the cap is counted: bad prices
    must not lock a preorder's cap until the sweep."""
    body = order_body("pre-bad-price", [("SKU-G", 3)])
    body["lines"][0]["unit_price"] = 1
    resp = client.http.post("/orders", body=json.dumps(body), headers=auth(shop["key"]))
    assert resp.status_code == 409, resp.body
    status, order = place(client, shop["key"], "pre-good", 3)
    assert status == 201, order  # the whole cap is still there


def test_a_line_over_the_cap_is_named_by_its_place_in_the_cart(client, shop, aws, clock):
    client.http.put(
        "/products/SKU-A",
        body=json.dumps({"name": "A", "weight_g": 300, "prices": {"EUR": 2999}}),
        headers=auth(shop["admin"]),
    )  # no stock anywhere: backordered, sorted before SKU-G
    body = order_body("pre-over", [("SKU-G", 4), ("SKU-A", 1)])
    resp = client.http.post("/orders", body=json.dumps(body), headers=auth(shop["key"]))
    assert resp.status_code == 409, resp.body
    fields = json.loads(resp.body)["error"]["fields"]
    assert fields == [{"path": "lines[0].quantity", "reason": "over the preorder cap"}]


def test_the_availability_feed_sells_no_shelf_stock_before_release(client, shop):
    """Reproduction: 5 units on the shelf before release showed as in stock, promised in days,
    while capture sells none of them (they wait for the preorders)."""
    resp = client.http.get("/channels/webshop/availability?skus=SKU-G", headers=auth(shop["key"]))
    assert resp.status_code == 200, resp.body
    (found,) = json.loads(resp.body)["availability"]
    assert (found["available"], found["band"]) == (0, "out_of_stock"), found
    assert found["promise_date"] == RELEASE.isoformat() and found["backorderable"] is True
