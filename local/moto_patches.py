"""Item-level rollback for moto's DynamoDB ``TransactWriteItems`` (local moto server only).

Why: moto 5.2.5's ``DynamoDBBackend.transact_write_items`` backs up every table a transaction
names with ``copy.deepcopy(table)`` before applying it, and on failure puts the copies back
(``self.tables[name] = original_table_state[name]``). A transaction therefore costs O(size of
the touched tables): the local stack slows down as it fills (a 100-item transaction took ~25 s
on a loaded orders table).

What ``apply()`` does: it replaces that method with a wrapper which

1. deep-copies only the items the transaction writes (the current ``Item``, or "absent"), once
   per (table, hash key, range key), and notes each table's stream-record count;
2. runs moto's own function body, compiled against a stand-in ``copy`` whose ``deepcopy``
   returns a moto ``Table`` as is, so its whole-table backup and its restore become no-ops
   (``self.tables[name] = self.tables[name]``); everything else in moto is untouched;
3. on any exception puts those items back (or deletes the ones that were absent) and drops the
   stream records the failed transaction added, then re-raises moto's error unchanged.

Why that is equivalent: a ``Put``/``Update``/``Delete`` entry writes only the item under its own
key, found exactly as ``get_keys_value`` finds it (an entry whose key lookup fails is refused by
moto before it writes anything); moto keeps an item only in ``Table.items`` — secondary indexes
are computed from the items on every query/scan (``Table.has_idx_items``), so restoring items
restores them too. moto's ``Update`` mutates the stored ``Item`` in place, hence the deep copies.
It is also stricter than moto in two corners: an entry with two operations, or a table named by
ARN, no longer leaves the earlier writes applied. The local server runs every DynamoDB request
under ``DynamoLock``, so no other write interleaves with a transaction and its rollback.

Guard: the patch targets the reviewed source of moto 5.2.5; on another version, or if that
function's source differs, ``apply()`` logs a warning and leaves moto alone.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import inspect
import logging
import types
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import moto
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import Table

log = logging.getLogger(__name__)

# sha256 of inspect.getsource(DynamoDBBackend.transact_write_items), per reviewed moto version.
REVIEWED_SOURCES = {
    "5.2.5": "81db2cb7d94e39c90b3a2077e1f4bb41a449c558ef9b1b1e2910fdaa39978ad4",
}
_WRITES = frozenset({"Put", "Update", "Delete"})


class _TablesAsIs:
    """Stands in for the ``copy`` module inside moto's ``transact_write_items``."""

    @staticmethod
    def deepcopy(value: Any, memo: dict[int, Any] | None = None) -> Any:
        return value if isinstance(value, Table) else copy.deepcopy(value, memo)


@dataclass
class _ItemBackup:
    table: Table
    hash_key: DynamoType
    range_key: DynamoType | None
    item: Item | None  # None: the item was absent


def _back_up(backend: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> list[_ItemBackup]:
    backups: dict[tuple[int, DynamoType, DynamoType | None], _ItemBackup] = {}
    for entry in transact_items:
        if len(entry) != 1:
            continue  # moto refuses the entry before it writes
        op_type, op = next(iter(entry.items()))
        if op_type not in _WRITES:
            continue
        try:
            table = backend.get_table(op["TableName"])
            hash_key, range_key = backend.get_keys_value(
                table, op["Item" if op_type == "Put" else "Key"]
            )
        except Exception:  # noqa: BLE001, S112 - moto makes this lookup too and fails before writing
            continue
        key = (id(table), hash_key, range_key)
        if key not in backups:  # a repeated key fails the transaction: keep the first state
            current = copy.deepcopy(table.get_item(hash_key, range_key))
            backups[key] = _ItemBackup(table, hash_key, range_key, current)
    return list(backups.values())


def _restore(backups: list[_ItemBackup]) -> None:
    for b in backups:
        rows = b.table.items
        if b.range_key is None:
            if b.item is None:
                rows.pop(b.hash_key, None)
            else:
                rows[b.hash_key] = b.item  # type: ignore[assignment]  # moto's layout
        elif b.item is None:
            if b.hash_key in rows:
                rows[b.hash_key].pop(b.range_key, None)
        else:
            rows[b.hash_key][b.range_key] = b.item


def _stream_marks(backups: list[_ItemBackup]) -> list[tuple[list[Any], int]]:
    shards = {id(b.table): b.table.stream_shard for b in backups}
    return [(shard.items, len(shard.items)) for shard in shards.values() if shard is not None]


def _transactional(moto_body: Callable[..., None]) -> Callable[..., None]:
    @functools.wraps(moto_body)
    def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
        backups = _back_up(self, transact_items)
        marks = _stream_marks(backups)
        try:
            moto_body(self, transact_items)
        except BaseException:
            _restore(backups)
            for records, count in marks:
                del records[count:]  # a shard that already delivered to Lambda holds a new list
            raise

    return transact_write_items


def _reviewed(function: Callable[..., Any]) -> bool:
    expected = REVIEWED_SOURCES.get(moto.__version__)
    try:
        source = inspect.getsource(function)
    except (OSError, TypeError):
        return False
    return expected == hashlib.sha256(source.encode()).hexdigest()


def apply() -> bool:
    """Install the item-level rollback once per process; ``False`` if moto was left alone."""
    current = DynamoDBBackend.transact_write_items
    if getattr(current, "_item_level_rollback", False):
        return True
    if not _reviewed(current):
        log.warning(
            "moto %s: transact_write_items is not the reviewed source; leaving moto alone "
            "(transactions deep-copy whole tables and slow down as the local stack fills)",
            moto.__version__,
        )
        return False
    moto_body = types.FunctionType(
        current.__code__,
        {**current.__globals__, "copy": _TablesAsIs},
        current.__name__,
        current.__defaults__,
        current.__closure__,
    )
    patched = _transactional(moto_body)
    patched._item_level_rollback = True  # type: ignore[attr-defined]
    DynamoDBBackend.transact_write_items = patched  # type: ignore[method-assign]
    return True
