"""Cancellation as a protocol with the locations, through the real handlers on moto: before
release at once; after release a ``cancel_request`` on the fulfilment queue, answered by
``cancel_confirmed`` or ``cancel_rejected``; a shipment that leaves after its cancel is never
ignored; line cancels."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib import wiring
from tests.api.fulfilment_kit import (
    deliver,
    dispatch_placed,
    drain,
    event,
    get_order,
    later_dispatcher,
    mails,
    make_shop,
    place,
    shipped,
)
from tests.api.seed import assert_invariants, auth, stock

EVENTS = "dirigent-warehouse-events"


@pytest.fixture
def shop(client: Any, admin_key: str, aws: Any) -> dict[str, str]:
    return make_shop(client, admin_key, aws)


def cancel(client: Any, key: str, order_id: str, body: Any = None) -> tuple[int, Any]:
    resp = client.http.post(
        f"/orders/{order_id}/cancel",
        body=json.dumps(body) if body is not None else "",
        headers=auth(key),
    )
    return resp.status_code, json.loads(resp.body)


def level(aws: Any, sku: str, location_id: str) -> dict[str, int]:
    return stock(aws, sku)[location_id]


def released(client: Any, aws: Any, shop: dict[str, str], coid: str, lines: list) -> dict:
    """An order whose fulfilment requests went out (one shipment from dc-kassel)."""
    order = place(client, shop["key"], coid, lines)
    requests = dispatch_placed(client, aws)
    assert {r["type"] for r in requests} == {"fulfilment_request"}
    return get_order(client, shop["key"], order["order_id"])


def answer(client: Any, order: dict, shipment: dict, kind: str, **extra: Any) -> list[int]:
    return deliver(client, "on_warehouse_event", EVENTS, event(kind, order, shipment, **extra))


def test_a_cancel_before_release_frees_the_stock_at_once_and_asks_no_location(client, shop, aws):
    order = place(client, shop["key"], "K-1", [("SKU-1", 2)])
    status, cancelled = cancel(client, shop["key"], order["order_id"])
    assert status == 200 and cancelled["status"] == "cancelled"
    assert cancelled["cancellation"] == {
        "cancelled": [{"sku": "SKU-1", "quantity": 2}],
        "requested": [],
    }
    assert sum(lvl["reserved"] for lvl in stock(aws, "SKU-1").values()) == 0
    assert [r for r in dispatch_placed(client, aws) if r["type"] == "cancel_request"] == []
    assert_invariants(aws)


def test_a_cancel_after_release_asks_the_location_and_its_confirmation_frees_the_stock(
    client, shop, aws
):
    order = released(client, aws, shop, "K-2", [("SKU-1", 2)])
    (shipment,) = order["shipments"]
    status, asked = cancel(client, shop["key"], order["order_id"], {"reason": "changed mind"})
    assert status == 200
    assert asked["cancellation"]["requested"] == [{"sku": "SKU-1", "quantity": 2}]
    assert asked["shipments"][0]["cancel"] == "requested"
    assert asked["status"] == "processing"  # nothing freed until the location answers
    assert level(aws, "SKU-1", "dc-kassel")["reserved"] == 2

    (request,) = dispatch_placed(client, aws)
    assert request["type"] == "cancel_request"
    assert {k: request[k] for k in ("order_id", "shipment_id", "location_id")} == {
        "order_id": order["order_id"],
        "shipment_id": shipment["shipment_id"],
        "location_id": "dc-kassel",
    }
    assert request["message_id"] and request["message_id"] != shipment["shipment_id"]
    assert request["reason"] == "changed mind"

    assert answer(client, order, shipment, "cancel_confirmed") == []
    after = get_order(client, shop["key"], order["order_id"])
    assert after["status"] == "cancelled"
    assert after["shipments"][0]["status"] == "cancelled"
    kassel = level(aws, "SKU-1", "dc-kassel")
    assert (kassel["on_hand"], kassel["reserved"], kassel["available"]) == (5, 0, 5)
    assert [m["type"] for m in drain(aws, "dirigent-order-events")] == ["stock_arrived"]
    # A second cancel changes nothing and asks nobody again.
    status, again = cancel(client, shop["key"], order["order_id"])
    assert status == 200 and again["cancellation"]["requested"] == []
    assert drain(aws, "dirigent-order-events") == []
    assert_invariants(aws)


def test_a_rejected_cancel_lets_the_shipment_go_on_and_tells_customer_service(client, shop, aws):
    order = released(client, aws, shop, "K-3", [("SKU-1", 1)])
    (shipment,) = order["shipments"]
    cancel(client, shop["key"], order["order_id"])
    dispatch_placed(client, aws)
    assert answer(client, order, shipment, "cancel_rejected", reason="already packed") == []

    after = get_order(client, shop["key"], order["order_id"])
    assert after["shipments"][0]["cancel"] == "rejected"
    assert after["status"] == "processing"
    rejected = [h for h in after["history"] if h["event"] == "cancel_rejected"]
    assert rejected and rejected[0]["detail"]["reason"] == "already packed"
    service = [m for m in mails() if m.to == [wiring.settings().service_email]]
    assert len(service) == 1 and "already packed" in service[0].text
    assert order["channel_order_id"] in service[0].subject

    assert deliver(client, "on_warehouse_event", EVENTS, shipped(order, shipment)) == []
    assert level(aws, "SKU-1", "dc-kassel")["on_hand"] == 4
    assert get_order(client, shop["key"], order["order_id"])["status"] == "shipped"
    assert_invariants(aws)


def test_a_shipment_shipped_after_its_confirmed_cancel_leaves_on_hand_exactly_once(
    client, shop, aws
):
    """Reproduction: the late ``shipped`` was ignored and on_hand stayed too high."""
    order = released(client, aws, shop, "K-4", [("SKU-1", 2)])
    (shipment,) = order["shipments"]
    cancel(client, shop["key"], order["order_id"])
    dispatch_placed(client, aws)
    answer(client, order, shipment, "cancel_confirmed")
    assert level(aws, "SKU-1", "dc-kassel")["reserved"] == 0

    first = shipped(order, shipment, "TN-LATE")
    assert deliver(client, "on_warehouse_event", EVENTS, first, first) == []
    resent = shipped(order, shipment, "TN-LATE")  # the same fact under a new event id
    assert deliver(client, "on_warehouse_event", EVENTS, resent) == []

    kassel = level(aws, "SKU-1", "dc-kassel")
    assert (kassel["on_hand"], kassel["reserved"], kassel["available"]) == (3, 0, 3)
    after = get_order(client, shop["key"], order["order_id"])
    assert after["status"] == "shipped"
    assert after["shipments"][0]["after_cancel"] is True
    assert after["shipments"][0]["tracking_number"] == "TN-LATE"
    assert [h["event"] for h in after["history"]].count("shipped_after_cancel") == 1
    assert after["cancelled"] == {}
    assert any(order["channel_order_id"] in m.subject for m in mails() if "Cancel" in m.subject)
    assert_invariants(aws)


def test_a_shipment_shipped_while_its_cancel_waits_is_shipped_after_cancel(client, shop, aws):
    order = released(client, aws, shop, "K-5", [("SKU-1", 2)])
    (shipment,) = order["shipments"]
    cancel(client, shop["key"], order["order_id"])
    dispatch_placed(client, aws)
    assert deliver(client, "on_warehouse_event", EVENTS, shipped(order, shipment)) == []
    # The location's confirmation crossed its own shipped event: nothing left to free.
    assert answer(client, order, shipment, "cancel_confirmed") == []

    kassel = level(aws, "SKU-1", "dc-kassel")
    assert (kassel["on_hand"], kassel["reserved"]) == (3, 0)
    after = get_order(client, shop["key"], order["order_id"])
    assert after["status"] == "shipped"
    assert after["shipments"][0]["after_cancel"] is True
    assert "shipped_after_cancel" in [h["event"] for h in after["history"]]
    assert_invariants(aws)


def test_lines_cancel_part_of_an_order_at_once_before_release_and_by_request_after(
    client, shop, aws
):
    order = place(client, shop["key"], "K-6", [("SKU-1", 3), ("SKU-2", 2)])
    status, part = cancel(
        client, shop["key"], order["order_id"], {"lines": [{"sku": "SKU-2", "quantity": 1}]}
    )
    assert status == 200 and part["cancellation"]["cancelled"] == [{"sku": "SKU-2", "quantity": 1}]
    assert level(aws, "SKU-2", "dc-kassel")["reserved"] == 1
    dispatch_placed(client, aws)
    order = get_order(client, shop["key"], order["order_id"])

    status, asked = cancel(
        client, shop["key"], order["order_id"], {"lines": [{"sku": "SKU-1", "quantity": 1}]}
    )
    assert status == 200 and asked["cancellation"]["requested"] == [{"sku": "SKU-1", "quantity": 1}]
    (request,) = dispatch_placed(client, aws)
    assert request["type"] == "cancel_request"
    assert request["lines"] == [{"sku": "SKU-1", "quantity": 1}] and request["whole"] is False
    holder = next(s for s in order["shipments"] if "SKU-1" in s["lines"])
    before = sum(lvl["reserved"] for lvl in stock(aws, "SKU-1").values())
    answer(client, order, holder, "cancel_confirmed")

    after = get_order(client, shop["key"], order["order_id"])
    assert after["cancelled"] == {"SKU-1": 1, "SKU-2": 1}
    assert sum(lvl["reserved"] for lvl in stock(aws, "SKU-1").values()) == before - 1
    assert after["status"] == "processing"  # the rest still ships
    assert_invariants(aws)


def test_bad_cancel_lines_are_refused_naming_the_field_and_change_nothing(client, shop, aws):
    order = place(client, shop["key"], "K-7", [("SKU-1", 2)])
    oid = order["order_id"]
    status, body = cancel(client, shop["key"], oid, {"lines": [{"sku": "SKU-2", "quantity": 1}]})
    assert status == 422 and body["error"]["fields"][0]["path"] == "lines[0].sku"
    status, body = cancel(client, shop["key"], oid, {"lines": [{"sku": "SKU-1", "quantity": 3}]})
    assert status == 409 and body["error"]["fields"][0]["path"] == "lines[0].quantity"
    status, body = cancel(client, shop["key"], oid, {"lines": []})
    assert status == 422 and body["error"]["fields"][0]["path"] == "lines"
    status, body = cancel(client, shop["key"], oid, {"lines": [{"sku": "SKU-1", "quantity": 0}]})
    assert status == 422 and body["error"]["fields"][0]["path"] == "lines[0].quantity"
    assert get_order(client, shop["key"], oid)["status"] == "placed"
    assert level(aws, "SKU-1", "dc-kassel")["reserved"] == 2


def test_a_cancel_confirmed_for_a_shipment_never_asked_goes_to_the_dlq(client, shop, aws):
    order = released(client, aws, shop, "K-8", [("SKU-1", 1)])
    (shipment,) = order["shipments"]
    assert answer(client, order, shipment, "cancel_confirmed") == [0]
    assert get_order(client, shop["key"], order["order_id"])["shipments"][0]["status"] == (
        "released"
    )


class _CancelWhileSending:
    """The real queues, with a customer's cancel landing while the requests go out."""

    def __init__(self, client: Any, key: str, order_id: str) -> None:
        self._client, self._key, self._order_id = client, key, order_id
        self._queues = wiring.queues()

    def send_batch(self, queue_name: str, bodies: Any) -> None:
        self._queues.send_batch(queue_name, bodies)
        if any(b["type"] == "fulfilment_request" for b in bodies):
            assert cancel(self._client, self._key, self._order_id)[0] == 200


def test_a_cancel_that_crosses_the_fulfilment_request_tells_the_location_to_drop_it(
    client, shop, aws
):
    order = place(client, shop["key"], "K-9", [("SKU-1", 1)])
    drain(aws, "dirigent-order-events")
    later_dispatcher(
        0, queues=_CancelWhileSending(client, shop["key"], order["order_id"])
    ).dispatch(order["order_id"])

    sent = drain(aws, "dirigent-fulfilment")
    assert [m["type"] for m in sent] == ["fulfilment_request", "cancel_request"]
    assert sent[1]["notice"] is True and sent[1]["shipment_id"] == sent[0]["shipment_id"]
    after = get_order(client, shop["key"], order["order_id"])
    assert after["status"] == "cancelled"
    assert (after["shipments"][0]["cancel"], after["shipments"][0]["cancel_sent"]) == (
        "notice",
        True,
    )
    assert level(aws, "SKU-1", "dc-kassel")["reserved"] == 0
    # The location confirms the notice (nothing more to free), or ships anyway: once.
    (shipment,) = after["shipments"]
    assert answer(client, after, shipment, "cancel_confirmed") == []
    assert deliver(client, "on_warehouse_event", EVENTS, shipped(after, shipment)) == []
    kassel = level(aws, "SKU-1", "dc-kassel")
    assert (kassel["on_hand"], kassel["reserved"]) == (4, 0)
    assert_invariants(aws)
