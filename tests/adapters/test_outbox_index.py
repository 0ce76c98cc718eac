"""The outbox mark is an attribute of the order item (the sparse ``outbox`` index): set with the
order, kept by updates that do not touch it, removed by the dispatch's update; marks of the
earlier layout (items of their own) are still swept and dropped. The stored document stays
small (``order_codec``) and older documents still read."""

from __future__ import annotations

import json
import zlib
from typing import Any

from chalicelib.adapters.dynamo_fulfilment import DynamoFulfilmentLog
from chalicelib.adapters.dynamo_orders import DynamoOrders, order_from_item
from chalicelib.adapters.order_codec import decode, encode
from chalicelib.adapters.stock_items import now_iso
from chalicelib.domain.network import Address
from chalicelib.domain.order.model import Order, order_to_doc
from chalicelib.domain.order.writes import OutboxClear, OutboxMark
from tests.api.seed import set_stock

FUTURE = "9999"


def make_order(order_id: str) -> Order:
    return Order(
        order_id=order_id,
        channel="web",
        channel_order_id=order_id,
        currency="EUR",
        customer={"email": "a@example.com"},
        ship_to=Address(country="DE", postal_code="10115"),
        lines=[],
        shipments=[],
        created_at=now_iso(),
        delivery={},
        token_hash="",
        request_hash="",
    )


def stores(aws: Any) -> tuple[DynamoOrders, DynamoFulfilmentLog, Any]:
    table = aws.resource("dynamodb").Table("dirigent-orders")
    orders = DynamoOrders(table, "dirigent-stock", client=aws.client("dynamodb"))
    return orders, DynamoFulfilmentLog(table), table


def due(log: DynamoFulfilmentLog) -> list[str]:
    return sorted(order_id for order_id, _ in log.outbox_due(FUTURE))


def test_the_mark_lives_on_the_order_until_the_dispatch_clears_it(aws):
    orders, log, table = stores(aws)
    set_stock(aws, "SKU-1", "dc", 5)
    order = make_order("o_00000000000000a1")
    orders.create(order, [("SKU-1", "dc", 1)], order.created_at)
    assert due(log) == [order.order_id]
    assert not [i for i in table.scan()["Items"] if i["pk"].startswith("OUTBOX#")]

    orders.update(order, now=now_iso())  # an event that sends nothing keeps the mark
    assert due(log) == [order.order_id]
    orders.update(order, writes=[OutboxClear()], now=now_iso())
    assert due(log) == []
    stored = orders.get(order.order_id)
    assert stored is not None and stored.version == 2
    orders.update(stored, writes=[OutboxMark()], now=now_iso())  # re-sourced: to send again
    assert due(log) == [order.order_id]
    assert log.outbox_due(order.created_at) == []  # only orders created before ``before``


def test_a_mark_of_the_earlier_layout_is_swept_and_dropped(aws):
    orders, log, table = stores(aws)
    order = make_order("o_00000000000000b2")
    orders.create(order, [], order.created_at)
    orders.update(order, writes=[OutboxClear()], now=now_iso())
    legacy = {"pk": "OUTBOX#2", "sk": f"{order.created_at}#{order.order_id}"}
    table.put_item(Item=legacy)
    assert log.outbox_due(FUTURE) == [(order.order_id, legacy)]
    log.drop_mark({"pk": f"ORDER#{order.order_id}", "sk": "ORDER"})  # the order's own: kept
    assert table.get_item(Key={"pk": f"ORDER#{order.order_id}", "sk": "ORDER"}).get("Item")
    log.drop_mark(legacy)
    assert due(log) == []


def test_the_document_is_small_and_older_documents_still_read(aws):
    orders, _, table = stores(aws)
    order = make_order("o_00000000000000c3")
    order.explanation = [{"kind": "fastest", "promised_date": "2026-12-03", "parcels": 1}] * 3
    orders.create(order, [], order.created_at)
    item = table.get_item(Key={"pk": f"ORDER#{order.order_id}", "sk": "ORDER"})["Item"]
    raw = json.dumps(order_to_doc(order), separators=(",", ":"), default=str).encode()
    assert len(item["docz"].value) < len(zlib.compress(raw, 9)) / 2
    assert decode(encode(order_to_doc(order))) == json.loads(raw)

    item["docz"] = zlib.compress(raw, 6)  # written before the dictionary
    assert order_to_doc(order_from_item(item))["explanation"] == order.explanation
