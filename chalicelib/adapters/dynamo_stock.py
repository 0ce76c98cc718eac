"""Stock per SKU per location in the stock table (``sku`` + ``location_id``).

DynamoDB conditions can't do arithmetic, so ``available`` is stored and every update expression
keeps ``available = on_hand - reserved - safety_stock``. Movements are conditional updates that
refuse to make ``reserved`` negative or take more than is available. The item and expression
builders (``stock_items``) give the same updates as TransactWriteItems entries, so a use case can
write them together with an order or an event marker in one transaction. Hot SKUs' shards:
``stock_shards``; bulk imports: ``stock_bulk``.

Every write also keeps ``headroom = available - reorder_point`` and the low-stock flag that every
item with ``headroom <= 0`` has (``stock_items.flagged``): the sparse ``low-stock`` index on
``(location_id, low_flag)`` finds the items at or below their reorder point without a scan
(low-stock alerts). Relative movements use ``ADD headroom``, which never fails, even on an item
written around this adapter without ``headroom``; absolute writes (levels, counts) set it
outright, which also repairs such an item.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from chalicelib.adapters.dynamo_catalog import BATCH_GET_MAX, batch_get
from chalicelib.adapters.dynamo_tx import (
    TransactionFailed,
    put_new,
    serialize,
    transact_write,
)
from chalicelib.adapters.low_flag import flagged
from chalicelib.adapters.stock_bulk import BulkWrites, stated
from chalicelib.adapters.stock_items import (
    count_entry,
    event_marker,
    journal_values,
    journalled,
    level_from_item,
    level_projection,
    movement_update,
    new_item,
    now_iso,
    shard_of,
    shard_top,
    stock_violations,
)
from chalicelib.adapters.stock_shards import Target, with_shards
from chalicelib.domain.errors import Conflict, FieldError, InsufficientStock, NotFound
from chalicelib.domain.inventory import Movement
from chalicelib.domain.network import StockLevel

_ATTEMPTS = 6
_PLAIN_WRITES = {"Update": "update_item", "Put": "put_item", "Delete": "delete_item"}
_NUMBERS = ("on_hand", "reserved", "safety_stock", "available", "reorder_point", "quarantine")


class DynamoStock(BulkWrites):
    """The stock table. Every write keeps ``available`` equal to
    ``on_hand - reserved - safety_stock``; writes that need the current ``reserved`` read it and
    write with a condition on the value read (optimistic), retrying a few times. Writes that
    name an ``event_id`` put an event marker in the same transaction: applied exactly once."""

    def __init__(self, table: Any, *, client: Any, events_table: str) -> None:
        # ``client`` is a low-level DynamoDB client: the resource's own client serialises
        # plain Python values itself and would mangle the pre-serialised entries.
        self._table = table
        self._client = client
        self._name = table.name
        self._events = events_table

    # --- reads -----------------------------------------------------------------------------

    def get(self, sku: str, location_id: str) -> StockLevel | None:
        item = self._item(sku, location_id)
        return level_from_item(self._folded([item])[0]) if item else None

    def get_many(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], StockLevel]:
        """Levels by ``(sku, location_id)``; missing items are absent (BatchGetItem, 100/call)."""
        wanted = sorted(set(keys))
        out: dict[tuple[str, str], StockLevel] = {}
        for start in range(0, len(wanted), BATCH_GET_MAX):
            chunk = [{"sku": s, "location_id": loc} for s, loc in wanted[start : start + 100]]
            items = batch_get(self._table, chunk, level_projection())
            for item in self._folded(items, consistent=False):
                out[(item["sku"], item["location_id"])] = level_from_item(item)
        return out

    def for_sku(self, sku: str) -> list[StockLevel]:
        items = self._query(KeyConditionExpression=Key("sku").eq(sku), **level_projection())
        return [level_from_item(i) for i in self._folded(items, consistent=False)]

    def _folded(self, items: list[dict[str, Any]], consistent: bool = True) -> list[dict[str, Any]]:
        """Hot SKUs' shard items added in (``stock_shards``)."""
        return with_shards(self._table.meta.client, self._name, items, consistent=consistent)

    def by_location(self, location_id: str) -> list[StockLevel]:
        """The index holds keys only (stock movements never write it): the levels themselves
        come by BatchGetItem."""
        keys = self._query(
            IndexName="by-location", KeyConditionExpression=Key("location_id").eq(location_id)
        )
        levels = self.get_many(
            (k["sku"], k["location_id"]) for k in keys if not shard_of(k["sku"])[1]
        )
        return [levels[key] for key in sorted(levels)]

    def violations(self) -> list[str]:
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {}
        while True:
            page = self._table.scan(**kwargs)
            items.extend(page["Items"])
            if "LastEvaluatedKey" not in page:
                return stock_violations(items)
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    # --- writes ----------------------------------------------------------------------------

    def set_levels(
        self, sku: str, location_id: str, *, on_hand: int, safety_stock: int, reorder_point: int
    ) -> StockLevel:
        """Absolute ``on_hand``/``safety_stock``/``reorder_point`` (an import); reserved stays."""
        wanted = StockLevel(
            sku,
            location_id,
            on_hand=on_hand,
            safety_stock=safety_stock,
            reorder_point=reorder_point,
        )
        item = new_item(
            sku,
            location_id,
            on_hand=on_hand,
            safety_stock=safety_stock,
            reorder_point=reorder_point,
        )
        if shard_top(self._item(sku, location_id)):
            target = Target(on_hand=on_hand, safety_stock=safety_stock, reorder_point=reorder_point)
            self._rebalance(sku, location_id, target)
            return self._level_after(sku, location_id)
        fresh = put_new(self._name, {**item, **stated(item)}, key="sku")
        for _ in range(_ATTEMPTS):
            for entry in (self._levels_update(wanted), fresh):
                try:
                    self._write([entry])
                except TransactionFailed:
                    continue  # no item to update, or someone just created it: try the other
                if entry is fresh:
                    self._split_new(sku, location_id)
                return self._level_after(sku, location_id)
        raise Conflict(f"stock of {sku} at {location_id} kept changing; try again")

    def apply(self, sku: str, location_id: str, movement: Movement, quantity: int) -> StockLevel:
        """One movement as a conditional update, or ``InsufficientStock`` and nothing written."""
        if not self.apply_once(None, sku, location_id, movement, quantity):
            raise AssertionError("unreachable: no event id, so never a duplicate")
        return self._level_after(sku, location_id)

    def apply_once(
        self,
        event_id: str | None,
        sku: str,
        location_id: str,
        movement: Movement,
        quantity: int,
        *,
        reorder_point: int = 0,
    ) -> bool:
        """Apply a movement once per ``event_id``: False when the event was applied before.
        Receiving at a location without an item creates it (``reorder_point`` for it)."""
        if quantity < 1:
            raise ValueError("quantity must be positive")
        now = now_iso()
        entry = movement_update(self._name, sku, location_id, movement, quantity, now)
        item = new_item(sku, location_id, on_hand=quantity, reorder_point=reorder_point)
        created = put_new(self._name, {**item, "journal": [[now, quantity]]}, key="sku")
        for _ in range(_ATTEMPTS):
            try:
                self._write([*self._marker(event_id), entry])
                if movement == Movement.RECEIVE:
                    self._spread(sku, location_id)
                return True
            except TransactionFailed as exc:
                if event_id is not None and 0 in exc.failed:
                    return False
            if movement != Movement.RECEIVE:
                raise self._insufficient(sku, location_id, movement, quantity)
            try:  # nothing to receive into yet: create the item (unless someone just did)
                self._write([*self._marker(event_id), created])
                self._split_new(sku, location_id)
                return True
            except TransactionFailed as exc:
                if event_id is not None and 0 in exc.failed:
                    return False
        raise Conflict(f"stock of {sku} at {location_id} kept changing; try again")

    def adjust(
        self, sku: str, location_id: str, delta: int, *, reorder_point: int = 0
    ) -> StockLevel:
        """A manual correction: a positive delta is a receipt, a negative one may only take
        what is available (never reserved or safety stock)."""
        if delta > 0:
            self.apply_once(
                None, sku, location_id, Movement.RECEIVE, delta, reorder_point=reorder_point
            )
            return self._level_after(sku, location_id)
        if delta == 0:
            raise ValueError("delta must not be 0")
        entry = self._update(
            sku,
            location_id,
            journalled(
                "SET on_hand = on_hand + :d, available = available + :d, updated_at = :now "
                "ADD headroom :d"
            ),
            "available >= :minus",
            {":d": delta, ":minus": -delta, **journal_values(now_iso(), delta)},
        )
        try:
            self._write([entry])
        except TransactionFailed:
            try:  # a hot SKU may have the units on other shards
                if not self._rebalance(sku, location_id, Target(delta=delta)):
                    raise ValueError("no stock item")
            except ValueError:
                raise self._insufficient(sku, location_id, Movement.ADJUST, -delta) from None
        return self._level_after(sku, location_id)

    def count(
        self,
        sku: str,
        location_id: str,
        counted_on_hand: int,
        counted_at: str,
        *,
        event_id: str | None = None,
        reorder_point: int = 0,
    ) -> bool:
        """An absolute, time-stamped count: ``on_hand`` becomes the count plus the movements
        journalled after ``counted_at`` (ISO UTC, see ``now_iso``), unless a count (or absolute
        level) at or after ``counted_at`` was applied; False when it is ignored (older, or a
        duplicate event). ``reserved`` is never touched."""
        if counted_on_hand < 0:
            raise ValueError("a count cannot be negative")
        for _ in range(_ATTEMPTS):
            item = self._item(sku, location_id)
            if item is not None and str(item.get("counted_at", "")) >= counted_at:
                return False
            if shard_top(item):
                target = Target(count=counted_on_hand, counted_at=counted_at)
                return bool(self._rebalance(sku, location_id, target, event_id=event_id))
            entry = count_entry(
                self._name,
                item,
                counted=counted_on_hand,
                counted_at=counted_at,
                now=datetime.now(UTC),
                reorder_point=reorder_point,
                key=(sku, location_id),
            )
            try:
                self._write([*self._marker(event_id), entry])
                if item is None:
                    self._split_new(sku, location_id)
                return True
            except TransactionFailed as exc:
                if event_id is not None and 0 in exc.failed:
                    return False
        raise Conflict(f"stock of {sku} at {location_id} kept changing; try again")

    # --- internals -------------------------------------------------------------------------

    def _update(
        self, sku: str, location_id: str, expression: str, condition: str, values: dict[str, Any]
    ) -> dict[str, Any]:
        values = dict(values)
        expression = flagged(expression, values)  # the low-stock flag (``stock_items``)
        return {
            "Update": {
                "TableName": self._name,
                "Key": serialize({"sku": sku, "location_id": location_id}),
                "UpdateExpression": expression,
                "ConditionExpression": condition,
                "ExpressionAttributeValues": serialize({**values, ":now": now_iso()}),
            }
        }

    def _marker(self, event_id: str | None) -> list[dict[str, Any]]:
        return [event_marker(self._events, event_id)] if event_id is not None else []

    def _write(self, entries: list[dict[str, Any]]) -> None:
        """One entry as a plain conditional write (half the cost), several as a transaction;
        a failed condition raises ``TransactionFailed`` either way."""
        ((op, params),) = entries[0].items() if len(entries) == 1 else [("", {})]
        call = _PLAIN_WRITES.get(op)
        if call is None:  # several entries, or a lone ConditionCheck (no plain call checks)
            transact_write(self._client, entries)
            return
        try:
            getattr(self._client, call)(**params)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            raise TransactionFailed(["ConditionalCheckFailed"]) from exc

    def _insufficient(
        self, sku: str, location_id: str, movement: Movement, quantity: int
    ) -> InsufficientStock:
        level = self.get(sku, location_id)
        have = (
            f"{level.available} available, {level.reserved} reserved" if level else "no stock item"
        )
        return InsufficientStock(
            f"{movement.value} {quantity} of {sku} at {location_id} refused: {have}",
            fields=[FieldError("quantity", have)],
        )

    def _item(self, sku: str, location_id: str) -> dict[str, Any] | None:
        key = {"sku": sku, "location_id": location_id}
        item: dict[str, Any] | None = self._table.get_item(Key=key, ConsistentRead=True).get("Item")
        return item

    def _level_after(self, sku: str, location_id: str) -> StockLevel:
        level = self.get(sku, location_id)
        if level is None:
            raise NotFound(
                f"no stock of {sku} at {location_id}", fields=[FieldError("sku", "no stock item")]
            )
        return level

    def _query(self, **kwargs: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        while True:
            page = self._table.query(**kwargs)
            items.extend(page["Items"])
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
