"""Hot SKUs in the stock table: reading shard items into one level, the reservation hints, and
rebalancing a location's shards (``domain.shards``; item layout in ``stock_items``).

Reads fetch the shard items of every base item that names some (``shard_top``) in one more
``BatchGetItem`` and fold them into it, so every reader sees one number. Each read also notes,
per SKU and location, what every pickable shard had available (``HINTS``): ``DynamoOrders``
spreads reservations by it. A stale hint only costs a failed condition (a lost race), and the
order path re-reads consistently, which renews it.

A rebalance (re-sharding, counts, absolute levels, adjustments, after receipts) rewrites every
shard item of one SKU at one location in one transaction, each conditional on the item as read:
``reserved`` stays on the shard that holds it (orders remember their shards), the total
``on_hand`` is as wanted, and ``available`` is spread evenly over the pickable shards.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from boto3.dynamodb.conditions import Key

from chalicelib.adapters.dynamo_batch import batch_get_items
from chalicelib.adapters.dynamo_tx import TransactionFailed, put_new, serialize, transact_write
from chalicelib.adapters.low_flag import flagged
from chalicelib.adapters.stock_items import (
    fold,
    journal_of,
    new_shard_item,
    shard_count,
    shard_keys,
    shard_of,
    shard_sku,
    shard_top,
)
from chalicelib.domain.errors import Conflict
from chalicelib.domain.inventory import Movement, kept_journal, reconcile, stamp
from chalicelib.domain.shards import MAX_SHARDS, pick, rebalanced, start_shard, take_back

_BATCH = 100


class ShardHints:
    """Available units per shard item and the shard count, by ``(sku, location_id)``, as last
    read here."""

    def __init__(self) -> None:
        self._by_key: dict[tuple[str, str], tuple[tuple[int, ...], int]] = {}
        self._lock = threading.Lock()

    def note(
        self, sku: str, location_id: str, available: Iterable[int] | None, shards: int = 1
    ) -> None:
        with self._lock:
            if available is None:
                self._by_key.pop((sku, location_id), None)
            else:
                self._by_key[(sku, location_id)] = (tuple(available), shards)

    def get(self, sku: str, location_id: str) -> tuple[tuple[int, ...], int] | None:
        """``(available per shard item, shard count)``; None: not hot (as last read here)."""
        return self._by_key.get((sku, location_id))

    def took(self, sku: str, location_id: str, take: Iterable[tuple[int, int]]) -> None:
        """Units this process is about to reserve: later orders here start elsewhere."""
        with self._lock:
            hint = self._by_key.get((sku, location_id))
            if hint is not None:
                available = list(hint[0])
                for shard, units in take:
                    if shard < len(available):
                        available[shard] -= units
                self._by_key[(sku, location_id)] = (tuple(available), hint[1])


HINTS = ShardHints()


def batch_read(
    client: Any, table: str, keys: list[dict[str, str]], *, consistent: bool
) -> list[dict[str, Any]]:
    """BatchGetItem with a resource-level client (plain values), retrying unprocessed keys."""
    out: list[dict[str, Any]] = []
    for start in range(0, len(keys), _BATCH):
        request = {table: {"Keys": keys[start : start + _BATCH], "ConsistentRead": consistent}}
        out.extend(batch_get_items(client, request)[table])
    return out


def with_shards(
    client: Any, table: str, items: list[dict[str, Any]], *, consistent: bool
) -> list[dict[str, Any]]:
    """``items`` (shard 0 items, plain values) with the shard items of the hot ones folded
    in; notes the hints of every item read."""
    wanted = [k for item in items for k in shard_keys(item["sku"], item["location_id"], item)]
    extra = batch_read(client, table, wanted, consistent=consistent) if wanted else []
    note_hints(items, extra)
    return fold([*items, *extra]) if extra else items


def note_hints(bases: Iterable[dict[str, Any]], shards: Iterable[dict[str, Any]]) -> None:
    by_key = {(i["sku"], i["location_id"]): i for i in shards}
    for base in bases:
        sku, loc = str(base["sku"]), str(base["location_id"])
        if shard_of(sku)[1]:
            continue
        if not shard_top(base):
            HINTS.note(sku, loc, None)
            continue
        available = [int(base.get("available", 0))]
        for k in range(1, shard_top(base) + 1):  # retired shards too: what they free is sold
            item = by_key.get((shard_sku(sku, k), loc))
            available.append(int(item.get("available", 0)) if item else 0)
        HINTS.note(sku, loc, available, shard_count(base))


@dataclass
class Target:
    """What a rebalance sets (None: keep). ``count``: an absolute count at ``counted_at``
    (reconciled with the journals); ``on_hand``: an absolute level stated now; ``delta``: a
    journalled adjustment; ``shards``: the new shard count."""

    shards: int | None = None
    on_hand: int | None = None
    safety_stock: int | None = None
    reorder_point: int | None = None
    count: int | None = None
    counted_at: str | None = None
    delta: int = 0


def read_location(client: Any, table: str, sku: str, location_id: str) -> list[dict[str, Any]]:
    """Shard 0 and every shard item of one SKU at one location, read consistently (shard 0
    first; empty when shard 0 does not exist)."""
    base = client.get_item(
        TableName=table, Key={"sku": sku, "location_id": location_id}, ConsistentRead=True
    ).get("Item")
    if base is None:
        return []
    keys = shard_keys(sku, location_id, base)
    return [base, *batch_read(client, table, keys, consistent=True)]


def rebalance_entries(
    table: str, items: list[dict[str, Any]], target: Target, now: datetime
) -> list[dict[str, Any]] | None:
    """The transaction that rebalances one location (``items`` from ``read_location``), or
    None when a count is older than the last one applied."""
    base = items[0]
    sku, loc = str(base["sku"]), str(base["location_id"])
    n = target.shards or shard_count(base)
    top = max(shard_top(base), n - 1)
    by_shard = {shard_of(str(i["sku"]))[1]: i for i in items}
    journal = sorted(e for i in items for e in journal_of(i))
    on_hand_now = sum(int(i.get("on_hand", 0)) for i in items)
    counted_at, kept = base.get("counted_at"), [list(e) for e in journal]
    if target.count is not None and target.counted_at is not None:
        if str(base.get("counted_at", "")) >= target.counted_at:
            return None
        total = reconcile(target.count, target.counted_at, journal)
        counted_at = target.counted_at
        kept = [list(e) for e in kept_journal(journal, after=target.counted_at, now=now)]
    elif target.on_hand is not None:
        total, counted_at, kept = target.on_hand, stamp(now), []
    else:
        total = on_hand_now + target.delta
        if target.delta:
            kept.append([stamp(now), target.delta])
    safety = (
        int(base.get("safety_stock", 0)) if target.safety_stock is None else target.safety_stock
    )
    rop = (
        int(base.get("reorder_point", 0)) if target.reorder_point is None else target.reorder_point
    )
    reserved = [int(by_shard.get(k, {}).get("reserved", 0)) for k in range(top + 1)]
    spread = rebalanced(total - sum(reserved) - safety, n, top + 1)
    entries = []
    for k in range(top + 1):
        item = by_shard.get(k)
        if item is None:
            fresh = {**new_shard_item(sku, loc, k), "on_hand": spread[k], "available": spread[k]}
            entries.append(put_new(table, fresh, key="sku"))
            continue
        values: dict[str, Any] = {
            ":oh": reserved[k] + spread[k] + (safety if k == 0 else 0),
            ":av": spread[k],
            ":was": int(item.get("on_hand", 0)),
            ":r": reserved[k],
            ":j": kept if k == 0 else [],
            ":now": stamp(now),
        }
        expression = "SET on_hand = :oh, available = :av, journal = :j, updated_at = :now"
        if k == 0:
            expression += (
                ", safety_stock = :ss, reorder_point = :rp, headroom = :hr, shards = :n, "
                "shard_top = :top"
            )
            values.update({":ss": safety, ":rp": rop, ":hr": spread[0] - rop, ":n": n, ":top": top})
            values[":ss0"] = int(item.get("safety_stock", 0))
            unchanged_safety = " AND safety_stock = :ss0"
            if counted_at is not None:
                expression += ", counted_at = :t"
                values[":t"] = counted_at
            expression = flagged(expression, values)  # a literal headroom: set or removed
        else:
            unchanged_safety = ""
        unchanged = "size(journal) = :jn" if "journal" in item else "attribute_not_exists(journal)"
        if "journal" in item:
            values[":jn"] = len(item["journal"])
        entries.append(
            {
                "Update": {
                    "TableName": table,
                    "Key": serialize({"sku": shard_sku(sku, k), "location_id": loc}),
                    "UpdateExpression": expression,
                    "ConditionExpression": (
                        f"on_hand = :was AND reserved = :r AND {unchanged}{unchanged_safety}"
                    ),
                    "ExpressionAttributeValues": serialize(values),
                }
            }
        )
    return entries


class Unbalanced(Exception):
    """A rebalance kept losing to concurrent writes."""


def rebalance(
    reader: Any,
    writer: Any,
    table: str,
    key: tuple[str, str],
    target: Target,
    *,
    marker: list[dict[str, Any]] | None = None,
    attempts: int = 6,
) -> bool | None:
    """Rebalance one location in one transaction (with ``marker``, an event marker, first):
    True when written, False when ignored (an older count, or the marker existed), None when
    shard 0 does not exist. ``reader`` is a resource-level client, ``writer`` a low-level one.
    A ``target.delta`` below zero may only take available units (else ``ValueError``)."""
    for _ in range(attempts):
        items = read_location(reader, table, *key)
        if not items:
            return None
        if target.delta < 0:
            have = sum(int(i.get("available", 0)) for i in items)
            if have + target.delta < 0:
                raise ValueError(f"only {have} available")
        entries = rebalance_entries(table, items, target, datetime.now(UTC))
        if entries is None:
            return False
        try:
            transact_write(writer, [*(marker or []), *entries])
        except TransactionFailed as exc:
            if marker and 0 in exc.failed:
                return False
            continue
        return True
    raise Unbalanced(f"stock of {key[0]} at {key[1]} kept changing; try again")


class ShardedWrites:
    """``DynamoStock``'s writes across a hot SKU's shards."""

    _table: Any
    _client: Any
    _name: str

    def _marker(self, event_id: str | None) -> list[dict[str, Any]]:
        raise NotImplementedError

    def _item(self, sku: str, location_id: str) -> dict[str, Any] | None:
        raise NotImplementedError

    def set_shards(self, sku: str, shards: int) -> None:
        """Split the SKU's stock at every location over ``shards`` items (1: not hot any more;
        retired shard items keep their reserved units until those are shipped or released)."""
        if not 1 <= shards <= MAX_SHARDS:
            raise ValueError(f"shards must be 1..{MAX_SHARDS}")
        kwargs: dict[str, Any] = {"KeyConditionExpression": Key("sku").eq(sku)}
        while True:
            page = self._table.query(**kwargs)
            for item in page["Items"]:
                if shard_count(item) != shards:  # the same count again: nothing to move
                    self._rebalance(sku, str(item["location_id"]), Target(shards=shards))
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _rebalance(
        self, sku: str, location_id: str, target: Target, *, event_id: str | None = None
    ) -> bool | None:
        marker = self._marker(event_id)
        reader = self._table.meta.client
        try:
            key = (sku, location_id)
            return rebalance(reader, self._client, self._name, key, target, marker=marker)
        except Unbalanced as exc:
            raise Conflict(str(exc)) from None

    def _split_new(self, sku: str, *location_ids: str) -> None:
        """Locations first stocked after the SKU was marked hot: split like its others (which
        name the shard count: ``set_shards`` splits every location). Best effort, like
        ``_spread``: the units stay orderable on shard 0."""
        page = self._table.query(
            KeyConditionExpression=Key("sku").eq(sku),
            ProjectionExpression="#n",
            ExpressionAttributeNames={"#n": "shards"},
        )  # one page: the SKU's locations, a few bytes each
        shards = max((shard_count(i) for i in page["Items"]), default=1)
        for location_id in location_ids if shards > 1 else ():
            with contextlib.suppress(Conflict):
                self._rebalance(sku, location_id, Target(shards=shards))

    def _spread(self, sku: str, location_id: str) -> None:
        """After a receipt at a hot SKU: the new units spread over its shards (best effort)."""
        if shard_top(self._item(sku, location_id)):
            with contextlib.suppress(Conflict):  # the units stay orderable on shard 0
                self._rebalance(sku, location_id, Target())


# Movements that take units from ``reserved``, and those that put them there (at shard 0 but
# for reservations, which are spread).
_TAKES = frozenset({Movement.RELEASE, Movement.SHIP, Movement.SHORT, Movement.TRANSFER_OUT})
_PICKS = frozenset({Movement.RESERVE, Movement.SHIP_UNRESERVED})
Routed = tuple[Movement, str, str, int, int]  # movement, sku, location_id, quantity, shard


def route(
    held: dict[str, dict[str, int]],
    seed: str,
    moves: Iterable[tuple[Movement, tuple[str, str, int]]],
) -> tuple[list[Routed], dict[str, dict[str, int]]]:
    """Each move on the shard(s) it belongs to, and what the order holds on which shard
    afterwards (``Order.stock_shards``: ``"<sku>@<location_id>" -> {shard: units}``).
    Reservations of a hot SKU spread by the hints, from a shard picked by ``seed``; what an
    order gives back comes from the shards it holds it on; everything else is shard 0."""
    after = {key: dict(v) for key, v in held.items()}
    out: list[Routed] = []
    for movement, (sku, loc, quantity) in moves:
        key = f"{sku}@{loc}"
        mine = {int(k): v for k, v in after.get(key, {}).items()}
        hint = HINTS.get(sku, loc) if movement in _PICKS else None
        if movement in _TAKES and mine:
            take, mine = take_back(mine, quantity)
        elif hint is not None and movement == Movement.SHIP_UNRESERVED:
            # units that left unreserved (shipped after a cancel) come off the shards that
            # have them, not all off shard 0 (whose deficit the other shards would sell)
            take = pick(hint[0], quantity, start_shard(f"{seed}/{sku}", hint[1]))
            HINTS.took(sku, loc, take)
        elif hint is not None:
            available, shards = hint
            take = pick(available, quantity, start_shard(f"{seed}/{sku}", shards))
            HINTS.took(sku, loc, take)
            for shard, units in take:
                mine[shard] = mine.get(shard, 0) + units
        else:
            out.append((movement, sku, loc, quantity, 0))
            continue
        out.extend((movement, sku, loc, units, shard) for shard, units in take)
        if mine:
            after[key] = {str(k): v for k, v in sorted(mine.items())}
        else:
            after.pop(key, None)
    return out, after
