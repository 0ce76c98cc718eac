"""Where the units of a short pick come from instead: another location, a backorder, or nowhere.

Sourcing runs again for the missing units alone, on fresh stock, without the location that
could not find them (``allow_partial``: what no location has is left over). A delivery order
takes the fastest plan; a click & collect order a plan to the same pick-up store. What is left
over is backordered or cancelled by the channel's backorder policy. The first ``resourced``
history entry carries the plan's explanation (``sourcing.explain``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from chalicelib.domain.channel import BackorderPolicy
from chalicelib.domain.inventory import Movement
from chalicelib.domain.network import CartLine
from chalicelib.domain.order.model import DeliveryMode, Order, OrderShipment
from chalicelib.domain.order.progress import Move, resourced_shipment_id
from chalicelib.domain.sourcing import OptionKind, Plan, SourcingRequest, plan
from chalicelib.services.notifications import Delay
from chalicelib.services.ports import Network, Snapshots


@dataclass
class Resolution:
    shipments: list[OrderShipment] = field(default_factory=list)
    moves: list[Move] = field(default_factory=list)  # reservations of the new shipments
    delay: Delay = field(default_factory=Delay)


class Resourcer:
    def __init__(
        self,
        *,
        network: Network,
        snapshots: Snapshots,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._network, self._snapshots, self._clock = network, snapshots, clock

    def resolve(
        self, order: Order, short: OrderShipment, *, sku: str, quantity: int, event_id: str, at: str
    ) -> Resolution:
        """Re-source ``quantity`` units of ``sku`` that ``short`` lacks and change ``order``
        accordingly (new shipments, backorders or cancelled units, history)."""
        chosen = self._plan(order, short, sku, quantity)
        resolution = Resolution()
        planned = 0
        base_id = resourced_shipment_id(short.shipment_id, event_id)
        for i, part in enumerate(chosen.shipments if chosen else ()):
            units = min(dict(part.lines).get(sku, 0), quantity - planned)
            if units <= 0:
                continue
            planned += units
            new = OrderShipment(
                shipment_id=base_id if i == 0 else f"{base_id}-{i + 1}",
                location_id=part.location_id,
                lines={sku: units},
                mode=short.mode,
                carrier_service=part.carrier_service,
                ship_date=part.ship_date.isoformat(),
                promised_date=part.promised_date.isoformat(),
                pickup_location_id=short.pickup_location_id,
                resourced_from=short.shipment_id,
            )
            resolution.shipments.append(new)
            resolution.moves.append((Movement.RESERVE, (sku, new.location_id, units)))
            if new.promised_date > short.promised_date:
                resolution.delay.resourced.append((sku, units, new.promised_date))
        _add_shipments(
            order, resolution.shipments, at=at, explanation=chosen.explanation if chosen else ()
        )
        left = quantity - planned
        if left:
            self._leftover(order, sku, left, resolution.delay, at=at)
        return resolution

    def _plan(self, order: Order, short: OrderShipment, sku: str, quantity: int) -> Plan | None:
        channel = self._network.channel(order.channel)
        locations = self._network.locations()
        snap = self._snapshots.read(skus=[sku], location_ids=[loc.location_id for loc in locations])
        if sku not in snap.products:
            return None
        pickup = short.mode == DeliveryMode.PICKUP
        prices = {line.sku: line.unit_price for line in order.lines if line.sku == sku}
        result = plan(
            SourcingRequest(
                lines=[CartLine(sku, quantity)],
                ship_to=order.ship_to,
                stock=snap.stock,
                locations=locations,
                carrier_services=self._network.carrier_services(),
                products={sku: snap.products[sku]},
                now=self._clock(),
                rules=self._network.rules(),
                channel=order.channel,
                currency=order.currency,
                unit_prices=prices or None,
                excluded_location_ids=(channel.excluded_locations if channel else frozenset())
                | {short.location_id},
                allow_partial=True,
                kinds=frozenset({OptionKind.CLICK_COLLECT if pickup else OptionKind.FASTEST}),
            )
        )
        if pickup:
            return result.first(OptionKind.CLICK_COLLECT, short.pickup_location_id)
        return result.first(OptionKind.FASTEST)

    def _leftover(self, order: Order, sku: str, quantity: int, delay: Delay, *, at: str) -> None:
        channel = self._network.channel(order.channel)
        if channel is not None and channel.backorder_policy == BackorderPolicy.BACKORDER:
            order.backorders[sku] = order.backorders.get(sku, 0) + quantity
            delay.backordered[sku] = quantity
            order.record(at=at, event="backordered", source="sourcing", skus={sku: quantity})
        else:
            order.cancelled[sku] = order.cancelled.get(sku, 0) + quantity
            delay.cancelled[sku] = quantity
            order.record(at=at, event="line_cancelled", source="sourcing", skus={sku: quantity})


def _add_shipments(
    order: Order,
    new: list[OrderShipment],
    *,
    at: str,
    explanation: Sequence[Mapping[str, Any]] = (),
) -> None:
    """Append re-sourced shipments, keeping them sorted by id after the original ones, so the
    same events give the same order whatever their arrival order. The plan's ``explanation``
    (what was chosen, the alternatives with their numbers) is recorded once, with the first."""
    if not new:
        return
    originals = [s for s in order.shipments if not s.resourced_from]
    resourced = [s for s in order.shipments if s.resourced_from] + new
    order.shipments = originals + sorted(resourced, key=lambda s: s.shipment_id)
    why = [dict(entry) for entry in explanation]
    for shipment in new:
        order.record(
            at=at,
            event="resourced",
            source="sourcing",
            shipment_id=shipment.shipment_id,
            location_id=shipment.location_id,
            replaces=shipment.resourced_from,
            promised_date=shipment.promised_date,
            **({"explanation": why} if why else {}),
        )
        why = []
