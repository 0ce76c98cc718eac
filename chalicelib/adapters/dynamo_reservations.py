"""Checkout reservations in the orders table (``domain.reservations``).

One item per reservation, ``RESV#<id>`` / ``RESV``: ``channel``, ``status``, the quoted
``option`` (JSON), its ``holds`` and ``until`` (epoch seconds: when it expires). While it is
open it is listed in ``gsi1`` under ``RESEXP#<0..3>`` sorted by ``<until>#<id>``: the
expiry sweeper reads what is due there (DynamoDB's TTL is far too late for this; the
``expires_at`` TTL only cleans up closed items a week later). Reserving, releasing and
expiring move the units in the same transaction as the item; an order takes a reservation
over with ``consume_entry``, in its own transaction. The units of a hot SKU are spread over its
shards like an order's (``stock_shards.route``); ``stock_shards`` on the item names where they
are held, so that they go back there (and an order taking them over inherits the map).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from boto3.dynamodb.conditions import Key

from chalicelib.adapters.dynamo_tx import (
    MAX_TRANSACT_ITEMS,
    TransactionFailed,
    serialize,
    transact_write,
)
from chalicelib.adapters.stock_items import movement_update
from chalicelib.adapters.stock_shards import route
from chalicelib.domain.errors import (
    FieldError,
    InvalidInput,
    StaleOrder,
    StockRace,
    WriteConflict,
)
from chalicelib.domain.inventory import Movement
from chalicelib.domain.reservations import (
    CheckoutReservation,
    ReservationStatus,
    expiring_shard,
)

CLEANUP_SECONDS = 7 * 86400
SHARDS = 4


def _key(reservation_id: str) -> dict[str, str]:
    return {"pk": f"RESV#{reservation_id}", "sk": "RESV"}


def _due_key(res: CheckoutReservation) -> dict[str, str]:
    return {
        "gsi1pk": f"RESEXP#{expiring_shard(res.reservation_id, SHARDS)}",
        "gsi1sk": f"{int(res.expires_at):011d}#{res.reservation_id}",
    }


def consume_entry(
    table: str, reservation_id: str, order_id: str, before: float | None
) -> dict[str, Any]:
    """The TransactWriteItems entry of an order taking the reservation over."""
    condition = "#s = :open"
    values: dict[str, Any] = {":open": "open", ":c": "consumed", ":o": order_id}
    if before is not None:
        condition += " AND #u > :now"
        values[":now"] = int(before)
    return {
        "Update": {
            "TableName": table,
            "Key": serialize(_key(reservation_id)),
            "UpdateExpression": "SET #s = :c, order_id = :o REMOVE gsi1pk, gsi1sk",
            "ConditionExpression": condition,
            "ExpressionAttributeNames": {"#s": "status", "#u": "until"}
            if before is not None
            else {"#s": "status"},
            "ExpressionAttributeValues": serialize(values),
        }
    }


def reservation_from_item(item: dict[str, Any]) -> CheckoutReservation:
    return CheckoutReservation(
        reservation_id=item["pk"].removeprefix("RESV#"),
        channel=item["channel"],
        option=json.loads(item["option"]),
        holds=tuple((str(s), str(loc), int(q)) for s, loc, q in item["holds"]),
        created_at=float(item["created_at"]),
        expires_at=float(item["until"]),
        status=ReservationStatus(item["status"]),
        extended=bool(item.get("extended", False)),
        order_id=item.get("order_id"),
        stock_shards={
            str(key): {str(k): int(v) for k, v in held.items()}
            for key, held in item.get("stock_shards", {}).items()
        },
    )


class DynamoReservations:
    def __init__(
        self,
        table: Any,
        stock_table: str,
        *,
        client: Any,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._table, self._stock_table, self._client, self._clock = (
            table,
            stock_table,
            client,
            clock,
        )

    def create(self, res: CheckoutReservation) -> None:
        """The reservation and its units, in one transaction. Raises StockRace (naming the
        SKUs whose units are no longer available), WriteConflict (the id exists) or StaleOrder
        (a concurrent transaction held an item: retry)."""
        moves, skus, shards = self._moves(Movement.RESERVE, res.holds, {}, res.reservation_id)
        item = {
            **_key(res.reservation_id),
            **_due_key(res),
            "channel": res.channel,
            "status": res.status.value,
            "option": json.dumps(res.option, separators=(",", ":"), default=str),
            "holds": [list(h) for h in res.holds],
            "created_at": int(res.created_at),
            "until": int(res.expires_at),
            "extended": res.extended,
            "expires_at": int(res.expires_at) + CLEANUP_SECONDS,
            **({"stock_shards": shards} if shards else {}),
        }
        ops = [
            {
                "Put": {
                    "TableName": self._table.name,
                    "Item": serialize(item),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
            *moves,
        ]
        self._run(ops, skus)

    def get(self, reservation_id: str) -> CheckoutReservation | None:
        item = self._table.get_item(Key=_key(reservation_id), ConsistentRead=True).get("Item")
        return reservation_from_item(item) if item else None

    def extend(self, old: CheckoutReservation, new: CheckoutReservation, *, now: float) -> None:
        """Save ``new`` (extended) if ``old`` is still open, unextended and in time; else
        WriteConflict."""
        try:
            self._table.update_item(
                Key=_key(old.reservation_id),
                UpdateExpression="SET #u = :u, #e = :t, gsi1sk = :sk, expires_at = :exp",
                ConditionExpression="#s = :open AND #e = :f AND #u > :now",
                ExpressionAttributeNames={"#u": "until", "#s": "status", "#e": "extended"},
                ExpressionAttributeValues={
                    ":u": int(new.expires_at),
                    ":t": True,
                    ":f": False,
                    ":sk": _due_key(new)["gsi1sk"],
                    ":exp": int(new.expires_at) + CLEANUP_SECONDS,
                    ":open": "open",
                    ":now": int(now),
                },
            )
        except self._client.exceptions.ConditionalCheckFailedException as exc:
            raise WriteConflict("the reservation changed meanwhile") from exc

    def close(
        self, res: CheckoutReservation, status: ReservationStatus, *, due_by: float | None
    ) -> None:
        """Give the units back and mark the reservation ``status`` (released or expired), if
        it is still open (and, with ``due_by``, expires by then); else WriteConflict."""
        condition = "#s = :open"
        values: dict[str, Any] = {":open": "open", ":st": status.value}
        names = {"#s": "status"}
        if due_by is not None:
            condition += " AND #u <= :due"
            values[":due"] = int(due_by)
            names["#u"] = "until"
        ops = [
            {
                "Update": {
                    "TableName": self._table.name,
                    "Key": serialize(_key(res.reservation_id)),
                    "UpdateExpression": "SET #s = :st REMOVE gsi1pk, gsi1sk",
                    "ConditionExpression": condition,
                    "ExpressionAttributeNames": names,
                    "ExpressionAttributeValues": serialize(values),
                }
            },
            *self._moves(Movement.RELEASE, res.holds, res.stock_shards, res.reservation_id)[0],
        ]
        self._run(ops, ())

    def due(self, now: float, limit: int = 100) -> list[str]:
        """Ids of open reservations whose time is up at ``now``, oldest first."""
        out: list[str] = []
        for shard in range(SHARDS):
            kwargs: dict[str, Any] = {
                "IndexName": "gsi1",
                "KeyConditionExpression": Key("gsi1pk").eq(f"RESEXP#{shard}")
                & Key("gsi1sk").lte(f"{int(now):011d}#~"),
                "Limit": limit,
            }
            resp = self._table.query(**kwargs)
            out += [item["pk"].removeprefix("RESV#") for item in resp["Items"]]
        return out

    def _moves(
        self,
        movement: Movement,
        holds: Sequence[tuple[str, str, int]],
        held: Mapping[str, Mapping[str, int]],
        seed: str,
    ) -> tuple[list[Any], list[str], dict[str, dict[str, int]]]:
        """The holds' stock entries, each on its hot-SKU shard (``route``), the SKU of each
        entry, and the shards the units are held on afterwards."""
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self._clock()))
        mine = {key: dict(v) for key, v in held.items()}
        routed, after = route(mine, seed, [(movement, hold) for hold in holds])
        entries = [
            movement_update(self._stock_table, sku, loc, move, q, now, shard=shard)
            for move, sku, loc, q, shard in routed
        ]
        return entries, [sku for _, sku, *_ in routed], after

    def _run(self, ops: list[dict[str, Any]], skus: Sequence[str]) -> None:
        """The reservation's item comes first, then the stock entries (``skus``: the SKU of
        each reserving one)."""
        if len(ops) > MAX_TRANSACT_ITEMS:
            raise InvalidInput(
                "the option needs more stock holds than one transaction can make",
                fields=[FieldError("option_id", f"{len(ops)} items > {MAX_TRANSACT_ITEMS}")],
            )
        try:
            transact_write(self._client, ops)
        except TransactionFailed as exc:
            if 0 in exc.failed:
                raise WriteConflict("the reservation changed meanwhile") from exc
            lost = sorted({skus[i - 1] for i in exc.failed if 0 < i <= len(skus)})
            if lost:
                raise StockRace(lost) from exc
            if exc.failed:
                raise WriteConflict("a stock item changed meanwhile") from exc
            if exc.conflict:
                raise StaleOrder("a concurrent transaction held an item") from exc
            raise
