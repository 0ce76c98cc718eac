"""In-memory stand-ins for the order use cases: an order store that keeps domain objects and
runs a transaction like the DynamoDB one (the order's version, stock movements by the pure
inventory rules, the typed writes that go with the order, all or nothing), and the catalog and
stock reads that sourcing needs."""

from __future__ import annotations

import copy
import time as clock
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, time
from typing import Any

from chalicelib.domain import inventory
from chalicelib.domain.channel import BackorderPolicy, Channel, ChannelKind
from chalicelib.domain.errors import (
    InsufficientStock,
    OrderExists,
    StaleOrder,
    StockRace,
    WriteConflict,
)
from chalicelib.domain.inventory import Movement
from chalicelib.domain.network import (
    Capability,
    CarrierService,
    Lane,
    Location,
    LocationType,
    Product,
    Speed,
    StockLevel,
    WeightBand,
)
from chalicelib.domain.order.model import Order
from chalicelib.domain.order.snapshot import Snapshot, StoredQuote
from chalicelib.domain.order.writes import (
    CustomerUnits,
    EventMarker,
    HoldDeadline,
    HoldDeadlineDone,
    OrderWrite,
    OutboxClear,
    OutboxMark,
    PickupDone,
    PickupWaiting,
    ReservationConsumed,
    ReturnedStock,
    RmaSaved,
    ShippedUnits,
    TrackingLookup,
    capture_writes,
)
from chalicelib.domain.reservations import CheckoutReservation, ReservationStatus
from chalicelib.domain.returns.policy import Rma
from chalicelib.domain.rules import SourcingRules

Reservation = tuple[str, str, int]


@dataclass
class Written:
    """What the writes that go with orders left behind."""

    events: set[str] = field(default_factory=set)  # applied event ids
    outbox: set[str] = field(default_factory=set)  # order ids with requests to send
    tracking: dict[str, set[str]] = field(default_factory=dict)  # number -> order ids
    pickups: dict[tuple[str, str], str | None] = field(default_factory=dict)  # -> until
    shipped: Counter[tuple[str, str, date]] = field(default_factory=Counter)
    rmas: dict[str, Rma] = field(default_factory=dict)
    holds: dict[str, str] = field(default_factory=dict)  # order id -> auto-cancel deadline
    customer_units: Counter[tuple[str, str, str, str]] = field(default_factory=Counter)


class FakeOrders:
    """``OrderStore`` (and the ``EventLog``/``RmaStore`` reads) on domain objects."""

    def __init__(
        self,
        stock: dict[tuple[str, str], StockLevel],
        *,
        clock: Callable[[], float] = clock.time,
        journal: Callable[[str, str, int], None] | None = None,  # on_hand deltas committed
    ) -> None:
        self.stock, self.clock = stock, clock
        self.journal = journal  # e.g. ``MemoryStock.journal``, so counts reconcile with orders
        self.orders: dict[str, Order] = {}
        self.written = Written()
        self.quotes: dict[str, StoredQuote] = {}
        self.reservations: dict[str, CheckoutReservation] = {}  # see MemoryReservations
        self.creates = 0
        self.before_create: list[Callable[[], None]] = []  # run once each, like a rival write
        self.before_update: list[Callable[[], None]] = []  # the same, before an update commits

    def add(self, order: Order) -> None:
        self.orders[order.order_id] = copy.deepcopy(order)

    def get(self, order_id: str) -> Order | None:
        order = self.orders.get(order_id)
        return copy.deepcopy(order) if order else None

    def backorders(self, sku: str, limit: int = 50) -> list[dict[str, Any]]:
        """The backorder queue of ``sku``: waiting orders, oldest first."""
        waiting = sorted(
            (o.created_at, o.order_id) for o in self.orders.values() if o.backorders.get(sku)
        )
        return [{"order_id": order_id} for _, order_id in waiting[:limit]]

    def applied(self, event_id: str) -> bool:
        return event_id in self.written.events

    def rma(self, rma_id: str) -> Rma | None:
        rma = self.written.rmas.get(rma_id)
        return copy.deepcopy(rma) if rma else None

    def create(
        self,
        order: Order,
        reservations: Sequence[Reservation],
        now: str,
        *,
        writes: Sequence[OrderWrite] = (),
        releases: Sequence[Reservation] = (),
    ) -> None:
        self.creates += 1
        while self.before_create:
            self.before_create.pop(0)()
        if order.order_id in self.orders:
            raise OrderExists("the order was written meanwhile")
        stock = self._moved(
            [(Movement.RESERVE, r) for r in reservations]
            + [(Movement.RELEASE, r) for r in releases]
        )
        for write in [*capture_writes(order), *writes]:
            self._apply(write, order, self.written, stock)
        self._commit(order, stock, self.written)
        self.written.outbox.add(order.order_id)

    def update(
        self,
        order: Order,
        *,
        moves: Sequence[tuple[Movement, Reservation]] = (),
        writes: Sequence[OrderWrite] = (),
        drop_backorders: Sequence[str] = (),
        now: str,
    ) -> None:
        while self.before_update:
            self.before_update.pop(0)()
        stored = self.orders.get(order.order_id)
        if stored is None or stored.version != order.version:
            raise StaleOrder("changed meanwhile")
        stock = self._moved(moves)
        written = copy.deepcopy(self.written)
        for write in writes:
            self._apply(write, order, written, stock)
        order.version += 1
        self._commit(order, stock, written)
        for write in writes:
            if isinstance(write, RmaSaved):
                write.rma.version += 1
                written.rmas[write.rma.rma_id] = copy.deepcopy(write.rma)

    def put_quote(self, quote_id: str, channel: str, doc: dict[str, Any], ttl: int) -> None:
        expires = int(self.clock()) + ttl
        self.quotes[quote_id] = StoredQuote(channel, expires, copy.deepcopy(doc))

    # --- the transaction -------------------------------------------------------------------

    def _moved(
        self, moves: Sequence[tuple[Movement, Reservation]]
    ) -> dict[tuple[str, str], StockLevel]:
        stock = dict(self.stock)
        for movement, (sku, loc, qty) in moves:
            level = stock.get((sku, loc))
            if level is None and movement in inventory.CREATES_ITEM:
                level = StockLevel(sku, loc, on_hand=0)  # a store the SKU never was at
            try:
                if level is None:
                    raise KeyError(sku)
                stock[(sku, loc)] = inventory.apply(level, movement, qty)
            except (InsufficientStock, KeyError):
                raise StockRace([sku]) from None
        return stock

    def _apply(
        self,
        write: OrderWrite,
        order: Order,
        written: Written,
        stock: dict[tuple[str, str], StockLevel],
    ) -> None:
        refused = WriteConflict("a write that goes with the order was refused")
        match write:
            case EventMarker(event_id):
                if event_id in written.events:
                    raise refused
                written.events.add(event_id)
            case OutboxMark():
                written.outbox.add(order.order_id)
            case OutboxClear():
                written.outbox.discard(order.order_id)
            case TrackingLookup(_, number):
                written.tracking.setdefault(number, set()).add(order.order_id)
            case PickupWaiting(shipment_id, until):
                written.pickups[(order.order_id, shipment_id)] = until
            case PickupDone(shipment_id, until):
                if written.pickups.get((order.order_id, shipment_id), "") == until:
                    del written.pickups[(order.order_id, shipment_id)]
            case HoldDeadline(until):
                written.holds[order.order_id] = until
            case HoldDeadlineDone(until):
                if written.holds.get(order.order_id) == until:
                    del written.holds[order.order_id]
            case CustomerUnits(channel, customer, sku, day, quantity, cap):
                key = (channel, customer, sku, day)
                if written.customer_units[key] + quantity > cap:
                    raise refused
                written.customer_units[key] += quantity
            case ShippedUnits(sku, location_id, day, quantity):
                written.shipped[(sku, location_id, day)] += quantity
            case RmaSaved(rma):
                stored = written.rmas.get(rma.rma_id)
                if (stored.version if stored else 0) != rma.version:
                    raise refused
            case ReservationConsumed(reservation_id, before):
                res = self.reservations.get(reservation_id)
                if res is None or res.status != ReservationStatus.OPEN:
                    raise refused
                if before is not None and res.expires_at <= before:
                    raise refused
                self.reservations[reservation_id] = replace(
                    res, status=ReservationStatus.CONSUMED, order_id=order.order_id
                )
            case ReturnedStock(sku, loc, sellable, damaged, exists, reorder_point):
                level = stock.get((sku, loc))
                if (level is not None) != exists:
                    raise refused
                level = level or StockLevel(sku, loc, on_hand=0, reorder_point=reorder_point)
                stock[(sku, loc)] = replace(
                    level, on_hand=level.on_hand + sellable, quarantine=level.quarantine + damaged
                )

    def _commit(
        self, order: Order, stock: dict[tuple[str, str], StockLevel], written: Written
    ) -> None:
        self.orders[order.order_id] = copy.deepcopy(order)
        if self.journal is not None:
            for (sku, loc), level in stock.items():
                before = self.stock.get((sku, loc))
                if delta := level.on_hand - (before.on_hand if before else 0):
                    self.journal(sku, loc, delta)
        self.stock.clear()
        self.stock.update(stock)
        self.written = written


class MemoryReservations:
    """The ``ReservationStore`` on the fake order store's stock and reservations."""

    def __init__(self, orders: FakeOrders) -> None:
        self._orders = orders

    def create(self, res: CheckoutReservation) -> None:
        if res.reservation_id in self._orders.reservations:
            raise WriteConflict("the reservation exists")
        self._move(Movement.RESERVE, res)
        self._orders.reservations[res.reservation_id] = res

    def get(self, reservation_id: str) -> CheckoutReservation | None:
        return self._orders.reservations.get(reservation_id)

    def extend(self, old: CheckoutReservation, new: CheckoutReservation, *, now: float) -> None:
        cur = self.get(old.reservation_id)
        if cur is None or cur.status != ReservationStatus.OPEN or cur.extended:
            raise WriteConflict("the reservation changed")
        if cur.expires_at <= now:
            raise WriteConflict("the reservation expired")
        self._orders.reservations[new.reservation_id] = new

    def close(
        self, res: CheckoutReservation, status: ReservationStatus, *, due_by: float | None
    ) -> None:
        cur = self.get(res.reservation_id)
        if cur is None or cur.status != ReservationStatus.OPEN:
            raise WriteConflict("the reservation changed")
        if due_by is not None and cur.expires_at > due_by:
            raise WriteConflict("the reservation is not due")
        self._move(Movement.RELEASE, cur)
        self._orders.reservations[res.reservation_id] = replace(cur, status=status)

    def due(self, now: float, limit: int = 100) -> list[str]:
        return [
            r.reservation_id
            for r in self._orders.reservations.values()
            if r.status == ReservationStatus.OPEN and r.expires_at <= now
        ][:limit]

    def _move(self, movement: Movement, res: CheckoutReservation) -> None:
        stock = self._orders._moved([(movement, hold) for hold in res.holds])
        self._orders.stock.clear()
        self._orders.stock.update(stock)


def _location(location_id: str, lat: float, lon: float) -> Location:
    return Location(
        location_id=location_id,
        type=LocationType.WAREHOUSE,
        country="DE",
        postal_code="34117",
        lat=lat,
        lon=lon,
        timezone="Europe/Berlin",
        capabilities=frozenset({Capability.SHIP}),
        cutoff_time=time(15, 0),
        closed_weekdays=frozenset(),
    )


class FakeNetwork:
    def __init__(
        self,
        *,
        policy: BackorderPolicy = BackorderPolicy.REJECT,
        strict: bool = False,
        excluded: dict[str, frozenset[str]] | None = None,  # channel -> excluded locations
    ) -> None:
        self.policy, self.strict, self.excluded = policy, strict, excluded or {}
        self._locations = [
            _location("dc-a", 51.3, 9.5),
            _location("dc-b", 50.1, 8.7),
            _location("dc-c", 52.5, 13.4),
        ]

    def channel(self, name: str) -> Channel:
        return Channel(
            channel=name,
            kind=ChannelKind.WEBSHOP,
            currencies=frozenset({"EUR"}),
            countries=frozenset({"DE"}),
            backorder_policy=self.policy,
            strict=self.strict,
            excluded_locations=self.excluded.get(name, frozenset()),
        )

    def locations(self) -> list[Location]:
        return list(self._locations)

    def refresh(self) -> None:
        self.refreshed = getattr(self, "refreshed", 0) + 1

    def carrier_services(self) -> list[CarrierService]:
        band = WeightBand(max_weight_g=30_000, price={"EUR": 500})
        return [
            CarrierService(
                service_id="std",
                carrier="DHL",
                speed=Speed.STANDARD,
                lanes=(Lane("DE", "DE", 1, (band,)),),
            )
        ]

    def rules(self) -> SourcingRules:
        return SourcingRules()


class FakeSnapshots:
    """The cart's stock and products, and (given ``orders``) the quote and order it names."""

    def __init__(
        self,
        stock: dict[tuple[str, str], StockLevel],
        skus: Iterable[str],
        orders: FakeOrders | None = None,
        *,
        weights: dict[str, int] | None = None,  # sku -> grams (500 when not named)
    ) -> None:
        self._stock, self._orders = stock, orders
        weight = weights or {}
        self._products = {sku: Product(sku=sku, weight_g=weight.get(sku, 500)) for sku in skus}
        self.reads: list[bool] = []  # consistent or not, per read

    def read(
        self,
        *,
        skus: Iterable[str],
        location_ids: Iterable[str],
        quote_id: str | None = None,
        order_id: str | None = None,
        consistent: bool = True,
    ) -> Snapshot:
        self.reads.append(consistent)
        wanted, where = set(skus), set(location_ids)
        orders = self._orders
        return Snapshot(
            stock=[v for (s, loc), v in self._stock.items() if s in wanted and loc in where],
            products={s: self._products[s] for s in wanted if s in self._products},
            quote=orders.quotes.get(quote_id) if orders and quote_id else None,
            order=orders.get(order_id) if orders and order_id else None,
        )


class FakeEvents:
    """``OrderEvents``: records what was announced."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, ...]] = []
        self.changed: list[str] = []

    def order_placed(self, order_id: str, *, sale_recorded: bool = False) -> None:
        self.calls.append(("order_placed", order_id))

    def order_updated(self, order_id: str) -> None:
        self.calls.append(("order_updated", order_id))

    def order_cancelled(self, order_id: str) -> None:
        self.calls.append(("order_cancelled", order_id))

    def stock_arrived(self, sku: str, location_id: str) -> None:
        self.calls.append(("stock_arrived", sku, location_id))

    def stock_changed(self, skus: Any, *, delay_seconds: int = 0) -> None:
        self.changed.extend(sorted(set(skus)))  # apart from ``calls``: the feed's, not ours


class Recorder:
    """Stands in for the notifier and the dispatcher: records what it was asked to do."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.changed: list[str] = []

    def shipped(self, order: Order, shipment: Any) -> None:
        self.calls.append(("shipped", shipment.shipment_id))

    def delayed(self, order: Order, delay: Any) -> None:
        self.calls.append(("delayed", order.order_id))

    def dispatch(self, order_id: str) -> int:
        self.calls.append(("dispatch", order_id))
        return 0

    def cancel_failed(self, order: Order, shipment: Any, reason: str) -> None:
        self.calls.append(("cancel_failed", shipment.shipment_id))

    def confirmation(self, order: Order) -> None:
        self.calls.append(("confirmation", order.order_id))

    def return_received(self, order: Order, rma: Any, receipt: Any) -> None:
        self.calls.append(("return_received", rma.rma_id))

    # the OrderEvents port
    def order_placed(self, order_id: str, *, sale_recorded: bool = False) -> None:
        self.calls.append(("order_placed", order_id))

    def order_updated(self, order_id: str) -> None:
        self.calls.append(("order_updated", order_id))

    def order_cancelled(self, order_id: str) -> None:
        self.calls.append(("order_cancelled", order_id))

    def stock_arrived(self, sku: str, location_id: str) -> None:
        self.calls.append(("stock_arrived", f"{sku}@{location_id}"))

    def stock_changed(self, skus: Any, *, delay_seconds: int = 0) -> None:
        self.changed.extend(sorted(set(skus)))
