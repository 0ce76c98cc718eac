"""Orders, quotes and backorder queues in the orders table.

An order is one item (``ORDER#<id>``) holding the order document (``docz``: ``order_codec``,
a few hundred bytes: the item stays under 1 KB, one write unit), a ``version`` for optimistic
concurrency, and the keys of the listing indexes:
gsi1 channel / created, gsi2 day / created, gsi3 e-mail / created, gsi4 channel order id;
while fulfilment requests may be unsent, the outbox mark (``obpk`` / ``obsk``, the sparse
``outbox`` index). Updates are ``Update`` entries, so the mark stays unless a write sets or
clears it.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Sequence
from typing import Any

from boto3.dynamodb.conditions import Key

from chalicelib.adapters.dynamo_aggregates import aggregate_ops
from chalicelib.adapters.dynamo_catalog import batch_get
from chalicelib.adapters.dynamo_order_writes import (
    OUTBOX_ATTRIBUTES,
    outbox_attributes,
    write_entry,
)
from chalicelib.adapters.dynamo_tx import TransactionFailed, serialize, transact_write
from chalicelib.adapters.order_codec import decode, encode
from chalicelib.adapters.stock_items import movement_update
from chalicelib.adapters.stock_shards import HINTS, batch_read, route, with_shards
from chalicelib.domain.errors import (
    FieldError,
    InvalidInput,
    OrderExists,
    StaleOrder,
    StockRace,
    WriteConflict,
)
from chalicelib.domain.inventory import Movement
from chalicelib.domain.order.model import Order, order_from_doc, order_to_doc
from chalicelib.domain.order.writes import (
    OrderWrite,
    OutboxClear,
    OutboxMark,
    RmaSaved,
    capture_writes,
)
from chalicelib.domain.paging import Page

Reservation = tuple[str, str, int]  # sku, location_id, quantity


def _order_key(order_id: str) -> dict[str, str]:
    return {"pk": f"ORDER#{order_id}", "sk": "ORDER"}


def _backorder_key(sku: str, created_at: str, order_id: str) -> dict[str, str]:
    return {"pk": f"BACKORDER#{sku}", "sk": f"{created_at}#{order_id}"}


class DynamoOrders:
    def __init__(
        self,
        table: Any,
        stock_table: str,
        *,
        client: Any,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``client`` is a low-level DynamoDB client: transaction items arrive serialized.
        ``clock`` stamps event markers (epoch seconds)."""
        self._table = table
        self._client = client
        self._stock_table = stock_table
        self._clock = clock

    # --- writes ----------------------------------------------------------------------------

    def _order_item(self, order: Order) -> dict[str, Any]:
        doc = order_to_doc(order)
        created = f"{order.created_at}#{order.order_id}"
        email = str(order.customer.get("email", "")).lower()
        return {
            **_order_key(order.order_id),
            # Compressed: an order is rewritten on every event, and write units go by size.
            "docz": encode(doc),
            "version": order.version,
            "status": doc["status"],
            "channel": order.channel,
            "created_at": order.created_at,
            "gsi1pk": f"CH#{order.channel}",
            "gsi1sk": created,
            "gsi2pk": f"DAY#{order.created_at[:10]}",
            "gsi2sk": created,
            "gsi3pk": f"EM#{email}",
            "gsi3sk": created,
            "gsi4pk": f"COID#{order.channel_order_id}",
            "gsi4sk": order.channel,
        }

    def _stock_ops(
        self, order: Order, moves: Sequence[tuple[Movement, Reservation]], now: str
    ) -> tuple[list[dict[str, Any]], list[tuple[Movement, str]]]:
        """The moves' entries, each on its hot-SKU shard (``stock_shards.route``, which sets
        ``order.stock_shards``), and the movement and SKU of each entry."""
        self._hint_unreserved(moves)
        routed, order.stock_shards = route(order.stock_shards, order.order_id, moves)
        ops = [
            movement_update(self._stock_table, sku, loc, movement, qty, now, shard=shard)
            for movement, sku, loc, qty, shard in routed
        ]
        return ops, [(movement, sku) for movement, sku, *_ in routed]

    def _hint_unreserved(self, moves: Sequence[tuple[Movement, Reservation]]) -> None:
        """Units that leave unreserved (shipped after a cancel) come off the shards that have
        them, by the hints: read them where this container has none, so that a hot SKU's units
        do not all come off shard 0 (its deficit the other shards would sell again)."""
        keys = {
            (sku, loc): {"sku": sku, "location_id": loc}
            for movement, (sku, loc, _) in moves
            if movement == Movement.SHIP_UNRESERVED and HINTS.get(sku, loc) is None
        }
        if keys:
            client = self._table.meta.client
            bases = batch_read(client, self._stock_table, list(keys.values()), consistent=True)
            with_shards(client, self._stock_table, bases, consistent=True)

    def _backorder_ops(self, order: Order, *, delete: Sequence[str] = ()) -> list[dict[str, Any]]:
        ops: list[dict[str, Any]] = []
        for sku, quantity in order.backorders.items():
            item = {
                **_backorder_key(sku, order.created_at, order.order_id),
                "order_id": order.order_id,
                "sku": sku,
                "quantity": quantity,
                "channel": order.channel,
            }
            ops.append({"Put": {"TableName": self._table.name, "Item": serialize(item)}})
        for sku in delete:
            key = _backorder_key(sku, order.created_at, order.order_id)
            ops.append({"Delete": {"TableName": self._table.name, "Key": serialize(key)}})
        return ops

    def create(
        self,
        order: Order,
        reservations: Sequence[Reservation],
        now: str,
        *,
        writes: Sequence[OrderWrite] = (),
        releases: Sequence[Reservation] = (),
    ) -> None:
        """The order, its reservations, its backorder entries and ``writes`` in one
        transaction (``releases``: reserved units it gives back, from a checkout reservation).
        Raises OrderExists (same key already stored), StockRace (a reservation lost) or
        WriteConflict (the condition of one of ``writes`` failed)."""
        aggregated, shards = order.aggregated, order.stock_shards
        moves = [(Movement.RESERVE, r) for r in reservations]
        moves += [(Movement.RELEASE, r) for r in releases]
        stock, routed = self._stock_ops(order, moves, now)
        skus = [sku for movement, sku in routed if movement == Movement.RESERVE]  # first
        counters = aggregate_ops(self._table.name, order)  # sets order.aggregated: first
        item = {**self._order_item(order), **outbox_attributes(order)}  # with its outbox mark
        ops = [
            {
                "Put": {
                    "TableName": self._table.name,
                    "Item": serialize(item),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
            *stock,
            *self._backorder_ops(order),
            *[self._write(w, order) for w in [*capture_writes(order), *writes]],
            *counters,
        ]
        try:
            self._run(ops, skus)
        except Exception:
            order.aggregated, order.stock_shards = aggregated, shards
            raise

    def update(
        self,
        order: Order,
        *,
        moves: Sequence[tuple[Movement, Reservation]] = (),
        writes: Sequence[OrderWrite] = (),
        drop_backorders: Sequence[str] = (),
        now: str,
    ) -> None:
        """Save ``order`` if nobody changed it since it was read (its ``version``), together with
        stock movements and the writes that go with it (event markers, lookups, RMAs...).
        Bumps ``order.version`` (and
        the version of every saved RMA). Raises StaleOrder, StockRace or WriteConflict (the
        condition of one of ``writes`` failed)."""
        expected, aggregated, shards = order.version, order.aggregated, order.stock_shards
        order.version = expected + 1
        stock, routed = self._stock_ops(order, moves, now)
        counters = aggregate_ops(self._table.name, order)  # report aggregates, exactly once
        now_s = self._clock()
        extra = [
            write_entry(w, order, table=self._table.name, stock_table=self._stock_table, now=now_s)
            for w in writes
            if not isinstance(w, OutboxMark | OutboxClear)
        ]
        marks = [w for w in writes if isinstance(w, OutboxMark | OutboxClear)]
        ops = [
            self._order_update(
                order, expected, mark=isinstance(marks[-1], OutboxMark) if marks else None
            ),
            *stock,
            *self._backorder_ops(order, delete=drop_backorders),
            *extra,
        ]
        ops += counters
        try:
            self._run(ops, [sku for _, sku in routed])
        except Exception:
            order.version, order.aggregated, order.stock_shards = expected, aggregated, shards
            raise
        for write in writes:
            if isinstance(write, RmaSaved):
                write.rma.version += 1

    def _order_update(self, order: Order, expected: int, *, mark: bool | None) -> dict[str, Any]:
        """The order's entry of an update: every attribute set if the stored ``version`` is
        ``expected``; the outbox mark set (``mark``), removed (``not mark``) or left (None)."""
        item = self._order_item(order)
        if mark:
            item.update(outbox_attributes(order))
        key = {name: item.pop(name) for name in ("pk", "sk")}
        names = {f"#a{i}": name for i, name in enumerate(item)}
        values = {f":a{i}": value for i, value in enumerate(item.values())}
        expression = "SET " + ", ".join(f"#a{i} = :a{i}" for i in range(len(item)))
        if mark is False:
            expression += " REMOVE " + ", ".join(OUTBOX_ATTRIBUTES)
        return {
            "Update": {
                "TableName": self._table.name,
                "Key": serialize(key),
                "UpdateExpression": expression,
                "ConditionExpression": "version = :v",
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": serialize({**values, ":v": expected}),
            }
        }

    def _write(self, write: OrderWrite, order: Order) -> dict[str, Any]:
        return write_entry(
            write, order, table=self._table.name, stock_table=self._stock_table, now=self._clock()
        )

    def _run(self, ops: list[dict[str, Any]], skus: Sequence[str]) -> None:
        """``skus``: the SKU of each reservation entry, which follow the order's item."""
        if len(ops) > 100:
            raise InvalidInput(
                "the order needs more stock movements than one transaction can hold",
                fields=[FieldError("lines", f"{len(ops)} items > 100")],
            )
        try:
            transact_write(self._client, ops)
        except TransactionFailed as exc:
            if 0 in exc.failed:
                first = ops[0].get("Put", {})
                raise (
                    OrderExists
                    if "attribute_not_exists" in first.get("ConditionExpression", "")
                    else StaleOrder
                )("the order was written meanwhile") from exc
            lost = sorted({skus[i - 1] for i in exc.failed if 0 < i <= len(skus)})
            if lost:
                raise StockRace(lost) from exc
            if exc.conflict:
                raise StaleOrder("a concurrent transaction held an item") from exc
            if exc.failed:
                raise WriteConflict("a write that goes with the order was refused") from exc
            raise

    def put_quote(self, quote_id: str, channel: str, doc: dict[str, Any], ttl_seconds: int) -> None:
        self._table.put_item(
            Item={
                "pk": f"QUOTE#{quote_id}",
                "sk": "QUOTE",
                "channel": channel,
                "doc": json.dumps(doc, separators=(",", ":"), default=str),
                "expires_at": int(time.time()) + ttl_seconds,
            }
        )

    # --- reads -----------------------------------------------------------------------------

    def get(self, order_id: str) -> Order | None:
        item = self._table.get_item(Key=_order_key(order_id), ConsistentRead=True).get("Item")
        return self._load(item) if item else None

    @staticmethod
    def _load(item: dict[str, Any]) -> Order:
        return order_from_item(item)

    @staticmethod
    def quote_from_item(item: dict[str, Any] | None, now: float) -> dict[str, Any] | None:
        """A stored quote, or None when missing or expired (TTL deletes late: check here)."""
        if not item or int(item["expires_at"]) < now:
            return None
        return {**json.loads(item["doc"]), "channel": item["channel"]}

    def quote_key(self, quote_id: str) -> dict[str, str]:
        return {"pk": f"QUOTE#{quote_id}", "sk": "QUOTE"}

    def backorders(self, sku: str, limit: int = 50) -> list[dict[str, Any]]:
        """Waiting backorder entries for ``sku``, first come first served."""
        resp = self._table.query(
            KeyConditionExpression=Key("pk").eq(f"BACKORDER#{sku}"),
            Limit=limit,
            ConsistentRead=True,
        )
        return list(resp["Items"])

    def search(
        self,
        *,
        index: str,
        partition: str,
        start: str,
        end: str,
        status: str | None,
        channel: str | None,
        limit: int,
        cursor: str | None,
    ) -> Page:
        """One page of orders from a listing index, newest first, created in [start, end].

        The indexes hold keys only (so order updates never write to them): each page of keys
        is fetched with one BatchGetItem, then filtered by status and channel."""
        pk, sk = f"{index}pk", f"{index}sk"
        kwargs: dict[str, Any] = {
            "IndexName": index,
            "KeyConditionExpression": Key(pk).eq(partition) & Key(sk).between(start, end + "~"),
            "ScanIndexForward": False,
        }
        if cursor:
            kwargs["ExclusiveStartKey"] = decode_cursor(cursor)
        found: list[dict[str, Any]] = []
        while True:
            resp = self._table.query(**kwargs, Limit=max(limit - len(found), 1))
            keys = resp["Items"]
            docs = self._docs([{"pk": k["pk"], "sk": k["sk"]} for k in keys])
            for key in keys:
                doc = docs.get(key["pk"])
                if (
                    doc
                    and (not status or doc["status"] == status)
                    and (not channel or doc["channel"] == channel)
                ):
                    found.append(doc)
                    if len(found) == limit:
                        resume = {k: key[k] for k in ("pk", "sk", pk, sk)}
                        return Page(found, encode_cursor(resume))
            last = resp.get("LastEvaluatedKey")
            if not last:
                return Page(found, None)
            kwargs["ExclusiveStartKey"] = last

    def _docs(self, keys: list[dict[str, str]]) -> dict[str, dict[str, Any]]:
        """Order documents by ``pk`` for up to 100 keys, in one BatchGetItem."""
        if not keys:
            return {}
        return {
            item["pk"]: order_to_doc(order_from_item(item)) for item in batch_get(self._table, keys)
        }


def order_from_item(item: dict[str, Any]) -> Order:
    """An order from its stored item (the document: ``order_codec``)."""
    raw = item["docz"]
    data = raw.value if hasattr(raw, "value") else raw
    order = order_from_doc(decode(bytes(data)))
    order.version = int(item["version"])
    return order


def encode_cursor(key: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(key, default=str).encode()).decode()


def decode_cursor(cursor: str) -> dict[str, Any]:
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except ValueError as exc:
        raise InvalidInput(
            "the cursor is not valid", fields=[FieldError("cursor", "malformed")]
        ) from exc
    if not isinstance(key, dict) or not all(isinstance(v, str) for v in key.values()):
        raise InvalidInput("the cursor is not valid", fields=[FieldError("cursor", "malformed")])
    return key
