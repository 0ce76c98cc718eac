"""Backorders: units accepted without stock wait in a queue per SKU (oldest first) and are
reserved when stock arrives, in the same transactional way as at capture."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol

from aws_lambda_powertools import Logger

from chalicelib.domain.errors import StaleOrder, StockRace
from chalicelib.domain.inventory import Movement
from chalicelib.domain.network import CartLine
from chalicelib.domain.order.model import DeliveryMode, Order, OrderShipment, shipment_id_for
from chalicelib.domain.order.snapshot import Snapshot
from chalicelib.domain.order.writes import OutboxMark
from chalicelib.domain.sourcing import OptionKind, Plan, SourcingRequest, plan
from chalicelib.services.ports import Network, OrderEvents, OrderStore, Snapshots

logger = Logger(service="dirigent")


class BackorderQueue(Protocol):
    def backorders(self, sku: str, limit: int = 50) -> list[dict[str, Any]]: ...


class BackorderService:
    def __init__(
        self,
        *,
        network: Network,
        snapshots: Snapshots,
        orders: OrderStore,
        queue: BackorderQueue,
        events: OrderEvents,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._network, self._snapshots, self._orders = network, snapshots, orders
        self._queue, self._events, self._clock = queue, events, clock

    def allocate(self, sku: str, location_id: str) -> int:
        """Serve waiting backorders of ``sku`` from ``location_id``, first come first served,
        while it has available units. Returns the units reserved."""
        total = 0
        for entry in self._queue.backorders(sku):
            served = self._serve(entry["order_id"], sku, location_id)
            if served is None:
                break  # no stock left here
            total += served
        return total

    def _serve(self, order_id: str, sku: str, location_id: str) -> int | None:
        for _ in range(4):
            order = self._orders.get(order_id)
            if order is None or order.backorders.get(sku, 0) <= 0:
                return 0
            snap = self._snapshots.read(skus=[sku], location_ids=[location_id])
            if sku not in snap.products:
                return 0
            available = sum(max(level.available, 0) for level in snap.stock)
            quantity = min(available, order.backorders[sku])
            if quantity <= 0:
                return None
            chosen = self._plan(order, sku, quantity, location_id, snap)
            if chosen is None:
                return None
            try:
                self._reserve(order, sku, quantity, chosen, location_id)
            except StaleOrder:
                continue
            except StockRace:
                return None
            self._events.order_updated(order.order_id)
            return quantity
        return 0

    def _plan(
        self, order: Order, sku: str, quantity: int, location_id: str, snap: Snapshot
    ) -> Plan | None:
        pickup = order.delivery.get("pickup_location_id")
        locations = [
            loc for loc in self._network.locations() if loc.location_id in (location_id, pickup)
        ]
        request = SourcingRequest(
            lines=[CartLine(sku, quantity)],
            ship_to=order.ship_to,
            stock=snap.stock,
            locations=locations,
            carrier_services=self._network.carrier_services(),
            products=dict(snap.products),
            now=self._clock(),
            rules=self._network.rules(),
            channel=order.channel,
            currency=order.currency,
            kinds=frozenset({OptionKind.CLICK_COLLECT if pickup else OptionKind.FASTEST}),
        )
        result = plan(request)
        options = [p for p in result.options if not pickup or p.pickup_location_id == pickup]
        return options[0] if options else None

    def _reserve(
        self, order: Order, sku: str, quantity: int, chosen: Plan, location_id: str
    ) -> None:
        now = self._clock().isoformat(timespec="milliseconds").replace("+00:00", "Z")
        for shipment in chosen.shipments:
            order.shipments.append(
                OrderShipment(
                    shipment_id=shipment_id_for(order.order_id, len(order.shipments)),
                    location_id=shipment.location_id,
                    lines=dict(shipment.lines),
                    mode=DeliveryMode.PICKUP if chosen.pickup_location_id else DeliveryMode.SHIP,
                    carrier_service=shipment.carrier_service,
                    ship_date=shipment.ship_date.isoformat(),
                    promised_date=shipment.promised_date.isoformat(),
                    pickup_location_id=chosen.pickup_location_id,
                )
            )
        left = order.backorders[sku] - quantity
        if left > 0:
            order.backorders[sku] = left
        else:
            del order.backorders[sku]
        order.record(
            at=now,
            event="backorder_allocated",
            source=f"location:{location_id}",
            sku=sku,
            quantity=quantity,
        )
        self._orders.update(
            order,
            moves=[(Movement.RESERVE, (sku, location_id, quantity))],
            writes=[OutboxMark()],
            drop_backorders=[] if left > 0 else [sku],
            now=now,
        )
