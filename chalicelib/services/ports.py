"""The interfaces the order use cases depend on. Adapters implement them; tests pass fakes."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from chalicelib.domain.channel import Channel
from chalicelib.domain.inventory import Movement
from chalicelib.domain.network import CarrierService, Location
from chalicelib.domain.order.model import Order
from chalicelib.domain.order.snapshot import Snapshot
from chalicelib.domain.order.writes import OrderWrite
from chalicelib.domain.paging import Page
from chalicelib.domain.rules import SourcingRules

Reservation = tuple[str, str, int]  # sku, location_id, quantity


class Network(Protocol):
    """Master data, cached by the adapter: read on every quote and order."""

    def channel(self, name: str) -> Channel | None: ...
    def locations(self) -> list[Location]: ...
    def carrier_services(self) -> list[CarrierService]: ...
    def rules(self) -> SourcingRules: ...
    def refresh(self) -> None:
        """Forget what is cached: the next reads are fresh (before answering out of stock)."""


class Snapshots(Protocol):
    def read(
        self,
        *,
        skus: Iterable[str],
        location_ids: Iterable[str],
        quote_id: str | None = None,
        order_id: str | None = None,
        consistent: bool = True,
    ) -> Snapshot: ...


class OrderStore(Protocol):
    """Orders and quotes. Errors (``chalicelib.domain.errors``): ``create`` raises OrderExists
    or StockRace (a reservation lost its stock); ``update`` raises StaleOrder (the order
    changed since it was read), StockRace, or WriteConflict (the condition of one of
    ``writes`` failed: an event marker exists, an RMA or a stock item changed). Nothing is
    written then. Both may raise StaleOrder for a concurrent transaction: retry."""

    def create(
        self,
        order: Order,
        reservations: Sequence[Reservation],
        now: str,
        *,
        writes: Sequence[OrderWrite] = (),
        releases: Sequence[Reservation] = (),
    ) -> None: ...
    def update(
        self,
        order: Order,
        *,
        moves: Sequence[tuple[Movement, Reservation]] = (),
        writes: Sequence[OrderWrite] = (),
        drop_backorders: Sequence[str] = (),
        now: str,
    ) -> None:
        """Save ``order`` (bumping its version) with its stock movements and the writes that
        go with it, in one transaction; ``drop_backorders`` leave the backorder queue."""

    def get(self, order_id: str) -> Order | None: ...
    def put_quote(
        self, quote_id: str, channel: str, doc: dict[str, Any], ttl_seconds: int
    ) -> None: ...


class OrderEvents(Protocol):
    """The facts services announce for the asynchronous side (the order-events consumer):
    dispatch of new shipments, and backorders that may take units that became available.
    Each is delivered at least once; receivers are idempotent."""

    def order_placed(self, order_id: str, *, sale_recorded: bool = False) -> None:
        """``sale_recorded``: the capture stored the order's sale for the forecast already."""

    def order_updated(self, order_id: str) -> None: ...
    def order_cancelled(self, order_id: str) -> None: ...
    def stock_arrived(self, sku: str, location_id: str) -> None:
        """Units of ``sku`` became available at ``location_id``: received,
        adjusted up, returned sellable, or freed by a cancel."""

    def stock_changed(self, skus: Iterable[str], *, delay_seconds: int = 0) -> None:
        """The levels of ``skus`` changed where no consumer sees it (set, adjusted down,
        imported, held by a checkout): the availability feed logs and announces them."""


class OrderSearch(Protocol):
    """Pages of order documents from a listing index (see ``DynamoOrders.search``)."""

    def search(
        self,
        *,
        index: str,
        partition: str,
        start: str,
        end: str,
        status: str | None,
        channel: str | None,
        limit: int,
        cursor: str | None,
    ) -> Page: ...
