"""The interfaces the order use cases depend on. Adapters implement them; tests pass fakes."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from chalicelib.domain.channel import Channel
from chalicelib.domain.inventory import Movement
from chalicelib.domain.network import CarrierService, Location
from chalicelib.domain.order.model import Order
from chalicelib.domain.rules import SourcingRules

Reservation = tuple[str, str, int]  # sku, location_id, quantity


class Network(Protocol):
    """Master data, cached by the adapter: read on every quote and order."""

    def channel(self, name: str) -> Channel | None: ...
    def locations(self) -> list[Location]: ...
    def carrier_services(self) -> list[CarrierService]: ...
    def rules(self) -> SourcingRules: ...


class Snapshots(Protocol):
    def read(
        self,
        *,
        skus: Iterable[str],
        location_ids: Iterable[str],
        quote_id: str | None = None,
        order_id: str | None = None,
        consistent: bool = True,
    ) -> Any: ...


class OrderStore(Protocol):
    def create(self, order: Order, reservations: Sequence[Reservation], now: str) -> None: ...
    def update(
        self,
        order: Order,
        *,
        moves: Sequence[tuple[Movement, Reservation]] = (),
        extra: Sequence[dict[str, Any]] = (),
        drop_backorders: Sequence[str] = (),
        outbox: bool = False,
        now: str,
    ) -> None: ...
    def get(self, order_id: str) -> Order | None: ...
    def put_quote(
        self, quote_id: str, channel: str, doc: dict[str, Any], ttl_seconds: int
    ) -> None: ...


class OrderEvents(Protocol):
    """Publishes what happened to an order for the asynchronous side (dispatch, mails)."""

    def publish(self, event_type: str, order_id: str, **detail: Any) -> None: ...


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
    ) -> Any: ...
