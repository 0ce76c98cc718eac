"""Purchase orders: what suppliers will bring to which location and when (``PUT``, cancel,
ASNs and receipts). Every change re-promises the backorders of the SKUs it touches
(``services/promises.py``): a slipped PO moves the promises it carries."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from aws_lambda_powertools import Logger

from chalicelib.domain.errors import Conflict, FieldError, InvalidInput, NotFound, StaleOrder
from chalicelib.domain.paging import Page
from chalicelib.domain.supply import (
    PoLine,
    PoStatus,
    PurchaseOrder,
    Supply,
    apply_asn,
    apply_receipt,
    po_from_doc,
    po_to_doc,
    revise,
)
from chalicelib.services.cursors import CursorSigner

logger = Logger(service="dirigent")
ATTEMPTS = 4


class PurchaseOrderStore(Protocol):
    def get(self, po_id: str) -> PurchaseOrder | None: ...
    def save(self, po: PurchaseOrder, before: PurchaseOrder | None) -> None: ...
    def supply(self, sku: str) -> list[Supply]: ...
    def list(
        self, location_id: str, status: str | None, limit: int, cursor: str | None
    ) -> Page: ...


class Repromise(Protocol):
    def repromise(self, sku: str) -> int: ...


@dataclass(frozen=True)
class PoCommand:
    supplier: str
    location_id: str
    expected_date: str
    lines: Sequence[tuple[str, str, int]]  # line_id, sku, quantity
    version: int | None = None  # the version the caller read: 409 when it moved on


class PurchaseOrderService:
    def __init__(
        self,
        *,
        store: PurchaseOrderStore,
        promises: Repromise,
        location_ids: Callable[[], set[str]],
        known_skus: Callable[[Sequence[str]], set[str]],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        cursors: CursorSigner | None = None,
    ) -> None:
        """``cursors`` signs listing cursors (with the server's secret)."""
        self._store, self._promises, self._clock = store, promises, clock
        self._location_ids, self._known_skus = location_ids, known_skus
        self._cursors = cursors or CursorSigner()

    def put(self, po_id: str, cmd: PoCommand) -> tuple[PurchaseOrder, bool]:
        """Create or revise; (the PO, whether it was created)."""
        self._check(cmd)
        for _ in range(ATTEMPTS):
            before = self._store.get(po_id)
            at = self._now()
            lines = [PoLine(line_id, sku, qty) for line_id, sku, qty in cmd.lines]
            if before is None:
                po = PurchaseOrder(
                    po_id,
                    cmd.supplier,
                    cmd.location_id,
                    cmd.expected_date,
                    lines,
                    created_at=at,
                    updated_at=at,
                )
                po.history.append(
                    {"at": at, "event": "created", "expected_date": cmd.expected_date}
                )
            else:
                if cmd.version is not None and cmd.version != before.version:
                    raise StaleOrder(
                        f"purchase order {po_id} is at version {before.version}",
                        fields=[FieldError("version", f"now {before.version}")],
                    )
                if cmd.location_id != before.location_id:
                    raise Conflict(
                        "a purchase order's destination can't change",
                        fields=[FieldError("location_id", f"is {before.location_id}")],
                    )
                po = _copy(before)
                revise(
                    po, supplier=cmd.supplier, expected_date=cmd.expected_date, lines=lines, at=at
                )
            try:
                self._store.save(po, before)
            except StaleOrder:
                if cmd.version is not None:
                    raise
                continue
            self._repromise(po, before)
            return po, before is None
        raise StaleOrder(f"purchase order {po_id} is being changed; try again")

    def get(self, po_id: str) -> PurchaseOrder:
        po = self._store.get(po_id)
        if po is None:
            raise NotFound(f"no purchase order {po_id}", fields=[FieldError("po_id", "unknown")])
        return po

    def list(self, location_id: str, status: str | None, limit: int, cursor: str | None) -> Page:
        """A page of the location's POs. The cursor is signed and bound to the location and
        status: a forged or foreign one is a 400 naming ``cursor``."""
        scope = json.dumps(["purchase-orders", location_id, status or ""])
        inner = self._cursors.open(cursor, scope)
        page = self._store.list(location_id, status, limit, inner)
        return Page(page.items, self._cursors.seal(page.cursor, scope))

    def cancel(self, po_id: str) -> PurchaseOrder:
        """Idempotent; a PO that received units keeps them (its open quantity goes)."""
        return self._change(
            po_id, lambda po: _cancel(po, self._now()), missing_ok=False
        ) or self.get(po_id)

    def asn(
        self, po_id: str, event_id: str, lines: Sequence[tuple[str, int]], expected: str | None
    ) -> bool:
        """An advance shipping notice: quantities on the way, the new expected date."""
        return (
            self._change(po_id, lambda po: apply_asn(po, event_id, lines, expected, self._now()))
            is not None
        )

    def receive(self, po_id: str, line_id: str, sku: str, quantity: int, event_id: str) -> bool:
        """Units of a PO line arrived (the stock itself moves in ``InventoryService.receive``)."""

        def apply(po: PurchaseOrder) -> bool:
            line = po.line(line_id)
            if line is not None and line.sku != sku:
                raise InvalidInput(
                    f"line {line_id} of {po_id} is for {line.sku}",
                    fields=[FieldError("sku", f"line {line_id} is for {line.sku}")],
                )
            return apply_receipt(po, event_id, line_id, quantity, self._now())

        return self._change(po_id, apply) is not None

    def _change(
        self, po_id: str, apply: Callable[[PurchaseOrder], bool], *, missing_ok: bool = False
    ) -> PurchaseOrder | None:
        for _ in range(ATTEMPTS):
            before = self._store.get(po_id)
            if before is None:
                raise NotFound(
                    f"no purchase order {po_id}", fields=[FieldError("po_id", "unknown")]
                )
            po = _copy(before)
            if not apply(po):
                return None
            try:
                self._store.save(po, before)
            except StaleOrder:
                continue
            self._repromise(po, before)
            return po
        raise StaleOrder(f"purchase order {po_id} is being changed; try again")

    def _repromise(self, po: PurchaseOrder, before: PurchaseOrder | None) -> None:
        skus = {ln.sku for ln in po.lines} | {ln.sku for ln in (before.lines if before else ())}
        for sku in sorted(skus):
            self._promises.repromise(sku)

    def _check(self, cmd: PoCommand) -> None:
        errors: list[FieldError] = []
        if cmd.location_id not in self._location_ids():
            errors.append(FieldError("location_id", "unknown location"))
        known = self._known_skus([sku for _, sku, _ in cmd.lines])
        errors += [
            FieldError(f"lines[{i}].sku", f"unknown SKU {sku}")
            for i, (_, sku, _) in enumerate(cmd.lines)
            if sku not in known
        ]
        if errors:
            raise InvalidInput("the purchase order names unknown master data", fields=errors)

    def _now(self) -> str:
        return self._clock().isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _cancel(po: PurchaseOrder, at: str) -> bool:
    if po.status == PoStatus.CANCELLED:
        return False
    po.status, po.updated_at = PoStatus.CANCELLED, at
    po.history.append({"at": at, "event": "cancelled"})
    return True


def _copy(po: PurchaseOrder) -> PurchaseOrder:
    copy = po_from_doc(po_to_doc(po))
    copy.version = po.version
    return copy
