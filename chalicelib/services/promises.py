"""Promise dates for backordered units (``domain/supply.py``): in the quote, on the order at
capture, and again whenever supply changes (a PO put, slipped, cancelled or received).

An order keeps its promise in ``delivery["backorder_promises"]``: ``{sku: {"date", "po_ids"}}``
(``date`` None: no known supply covers it). ``repromise(sku)`` recomputes the whole queue of the
SKU, oldest first, saves the orders whose promise changed and mails the customers whose date
moved later. Idempotent: a second run finds nothing to change and mails nobody.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any, Protocol

from aws_lambda_powertools import Logger

from chalicelib.domain.errors import StaleOrder
from chalicelib.domain.network import Address
from chalicelib.domain.order.model import Order
from chalicelib.domain.supply import Demand, Promise, Supply, arrival, promise
from chalicelib.services.ports import Network, OrderStore, Snapshots
from chalicelib.services.preorders import PreorderService

logger = Logger(service="dirigent")

KEY = "backorder_promises"
QUEUE_LIMIT = 500


class SupplySource(Protocol):
    def supply(self, sku: str) -> list[Supply]: ...


class Queue(Protocol):
    def backorders(self, sku: str, limit: int = 50) -> list[dict[str, Any]]: ...


class BackorderPromises(Protocol):
    """What capture asks: the promise for a new cart's backordered units (by SKU)."""

    def quote(
        self,
        channel: str,
        ship_to: Address,
        shortages: Mapping[str, int],
        *,
        order_id: str | None = None,
        cart: Sequence[str] = (),
    ) -> dict[str, dict[str, Any]]: ...


class PromiseService:
    def __init__(
        self,
        *,
        network: Network,
        snapshots: Snapshots,
        orders: OrderStore,
        queue: Queue,
        supply: SupplySource,
        notify: Callable[[Order, list[tuple[str, str, str]]], None] | None = None,
        preorders: PreorderService | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._network, self._snapshots, self._orders = network, snapshots, orders
        self._queue, self._supply, self._notify, self._clock = queue, supply, notify, clock
        self._preorders = preorders

    def quote(
        self,
        channel: str,
        ship_to: Address,
        shortages: Mapping[str, int],
        *,
        order_id: str | None = None,
        cart: Sequence[str] = (),
    ) -> dict[str, dict[str, Any]]:
        """The promise for ``shortages`` of a new cart: behind everybody already waiting. With
        ``order_id`` (capture), preorder units are counted against their caps first (409 naming
        the line by its place among the ``cart``'s SKUs)."""
        if order_id and self._preorders:
            self._preorders.claim(order_id, sorted(shortages.items()), cart=cart)
        out: dict[str, dict[str, Any]] = {}
        excluded = self._excluded(channel)
        for sku, quantity in sorted(shortages.items()):
            release = self._release(sku)
            demand = Demand("", sku, quantity, ship_to, excluded, release)
            last = self._promise(sku, [*self._waiting(sku, ship_to, release), demand])[-1]
            out[sku] = _view(last, release)
        return out

    def repromise(self, sku: str) -> int:
        """Recompute the promises of ``sku``'s backorders; the number of orders changed."""
        changed = 0
        orders = self._queued_orders(sku)
        release = self._release(sku)
        demands = [
            Demand(
                o.order_id, sku, o.backorders[sku], o.ship_to, self._excluded(o.channel), release
            )
            for o in orders
        ]
        for order, result in zip(orders, self._promise(sku, demands), strict=True):
            if self._save(order, sku, result, release):
                changed += 1
        return changed

    # --- internals -------------------------------------------------------------------------

    def _promise(self, sku: str, demands: list[Demand]) -> list[Promise]:
        locations = {loc.location_id: loc for loc in self._network.locations()}
        snap = self._snapshots.read(skus=[sku], location_ids=list(locations), consistent=True)
        shelf = [
            Supply(sku, lvl.location_id, lvl.available)
            for lvl in snap.stock
            if lvl.sku == sku and lvl.available > 0
        ]
        supply = [*shelf, *(s for s in self._supply.supply(sku) if s.location_id in locations)]
        services = self._network.carrier_services()
        now = self._clock()

        def dated(piece: Supply, demand: Demand) -> date | None:
            return arrival(
                locations[piece.location_id], services, demand.ship_to, now, piece.expected
            )

        return promise(demands, supply, dated)

    def _release(self, sku: str) -> date | None:
        """The release day of an unreleased product (its preorders wait for it)."""
        release = self._preorders.releases([sku]).get(sku) if self._preorders else None
        return release.release_date if release else None

    def _waiting(self, sku: str, ship_to: Address, release: date | None) -> list[Demand]:
        """The queue ahead, as demand only: it is dated as if it went to ``ship_to`` too."""
        return [
            Demand(str(e["order_id"]), sku, int(e["quantity"]), ship_to, frozenset(), release)
            for e in self._queue.backorders(sku, QUEUE_LIMIT)
        ]

    def _queued_orders(self, sku: str) -> list[Order]:
        found = []
        for entry in self._queue.backorders(sku, QUEUE_LIMIT):
            order = self._orders.get(str(entry["order_id"]))
            if order is not None and order.backorders.get(sku, 0) > 0:
                found.append(order)
        return found

    def _excluded(self, channel: str) -> frozenset[str]:
        found = self._network.channel(channel)
        return found.excluded_locations if found else frozenset()

    def _save(self, order: Order, sku: str, result: Promise, release: date | None) -> bool:
        """Store ``result`` on the order unless it holds it already; mail a later date."""
        for _ in range(4):
            current = order.delivery.get(KEY, {}).get(sku)
            view = _view(result, release)
            if current == view:
                return False
            order.delivery[KEY] = {**order.delivery.get(KEY, {}), sku: view}
            at = self._clock().isoformat(timespec="milliseconds").replace("+00:00", "Z")
            order.record(
                at=at, event="promise_changed", source="supply", sku=sku, date=view["date"]
            )
            try:
                self._orders.update(order, now=at)
            except StaleOrder:
                fresh = self._orders.get(order.order_id)
                if fresh is None or fresh.backorders.get(sku, 0) <= 0:
                    return False
                order = fresh
                continue
            was = (current or {}).get("date")
            if self._notify and was and (view["date"] is None or view["date"] > was):
                try:
                    self._notify(order, [(sku, was, view["date"] or "")])
                except Exception:
                    logger.exception("promise mail not sent", order_id=order.order_id)
            return True
        return False


def _view(result: Promise, release: date | None = None) -> dict[str, Any]:
    view: dict[str, Any] = {
        "date": result.date.isoformat() if result.date else None,
        "po_ids": list(result.po_ids),
    }
    if release:
        view |= {"preorder": True, "release_date": release.isoformat()}
    return view
