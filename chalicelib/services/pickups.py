"""Click & collect shipments not collected within the channel's pick-up window are cancelled
and their stock goes back (a schedule). The window starts when the store reports
``ready_for_pickup``; the event's transaction writes a ``PICKUP`` item keyed by its end."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol

from aws_lambda_powertools import Logger

from chalicelib.domain.errors import StaleOrder
from chalicelib.domain.order.model import ShipmentStatus
from chalicelib.domain.order.stock import Move, release_moves
from chalicelib.domain.order.writes import OutboxMark, PickupDone
from chalicelib.services.fulfilment import iso
from chalicelib.services.ports import Network, OrderStore
from chalicelib.services.transfer_back import record_held, sends_back

logger = Logger(service="dirigent")

SOURCE = "schedule:pickup-expiry"


class PickupLog(Protocol):
    def pickups_due(self, before: str, *, limit: int = 100) -> list[tuple[str, str]]: ...


class PickupExpiry:
    def __init__(
        self,
        *,
        orders: OrderStore,
        log: PickupLog,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        attempts: int = 5,
        network: Network | None = None,  # the stores' policies; without it, units stay
    ) -> None:
        self._orders, self._log, self._clock, self._attempts = orders, log, clock, attempts
        self._network = network

    def expire(self, *, limit: int = 100) -> int:
        """Cancel every pick-up whose window closed; returns how many were cancelled."""
        now = iso(self._clock())
        cancelled = 0
        for order_id, shipment_id in self._log.pickups_due(now, limit=limit):
            try:
                cancelled += self._expire_one(order_id, shipment_id, now)
            except Exception:
                logger.exception("pick-up expiry failed", order_id=order_id)
        return cancelled

    def _expire_one(self, order_id: str, shipment_id: str, now: str) -> int:
        for _ in range(self._attempts):
            order = self._orders.get(order_id)
            if order is None:
                return 0
            shipment = order.shipment(shipment_id)
            releases: list[tuple[str, str, int]] = []
            moves: list[Move] = []
            if shipment.status == ShipmentStatus.READY_FOR_PICKUP:
                back = self._network is not None and sends_back(self._network, shipment)
                # at the store, where they wait (held there when they go back to the source)
                moves = release_moves(shipment, shipment.lines, back=back)
                releases = order.cancel_shipment(
                    shipment_id, at=now, source=SOURCE, reason="not collected in time"
                )
                if releases and shipment.back == "held":
                    record_held(order, shipment, at=now, source=SOURCE)
            try:
                self._orders.update(
                    order,
                    moves=moves if releases else [],
                    writes=[
                        PickupDone(shipment.shipment_id, shipment.pickup_until),
                        *([OutboxMark()] if releases else []),  # the store is told
                    ],
                    now=now,
                )
            except StaleOrder:
                continue
            if releases:
                logger.info("pick-up expired", order_id=order_id, shipment_id=shipment_id)
            return 1 if releases else 0
        raise StaleOrder(f"order {order_id} kept changing")
