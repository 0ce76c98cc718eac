"""Orders and their shipments, with the state machine that warehouse events drive.

Plain data: the order service builds an ``Order`` from a sourcing plan, adapters store it as a
document, and events move its shipments forward. The order's status is derived from its
shipments and backorders, never set by hand.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from chalicelib.domain.errors import InvalidTransition
from chalicelib.domain.network import Address, address_from_doc, address_to_doc


class ShipmentStatus(StrEnum):
    PLACED = "placed"  # stock reserved, request not yet sent to the location
    RELEASED = "released"  # the fulfilment request reached the location's queue
    PICKED = "picked"  # the location picked and packed it
    IN_TRANSIT = "in_transit"  # a transfer on its way from its location to the pick-up store
    SHIPPED = "shipped"  # handed to the carrier, with a tracking number
    DELIVERED = "delivered"  # the carrier delivered it
    READY_FOR_PICKUP = "ready_for_pickup"  # waiting at the store's counter
    COLLECTED = "collected"  # the customer took it
    CANCELLED = "cancelled"  # will not be fulfilled; its reservation was released


class OrderStatus(StrEnum):
    PLACED = "placed"  # accepted and reserved, nothing started
    PROCESSING = "processing"  # some shipment released or picked
    PARTIALLY_SHIPPED = "partially_shipped"  # some shipments on their way, some not
    SHIPPED = "shipped"  # every shipment on its way
    READY_FOR_PICKUP = "ready_for_pickup"  # everything waits at the pick-up store
    DELIVERED = "delivered"  # every shipment delivered or collected
    BACKORDERED = "backordered"  # waiting for stock, nothing shipped yet
    CANCELLED = "cancelled"  # nothing left to fulfil


class DeliveryMode(StrEnum):
    SHIP = "ship"  # a carrier brings it to the customer's address
    PICKUP = "pickup"  # the customer collects it at a store


_DELIVERY_PATH = (
    ShipmentStatus.PLACED,
    ShipmentStatus.RELEASED,
    ShipmentStatus.PICKED,
    ShipmentStatus.SHIPPED,
    ShipmentStatus.DELIVERED,
)
_PICKUP_PATH = (
    ShipmentStatus.PLACED,
    ShipmentStatus.RELEASED,
    ShipmentStatus.PICKED,
    ShipmentStatus.READY_FOR_PICKUP,
    ShipmentStatus.COLLECTED,
)
PATHS = {DeliveryMode.SHIP: _DELIVERY_PATH, DeliveryMode.PICKUP: _PICKUP_PATH}
# A pick-up at another store than its location: a transfer, ``shipped`` by the location.
_TRANSFER_PATH = (*_PICKUP_PATH[:3], ShipmentStatus.IN_TRANSIT, *_PICKUP_PATH[3:])
# From here on the units have left the location: nothing can be released any more.
_GONE = {
    DeliveryMode.SHIP: ShipmentStatus.SHIPPED,
    DeliveryMode.PICKUP: ShipmentStatus.COLLECTED,
}


LEDGER = ("ordered", "shipped", "open", "backordered", "cancelled")


@dataclass(frozen=True, slots=True)
class OrderLine:
    sku: str
    quantity: int
    unit_price: int  # minor units


@dataclass(slots=True)
class OrderShipment:
    shipment_id: str
    location_id: str
    lines: dict[str, int]  # sku -> quantity
    mode: DeliveryMode
    carrier_service: str | None
    ship_date: str  # YYYY-MM-DD
    promised_date: str
    status: ShipmentStatus = ShipmentStatus.PLACED
    pickup_location_id: str | None = None
    carrier: str | None = None
    tracking_number: str | None = None
    dispatched: bool = False  # the fulfilment request was sent (the outbox mark)
    updated_at: str = ""
    pickup_until: str | None = None  # ISO 8601 UTC: not collected by then, it is cancelled
    resourced_from: str | None = None  # the shipment whose short pick this one replaces
    # Cancellation after release (a protocol with the location, see domain.order.cancel):
    # "requested" (waiting for its answer), "rejected" (it ships anyway), "notice" (cancelled
    # here while the location may hold the request: it is told to drop it), "" (none).
    cancel: str = ""
    cancel_lines: dict[str, int] = field(default_factory=dict)  # units the request asks back
    cancel_sent: bool = False  # the cancel_request (or notice) reached the location's queue
    cancel_reason: str = ""
    after_cancel: bool = False  # it left the location although it had been cancelled
    # Click & collect transfers: the pick-up store once the units left for it (in transit,
    # then reserved there: see domain.order.stock), None while they are at ``location_id``.
    held_at: str | None = None
    # A transfer back (the store's ``collect_unclaimed`` policy, see domain.order.stock): units
    # of a cancelled pick-up returning from the store to ``location_id``: "held" (reserved at
    # the store, waiting), "in_transit", "returned"; ``back_sent``: the request was queued.
    back: str = ""
    back_lines: dict[str, int] = field(default_factory=dict)
    back_sent: bool = False

    @property
    def transfer(self) -> bool:
        """A pick-up whose units travel from ``location_id`` to another store."""
        return self.mode == DeliveryMode.PICKUP and self.pickup_location_id not in (
            None,
            self.location_id,
        )

    @property
    def path(self) -> tuple[ShipmentStatus, ...]:
        return _TRANSFER_PATH if self.transfer else PATHS[self.mode]

    @property
    def stock_at(self) -> str:
        """The location whose stock item holds this shipment's reserved units."""
        return self.held_at or self.location_id

    @property
    def left_location(self) -> bool:
        """True once the units are out of the building (stock already moved off on_hand)."""
        status = self.status
        return status != ShipmentStatus.CANCELLED and self.path.index(status) >= self.path.index(
            _GONE[self.mode]
        )

    @property
    def open(self) -> bool:
        """Reserved units still at the location: cancellable and releasable."""
        return self.status != ShipmentStatus.CANCELLED and not self.left_location

    def advance(self, target: ShipmentStatus) -> bool:
        """Move to ``target``. Returns False when ``target`` is not later than the current
        state (a late or repeated event: nothing changes); raises InvalidTransition when it is
        not a state of this shipment's path or the shipment is cancelled."""
        if target not in self.path:
            raise InvalidTransition(f"a {self.mode} shipment cannot become {target}")
        if self.status == ShipmentStatus.CANCELLED:
            raise InvalidTransition(f"shipment {self.shipment_id} is cancelled")
        if self.path.index(target) <= self.path.index(self.status):
            return False
        self.status = target
        return True


@dataclass(slots=True)
class HistoryEntry:
    at: str  # ISO 8601 UTC
    status: str  # the order status after the event
    event: str  # what happened, e.g. "placed", "shipped", "cancelled"
    source: str  # who said so: a channel, a location, a schedule, customer service
    shipment_id: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Order:
    order_id: str
    channel: str
    channel_order_id: str
    currency: str
    customer: dict[str, Any]
    ship_to: Address
    lines: list[OrderLine]
    shipments: list[OrderShipment]
    created_at: str
    delivery: dict[str, Any]  # the chosen option: kind, option_id, price, promised_date, ...
    token_hash: str
    request_hash: str
    backorders: dict[str, int] = field(default_factory=dict)  # sku -> units waiting for stock
    history: list[HistoryEntry] = field(default_factory=list)
    explanation: list[dict[str, Any]] = field(default_factory=list)
    cancelled: dict[str, int] = field(default_factory=dict)  # sku -> units cancelled
    notified: list[str] = field(default_factory=list)  # customer mails sent, e.g. "confirmation"
    # rma_id -> summary kept in step with the RMA item (see chalicelib.domain.returns.model)
    returns: dict[str, dict[str, Any]] = field(default_factory=dict)
    # What this order has added to the report aggregates so far (see domain.order_metrics):
    # saved with the order, so every later save adds exactly the difference, once.
    aggregated: dict[str, int] = field(default_factory=dict)
    # Hot SKUs (domain.shards): "<sku>@<location_id>" -> {shard: units reserved there}.
    stock_shards: dict[str, dict[str, int]] = field(default_factory=dict)
    # Holds keep an order from being released to locations: kind -> {reason, by, at}.
    holds: dict[str, dict[str, str]] = field(default_factory=dict)
    payment_status: str = ""  # as the channel states it: "", authorized, captured, ...
    auto_cancel_at: str | None = None  # ISO 8601 UTC: still held then, it is cancelled
    version: int = 0

    @property
    def status(self) -> OrderStatus:
        return derive_status(self.shipments, self.backorders)

    @property
    def units(self) -> int:
        return sum(line.quantity for line in self.lines)

    def ledger(self) -> dict[str, dict[str, int]]:
        """Per SKU: ordered, and where those units are (``shipped``: left a location,
        ``open``: reserved at one, ``backordered``, ``cancelled``)."""
        out: dict[str, dict[str, int]] = {}

        def row(sku: str) -> dict[str, int]:
            return out.setdefault(sku, dict.fromkeys(LEDGER, 0))

        for line in self.lines:
            row(line.sku)["ordered"] += line.quantity
        for s in self.shipments:
            if s.status == ShipmentStatus.CANCELLED:
                continue
            bucket = "shipped" if s.left_location else "open"
            for sku, quantity in s.lines.items():
                row(sku)[bucket] += quantity
        for sku, quantity in self.backorders.items():
            row(sku)["backordered"] += quantity
        for sku, quantity in self.cancelled.items():
            row(sku)["cancelled"] += quantity
        return out

    def unaccounted(self) -> dict[str, int]:
        """SKUs whose ordered units are not all in shipments, backorders or cancelled:
        ``sku -> ordered - accounted`` (empty when every unit is somewhere)."""
        out = {}
        for sku, row in self.ledger().items():
            gap = row["ordered"] - row["shipped"] - row["open"] - row["backordered"]
            gap -= row["cancelled"]
            if gap:
                out[sku] = gap
        return out

    def shipment(self, shipment_id: str) -> OrderShipment:
        for shipment in self.shipments:
            if shipment.shipment_id == shipment_id:
                return shipment
        raise KeyError(shipment_id)

    def record(
        self, *, at: str, event: str, source: str, shipment_id: str | None = None, **detail: Any
    ) -> None:
        self.history.append(
            HistoryEntry(
                at=at,
                status=self.status.value,
                event=event,
                source=source,
                shipment_id=shipment_id,
                detail=detail,
            )
        )

    def open_reservations(self) -> list[tuple[str, str, int]]:
        """``(sku, location_id, quantity)`` still reserved for this order (units in transit
        are reserved nowhere: they count as ``in_transit`` at the store)."""
        return [
            (sku, s.stock_at, quantity)
            for s in self.shipments
            if s.open and s.status != ShipmentStatus.IN_TRANSIT
            for sku, quantity in s.lines.items()
        ] + [
            (sku, s.pickup_location_id or s.location_id, quantity)
            for s in self.shipments
            if s.back == "held"
            for sku, quantity in s.back_lines.items()
        ]

    def cancel_shipment(
        self, shipment_id: str, *, at: str, source: str, reason: str
    ) -> list[tuple[str, str, int]]:
        """Cancel one shipment that is still at its location (an expired pick-up); return the
        reservations to release. Nothing happens when it is gone or cancelled already."""
        shipment = self.shipment(shipment_id)
        if not shipment.open:
            return []
        releases = [(sku, shipment.stock_at, q) for sku, q in shipment.lines.items()]
        for sku, quantity in shipment.lines.items():
            self.cancelled[sku] = self.cancelled.get(sku, 0) + quantity
        shipment.status = ShipmentStatus.CANCELLED
        if shipment.dispatched:  # the location holds the request: it is told to drop it
            shipment.cancel, shipment.cancel_sent = "notice", False
        self.record(at=at, event="cancelled", source=source, shipment_id=shipment_id, reason=reason)
        return releases


def derive_status(shipments: list[OrderShipment], backorders: dict[str, int]) -> OrderStatus:
    # A shipment emptied by short picks has nothing left to move: it no longer counts.
    live = [s for s in shipments if s.status != ShipmentStatus.CANCELLED and s.lines]
    waiting = any(q > 0 for q in backorders.values())
    if not live:
        return OrderStatus.BACKORDERED if waiting else OrderStatus.CANCELLED
    done = {ShipmentStatus.DELIVERED, ShipmentStatus.COLLECTED}
    if all(s.status in done for s in live) and not waiting:
        return OrderStatus.DELIVERED
    gone = [s for s in live if s.left_location or s.status == ShipmentStatus.READY_FOR_PICKUP]
    if gone and len(gone) == len(live) and not waiting:
        if all(s.status == ShipmentStatus.READY_FOR_PICKUP for s in live):
            return OrderStatus.READY_FOR_PICKUP
        return OrderStatus.SHIPPED
    if gone:
        return OrderStatus.PARTIALLY_SHIPPED
    if waiting:
        return OrderStatus.BACKORDERED
    if any(s.status != ShipmentStatus.PLACED for s in live):
        return OrderStatus.PROCESSING
    return OrderStatus.PLACED


def order_id_for(channel: str, channel_order_id: str) -> str:
    """Deterministic, so that the order's own key makes capture idempotent: a replay of the
    same ``(channel, channel_order_id)`` can never create a second order."""
    digest = hashlib.blake2b(f"{channel}\0{channel_order_id}".encode(), digest_size=8)
    return "o_" + digest.hexdigest()


def shipment_id_for(order_id: str, index: int) -> str:
    return f"{order_id}-s{index + 1}"


def order_to_doc(order: Order) -> dict[str, Any]:
    """The order as JSON-safe plain data (what adapters store and the API returns)."""
    doc = asdict(order)
    doc["ship_to"] = address_to_doc(order.ship_to)
    doc["status"] = order.status.value
    return doc


def order_from_doc(doc: dict[str, Any]) -> Order:
    shipments = [
        OrderShipment(
            **{**s, "mode": DeliveryMode(s["mode"]), "status": ShipmentStatus(s["status"])}
        )
        for s in doc["shipments"]
    ]
    skip = ("status", "ship_to", "lines", "shipments", "history")
    fields = {k: v for k, v in doc.items() if k not in skip}
    return Order(
        **fields,
        ship_to=address_from_doc(doc["ship_to"]),
        lines=[OrderLine(**line) for line in doc["lines"]],
        shipments=shipments,
        history=[HistoryEntry(**h) for h in doc.get("history", [])],
    )
