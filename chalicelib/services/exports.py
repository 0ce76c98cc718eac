"""CSV exports of every order, stock item or return in a range.

Records are read a page at a time (orders and returns by day through their listing index,
stock by location) and written as CSV to a spooled file, so memory stays flat. A file up to
``inline_max_bytes`` is answered in the response; a larger one (Lambda answers at most 6 MB) is
put into the exports bucket and handed out as a pre-signed link.
"""

from __future__ import annotations

import csv
import io
import tempfile
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import IO, Any, Protocol

from chalicelib.domain.csv_cells import safe_cell as safe_cell  # the guard, re-exported
from chalicelib.domain.errors import FieldError, NotFound
from chalicelib.domain.network import Location, StockLevel
from chalicelib.services.ports import OrderSearch
from chalicelib.services.reports import Query

LINK_SECONDS = 3600
PAGE = 100


class ExportKind(StrEnum):
    ORDERS = "orders"  # one row per order placed in the range
    STOCK = "stock"  # one row per SKU and location, as it is now
    RETURNS = "returns"  # one row per RMA line, RMAs created in the range


class ReturnPages(Protocol):
    def rma_pages(self, day: date) -> Iterator[list[dict[str, Any]]]: ...


class Stock(Protocol):
    def by_location(self, location_id: str) -> list[StockLevel]: ...


class Locations(Protocol):
    def locations(self) -> list[Location]: ...


class Files(Protocol):
    def put(self, key: str, body: IO[bytes], *, filename: str) -> None: ...
    def link(self, key: str, *, seconds: int) -> str: ...


@dataclass
class Export:
    kind: str
    filename: str
    rows: int
    size: int
    body: str | None = None  # the CSV, when small enough to answer inline
    url: str | None = None  # else a pre-signed link to it
    expires_at: str | None = None


ORDER_COLUMNS = [
    "order_id",
    "channel",
    "channel_order_id",
    "created_at",
    "status",
    "currency",
    "customer_email",
    "customer_name",
    "ship_to_country",
    "ship_to_postal_code",
    "lines",
    "units",
    "goods",
    "delivery_kind",
    "delivery_price",
    "promised_date",
    "shipments",
    "locations",
    "tracking_numbers",
    "units_shipped",
    "units_cancelled",
    "units_backordered",
    "cost",
    "nearest_cost",
]
STOCK_COLUMNS = [
    "sku",
    "location_id",
    "on_hand",
    "reserved",
    "safety_stock",
    "available",
    "reorder_point",
    "quarantine",
]
RETURN_COLUMNS = [
    "rma_id",
    "order_id",
    "channel",
    "currency",
    "created_at",
    "status",
    "sku",
    "quantity",
    "reason",
    "unit_price",
    "received_sellable",
    "received_damaged",
    "refunded_total",
]


def order_row(doc: dict[str, Any]) -> dict[str, Any]:
    delivery, customer, ship_to = doc.get("delivery") or {}, doc["customer"], doc["ship_to"]
    shipments = doc.get("shipments", [])
    gone = [s for s in shipments if s["status"] in ("shipped", "delivered", "collected")]
    return {
        "order_id": doc["order_id"],
        "channel": doc["channel"],
        "channel_order_id": doc["channel_order_id"],
        "created_at": doc["created_at"],
        "status": doc["status"],
        "currency": doc["currency"],
        "customer_email": customer.get("email", ""),
        "customer_name": customer.get("name", ""),
        "ship_to_country": ship_to.get("country", ""),
        "ship_to_postal_code": ship_to.get("postal_code", ""),
        "lines": "; ".join(f"{line['sku']} x{line['quantity']}" for line in doc["lines"]),
        "units": sum(line["quantity"] for line in doc["lines"]),
        "goods": sum(line["quantity"] * line["unit_price"] for line in doc["lines"]),
        "delivery_kind": delivery.get("kind") or "",
        "delivery_price": delivery.get("price", ""),
        "promised_date": delivery.get("promised_date") or "",
        "shipments": len(shipments),
        "locations": " ".join(sorted({s["location_id"] for s in shipments})),
        "tracking_numbers": " ".join(s["tracking_number"] for s in gone if s["tracking_number"]),
        "units_shipped": sum(sum(s["lines"].values()) for s in gone),
        "units_cancelled": sum(doc.get("cancelled", {}).values()),
        "units_backordered": sum(doc.get("backorders", {}).values()),
        "cost": (delivery.get("cost") or {}).get("total", ""),
        "nearest_cost": delivery.get("nearest_cost", ""),
    }


def return_rows(doc: dict[str, Any]) -> list[dict[str, Any]]:
    refunded = sum(r.get("items", 0) + r.get("shipping", 0) for r in doc.get("refunds", []))
    return [
        {
            "rma_id": doc["rma_id"],
            "order_id": doc["order_id"],
            "channel": doc["channel"],
            "currency": doc["currency"],
            "created_at": doc["created_at"],
            "status": doc["status"],
            "sku": line["sku"],
            "quantity": line["quantity"],
            "reason": line["reason"],
            "unit_price": line.get("unit_price", ""),
            "received_sellable": line.get("sellable", 0),
            "received_damaged": line.get("damaged", 0),
            "refunded_total": refunded,
        }
        for line in doc["lines"]
    ]


class ExportService:
    def __init__(
        self,
        *,
        orders: OrderSearch,
        returns: ReturnPages,
        stock: Stock,
        locations: Locations,
        files: Files,
        inline_max_bytes: int,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._orders, self._returns, self._stock = orders, returns, stock
        self._locations, self._files = locations, files
        self._inline_max, self._clock = inline_max_bytes, clock

    def export(self, kind: str, query: Query) -> Export:
        try:
            what = ExportKind(kind)
        except ValueError:
            raise NotFound(
                f"there is no export {kind!r}",
                fields=[FieldError("kind", f"one of {', '.join(k.value for k in ExportKind)}")],
            ) from None
        columns, rows = self._source(what, query)
        span = "" if what == ExportKind.STOCK else f"_{query.first}_{query.last}"
        filename = f"{what.value}{span}.csv"
        with tempfile.SpooledTemporaryFile(max_size=self._inline_max + 1) as spool:
            count = _write_csv(spool, columns, rows)
            size = spool.tell()
            spool.seek(0)
            if size <= self._inline_max:
                return Export(what.value, filename, count, size, body=spool.read().decode())
            return self._hand_over(what, filename, spool, count, size)

    def _hand_over(
        self, what: ExportKind, filename: str, spool: IO[bytes], count: int, size: int
    ) -> Export:
        now = self._clock()
        key = f"exports/{what.value}/{now:%Y/%m/%d}/{uuid.uuid4().hex}/{filename}"
        self._files.put(key, spool, filename=filename)
        expires = (now + timedelta(seconds=LINK_SECONDS)).isoformat(timespec="seconds")
        return Export(
            what.value,
            filename,
            count,
            size,
            url=self._files.link(key, seconds=LINK_SECONDS),
            expires_at=expires,
        )

    def _source(self, what: ExportKind, query: Query) -> tuple[list[str], Iterable[dict[str, Any]]]:
        if what == ExportKind.ORDERS:
            return ORDER_COLUMNS, (order_row(doc) for doc in self._order_docs(query))
        if what == ExportKind.RETURNS:
            return RETURN_COLUMNS, self._return_rows(query)
        return STOCK_COLUMNS, self._stock_rows()

    def _order_docs(self, query: Query) -> Iterator[dict[str, Any]]:
        """Orders placed in the range, newest first: by channel (one index partition) or day
        by day (one partition per day), a page at a time."""
        if query.channel:
            yield from self._pages("gsi1", f"CH#{query.channel}", query.first, query.last)
            return
        day = query.last
        while day >= query.first:
            yield from self._pages("gsi2", f"DAY#{day.isoformat()}", day, day)
            day -= timedelta(days=1)

    def _pages(
        self, index: str, partition: str, first: date, last: date
    ) -> Iterator[dict[str, Any]]:
        cursor = None
        while True:
            page = self._orders.search(
                index=index,
                partition=partition,
                start=first.isoformat(),
                end=last.isoformat(),
                status=None,
                channel=None,
                limit=PAGE,
                cursor=cursor,
            )
            yield from page.items
            cursor = page.cursor
            if not cursor:
                return

    def _return_rows(self, query: Query) -> Iterator[dict[str, Any]]:
        day = query.first
        while day <= query.last:
            for page in self._returns.rma_pages(day):
                for doc in page:
                    if query.channel in (None, doc.get("channel")):
                        yield from return_rows(doc)
            day += timedelta(days=1)

    def _stock_rows(self) -> Iterator[dict[str, Any]]:
        for loc in sorted(self._locations.locations(), key=lambda loc: loc.location_id):
            for level in sorted(self._stock.by_location(loc.location_id), key=lambda s: s.sku):
                yield {
                    "sku": level.sku,
                    "location_id": level.location_id,
                    "on_hand": level.on_hand,
                    "reserved": level.reserved,
                    "safety_stock": level.safety_stock,
                    "available": max(level.available, 0),
                    "reorder_point": level.reorder_point,
                    "quarantine": level.quarantine,
                }


def _write_csv(out: IO[bytes], columns: list[str], rows: Iterable[dict[str, Any]]) -> int:
    """Write the header and every row as UTF-8 CSV; returns the number of rows."""
    text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)
    writer = csv.DictWriter(text, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    count = 0
    for row in rows:
        writer.writerow({k: safe_cell(v) for k, v in row.items()})
        count += 1
    text.detach()  # leave ``out`` open for the caller
    return count
