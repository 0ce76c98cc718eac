"""Crash safety: the process dies after each AWS call in turn, and nothing is lost or doubled.

One flow runs an order from ``POST /orders`` through dispatch, the location's events and a
return with its receipt. For k = 1, 2, ... the k-th AWS call of the flow completes (its write
landed) and then the process dies (``Crash``, a ``BaseException``: no ``except Exception``
runs, as when Lambda is killed). The caller then does what a client or SQS does: the HTTP
request is sent again with the same body and ``Idempotency-Key``, the SQS batch is delivered
again with the same bodies, and the container is a new one (``wiring.reset()``: caches gone).
After the sweepers ran, the end state must be the state of the flow without a crash:

- no orphan reservation: every stock item's ``reserved`` is what the open shipments of all
  orders reserve there, and ``available = on_hand - reserved - safety_stock``;
- no lost dispatch: every open shipment of an order no hold keeps back is dispatched, and its
  fulfilment request reached the location;
- no duplicate: one order per channel order id, one request per shipment after dropping
  duplicates by ``message_id``, every event applied once (stock moved once, one RMA).

k runs until the flow makes fewer than k calls, so every call is covered, whatever the flow
(but single-item reads and queries: a crash after one leaves what a crash before it leaves).
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import botocore.client
import pytest
from boto3.dynamodb.conditions import Attr

from chalicelib import wiring
from chalicelib.adapters.dynamo_orders import order_from_item
from chalicelib.config import settings
from chalicelib.consumers import schedules
from chalicelib.consumers.order_events import swept
from chalicelib.domain.order.model import Order
from tests.api.fulfilment_kit import (
    at,
    event,
    later_dispatcher,
    mails,
    make_shop,
    sqs_records,
)
from tests.api.seed import assert_invariants, auth, order_body, set_stock

EVENTS = "dirigent-warehouse-events"
ORDER_EVENTS = "dirigent-order-events"
FULFILMENT = "dirigent-fulfilment"
SQS_ATTEMPTS = 4  # receives before SQS would dead-letter a record (maxReceiveCount)


# A crash right after one of these leaves what a crash after the call before it leaves: skipped
# (BatchGetItem, the order's snapshot read, is kept, as the first call of the order path).
READS = frozenset({"GetItem", "Query", "Scan", "GetQueueUrl"})


class Crash(BaseException):
    """The process dies right after an AWS call returned."""


_HARNESS = threading.local()  # set while the test plays SQS or a location: no crash there


@contextmanager
def harness() -> Iterator[None]:
    _HARNESS.on = True
    try:
        yield
    finally:
        _HARNESS.on = False


@dataclass
class CrashAfter:
    """Kills the process after the k-th AWS call made while armed (0: never)."""

    k: int
    armed: bool = False
    calls: list[str] = field(default_factory=list)
    fired: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def after(self, client: Any, operation: str) -> None:
        with self._lock:
            if not self.armed or self.fired or getattr(_HARNESS, "on", False):
                return
            if operation in READS:
                return
            name = f"{client.meta.service_model.service_name}.{operation}"
            self.calls.append(name)
            if len(self.calls) == self.k:
                self.fired = name
                raise Crash(f"after call {self.k}: {name}")


@pytest.fixture
def injector(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[int], CrashAfter]]:
    """``injector(k)`` arms a fresh ``CrashAfter(k)`` on every boto3 client."""
    real = botocore.client.BaseClient._make_api_call
    current: list[CrashAfter] = [CrashAfter(0)]

    def call(self: Any, operation: str, params: dict[str, Any]) -> Any:
        result = real(self, operation, params)
        current[0].after(self, operation)
        return result

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", call)

    def arm(k: int) -> CrashAfter:
        current[0] = CrashAfter(k, armed=True)
        return current[0]

    yield arm
    current[0] = CrashAfter(0)


def survive(step: Callable[[], Any]) -> Any:
    """Run ``step``; a crash kills the container (caches gone) and the caller tries again."""
    for _ in range(3):
        try:
            return step()
        except Crash:
            wiring.reset()
    raise AssertionError("the step kept crashing")


# --- the simulated SQS and locations -----------------------------------------------------------


def receive_all(aws: Any, queue: str) -> list[dict[str, Any]]:
    """Everything waiting in ``queue``, removed from it (the caller delivers it until done)."""
    with harness():
        sqs = aws.client("sqs")
        url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
        bodies = []
        while msgs := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
            for m in msgs:
                bodies.append(json.loads(m["Body"]))
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        return bodies


def sqs_deliver(client: Any, handler: str, queue: str, bodies: list[Any]) -> list[dict[str, Any]]:
    """Deliver ``bodies`` as SQS does: the failed records (and a crashed batch) again, with
    the same message ids, up to ``SQS_ATTEMPTS`` receives; returns what would be dead-lettered."""
    if not bodies:
        return []
    with harness():  # the location signs its events
        records = sqs_records(client, queue, bodies)["Records"]
    for _ in range(SQS_ATTEMPTS):
        try:
            payload = client.lambda_.invoke(handler, {"Records": records}).payload
        except Crash:
            wiring.reset()
            continue
        failed = {f["itemIdentifier"] for f in payload["batchItemFailures"]}
        records = [r for r in records if r["messageId"] in failed]
        if not records:
            return []
    return [json.loads(r["body"]) for r in records]


@dataclass
class World:
    client: Any
    aws: Any
    shop: dict[str, str]
    requests: list[dict[str, Any]] = field(default_factory=list)  # what locations received
    dead: list[dict[str, Any]] = field(default_factory=list)  # what SQS dead-lettered

    def settle(self) -> None:
        """Feed the order-events queue to its consumer until it is empty."""
        while bodies := receive_all(self.aws, ORDER_EVENTS):
            self.dead += sqs_deliver(self.client, "on_order_event", ORDER_EVENTS, bodies)
        self.requests += receive_all(self.aws, FULFILMENT)

    def warehouse(self, *bodies: dict[str, Any]) -> None:
        self.dead += sqs_deliver(self.client, "on_warehouse_event", EVENTS, list(bodies))
        self.settle()

    def sweep(self) -> None:
        """The schedules that repair, run as if their clock were past every minimum age."""
        survive(lambda: later_dispatcher().sweep(then=swept))
        survive(schedules.pickup_expiry)
        survive(schedules.hold_expiry)
        self.settle()


def post(world: World, path: str, body: dict[str, Any], key: str = "", **headers: str) -> Any:
    head = auth(key) if key else {"Content-Type": "application/json"}
    resp = world.client.http.post(path, body=json.dumps(body), headers={**head, **headers})
    assert resp.status_code < 500, (path, resp.status_code, resp.body)
    return resp.status_code, json.loads(resp.body)


# --- the flows: each step the way its caller retries it ------------------------------------------


def place(world: World, run: dict[str, Any]) -> None:
    """``POST /orders``, the order-events consumer's dispatch, the outbox sweeper."""
    body = order_body(run["coid"], [("SKU-1", 2), ("SKU-2", 1)])
    status, order = survive(lambda: post(world, "/orders", body, world.shop["key"]))
    assert status in (200, 201), order
    run["order"] = order
    world.settle()


def deliver(world: World, run: dict[str, Any]) -> None:
    """The location's picked, shipped and delivered for every request it received."""
    order = run["order"]
    for request in _unique(world.requests, order["order_id"]):
        shipment = {"shipment_id": request["shipment_id"], "location_id": request["location_id"]}
        sid = request["shipment_id"]
        picked = event("picked", order, shipment, occurred_at=at(minutes=1))
        shipped = event(
            "shipped",
            order,
            shipment,
            carrier="DHL",
            tracking_number=f"TN{sid[-8:]}",
            occurred_at=at(minutes=5),
        )
        delivered = event("delivered", order, shipment, occurred_at=at(minutes=10))
        for kind, body in (("p", picked), ("s", shipped), ("d", delivered)):
            world.warehouse({**body, "event_id": f"{kind}-{sid}"})


def give_back(world: World, run: dict[str, Any]) -> None:
    """The customer's ``POST /returns`` (with an Idempotency-Key) and the location's receipt."""
    order = run["order"]
    ask = {
        "order_id": order["order_id"],
        "token": order["tracking_token"],
        "lines": [{"sku": "SKU-2", "quantity": 1, "reason": "wrong_size"}],
    }
    status, rma = survive(lambda: post(world, "/returns", ask, **{"Idempotency-Key": run["coid"]}))
    if status == 409:  # the crashed request still holds its key: retry once its Lambda timed out
        lambda_timed_out(world.aws)
        status, rma = post(world, "/returns", ask, **{"Idempotency-Key": run["coid"]})
    assert status in (200, 201), rma
    run["rma_id"] = rma["rma_id"]
    receipt = {
        "event_id": f"r-{run['coid']}",
        "type": "return_received",
        "location_id": "dc-kassel",
        "occurred_at": at(minutes=30),
        "rma_id": rma["rma_id"],
        "lines": [{"sku": "SKU-2", "quantity": 1, "condition": "sellable"}],
    }
    world.warehouse(receipt)


def lambda_timed_out(aws: Any) -> None:
    """Time passes: every in-progress idempotency record outlived its Lambda's remaining time
    (Powertools' ``in_progress_expiration``) and no longer blocks its key."""
    with harness():
        table = aws.resource("dynamodb").Table(settings().idempotency_table)
        for item in table.scan()["Items"]:
            if item.get("status") == "INPROGRESS":
                key = {"id": item["id"]}
                table.update_item(
                    Key=key,
                    UpdateExpression="SET in_progress_expiration = :past",
                    ExpressionAttributeValues={":past": 0},
                )


# The calls a crash must at least have followed, per flow (the writes and the sends).
COVERED = {
    "order path": {
        "dynamodb.BatchGetItem",  # the snapshot read
        "dynamodb.TransactWriteItems",  # the order and its reservations; the dispatch's update
        "sqs.SendMessage",  # order_placed
        "sqs.SendMessageBatch",  # the fulfilment requests
        "ses.SendRawEmail",  # the confirmation
    },
    "warehouse events": {"dynamodb.TransactWriteItems", "ses.SendRawEmail"},
    "returns": {
        "dynamodb.PutItem",  # the Idempotency-Key taken
        "dynamodb.TransactWriteItems",  # the RMA with its order; the receipt with its stock
        "dynamodb.UpdateItem",  # the Idempotency-Key's answer
        "sqs.SendMessage",  # stock_arrived
    },
}


Step = Callable[[World, dict[str, Any]], None]
# Each flow: the steps before it (run without a crash), then the steps a crash may hit.
FLOWS: dict[str, tuple[list[Step], list[Step]]] = {
    "order path": ([], [place]),
    "warehouse events": ([place], [deliver]),
    "returns": ([place, deliver], [give_back]),
}


def _unique(requests: list[dict[str, Any]], order_id: str) -> list[dict[str, Any]]:
    by_id = {r["message_id"]: r for r in requests if r.get("order_id") == order_id}
    return [r for r in by_id.values() if r["type"] == "fulfilment_request"]


# --- what must hold ----------------------------------------------------------------------------


def all_orders(aws: Any) -> list[Order]:
    table = aws.resource("dynamodb").Table("dirigent-orders")
    items, kw = [], {"FilterExpression": Attr("sk").eq("ORDER")}
    while True:
        page = table.scan(**kw)
        items += page["Items"]
        if "LastEvaluatedKey" not in page:
            return [order_from_item(i) for i in items]
        kw["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def stock_levels(aws: Any) -> dict[tuple[str, str], dict[str, int]]:
    items = aws.resource("dynamodb").Table("dirigent-stock").scan()["Items"]
    return {
        (i["sku"], i["location_id"]): {k: int(i[k]) for k in ("on_hand", "reserved")} for i in items
    }


def assert_nothing_orphaned_lost_or_doubled(world: World) -> None:
    orders = all_orders(world.aws)
    per_coid = Counter((o.channel, o.channel_order_id) for o in orders)
    assert [k for k, n in per_coid.items() if n > 1] == [], "an order was written twice"

    reserved: Counter[tuple[str, str]] = Counter()
    for order in orders:
        for sku, location_id, quantity in order.open_reservations():
            reserved[(sku, location_id)] += quantity
    levels = stock_levels(world.aws)
    assert {k: v["reserved"] for k, v in levels.items() if v["reserved"]} == dict(reserved)
    assert_invariants(world.aws)

    sent = Counter(r["message_id"] for r in world.requests if r["type"] == "fulfilment_request")
    for order in orders:
        if order.holds:
            continue
        for shipment in order.shipments:
            if shipment.open and shipment.lines:
                assert shipment.dispatched, (order.order_id, shipment.shipment_id)
                assert sent[shipment.shipment_id] >= 1, ("request lost", shipment.shipment_id)
    assert world.dead == [], "SQS would dead-letter these"


def outcome(world: World, placed: dict[str, Any]) -> dict[str, Any]:
    """What the flow left behind for one order and its return, comparable across runs."""
    order = wiring.orders().get(placed["order"]["order_id"])
    rma = wiring.rmas().get(placed["rma_id"]) if "rma_id" in placed else None
    assert order is not None
    table = world.aws.resource("dynamodb").Table("dirigent-orders")
    rmas = table.scan(FilterExpression=Attr("sk").eq("RMA") & Attr("order_id").eq(order.order_id))
    return {
        "status": order.status.value,
        "shipments": sorted((s.location_id, s.status.value, s.dispatched) for s in order.shipments),
        "history": dict(Counter(h.event for h in order.history)),
        "requests": len(_unique(world.requests, order.order_id)),
        "rmas": len(rmas["Items"]),
        "rma": rma and (rma.status.value, len(rma.receipts), rma.refunded, len(rma.history)),
    }


@pytest.mark.parametrize("flow", FLOWS)
def test_a_crash_after_any_aws_call_loses_and_doubles_nothing(
    flow, client, admin_key, aws, injector
):
    before_steps, steps = FLOWS[flow]
    shop = make_shop(client, admin_key, aws)
    for sku, location_id in (("SKU-1", "dc-kassel"), ("SKU-1", "dc-lyon"), ("SKU-2", "dc-kassel")):
        set_stock(aws, sku, location_id, 500)
    world = World(client, aws, shop)

    def run_flow(k: int) -> tuple[dict[str, Any], CrashAfter, dict[Any, Any], int]:
        run: dict[str, Any] = {"coid": f"CRASH-{k}"}
        for step in before_steps:
            step(world, run)
        world.sweep()
        levels, sent = stock_levels(aws), len(mails())
        wiring.reset()  # a cold container: every run makes the same calls in the same order
        crash = injector(k)
        for step in steps:
            step(world, run)
        world.sweep()
        crash.armed = False
        return run, crash, _delta(levels, stock_levels(aws)), len(mails()) - sent

    baseline, _, delta, mailed = run_flow(0)
    expected = outcome(world, baseline)
    assert delta, "the flow moved no stock"
    fired: list[str] = []
    for k in range(1, 100):
        run, crash, moved, sent = run_flow(k)
        if not crash.fired:
            break
        fired.append(crash.fired)
        where = (k, crash.fired)
        assert outcome(world, run) == expected, where
        assert moved == delta, where
        # A mail goes twice only when the crash came between sending it and recording that; a
        # customer mail that follows an event's commit is lost with it (at most once, by
        # design); the confirmation never is (the outbox).
        twice = crash.fired == "ses.SendRawEmail" and sent == mailed + 1
        lost = flow != "order path"  # a crash between an event's commit and its mail
        assert sent == mailed or twice or (lost and sent == mailed - 1), (where, sent, mailed)
        assert_nothing_orphaned_lost_or_doubled(world)
    assert len(fired) == k - 1 and crash.calls, fired
    assert COVERED[flow] <= set(fired), fired


def _delta(
    before: dict[tuple[str, str], dict[str, int]], after: dict[tuple[str, str], dict[str, int]]
) -> dict[tuple[str, str], dict[str, int]]:
    keys = set(before) | set(after)
    zero = {"on_hand": 0, "reserved": 0}
    out = {}
    for key in keys:
        a, b = after.get(key, zero), before.get(key, zero)
        change = {k: a[k] - b[k] for k in zero if a[k] != b[k]}
        if change:
            out[key] = change
    return out
