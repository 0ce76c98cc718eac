"""Backorders: units accepted without stock wait in a queue per SKU (oldest first) and are
reserved when stock appears, in the same transactional way as at capture.

Every stock increase announces ``stock_arrived(sku, location_id)``; allocation then sources
each waiting order over every location its channel allows (the location is only a hint), on
fresh stock, taking what can be sent now up to the backordered quantity. An order that can't
be served now is passed over: it never blocks the orders behind it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol

from aws_lambda_powertools import Logger

from chalicelib.domain.errors import StaleOrder, StockRace
from chalicelib.domain.inventory import Movement
from chalicelib.domain.network import CartLine
from chalicelib.domain.order.model import Order, shipment_id_for
from chalicelib.domain.order.snapshot import Snapshot
from chalicelib.domain.order.writes import OutboxMark
from chalicelib.domain.sourcing import OptionKind, Plan, SourcingRequest, plan
from chalicelib.services.delivery_options import new_shipment
from chalicelib.services.ports import Network, OrderEvents, OrderStore, Snapshots

logger = Logger(service="dirigent")

ATTEMPTS = 4  # per order: a lost race re-reads the order and the stock, then moves on


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
        held: Callable[[str], bool] = lambda sku: False,
    ) -> None:
        """``held(sku)``: its waiting orders are not released yet (preorders before release)."""
        self._network, self._snapshots, self._orders = network, snapshots, orders
        self._queue, self._events, self._clock, self._held = queue, events, clock, held

    def allocate(self, sku: str, location_id: str = "") -> int:
        """Serve waiting backorders of ``sku``, first come first served, from every eligible
        location (``location_id``: where units appeared, a hint). Returns the units reserved."""
        if self._held(sku):
            return 0
        total = 0
        for entry in self._queue.backorders(sku):
            served, exhausted = self._serve(entry["order_id"], sku)
            total += served
            if exhausted:
                break  # no location has a unit left: nobody behind can be served either
        if total:
            logger.info("backorders served", sku=sku, hint=location_id, units=total)
        return total

    def _serve(self, order_id: str, sku: str) -> tuple[int, bool]:
        """(units reserved for the order, whether the network has no unit of ``sku`` left)."""
        location_ids = [loc.location_id for loc in self._network.locations()]
        for _ in range(ATTEMPTS):
            order = self._orders.get(order_id)
            if order is None or order.backorders.get(sku, 0) <= 0:
                return 0, False
            snap = self._snapshots.read(skus=[sku], location_ids=location_ids)
            if sku not in snap.products or not any(lvl.available > 0 for lvl in snap.stock):
                return 0, True
            chosen = self._plan(order, sku, snap)
            units = chosen.lines.get(sku, 0) if chosen else 0
            if chosen is None or units <= 0:
                return 0, False
            try:
                self._reserve(order, sku, units, chosen)
            except (StaleOrder, StockRace):
                continue  # changed meanwhile or the units went elsewhere: read both again
            self._events.order_updated(order.order_id)
            return units, False
        return 0, False

    def _plan(self, order: Order, sku: str, snap: Snapshot) -> Plan | None:
        """The plan for as many backordered units as can be sent now; a click & collect
        order keeps its pick-up store (all or nothing per plan, so fewer units are tried)."""
        pickup = order.delivery.get("pickup_location_id")
        wanted = order.backorders[sku]
        if not pickup:
            return self._sourced(order, sku, wanted, snap, pickup=None)
        quantity = min(wanted, sum(max(lvl.available, 0) for lvl in snap.stock))
        while quantity > 0:
            found = self._sourced(order, sku, quantity, snap, pickup=pickup)
            if found is not None:
                return found
            quantity //= 2
        return None

    def _sourced(
        self, order: Order, sku: str, quantity: int, snap: Snapshot, *, pickup: str | None
    ) -> Plan | None:
        channel = self._network.channel(order.channel)
        prices = {line.sku: line.unit_price for line in order.lines if line.sku == sku}
        request = SourcingRequest(
            lines=[CartLine(sku, quantity)],
            ship_to=order.ship_to,
            stock=snap.stock,
            locations=self._network.locations(),
            carrier_services=self._network.carrier_services(),
            products=dict(snap.products),
            now=self._clock(),
            rules=self._network.rules(),
            channel=order.channel,
            currency=order.currency,
            unit_prices=prices or None,
            excluded_location_ids=channel.excluded_locations if channel else frozenset(),
            allow_partial=True,
            kinds=frozenset({OptionKind.CLICK_COLLECT if pickup else OptionKind.FASTEST}),
        )
        result = plan(request)
        if pickup:
            return result.first(OptionKind.CLICK_COLLECT, pickup)
        return result.first(OptionKind.FASTEST)

    def _reserve(self, order: Order, sku: str, units: int, chosen: Plan) -> None:
        now = self._clock().isoformat(timespec="milliseconds").replace("+00:00", "Z")
        taken = {s.shipment_id for s in order.shipments}
        reserve: dict[str, int] = {}
        left = order.backorders[sku] - units
        if left > 0:
            order.backorders[sku] = left
        else:
            del order.backorders[sku]
        explanation = list(chosen.explanation)
        index = len(order.shipments)
        for part in chosen.shipments:
            while shipment_id_for(order.order_id, index) in taken:
                index += 1
            shipment = new_shipment(order.order_id, index, part, chosen)
            index += 1
            order.shipments.append(shipment)
            reserve[shipment.location_id] = reserve.get(shipment.location_id, 0) + sum(
                shipment.lines.values()
            )
            # One entry per shipment added (the parcel count of the reports counts them).
            order.record(
                at=now,
                event="backorder_allocated",
                source="backorders",
                shipment_id=shipment.shipment_id,
                sku=sku,
                quantity=sum(shipment.lines.values()),
                location_id=shipment.location_id,
                **({"explanation": explanation} if explanation else {}),
            )
            explanation = []  # the decision is recorded once, with its first shipment
        self._orders.update(
            order,
            moves=[(Movement.RESERVE, (sku, loc, q)) for loc, q in sorted(reserve.items())],
            writes=[OutboxMark()],
            drop_backorders=[] if left > 0 else [sku],
            now=now,
        )
