"""``DynamoStock``'s bulk writes (imports): absolute levels of many items that exist as plain
updates that need no read, and new items batch-put (a hot SKU's new locations split after)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from chalicelib.adapters.dynamo_tx import TransactionFailed
from chalicelib.adapters.stock_items import new_item
from chalicelib.adapters.stock_shards import ShardedWrites
from chalicelib.domain.network import StockLevel

_WRITERS = 8
_KEY = ("sku", "location_id")


def stated(item: dict[str, Any]) -> dict[str, Any]:
    """An absolute level stated now: like a count at its ``updated_at``, nothing journalled."""
    return {"counted_at": item["updated_at"], "journal": []}


class BulkWrites(ShardedWrites):
    """Imports into ``DynamoStock``."""

    def _write(self, entries: list[dict[str, Any]]) -> None:
        raise NotImplementedError

    def _update(
        self, sku: str, location_id: str, expression: str, condition: str, values: dict[str, Any]
    ) -> dict[str, Any]:
        raise NotImplementedError

    def set_levels(
        self, sku: str, location_id: str, *, on_hand: int, safety_stock: int, reorder_point: int
    ) -> StockLevel:
        raise NotImplementedError

    def set_levels_many(self, levels: Sequence[StockLevel]) -> None:
        """``set_levels`` for many items that exist, a few in parallel. Plain updates, not
        transactions: moto copies every table on each transaction, which makes imports crawl."""

        def write(level: StockLevel) -> None:
            try:
                self._write([self._levels_update(level)])
            except TransactionFailed:  # gone meanwhile: create it
                self.set_levels(
                    level.sku,
                    level.location_id,
                    on_hand=level.on_hand,
                    safety_stock=level.safety_stock,
                    reorder_point=level.reorder_point,
                )

        with ThreadPoolExecutor(max_workers=_WRITERS) as pool:
            list(pool.map(write, levels))

    def _levels_update(self, level: StockLevel) -> dict[str, Any]:
        """Absolute levels in one update that needs no read: ``available`` is computed by
        DynamoDB from the stored ``reserved`` (one ``-`` per value, which SET allows). Like a
        count taken now, it folds in the journal and makes older counts stale."""
        base = level.on_hand - level.safety_stock
        return self._update(
            level.sku,
            level.location_id,
            "SET on_hand = :oh, safety_stock = :ss, reorder_point = :rp, "
            "available = :base - reserved, headroom = :hbase - reserved, updated_at = :now, "
            "counted_at = :now, journal = :empty",
            "attribute_exists(sku) AND attribute_not_exists(shard_top)",  # hot: set_levels
            {
                ":empty": [],
                ":oh": level.on_hand,
                ":ss": level.safety_stock,
                ":rp": level.reorder_point,
                ":base": base,
                ":hbase": base - level.reorder_point,
            },
        )

    def put_new_many(self, levels: Iterable[StockLevel]) -> int:
        """Batch-put items that are known not to exist yet (bulk import of new items)."""
        written, new = 0, dict[str, list[str]]()
        with self._table.batch_writer(overwrite_by_pkeys=list(_KEY)) as batch:
            for level in levels:
                item = new_item(
                    level.sku,
                    level.location_id,
                    on_hand=level.on_hand,
                    safety_stock=level.safety_stock,
                    reorder_point=level.reorder_point,
                )
                batch.put_item(Item={**item, **stated(item)})
                written += 1
                new.setdefault(level.sku, []).append(level.location_id)
        for sku, location_ids in new.items():  # a hot SKU's new locations: split them too
            self._split_new(sku, *location_ids)
        return written
