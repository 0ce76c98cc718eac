"""Preorders: a product with a ``release_date`` in the future sells against its
``preorder_cap`` only, from expected supply (units on the shelf are kept for the preorders), and
is promised for release day (or the PO's date, if later).

The cap is counted per order, atomically (``claim``: concurrent orders never pass it, a replay
never counts twice). A claim is made before the order's transaction; if that order is never
written (another line out of stock, a crash, a lost race), ``sweep`` gives its units back once
``CLAIM_GRACE`` has passed. Preorders wait in the backorder queue; they are released to
locations only from ``release_date`` minus the network's longest processing time (``held``), so
that they ship on release day: the ``release_preorders`` schedule serves them then (and sweeps).
After the release date the product sells normally.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol

from chalicelib.domain.catalog import Kind
from chalicelib.domain.errors import Conflict, FieldError
from chalicelib.domain.network import StockLevel
from chalicelib.domain.order.snapshot import Snapshot
from chalicelib.domain.preorders import PreorderClaim, Shrink, Sweepable
from chalicelib.domain.supply import CapReached
from chalicelib.services.ports import Network, Snapshots

# Longer than any order request may take (API Gateway gives up after 29 s, Lambda after 15 min):
# an older claim without its order will never get one from that request.
CLAIM_GRACE = timedelta(minutes=15)


@dataclass(frozen=True)
class Release:
    sku: str
    release_date: date
    cap: int | None  # None: no cap


class Documents(Protocol):
    def doc(self, kind: str, item_id: str) -> dict[str, Any] | None: ...
    def docs(self, kind: str) -> list[dict[str, Any]]: ...


class Counters(Protocol):
    def claim(self, sku: str, order_id: str, quantity: int, cap: int, *, at: str) -> bool: ...
    def sweepable(self, sku: str, before: str) -> Sweepable: ...
    def release(self, claim: PreorderClaim) -> bool: ...
    def shrink(self, shrink: Shrink) -> bool: ...


class PreorderService:
    def __init__(
        self,
        *,
        catalog: Documents,
        counters: Counters,
        lead_days: Callable[[], int],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        """``lead_days``: the longest processing time of a location (calendar days)."""
        self._catalog, self._counters, self._lead, self._clock = catalog, counters, lead_days, clock

    def today(self) -> date:
        return self._clock().date()

    def releases(
        self, skus: Iterable[str], docs: Mapping[str, dict[str, Any]] | None = None
    ) -> dict[str, Release]:
        """The SKUs among ``skus`` that are not released yet; ``docs``: product documents
        already read, by SKU (the others are read from the catalog)."""
        out = {}
        docs = docs or {}
        for sku in skus:
            doc = docs[sku] if sku in docs else self._catalog.doc(Kind.PRODUCT, sku)
            release = _release(doc) if doc else None
            if release and release.release_date > self.today():
                out[sku] = release
        return out

    def claim(
        self, order_id: str, lines: Sequence[tuple[str, int]], *, cart: Sequence[str] = ()
    ) -> None:
        """Count an order's preorder units against their caps; 409 naming the line over it (by
        its place among the ``cart``'s SKUs, else in ``lines``)."""
        found = self.releases(sku for sku, _ in lines)
        at = _iso(self._clock())
        for i, (sku, quantity) in enumerate(lines):
            release = found.get(sku)
            if release is None or release.cap is None:
                continue
            try:
                self._counters.claim(sku, order_id, quantity, release.cap, at=at)
            except CapReached:
                line = cart.index(sku) if sku in cart else i
                raise Conflict(
                    f"{sku} is sold out for preorder",
                    fields=[FieldError(f"lines[{line}].quantity", "over the preorder cap")],
                ) from None

    def sweep(self, grace: timedelta = CLAIM_GRACE) -> int:
        """Give back the cap units of claims older than ``grace`` whose order does not exist or
        was cancelled, and those a live order no longer wants (cancelled in part); the units
        freed. Concurrent sweeps free each unit once."""
        before = _iso(self._clock() - grace)
        freed = 0
        for doc in self._catalog.docs(Kind.PRODUCT):
            release = _release(doc)
            if not release or release.cap is None or release.release_date <= self.today():
                continue
            work = self._counters.sweepable(release.sku, before)
            for claim in work.orphans:
                if self._counters.release(claim):
                    freed += claim.units
            for shrink in work.shrinks:
                if self._counters.shrink(shrink):
                    freed += shrink.claim.units - shrink.keep
        return freed

    def held(self, sku: str) -> bool:
        """Whether waiting orders of ``sku`` must not be released to locations yet."""
        release = self.releases([sku]).get(sku)
        return release is not None and self.today() < self.release_from(release)

    def release_from(self, release: Release) -> date:
        return release.release_date - timedelta(days=self._lead())

    def due(self) -> list[str]:
        """The preorder SKUs whose release window has begun (for the release schedule)."""
        today = self.today()
        out = []
        for doc in self._catalog.docs(Kind.PRODUCT):
            release = _release(doc)
            if release and self.release_from(release) <= today <= release.release_date:
                out.append(release.sku)
        return out


class PreorderSnapshots:
    """The snapshots quotes and orders read, with the shelf stock of unreleased products hidden:
    it is kept for the preorders already waiting, so new ones are promised from supply."""

    def __init__(self, inner: Snapshots, preorders: PreorderService) -> None:
        self._inner, self._preorders = inner, preorders

    def read(self, *, skus: Iterable[str], location_ids: Iterable[str], **kw: Any) -> Snapshot:
        skus = list(skus)
        snap = self._inner.read(skus=skus, location_ids=location_ids, **kw)
        held = self._preorders.releases(skus, snap.product_docs)
        if not held:
            return snap
        stock: list[StockLevel] = [s for s in snap.stock if s.sku not in held]
        return replace(snap, stock=stock)


class ReleaseSnapshots:
    """The snapshots backorder release reads: before release day, an unreleased product's stock
    only at the locations whose processing days reach it (the window opens for the slowest), so
    that a quicker location does not ship a preorder early."""

    def __init__(self, inner: Snapshots, preorders: PreorderService, network: Network) -> None:
        self._inner, self._preorders, self._network = inner, preorders, network

    def read(self, *, skus: Iterable[str], location_ids: Iterable[str], **kw: Any) -> Snapshot:
        skus = list(skus)
        snap = self._inner.read(skus=skus, location_ids=location_ids, **kw)
        held = self._preorders.releases(skus, snap.product_docs)
        if not held:
            return snap
        today = self._preorders.today()
        days = {loc.location_id: loc.processing_days for loc in self._network.locations()}

        def ships_in_time(level: StockLevel) -> bool:
            release = held.get(level.sku)
            return release is None or (
                release.release_date - timedelta(days=days.get(level.location_id, 0)) <= today
            )

        return replace(snap, stock=[s for s in snap.stock if ships_in_time(s)])


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _release(doc: dict[str, Any]) -> Release | None:
    if not doc.get("release_date"):
        return None
    cap = doc.get("preorder_cap")
    return Release(
        doc["sku"], date.fromisoformat(doc["release_date"]), None if cap is None else int(cap)
    )
