"""Bulk import of products and stock levels (rows already validated at the edge).

Products go in with ``BatchWriteItem``. Stock rows are checked against the known locations
and products; rows for items that don't exist yet are batch-put, existing items go through
``set_levels`` (which keeps what is reserved). After the write, every (SKU, location) with
available units is announced (``stock_arrived``) for the SKUs that have waiting backorders;
a failed announcement is logged, never fails the import. ``parse_csv`` turns a CSV file into
the same row dicts as the JSON form: ``price_<CUR>`` columns become ``prices``, empty cells are
omitted.

The command line is ``python -m local.importer`` (see there).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger

from chalicelib.domain.catalog import Kind
from chalicelib.domain.errors import RowError
from chalicelib.domain.network import StockLevel
from chalicelib.services.backorders import BackorderQueue
from chalicelib.services.catalog import CatalogService
from chalicelib.services.inventory import StockStore, mark_feeds
from chalicelib.services.ports import OrderEvents

logger = Logger(service="dirigent")

PRICE_PREFIX = "price_"


@dataclass(frozen=True)
class StockRow:
    row: int
    sku: str
    location_id: str
    on_hand: int
    safety_stock: int = 0
    reorder_point: int | None = None  # None: the product's


def parse_csv(text: str) -> list[dict[str, Any]]:
    """Rows of a CSV file with a header line, as dicts of the JSON form. A row with more cells
    than the header keeps them as ``cells_beyond_the_header``, which no row model accepts: its
    cells are misaligned (an unquoted "1,500" read as 1), so the row is refused, not guessed."""
    rows = []
    for raw in csv.DictReader(io.StringIO(text.lstrip("\ufeff"))):
        row: dict[str, Any] = {}
        for column, value in raw.items():
            if column is None and value:
                row["cells_beyond_the_header"] = value
                continue
            if column is None or value is None or value.strip() == "":
                continue
            column, value = column.strip(), value.strip()
            if column.startswith(PRICE_PREFIX):
                row.setdefault("prices", {})[column[len(PRICE_PREFIX) :]] = value
            else:
                row[column] = value
        rows.append(row)
    return rows


class ImportService:
    def __init__(
        self,
        catalog: CatalogService,
        stock: StockStore,
        *,
        events: OrderEvents | None = None,
        queue: BackorderQueue | None = None,
    ) -> None:
        self._catalog = catalog
        self._stock = stock
        self._events, self._queue = events, queue

    def import_products(self, docs: Sequence[tuple[str, dict[str, Any]]]) -> int:
        """Store product documents by sku (the last of repeated skus wins)."""
        unique = dict(docs)
        self._catalog.put_many(Kind.PRODUCT, list(unique.items()))
        return len(unique)

    def import_stock(self, rows: Sequence[StockRow]) -> tuple[int, list[RowError]]:
        """Store absolute levels; rows naming an unknown location or product are errors."""
        known_locations = {loc.location_id for loc in self._catalog.locations()}
        products = self._catalog.products({r.sku for r in rows})
        errors: list[RowError] = []
        good: dict[tuple[str, str], StockLevel] = {}
        for r in rows:
            if r.location_id not in known_locations:
                errors.append(RowError(r.row, "location_id", f"unknown location {r.location_id}"))
            elif r.sku not in products:
                errors.append(RowError(r.row, "sku", f"unknown product {r.sku}"))
            else:
                point = (
                    products[r.sku].reorder_point if r.reorder_point is None else r.reorder_point
                )
                good[(r.sku, r.location_id)] = StockLevel(
                    sku=r.sku,
                    location_id=r.location_id,
                    on_hand=r.on_hand,
                    safety_stock=r.safety_stock,
                    reorder_point=point,
                )
        existing = self._stock.get_many(good)
        self._stock.put_new_many(v for k, v in good.items() if k not in existing)
        self._stock.set_levels_many([good[key] for key in existing])
        mark_feeds(self._catalog, (loc for _, loc in good), datetime.now(UTC))
        available = {
            key: level.on_hand
            - level.safety_stock
            - (existing[key].reserved if key in existing else 0)
            for key, level in good.items()
        }
        announced = self._announce([key for key, units in available.items() if units > 0])
        self._changed({sku for sku, _ in good} - announced)
        return len(good), errors

    def _announce(self, keys: Sequence[tuple[str, str]]) -> set[str]:
        """``stock_arrived`` once per (sku, location) of the SKUs with waiting backorders;
        the SKUs announced (the availability feed hears of them that way)."""
        announced: set[str] = set()
        if self._events is None or self._queue is None:
            return announced
        waiting: dict[str, bool] = {}
        for sku, location_id in sorted(set(keys)):
            try:
                if sku not in waiting:
                    waiting[sku] = bool(self._queue.backorders(sku, limit=1))
                if waiting[sku]:
                    self._events.stock_arrived(sku, location_id)
                    announced.add(sku)
            except Exception:
                logger.exception("stock_arrived not announced", sku=sku, location_id=location_id)
        return announced

    def _changed(self, skus: set[str]) -> None:
        """The other imported SKUs' levels changed too: ``stock_changed`` (100 per message)."""
        if self._events is None or not skus:
            return
        try:
            self._events.stock_changed(skus)
        except Exception:
            logger.exception("stock_changed not announced", skus=sorted(skus)[:10])
