"""Returns through the API and the warehouse-events queue: POST /returns (customer with the
tracking token, or customer service), GET /returns/{rma_id}, and return_received /
return_in_transit events applied once, in any order, with their stock and refund."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from chalicelib import wiring
from chalicelib.domain.returns.policy import MAX_OPEN_REQUESTS
from tests.api.fulfilment_kit import (
    at,
    deliver,
    dispatch_placed,
    drain,
    event,
    mails,
    make_shop as _make_shop,
    place,
    shipped,
)
from tests.api.seed import assert_invariants, auth, put, seed_product, set_stock, stock

EVENTS = "dirigent-warehouse-events"


@pytest.fixture
def shop(client: Any, admin_key: str, aws: Any) -> dict[str, str]:
    shop = _make_shop(client, admin_key, aws)
    put(
        client,
        admin_key,
        "/products/VASE",
        {"name": "Vase", "weight_g": 900, "prices": {"EUR": 4999}, "returnable": False},
    )
    set_stock(aws, "VASE", "dc-kassel", 3)
    return shop


def delivered(
    client: Any, aws: Any, shop: dict[str, str], lines: list[tuple[str, int]], *, days_ago: int = 0
) -> dict[str, Any]:
    """An order of ``lines`` from dc-kassel, picked, shipped and delivered."""
    order = place(client, shop["key"], f"R-{uuid.uuid4().hex[:8]}", lines)
    dispatch_placed(client, aws)
    for shipment in order["shipments"]:
        when = at(minutes=-days_ago * 24 * 60 + 10)
        steps = [
            event("picked", order, shipment, occurred_at=at(minutes=1)),
            shipped(order, shipment),
            event("delivered", order, shipment, occurred_at=when),
        ]
        assert deliver(client, "on_warehouse_event", EVENTS, *steps) == []
    return order


def post_return(
    client: Any, body: dict[str, Any], key: str | None = None, **headers: str
) -> tuple[int, dict[str, Any]]:
    head = {**(auth(key) if key else {"Content-Type": "application/json"}), **headers}
    resp = client.http.post("/returns", body=json.dumps(body), headers=head)
    return resp.status_code, json.loads(resp.body)


def customer_return(order: dict[str, Any], *lines: tuple[str, int, str]) -> dict[str, Any]:
    return {
        "order_id": order["order_id"],
        "token": order["tracking_token"],
        "lines": [{"sku": s, "quantity": q, "reason": r} for s, q, r in lines],
    }


def received(rma_id: str, location_id: str, *lines: tuple[str, int, str], **kw: Any) -> dict:
    return {
        "event_id": kw.pop("event_id", f"ret-{uuid.uuid4()}"),
        "type": "return_received",
        "location_id": location_id,
        "occurred_at": kw.pop("occurred_at", at(minutes=30)),
        "rma_id": rma_id,
        "lines": [{"sku": s, "quantity": q, "condition": c} for s, q, c in lines],
    }


def fields(body: dict[str, Any]) -> dict[str, str]:
    return {f["path"]: f["reason"] for f in body["error"]["fields"]}


# --- requesting a return ---------------------------------------------------------------------


def test_the_customer_gets_an_rma_with_ranked_options(client, aws, shop):
    order = delivered(client, aws, shop, [("SKU-2", 2)])
    status, rma = post_return(client, customer_return(order, ("SKU-2", 1, "wrong_size")))
    assert status == 201, rma
    assert rma["rma_id"].startswith("rma_") and rma["status"] == "requested"
    assert rma["lines"][0] | {"sku": "SKU-2", "quantity": 1, "unit_price": 2999} == rma["lines"][0]
    first = rma["options"][0]
    # Ship-to is Berlin: the Berlin store takes returns and is the nearest.
    assert (first["kind"], first["location_id"], first["rank"]) == (
        "store_drop_off",
        "st-berlin",
        1,
    )
    carrier = next(o for o in rma["options"] if o["kind"] == "carrier")
    assert carrier["why"] in ("most_needed", "cheapest") and carrier["explanation"]
    seen = client.http.get(f"/returns/{rma['rma_id']}?token={order['tracking_token']}")
    assert seen.status_code == 200 and json.loads(seen.body)["rma_id"] == rma["rma_id"]


def test_customer_service_may_return_without_the_token(client, aws, shop):
    order = delivered(client, aws, shop, [("SKU-2", 1)])
    body = customer_return(order, ("SKU-2", 1, "defective"))
    del body["token"]
    status, rma = post_return(client, body, shop["service"])
    assert status == 201, rma
    status, denied = post_return(client, body, shop["key"])  # a channel key is not service
    assert status == 403, denied


@pytest.mark.parametrize("token", ["", "0" * 32, "nope"])
def test_a_wrong_token_is_exactly_an_unknown_order(client, aws, shop, token):
    order = delivered(client, aws, shop, [("SKU-2", 1)])
    body = customer_return(order, ("SKU-2", 1, "wrong_size"))
    wrong = post_return(client, {**body, "token": token})
    unknown = post_return(client, {**body, "order_id": "o_0000000000000000", "token": token})
    if token == "":
        assert wrong[0] == unknown[0] == 401  # no credential at all
        return
    assert wrong[0] == unknown[0] == 404
    assert wrong[1]["error"]["code"] == unknown[1]["error"]["code"] == "not_found"


def test_bad_lines_get_a_422_naming_each_line(client, aws, shop):
    order = delivered(client, aws, shop, [("SKU-2", 2), ("VASE", 1)])
    status, body = post_return(
        client,
        customer_return(
            order,
            ("SKU-2", 3, "wrong_size"),
            ("VASE", 1, "changed_mind"),
            ("SKU-9", 1, "other"),
        ),
    )
    assert status == 422, body
    assert fields(body) == {
        "lines[0].quantity": "at most 2 of SKU-2 can be returned (delivered 2, already returned 0)",
        "lines[1].sku": "VASE cannot be returned",
        "lines[2].sku": "SKU-9 is not on this order",
    }


def test_an_expired_window_and_an_already_returned_unit_are_422(client, aws, shop):
    old = delivered(client, aws, shop, [("SKU-2", 1)], days_ago=31)
    status, body = post_return(client, customer_return(old, ("SKU-2", 1, "wrong_size")))
    assert status == 422 and list(fields(body)) == ["lines[0].sku"]
    assert "30-day return window ended" in fields(body)["lines[0].sku"]

    order = delivered(client, aws, shop, [("SKU-2", 1)])
    rma = post_return(client, customer_return(order, ("SKU-2", 1, "wrong_size")))[1]
    moving = {**received(rma["rma_id"], "dc-kassel"), "type": "return_in_transit"}
    del moving["lines"]
    assert deliver(client, "on_warehouse_event", EVENTS, moving) == []
    status, body = post_return(client, customer_return(order, ("SKU-2", 1, "wrong_size")))
    assert status == 422
    assert fields(body) == {
        "lines[0].quantity": "at most 0 of SKU-2 can be returned (delivered 1, already returned 1)"
    }


def test_a_return_nobody_sent_back_never_blocks_the_customers_own(client, aws, shop):
    """Reproduction: anyone who knew the order opened a return for all of it, and the real
    customer's return was then refused ("at most 0"): requested RMAs counted."""
    order = delivered(client, aws, shop, [("SKU-2", 2)])
    squatter = post_return(client, customer_return(order, ("SKU-2", 2, "wrong_size")))
    assert squatter[0] == 201
    status, own = post_return(client, customer_return(order, ("SKU-2", 2, "defective")))
    assert status == 201, own

    # Both ask for the same units: the first parcel that arrives takes them, once.
    ev = received(own["rma_id"], "dc-kassel", ("SKU-2", 2, "sellable"))
    assert deliver(client, "on_warehouse_event", EVENTS, ev) == []
    twice = received(squatter[1]["rma_id"], "dc-kassel", ("SKU-2", 1, "sellable"))
    assert deliver(client, "on_warehouse_event", EVENTS, twice) == [0]  # more than delivered
    assert stock(aws, "SKU-2")["dc-kassel"]["on_hand"] == 4 - 2 + 2
    assert_invariants(aws)


def test_one_token_opens_a_bounded_number_of_return_requests(client, aws, shop):
    """Reproduction: 996 requested RMAs for one delivered unit, each rewriting the whole order
    (420 KB to read, seconds per request). Requested RMAs hold no units, so a count bounds
    them; customer service can still open one, and a cancelled one frees its place."""
    order = delivered(client, aws, shop, [("SKU-2", 1)])
    opened = [
        post_return(client, customer_return(order, ("SKU-2", 1, "wrong_size")))
        for _ in range(MAX_OPEN_REQUESTS)
    ]
    assert [status for status, _ in opened] == [201] * MAX_OPEN_REQUESTS
    status, body = post_return(client, customer_return(order, ("SKU-2", 1, "wrong_size")))
    assert status == 409 and "lines" in fields(body), body
    by_staff = {k: v for k, v in customer_return(order, ("SKU-2", 1, "defective")).items()}
    del by_staff["token"]
    assert post_return(client, by_staff, shop["service"])[0] == 201
    token = {"token": order["tracking_token"]}
    assert cancel_return(client, opened[0][1]["rma_id"], token)[0] == 200
    status, _ = post_return(client, customer_return(order, ("SKU-2", 1, "wrong_size")))
    assert status == 409  # still five open: the staff's counts too
    assert cancel_return(client, opened[1][1]["rma_id"], token)[0] == 200
    assert post_return(client, customer_return(order, ("SKU-2", 1, "wrong_size")))[0] == 201


def cancel_return(client: Any, rma_id: str, body: dict[str, Any], key: str | None = None):
    head = auth(key) if key else {"Content-Type": "application/json"}
    resp = client.http.post(f"/returns/{rma_id}/cancel", body=json.dumps(body), headers=head)
    return resp.status_code, json.loads(resp.body)


def test_a_return_can_be_cancelled_until_its_parcel_travels(client, aws, shop):
    order = delivered(client, aws, shop, [("SKU-2", 2)])
    rma = post_return(client, customer_return(order, ("SKU-2", 2, "wrong_size")))[1]
    assert cancel_return(client, rma["rma_id"], {"token": "nope"})[0] == 404
    assert cancel_return(client, rma["rma_id"], {})[0] == 401
    for _ in range(2):  # idempotent
        status, body = cancel_return(client, rma["rma_id"], {"token": order["tracking_token"]})
        assert status == 200 and body["status"] == "cancelled"
    seen = json.loads(
        client.http.get(f"/orders/{order['order_id']}", headers=auth(shop["service"])).body
    )
    assert seen["returns"][rma["rma_id"]]["status"] == "cancelled"
    ev = received(rma["rma_id"], "dc-kassel", ("SKU-2", 1, "sellable"))
    assert deliver(client, "on_warehouse_event", EVENTS, ev) == [0]  # to be handled by hand

    other = post_return(client, customer_return(order, ("SKU-2", 1, "wrong_size")))[1]
    moving = {**received(other["rma_id"], "dc-kassel"), "type": "return_in_transit"}
    del moving["lines"]
    assert deliver(client, "on_warehouse_event", EVENTS, moving) == []
    status, body = cancel_return(client, other["rma_id"], {"reason": "x"}, shop["service"])
    assert status == 409 and fields(body) == {"rma_id": "status in_transit"}


def test_malformed_requests_name_the_field(client, aws, shop):
    order = delivered(client, aws, shop, [("SKU-2", 1)])
    body = customer_return(order, ("SKU-2", 0, "bored"))
    status, answer = post_return(client, body)
    assert status == 422
    assert set(fields(answer)) == {"lines[0].quantity", "lines[0].reason"}
    status, answer = post_return(client, {**body, "lines": []})
    assert status == 422 and "lines" in fields(answer)
    status, _ = post_return(client, customer_return(order))
    assert status == 422


def test_not_yet_delivered_cannot_be_returned(client, aws, shop):
    order = place(client, shop["key"], "R-NOT-YET", [("SKU-2", 1)])
    status, body = post_return(client, customer_return(order, ("SKU-2", 1, "wrong_size")))
    assert status == 422 and fields(body) == {"lines[0].sku": "SKU-2 has not been delivered yet"}


def test_an_idempotency_key_replays_the_first_answer(client, aws, shop):
    order = delivered(client, aws, shop, [("SKU-2", 2)])
    body = customer_return(order, ("SKU-2", 1, "wrong_size"))
    first = post_return(client, body, **{"Idempotency-Key": "k-1"})
    again = post_return(client, body, **{"Idempotency-Key": "k-1"})
    assert first[0] == again[0] == 201 and first[1]["rma_id"] == again[1]["rma_id"]
    other = {**body, "lines": [{"sku": "SKU-2", "quantity": 2, "reason": "wrong_size"}]}
    status, answer = post_return(client, other, **{"Idempotency-Key": "k-1"})
    assert status == 422 and "Idempotency-Key" in fields(answer)
    returns = json.loads(
        client.http.get(f"/orders/{order['order_id']}", headers=auth(shop["service"])).body
    )["returns"]
    assert list(returns) == [first[1]["rma_id"]]


# --- receiving it ----------------------------------------------------------------------------


def test_a_store_receipt_restocks_refunds_and_mails_once(client, aws, shop):
    set_stock(aws, "SKU-2", "st-berlin", 1)
    order = delivered(client, aws, shop, [("SKU-2", 2)])
    rma = post_return(client, customer_return(order, ("SKU-2", 2, "wrong_size")))[1]
    before = len(mails())
    ev = received(rma["rma_id"], "st-berlin", ("SKU-2", 1, "sellable"), ("SKU-2", 1, "damaged"))
    assert deliver(client, "on_warehouse_event", EVENTS, ev, ev) == []
    level = stock(aws, "SKU-2")["st-berlin"]
    assert level["on_hand"] == 2 and level["available"] == 2  # one sellable unit back
    item = (
        aws.resource("dynamodb")
        .Table("dirigent-stock")
        .get_item(Key={"sku": "SKU-2", "location_id": "st-berlin"})["Item"]
    )
    assert int(item["quarantine"]) == 1
    assert_invariants(aws)

    seen = json.loads(
        client.http.get(f"/returns/{rma['rma_id']}", headers=auth(shop["service"])).body
    )
    assert seen["status"] == "refunded" and seen["refunded"] == 2 * 2999
    assert [r["total"] for r in seen["refunds"]] == [2 * 2999]
    assert [h["event"] for h in seen["history"]] == [
        "requested",
        "received",
        "restocked",
        "refunded",
    ]
    sent = mails()[before:]
    assert len(sent) == 1 and rma["rma_id"] in sent[0].subject
    assert "€59.98" in sent[0].html  # Babel, English: the channel speaks en

    page = json.loads(
        client.http.get(f"/track/{order['order_id']}?token={order['tracking_token']}").body
    )
    assert page["returns"][0]["status"] == "refunded" and page["returns"][0]["refunded"] == 5998
    assert "return_received" in [e["event"] for e in page["timeline"]]
    view = json.loads(
        client.http.get(f"/orders/{order['order_id']}", headers=auth(shop["key"])).body
    )
    assert view["returns"][rma["rma_id"]]["received"] == {"SKU-2": 2}


def test_a_receipt_where_the_sku_never_was_creates_its_stock(client, aws, shop):
    order = delivered(client, aws, shop, [("SKU-2", 1)])
    rma = post_return(client, customer_return(order, ("SKU-2", 1, "defective")))[1]
    ev = received(rma["rma_id"], "st-hamburg", ("SKU-2", 1, "sellable"))
    assert deliver(client, "on_warehouse_event", EVENTS, ev) == []
    assert stock(aws, "SKU-2")["st-hamburg"]["on_hand"] == 1
    seen = wiring.returns().get(rma["rma_id"], token=order["tracking_token"])
    # Defective: our fault, the shipping is refunded too.
    assert seen.refunds[0].shipping == int(order["delivery"]["price"])
    assert_invariants(aws)


def test_in_transit_arriving_after_the_receipt_changes_no_state(client, aws, shop):
    order = delivered(client, aws, shop, [("SKU-2", 1)])
    rma = post_return(client, customer_return(order, ("SKU-2", 1, "wrong_size")))[1]
    transit = {
        "event_id": f"ret-{uuid.uuid4()}",
        "type": "return_in_transit",
        "location_id": "dc-lyon",
        "occurred_at": at(minutes=20),
        "rma_id": rma["rma_id"],
        "carrier": "DHL",
        "tracking_number": "RET-1",
    }
    ev = received(rma["rma_id"], "dc-lyon", ("SKU-2", 1, "sellable"), occurred_at=at(minutes=40))
    assert deliver(client, "on_warehouse_event", EVENTS, ev) == []
    assert deliver(client, "on_warehouse_event", EVENTS, transit) == []
    seen = wiring.returns().get(rma["rma_id"], token=order["tracking_token"])
    assert seen.status.value == "refunded" and seen.tracking_number == "RET-1"
    assert stock(aws, "SKU-2")["dc-lyon"]["on_hand"] == 1


def test_a_receipt_for_an_unknown_rma_or_unexpected_units_fails_only_its_record(client, aws, shop):
    order = delivered(client, aws, shop, [("SKU-2", 1)])
    rma = post_return(client, customer_return(order, ("SKU-2", 1, "wrong_size")))[1]
    good = received(rma["rma_id"], "st-berlin", ("SKU-2", 1, "sellable"))
    unknown = received("rma_doesnotexist", "st-berlin", ("SKU-2", 1, "sellable"))
    too_many = received(rma["rma_id"], "st-berlin", ("SKU-1", 1, "sellable"))
    failed = deliver(client, "on_warehouse_event", EVENTS, unknown, good, too_many)
    assert failed == [0, 2]
    assert stock(aws, "SKU-2")["st-berlin"]["on_hand"] == 1


def test_a_wrong_token_reads_no_rma(client, aws, shop):
    order = delivered(client, aws, shop, [("SKU-2", 1)])
    rma = post_return(client, customer_return(order, ("SKU-2", 1, "wrong_size")))[1]
    wrong = client.http.get(f"/returns/{rma['rma_id']}?token=nope")
    unknown = client.http.get("/returns/rma_000000000000?token=nope")
    assert wrong.status_code == unknown.status_code == 404
    assert json.loads(wrong.body)["error"]["code"] == "not_found"
    assert json.loads(wrong.body)["error"]["fields"] == json.loads(unknown.body)["error"]["fields"]


def test_sellable_returns_serve_waiting_backorders(client, aws, shop):
    seed_product(client, shop["admin"], "SKU-3")
    set_stock(aws, "SKU-3", "dc-kassel", 1)
    order = delivered(client, aws, shop, [("SKU-3", 1)])
    rma = post_return(client, customer_return(order, ("SKU-3", 1, "wrong_size")))[1]
    drain(aws, "dirigent-order-events")
    ev = received(rma["rma_id"], "dc-lyon", ("SKU-3", 1, "sellable"))
    assert deliver(client, "on_warehouse_event", EVENTS, ev) == []
    arrived = [m for m in drain(aws, "dirigent-order-events") if m.get("type") == "stock_arrived"]
    assert [(m["sku"], m["location_id"]) for m in arrived] == [("SKU-3", "dc-lyon")]
