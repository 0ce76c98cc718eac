"""AWS round trips of an order's capture and of its order-events message (moto): what each
reads, counted with a botocore hook on the app's own clients. Every call here is paid per
order on AWS, and serialised by the local stack's one moto process."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib import wiring
from tests.api.fulfilment_kit import deliver, drain, make_shop, place


class Calls:
    """``before-parameter-build`` hook: (operation, table or queue, key prefix) per call."""

    def __init__(self) -> None:
        self.seen: Counter[tuple[str, str, str]] = Counter()

    def __call__(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        key = params.get("Key") or {}
        pk = key.get("pk")
        pk = pk.get("S", "") if isinstance(pk, dict) else str(pk or "")
        target = params.get("TableName") or params.get("QueueName") or params.get("QueueUrl", "")
        self.seen[(model.name, target.rsplit("/", 1)[-1], pk.split("#", 1)[0])] += 1

    def count(self, operation: str, target: str = "", prefix: str | None = None) -> int:
        return sum(
            n
            for (op, where, pk), n in self.seen.items()
            if op == operation and target in where and (prefix is None or pk == prefix)
        )


@pytest.fixture
def calls(aws: Any) -> Iterator[Calls]:
    counter = Calls()
    clients = (
        wiring.client("dynamodb"),
        wiring.client("sqs"),
        wiring.dynamodb().meta.client,
    )
    for c in clients:
        c.meta.events.register("before-parameter-build.*.*", counter)
    yield counter
    for c in clients:
        c.meta.events.unregister("before-parameter-build.*.*", counter)


def test_the_capture_reads_its_products_once_with_the_stock(client, admin_key, aws, calls):
    shop = make_shop(client, admin_key, aws)
    calls.seen.clear()
    place(client, shop["key"], "RT-1", [("SKU-1", 1), ("SKU-2", 1)])
    # the snapshot's BatchGetItem brings the product documents: no GetItem per SKU after it
    # (the preorder check reads their release dates from them)
    assert calls.count("GetItem", "dirigent-catalog", "PRODUCT") == 0
    assert calls.count("BatchGetItem") == 1


def test_the_order_placed_message_says_the_sale_is_kept(client, admin_key, aws, calls):
    shop = make_shop(client, admin_key, aws)
    order = place(client, shop["key"], "RT-2", [("SKU-1", 1)])
    (message,) = drain(aws, "dirigent-order-events")
    assert message == {
        "message_id": f"order_placed:{order['order_id']}",
        "type": "order_placed",
        "order_id": order["order_id"],
        "sale_recorded": True,
    }
    calls.seen.clear()
    assert deliver(client, "on_order_event", "dirigent-order-events", message) == []
    # dispatch reads the order; the availability trigger takes the order dispatch wrote, and
    # the forecast's fallback (a sale the capture failed to keep) is not needed
    assert calls.count("GetItem", "dirigent-orders", "ORDER") == 1
    assert calls.count("GetItem", "dirigent-orders", "SIMIN") == 0
    assert len(drain(aws, "dirigent-fulfilment")) == 1


def test_a_sale_the_capture_did_not_keep_is_kept_by_the_consumer(client, admin_key, aws):
    shop = make_shop(client, admin_key, aws)
    order = place(client, shop["key"], "RT-3", [("SKU-1", 2)])
    (message,) = drain(aws, "dirigent-order-events")
    orders = aws.resource("dynamodb").Table("dirigent-orders")
    inputs = orders.scan(
        FilterExpression="begins_with(pk, :p)", ExpressionAttributeValues={":p": "SIMIN#"}
    )["Items"]
    assert [i["lines"] for i in inputs] == [{"SKU-1": 2}]
    orders.delete_item(Key={"pk": inputs[0]["pk"], "sk": inputs[0]["sk"]})  # as if it failed
    unflagged = {k: v for k, v in message.items() if k != "sale_recorded"}
    assert deliver(client, "on_order_event", "dirigent-order-events", unflagged) == []
    kept = orders.scan(
        FilterExpression="begins_with(pk, :p)", ExpressionAttributeValues={":p": "SIMIN#"}
    )["Items"]
    assert [(i["sk"], i["lines"]) for i in kept] == [(inputs[0]["sk"], {"SKU-1": 2})]
    assert order["order_id"] in json.dumps(kept, default=str)


def test_webhook_triggers_resolve_the_queue_url_once(client, admin_key, aws, calls):
    shop = make_shop(client, admin_key, aws)
    for n in range(3):
        place(client, shop["key"], f"RT-W{n}", [("SKU-1", 1)])
    placed = drain(aws, "dirigent-order-events")
    calls.seen.clear()
    assert deliver(client, "on_order_event", "dirigent-order-events", *placed) == []
    assert calls.count("GetQueueUrl", "dirigent-webhooks") <= 1
    assert calls.count("SendMessageBatch", "dirigent-webhooks") == 3


def test_an_order_change_is_announced_and_confirmed_from_one_read(client, admin_key, aws, calls):
    shop = make_shop(client, admin_key, aws)
    order = place(client, shop["key"], "RT-4", [("SKU-1", 1)])
    trigger = {"kind": "order_changed", "order_id": order["order_id"]}
    calls.seen.clear()
    assert deliver(client, "on_webhook", "dirigent-webhooks", trigger) == []
    assert calls.count("GetItem", "dirigent-orders", "ORDER") == 1
    # a web-shop order was captured by no connector: nothing to confirm, ever, so no mark
    assert calls.count("GetItem", "dirigent-orders", "CONFMARK") == 0
    assert calls.count("UpdateItem", "dirigent-orders", "CONFMARK") == 0
    assert calls.count("UpdateItem", "dirigent-orders", "WHMARK") == 1


def test_a_batch_checks_the_availability_of_its_orders_once(client, admin_key, aws, calls):
    """Three orders in one order-events batch: one change-log write and one stock read per
    SKU for all of them (one per order before), and every SKU in the change log."""
    shop = make_shop(client, admin_key, aws)
    carts = [[("SKU-1", 1), ("SKU-2", 1)], [("SKU-2", 1)], [("SKU-1", 1), ("SKU-2", 1)]]
    for n, cart in enumerate(carts):
        place(client, shop["key"], f"RT-B{n}", cart)
    messages = drain(aws, "dirigent-order-events")
    assert len(messages) == 3
    calls.seen.clear()
    assert deliver(client, "on_order_event", "dirigent-order-events", *messages) == []
    assert calls.count("BatchWriteItem") == 1  # the change log
    assert calls.count("Query", "dirigent-stock") == 2  # SKU-1 and SKU-2, once each
    changed = aws.resource("dynamodb").Table("dirigent-orders").scan()["Items"]
    logged = {item["sku"] for item in changed if item["pk"].startswith("AVCHG#")}
    assert logged == {"SKU-1", "SKU-2"}
    assert len(drain(aws, "dirigent-fulfilment")) == 3
