"""In-memory fakes of the catalog, stock and pending-event stores, for fast unit tests.

They follow the same contracts as the DynamoDB adapters (``tests/adapters/test_stock_contract.py``
runs one suite against both), using the pure rules of ``chalicelib.domain.inventory``.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.adapters.stock_items import now_iso, stock_violations
from chalicelib.domain import inventory
from chalicelib.domain.errors import Conflict, FieldError, InsufficientStock
from chalicelib.domain.inventory import Movement
from chalicelib.domain.network import StockLevel


class MemoryCatalog:
    """Documents by ``(kind, id)``, like ``DynamoCatalog``."""

    def __init__(self) -> None:
        self._docs: dict[tuple[str, str], dict[str, Any]] = {}
        self._lock = threading.Lock()

    def put(self, kind: str, item_id: str, doc: dict[str, Any], *, only_new: bool = False) -> None:
        with self._lock:
            if only_new and (kind, item_id) in self._docs:
                raise Conflict(f"{kind} {item_id} exists")
            kept = self._docs.get((kind, item_id), {}).get("feed_at")  # like DynamoCatalog
            self._docs[(kind, item_id)] = copy.deepcopy(doc)
            if kept is not None:
                self._docs[(kind, item_id)]["feed_at"] = kept

    def mark_feed(self, location_id: str, at: datetime) -> bool:
        """``DynamoCatalog.mark_feed``: at most once a minute, known locations only."""
        stamp = at.astimezone(UTC).isoformat(timespec="microseconds")
        ago = (at - timedelta(minutes=1)).astimezone(UTC).isoformat(timespec="microseconds")
        with self._lock:
            doc = self._docs.get(("LOCATION", location_id))
            if doc is None or doc.get("feed_at", "") >= ago:
                return False
            doc["feed_at"] = stamp
            return True

    def put_many(self, kind: str, docs: Sequence[tuple[str, dict[str, Any]]]) -> None:
        for item_id, doc in docs:
            self.put(kind, item_id, doc)

    def get(self, kind: str, item_id: str) -> dict[str, Any] | None:
        doc = self._docs.get((kind, item_id))
        return copy.deepcopy(doc) if doc is not None else None

    def list(self, kind: str) -> list[dict[str, Any]]:
        return [copy.deepcopy(d) for (k, _), d in sorted(self._docs.items()) if k == kind]

    def get_many(self, kind: str, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        return {i: doc for i in set(ids) if (doc := self.get(kind, i)) is not None}

    def invalidate(self, kind: str | None = None) -> None:
        """Nothing is cached."""


class MemoryStock:
    """The stock store in a dict, one lock around every write."""

    def __init__(self) -> None:
        self._levels: dict[tuple[str, str], StockLevel] = {}
        self._counted_at: dict[tuple[str, str], str] = {}  # also absolute levels: stated then
        self._journal: dict[tuple[str, str], inventory.Journal] = {}  # on_hand deltas, as Dynamo
        self.applied_events: set[str] = set()
        self._lock = threading.RLock()

    def set_shards(self, sku: str, shards: int) -> None:
        """Hot SKUs: nothing to split in memory (no partitions)."""

    def get(self, sku: str, location_id: str) -> StockLevel | None:
        return self._levels.get((sku, location_id))

    def get_many(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], StockLevel]:
        return {k: self._levels[k] for k in set(keys) if k in self._levels}

    def for_sku(self, sku: str) -> list[StockLevel]:
        return [v for (s, _), v in sorted(self._levels.items()) if s == sku]

    def by_location(self, location_id: str) -> list[StockLevel]:
        return [v for (_, loc), v in sorted(self._levels.items()) if loc == location_id]

    def violations(self) -> list[str]:
        return stock_violations(
            {
                "sku": v.sku,
                "location_id": v.location_id,
                "on_hand": v.on_hand,
                "reserved": v.reserved,
                "safety_stock": v.safety_stock,
                "available": v.available,
            }
            for v in self._levels.values()
        )

    def set_levels(
        self, sku: str, location_id: str, *, on_hand: int, safety_stock: int, reorder_point: int
    ) -> StockLevel:
        with self._lock:
            old = self._levels.get((sku, location_id)) or StockLevel(sku, location_id, 0)
            level = replace(
                old, on_hand=on_hand, safety_stock=safety_stock, reorder_point=reorder_point
            )
            self._levels[(sku, location_id)] = level
            self._stated((sku, location_id))
            return level

    def set_levels_many(self, levels: Sequence[StockLevel]) -> None:
        for level in levels:
            self.set_levels(
                level.sku,
                level.location_id,
                on_hand=level.on_hand,
                safety_stock=level.safety_stock,
                reorder_point=level.reorder_point,
            )

    def put_new_many(self, levels: Iterable[StockLevel]) -> int:
        written = 0
        with self._lock:
            for level in levels:
                self._levels[(level.sku, level.location_id)] = replace(level, reserved=0)
                self._stated((level.sku, level.location_id))
                written += 1
        return written

    def apply(self, sku: str, location_id: str, movement: Movement, quantity: int) -> StockLevel:
        self.apply_once(None, sku, location_id, movement, quantity)
        return self._levels[(sku, location_id)]

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
        if quantity < 1:
            raise ValueError("quantity must be positive")
        with self._lock:
            if event_id is not None and event_id in self.applied_events:
                return False
            level = self._levels.get((sku, location_id))
            if level is None and (
                movement == Movement.RECEIVE or movement in inventory.CREATES_ITEM
            ):
                level = StockLevel(sku, location_id, 0, reorder_point=reorder_point)
            if level is None:
                raise InsufficientStock(
                    f"{movement.value} {quantity} of {sku} at {location_id} refused: no stock item",
                    fields=[FieldError("quantity", "no stock item")],
                )
            self._levels[(sku, location_id)] = inventory.apply(level, movement, quantity)
            self._journalled((sku, location_id), inventory.on_hand_delta(movement, quantity))
            if event_id is not None:
                self.applied_events.add(event_id)
            return True

    def adjust(
        self, sku: str, location_id: str, delta: int, *, reorder_point: int = 0
    ) -> StockLevel:
        if delta > 0:
            self.apply_once(
                None, sku, location_id, Movement.RECEIVE, delta, reorder_point=reorder_point
            )
            return self._levels[(sku, location_id)]
        if delta == 0:
            raise ValueError("delta must not be 0")
        with self._lock:
            level = self._levels.get((sku, location_id)) or StockLevel(sku, location_id, 0)
            new = inventory.apply(level, Movement.ADJUST, delta)
            self._levels[(sku, location_id)] = new
            self._journalled((sku, location_id), delta)
            return new

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
        if counted_on_hand < 0:
            raise ValueError("a count cannot be negative")
        with self._lock:
            if event_id is not None and event_id in self.applied_events:
                return False
            if self._counted_at.get((sku, location_id), "") >= counted_at:
                return False
            level = self._levels.get((sku, location_id)) or StockLevel(
                sku, location_id, 0, reorder_point=reorder_point
            )
            journal = self._journal.get((sku, location_id), [])
            on_hand = inventory.reconcile(counted_on_hand, counted_at, journal)
            self._levels[(sku, location_id)] = inventory.count(level, on_hand)
            self._journal[(sku, location_id)] = inventory.kept_journal(
                journal, after=counted_at, now=datetime.now(UTC)
            )
            self._counted_at[(sku, location_id)] = counted_at
            if event_id is not None:
                self.applied_events.add(event_id)
            return True

    @property
    def levels(self) -> dict[tuple[str, str], StockLevel]:
        """The live levels, for an in-memory order store to move in place (tests)."""
        return self._levels

    def journal(self, sku: str, location_id: str, delta: int) -> None:
        """Journal an ``on_hand`` change written by another store (an order transaction)."""
        with self._lock:
            self._journalled((sku, location_id), delta)

    def _journalled(self, key: tuple[str, str], delta: int) -> None:
        if delta:
            self._journal.setdefault(key, []).append((now_iso(), delta))

    def _stated(self, key: tuple[str, str]) -> None:
        """An absolute level stated now: like a count, it folds in the journal."""
        self._counted_at[key] = now_iso()
        self._journal[key] = []
