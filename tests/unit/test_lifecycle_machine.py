"""The order lifecycle as a stateful property (issue #12): random quotes, orders, full and line
cancels, address changes, holds, dispatch, location events (duplicated, reordered, resent under
new ids), short picks, answers to cancel requests, shipments after a cancel, receipts,
adjustments, counts, returns and quarantine, through the REAL services on one set of stores.

The order-events port feeds a queue the machine drains in random order, sometimes twice (at
least once); the locations' queues are recorded and answered from. After every step the books
must be true: every stock item keeps ``available = on_hand - reserved - safety_stock`` and holds
exactly the reservations (and units in transit) of the orders; every order line is accounted
for; and per SKU the units in the network changed by exactly what the machine did to them.

``MemoryWorld`` runs it on the in-memory stores; ``tests/api/test_lifecycle_machine_moto.py``
runs the same machine on the DynamoDB adapters (moto) with another world.
"""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from hypothesis import settings, strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from chalicelib.adapters.memory import MemoryCatalog, MemoryStock
from chalicelib.domain.access import Principal, Role
from chalicelib.domain.catalog import Kind
from chalicelib.domain.errors import Conflict, InvalidInput, NotFound
from chalicelib.domain.network import Address, StockLevel
from chalicelib.domain.order.changes import HoldKind, PaymentStatus
from chalicelib.domain.order.model import Order, OrderStatus, ShipmentStatus
from chalicelib.domain.order.progress import ShipmentEventType
from chalicelib.domain.reservations import ReservationStatus
from chalicelib.domain.returns.model import Condition, RequestedLine, ReturnReason
from chalicelib.services.backorders import BackorderService
from chalicelib.services.catalog import CatalogService
from chalicelib.services.fulfilment import Dispatcher, iso
from chalicelib.services.inventory import InventoryService
from chalicelib.services.order_changes import OrderChanges
from chalicelib.services.order_desk import OrderDesk
from chalicelib.services.order_events import OrderEventService, Outcome, ShipmentEvent
from chalicelib.services.ordering import Cart, OrderService, PlaceOrder
from chalicelib.services.reservations import ReservationService
from chalicelib.services.returns import RequestReturn, ReturnEvent, ReturnService
from chalicelib.services.short_picks import Resourcer
from tests.unit.order_fakes import FakeOrders, FakeSnapshots, MemoryReservations, Recorder

SKUS = ("A", "B", "C")
STORE = "store-ber"
LOCATIONS = ("dc-a", "dc-b", "dc-c", STORE)
SERVICE = Principal(Role.SERVICE, key_id="cs-machine")
ADDRESSES = {
    "berlin": Address(country="DE", postal_code="10115", city="Berlin", lat=52.52, lon=13.40),
    "munich": Address(country="DE", postal_code="80331", city="München", lat=48.14, lon=11.58),
}
# (sku, location) -> (on_hand, safety_stock): C is scarce, so backorders wait for it.
INITIAL = {
    ("A", "dc-a"): (6, 1),
    ("A", "dc-b"): (3, 0),
    ("A", STORE): (1, 0),
    ("B", "dc-b"): (4, 0),
    ("B", STORE): (2, 0),
    ("C", "dc-c"): (2, 0),
}
E = ShipmentEventType


def _location(location_id: str, kind: str, city: str, lat: float, lon: float) -> dict[str, Any]:
    store = kind == "store"
    return {
        "location_id": location_id,
        "type": kind,
        "address": {"country": "DE", "postal_code": "10115" if store else "34117", "city": city},
        "lat": lat,
        "lon": lon,
        "timezone": "Europe/Berlin",
        "capabilities": ["click_collect", "returns"] if store else ["ship", "returns"],
        "cutoff_time": "15:00",
        "closed_weekdays": [],
    }


def _carrier(service_id: str, speed: str, price: int) -> dict[str, Any]:
    band = {"max_weight_g": 30000, "price": {"EUR": price}}
    lane = {"from_country": "DE", "to_country": "DE", "transit_days": 1, "bands": [band]}
    return {"service_id": service_id, "carrier": "DHL", "speed": speed, "lanes": [lane]}


def seed(catalog: CatalogService) -> None:
    """Three warehouses and a Berlin store; a webshop that refuses what it can't place and a
    pre-order channel that backorders it (and never uses dc-c)."""
    for doc in (
        _location("dc-a", "warehouse", "Kassel", 51.3, 9.5),
        _location("dc-b", "warehouse", "Frankfurt", 50.1, 8.7),
        _location("dc-c", "warehouse", "Berlin", 52.5, 13.4),
        _location(STORE, "store", "Berlin", 52.52, 13.41),
    ):
        catalog.put(Kind.LOCATION, doc["location_id"], doc)
    for doc in (_carrier("std", "standard", 500), _carrier("transfer", "transfer", 300)):
        catalog.put(Kind.CARRIER, doc["service_id"], doc)
    base = {"kind": "webshop", "currencies": ["EUR"], "countries": ["DE"]}
    catalog.put(Kind.CHANNEL, "webshop", {**base, "channel": "webshop"})
    catalog.put(
        Kind.CHANNEL,
        "preorder",
        {
            **base,
            "channel": "preorder",
            "backorder_policy": "backorder",
            "excluded_locations": ["dc-c"],
        },
    )
    for sku in SKUS:
        catalog.put(Kind.PRODUCT, sku, {"sku": sku, "weight_g": 500, "prices": {"EUR": 1000}})


class AsyncEvents:
    """The ``OrderEvents`` port: what the order-events consumer would receive, in a queue."""

    def __init__(self) -> None:
        self.pending: list[tuple[str, ...]] = []

    def order_placed(self, order_id: str, *, sale_recorded: bool = False) -> None:
        self.pending.append(("dispatch", order_id))

    def order_updated(self, order_id: str) -> None:
        self.pending.append(("dispatch", order_id))

    def order_cancelled(self, order_id: str) -> None:
        self.pending.append(("cancelled", order_id))  # the consumer does nothing with it

    def stock_arrived(self, sku: str, location_id: str) -> None:
        self.pending.append(("stock_arrived", sku, location_id))

    def stock_changed(self, skus: Any, *, delay_seconds: int = 0) -> None:
        pass  # the availability feed is not part of this machine


class LocationQueues:
    """The fulfilment queues as the locations read them."""

    def __init__(self) -> None:
        self.requests: dict[str, dict[str, Any]] = {}  # shipment id -> its fulfilment request
        self.cancels: list[dict[str, Any]] = []

    def send_batch(self, queue_name: str, bodies: Sequence[dict[str, Any]]) -> None:
        for body in bodies:
            if body["type"] == "fulfilment_request":
                self.requests[body["shipment_id"]] = body
            else:
                assert body["type"] == "cancel_request", body
                self.cancels.append(body)


class NoOutbox:
    """The sweeper's outbox reads (the machine dispatches through the events queue)."""

    def outbox_due(self, before: str, *, limit: int = 100) -> list[tuple[str, dict[str, str]]]:
        return []

    def drop_mark(self, key: dict[str, str]) -> None:
        """Nothing is swept."""


class World:
    """The real services on one set of stores; the events port and the locations' queues are
    the machine's. Subclasses build the stores and call ``_wire``."""

    stock: Any  # the StockStore (with ``violations``)
    stamp_resolution = 0.0001  # seconds: the coarsest stamp a store journals a movement with
    orders: Any  # the OrderStore

    def _wire(
        self,
        *,
        catalog: CatalogService,
        stock: Any,
        orders: Any,
        snapshots: Any,
        log: Any,
        rmas: Any,
        return_stock: Any,
        queue: Any,
        reservations: Any,
    ) -> None:
        self.catalog, self.stock, self.orders = catalog, stock, orders
        self.events, self.queues, self.mails = AsyncEvents(), LocationQueues(), Recorder()
        self.reservation_store = reservations
        self.offset = 0.0  # how far the checkout reservations' clock is ahead
        self.reservations = ReservationService(
            store=reservations,
            snapshots=snapshots,
            network=catalog,
            events=self.events,
            clock=lambda: time.time() + self.offset,
        )
        self.ordering = OrderService(
            network=catalog,
            snapshots=snapshots,
            orders=orders,
            events=self.events,
            token_secret=b"machine",
            reservations=self.reservations,
        )
        self.desk = OrderDesk(orders=orders, search=None, events=self.events)  # type: ignore[arg-type]
        self.changes = OrderChanges(
            orders=orders,
            desk=self.desk,
            network=catalog,
            snapshots=snapshots,
            events=self.events,
            deadlines=None,  # type: ignore[arg-type]  # no auto-cancel schedule runs here
        )
        self.dispatcher = Dispatcher(
            orders=orders,
            outbox=NoOutbox(),
            queues=self.queues,
            network=catalog,
            notifier=self.mails,  # type: ignore[arg-type]
            default_queue="dirigent-fulfilment",
        )
        self.shipments = OrderEventService(
            orders=orders,
            log=log,
            network=catalog,
            resourcer=Resourcer(network=catalog, snapshots=snapshots),
            notifier=self.mails,  # type: ignore[arg-type]
            dispatcher=self.dispatcher,
            events=self.events,
        )
        self.inventory = InventoryService(stock, catalog, events=self.events)
        self.backorders = BackorderService(
            network=catalog, snapshots=snapshots, orders=orders, queue=queue, events=self.events
        )
        self.returns = ReturnService(
            orders=orders,
            rmas=rmas,
            log=log,
            network=catalog,
            levels=stock,
            stock=return_stock,
            mails=self.mails,
            token_matches=self.ordering.token_matches,
            events=self.events,
        )
        seed(catalog)
        for (sku, loc), (on_hand, safety) in INITIAL.items():
            self.inventory.set_levels(sku, loc, on_hand=on_hand, safety_stock=safety)
        self.events.pending.clear()

    def levels(self) -> dict[tuple[str, str], StockLevel]:
        return {(lvl.sku, lvl.location_id): lvl for sku in SKUS for lvl in self.stock.for_sku(sku)}

    def order(self, order_id: str) -> Order:
        order = self.orders.get(order_id)
        assert order is not None, order_id
        return order

    def close(self) -> None:
        """Nothing to release."""


class MemoryReturnStock:
    def __init__(self, stock: MemoryStock) -> None:
        self._stock = stock

    def existing(self, keys: list[tuple[str, str]]) -> set[tuple[str, str]]:
        return set(self._stock.get_many(keys))


class MemoryRmas:
    """The ``RmaStore`` reads on what the fake order store's writes left behind."""

    def __init__(self, orders: FakeOrders) -> None:
        self._orders = orders

    def get(self, rma_id: str) -> Any:
        return self._orders.rma(rma_id)


class MemoryWorld(World):
    def __init__(self) -> None:
        stock = MemoryStock()
        orders = FakeOrders(stock.levels, journal=stock.journal)
        self._wire(
            catalog=CatalogService(MemoryCatalog()),
            stock=stock,
            orders=orders,
            snapshots=FakeSnapshots(stock.levels, SKUS, orders),
            log=orders,
            rmas=MemoryRmas(orders),
            return_stock=MemoryReturnStock(stock),
            queue=orders,
            reservations=MemoryReservations(orders),
        )


# --- the machine -------------------------------------------------------------------------------

CARTS = st.lists(
    st.tuples(st.sampled_from(SKUS), st.integers(1, 4)),
    min_size=1,
    max_size=3,
    unique_by=lambda t: t[0],
)
INDEX = st.integers(0, 1_000)
# The events each kind of shipment can get, by its path.
PATH_EVENTS = {
    "ship": (E.PICKED, E.SHIPPED, E.DELIVERED, E.SHORT_PICK),
    "pickup": (E.PICKED, E.READY_FOR_PICKUP, E.COLLECTED, E.SHORT_PICK),
    "transfer": (E.PICKED, E.SHIPPED, E.READY_FOR_PICKUP, E.COLLECTED, E.SHORT_PICK),
}


class Lifecycle(RuleBasedStateMachine):
    """Subclasses run it on other stores by overriding ``make_world``."""

    @staticmethod
    def make_world() -> World:
        return MemoryWorld()

    def __init__(self) -> None:
        super().__init__()
        self.world = self.make_world()
        self.order_ids: list[str] = []
        self.commands: list[PlaceOrder] = []
        self.sent: list[ShipmentEvent] = []  # location events that were applied
        self.receipts: list[str] = []  # event ids of receipts
        self.reported: dict[str, int] = {}  # shipment id -> its last event along the path
        # The locations' side: units each shipment physically holds, what left the network or
        # was never on the shelf (independent of what the books say), and shipments that left.
        self.physical: dict[str, Counter[str]] = {}
        self.gone: Counter[str] = Counter()
        self.left: set[str] = set()
        self.serial = 0
        # What the machine did to the units in the network, per SKU, and to quarantine.
        self.received: Counter[str] = Counter()
        self.adjusted: Counter[str] = Counter()
        self.counted: Counter[str] = Counter()
        self.restocked: Counter[str] = Counter()
        self.quarantine: Counter[tuple[str, str]] = Counter()
        self.checkouts: list[tuple[str, list[tuple[str, int]], str]] = []  # id, cart, address
        levels = self.world.levels()
        self.initial = Counter({sku: _units(levels, sku) for sku in SKUS})
        # Counts are reconciled with the movements after ``counted_at``: the machine journals
        # every step's on_hand changes (but a count's own) against a mark taken before it.
        self.marks: list[datetime] = []
        self.journal: list[tuple[int, tuple[str, str], int]] = []
        self.last_count: dict[tuple[str, str], int] = {}
        self.counting = False
        self.before = levels

    def teardown(self) -> None:
        self.world.close()

    def _id(self, prefix: str) -> str:
        self.serial += 1
        return f"{prefix}-{self.serial}"

    def _state(self) -> tuple[dict[tuple[str, str], StockLevel], dict[str, int]]:
        versions = {o: self.world.order(o).version for o in self.order_ids}
        return self.world.levels(), versions

    def _pick(self, i: int) -> str:
        return self.order_ids[i % len(self.order_ids)]

    @initialize(first=CARTS, second=CARTS, pickup=st.booleans())
    def two_orders(
        self, first: list[tuple[str, int]], second: list[tuple[str, int]], pickup: bool
    ) -> None:
        """Every run starts with orders released to their locations."""
        self.place(first, "webshop", pickup, "", "berlin")
        self.place(second, "preorder", False, "", "berlin")
        for order_id in self.order_ids:
            self._dispatch(order_id)

    # --- capture ------------------------------------------------------------------------------

    @rule(lines=CARTS, to=st.sampled_from(sorted(ADDRESSES)))
    def quote(self, lines: list[tuple[str, int]], to: str) -> None:
        before = self.world.levels()
        with contextlib.suppress(Conflict):
            cart = Cart("webshop", "EUR", ADDRESSES[to], [(s, q, None) for s, q in lines])
            self.world.ordering.quote(cart)
        assert self.world.levels() == before

    @rule(
        lines=CARTS,
        channel=st.sampled_from(["webshop", "preorder"]),
        pickup=st.booleans(),
        hold=st.sampled_from(["", "", "", "", "", "payment", "fraud"]),
        to=st.sampled_from(sorted(ADDRESSES)),
    )
    def place(
        self, lines: list[tuple[str, int]], channel: str, pickup: bool, hold: str, to: str
    ) -> None:
        coid = self._id("M")
        cmd = PlaceOrder(
            cart=Cart(channel, "EUR", ADDRESSES[to], [(s, q, 1000) for s, q in lines]),
            channel_order_id=coid,
            customer={"email": "ada@example.com", "name": "Ada"},
            delivery={"kind": "click_collect", "pickup_location_id": STORE}
            if pickup
            else {"kind": "fastest"},
            request_hash=coid,
            holds={hold: "machine"} if hold else {},
            payment_status="pending" if hold == "payment" else "",
        )
        before = self._state()
        try:
            placed = self.world.ordering.place(cmd)
        except Conflict:
            assert self._state() == before, "a refused order changed something"
            return
        order = placed.order
        assert placed.created
        assert order.status != OrderStatus.CANCELLED, "an order was born cancelled"
        assert not order.unaccounted(), order.ledger()
        self.order_ids.append(order.order_id)
        self.commands.append(cmd)

    @precondition(lambda self: self.commands)
    @rule(i=INDEX)
    def replay(self, i: int) -> None:
        cmd = self.commands[i % len(self.commands)]
        before = self._state()
        placed = self.world.ordering.place(cmd)
        assert not placed.created
        assert self._state() == before

    # --- checkout reservations ----------------------------------------------------------------

    @rule(lines=CARTS, to=st.sampled_from(sorted(ADDRESSES)), pick=INDEX)
    def reserve(self, lines: list[tuple[str, int]], to: str, pick: int) -> None:
        cart = Cart("webshop", "EUR", ADDRESSES[to], [(s, q, None) for s, q in lines])
        try:
            options = self.world.ordering.quote(cart)["options"]
        except Conflict:
            return
        before = self.world.levels()
        option = options[pick % len(options)]["option_id"]
        try:
            res, _ = self.world.reservations.reserve("webshop", option)
        except Conflict:
            assert self.world.levels() == before, "a refused reservation moved stock"
            return
        self.checkouts.append((res.reservation_id, lines, to))

    @precondition(lambda self: self.checkouts)
    @rule(i=INDEX, more=st.booleans())
    def order_reserved(self, i: int, more: bool) -> None:
        reservation_id, lines, to = self.checkouts[i % len(self.checkouts)]
        if more:  # one unit beyond the reserved ones: sourced as usual
            lines = [(lines[0][0], lines[0][1] + 1), *lines[1:]]
        coid = self._id("R")
        cmd = PlaceOrder(
            cart=Cart("webshop", "EUR", ADDRESSES[to], [(s, q, 1000) for s, q in lines]),
            channel_order_id=coid,
            customer={"email": "ada@example.com", "name": "Ada"},
            delivery={"reservation_id": reservation_id},
            request_hash=coid,
        )
        before = self._state()
        try:
            placed = self.world.ordering.place(cmd)
        except (Conflict, InvalidInput):
            assert self._state() == before, "a refused order changed something"
            return
        assert placed.created and not placed.order.unaccounted()
        self.order_ids.append(placed.order.order_id)
        self.commands.append(cmd)

    @precondition(lambda self: self.checkouts)
    @rule(i=INDEX)
    def release_checkout(self, i: int) -> None:
        reservation_id = self.checkouts[i % len(self.checkouts)][0]
        with contextlib.suppress(Conflict):  # consumed by an order
            self.world.reservations.release("webshop", reservation_id)

    @precondition(lambda self: self.checkouts)
    @rule()
    def expire_checkouts(self) -> None:
        self.world.offset = 16 * 60  # the sweeper runs after the default 15 minutes...
        try:
            self.world.reservations.sweep()
            assert self.world.reservations.sweep() == 0, "a reservation expired twice"
        finally:
            self.world.offset = 0.0  # ...and the quotes made after stay live for the rest

    # --- changes after capture ----------------------------------------------------------------

    @precondition(lambda self: self.order_ids)
    @rule(i=INDEX, partial=st.booleans(), quantity=st.integers(1, 4), line=INDEX)
    def cancel(self, i: int, partial: bool, quantity: int, line: int) -> None:
        order_id = self._pick(i)
        order = self.world.order(order_id)
        lines = None
        if partial:
            sku = order.lines[line % len(order.lines)].sku
            lines = {sku: quantity}
        before = self._state()
        try:
            self.world.desk.cancel(order_id, SERVICE, "machine", lines)
        except (Conflict, InvalidInput):
            assert self._state() == before

    @precondition(lambda self: self.order_ids)
    @rule(i=INDEX, to=st.sampled_from(sorted(ADDRESSES)))
    def change_address(self, i: int, to: str) -> None:
        before = self._state()
        try:
            self.world.changes.change(self._pick(i), SERVICE, ship_to=ADDRESSES[to])
        except (Conflict, InvalidInput):
            assert self._state() == before

    @precondition(lambda self: self.order_ids)
    @rule(i=INDEX, kind=st.sampled_from(list(HoldKind)), release=st.booleans())
    def hold(self, i: int, kind: HoldKind, release: bool) -> None:
        order_id = self._pick(i)
        before = self._state()
        try:
            if release:
                self.world.changes.release(order_id, SERVICE, kind)
            else:
                self.world.changes.hold(order_id, SERVICE, kind, "machine")
        except Conflict:
            assert self._state() == before
            return
        assert self.world.levels() == before[0], "a hold or its release moved stock"

    @precondition(lambda self: self.order_ids)
    @rule(i=INDEX, status=st.sampled_from(list(PaymentStatus)))
    def payment(self, i: int, status: PaymentStatus) -> None:
        before = self.world.levels()
        self.world.changes.change(self._pick(i), SERVICE, payment=status)
        assert self.world.levels() == before

    # --- the asynchronous side ----------------------------------------------------------------

    @precondition(lambda self: self.world.events.pending)
    @rule(picks=st.lists(st.tuples(INDEX, st.booleans()), min_size=1, max_size=4))
    def deliver(self, picks: list[tuple[int, bool]]) -> None:
        """Order-events messages in any order; ``True``: it stays, to be delivered again."""
        for i, again in picks:
            pending = self.world.events.pending
            if not pending:
                return
            message = pending[i % len(pending)] if again else pending.pop(i % len(pending))
            if message[0] == "dispatch":
                self._dispatch(message[1])
            elif message[0] == "stock_arrived":
                self.world.backorders.allocate(message[1], message[2])

    def _dispatch(self, order_id: str) -> None:
        held = bool(self.world.order(order_id).holds)
        sent = set(self.world.queues.requests)
        self.world.dispatcher.dispatch(order_id)
        if held:
            new = set(self.world.queues.requests) - sent
            assert not any(s.startswith(order_id) for s in new), "a held order was released"

    # --- the locations ------------------------------------------------------------------------

    @precondition(lambda self: self.world.queues.requests)
    @rule(i=INDEX, k=INDEX, step=st.booleans(), picked=st.integers(0, 3), line=INDEX)
    def location_event(self, i: int, k: int, step: bool, picked: int, line: int) -> None:
        """A location reports on a shipment it received a request for (whatever happened to
        the shipment since: a cancel does not stop a warehouse that already packed it).
        ``step``: the next event along the shipment's path, else any (late, early, again)."""
        requests = self.world.queues.requests
        request = requests[sorted(requests)[i % len(requests)]]
        store = (request.get("pickup") or {}).get("location_id")
        path = "ship" if not store else "pickup" if store == request["location_id"] else "transfer"
        events = PATH_EVENTS[path]
        if step:
            done = self.reported.get(request["shipment_id"], -1)
            kind = events[min(done + 1, len(events) - 2)]
            self.reported[request["shipment_id"]] = events.index(kind)
        else:
            kind = events[k % len(events)]
        at_store = kind in (E.READY_FOR_PICKUP, E.COLLECTED)
        lines = [(ln["sku"], ln["quantity"]) for ln in request["lines"]]
        sku, quantity = lines[line % len(lines)]
        event = ShipmentEvent(
            event_id=self._id("ev"),
            type=kind,
            location_id=str(store if at_store else request["location_id"]),
            occurred_at=iso(datetime.now(UTC)),
            order_id=request["order_id"],
            shipment_id=request["shipment_id"],
            carrier="DHL" if kind == E.SHIPPED else None,
            tracking_number=f"T{request['shipment_id']}" if kind == E.SHIPPED else None,
            picked=((sku, min(picked, quantity - 1)),) if kind == E.SHORT_PICK else (),
        )
        outcome = self._apply(event)
        shipment_id = request["shipment_id"]
        held = self._held(shipment_id)
        if outcome is None or outcome == Outcome.DUPLICATE:
            return
        if kind == E.SHORT_PICK and outcome == Outcome.APPLIED:
            found = min(held[sku], event.picked[0][1])
            if shipment_id not in self.left:
                self.gone[sku] += held[sku] - found  # not on the shelf: gone from the books
            held[sku] = found
        leaving = E.COLLECTED if store else E.SHIPPED
        if (kind == leaving or kind == E.DELIVERED) and shipment_id not in self.left:
            self.left.add(shipment_id)
            self.gone.update(held)  # what the location holds left the network

    @precondition(lambda self: self.world.queues.cancels)
    @rule(i=INDEX, confirm=st.booleans())
    def answer_cancel(self, i: int, confirm: bool) -> None:
        """The location answers the latest cancel request of a shipment (an answer names the
        shipment, not the request). A location may still ship what it confirmed (the parcel
        was already with the carrier): the books must follow the units, not the answer."""
        latest = {r["shipment_id"]: r for r in self.world.queues.cancels}
        request = latest[sorted(latest)[i % len(latest)]]
        event = ShipmentEvent(
            event_id=self._id("ans"),
            type=E.CANCEL_CONFIRMED if confirm else E.CANCEL_REJECTED,
            location_id=request["location_id"],
            occurred_at=iso(datetime.now(UTC)),
            order_id=request["order_id"],
            shipment_id=request["shipment_id"],
            reason=None if confirm else "already packed",
        )
        outcome = self._apply(event)
        shipment_id = request["shipment_id"]
        if outcome != Outcome.APPLIED or not confirm or shipment_id in self.left:
            return
        held = self._held(shipment_id)
        if not (request["whole"] or request["notice"]):  # the units asked back go on the shelf
            held.subtract({ln["sku"]: ln["quantity"] for ln in request["lines"]})
            for sku in held:
                held[sku] = max(held[sku], 0)

    def _held(self, shipment_id: str) -> Counter[str]:
        """What the location holds for a shipment: its request, less what it did not find or
        gave back."""
        if shipment_id not in self.physical:
            request = self.world.queues.requests[shipment_id]
            self.physical[shipment_id] = Counter(
                {ln["sku"]: ln["quantity"] for ln in request["lines"]}
            )
        return self.physical[shipment_id]

    @precondition(lambda self: self.sent)
    @rule(i=INDEX, new_id=st.booleans())
    def resend(self, i: int, new_id: bool) -> None:
        """An applied event again: under its id a duplicate (nothing changes), under a new id
        (a short pick or a delivery resent) it moves no stock: events state where things are."""
        event = self.sent[i % len(self.sent)]
        before = self._state()
        if new_id:
            if event.type in (E.CANCEL_CONFIRMED, E.CANCEL_REJECTED):
                return  # an answer under a new id answers whatever request waits: a new answer
            event = replace(event, event_id=self._id("re"))
        with contextlib.suppress(Conflict):  # e.g. a second answer to an answered request
            self.world.shipments.apply(event)
        if new_id:
            assert self.world.levels() == before[0], f"{event.type} resent moved stock"
        else:
            assert self._state() == before, f"a duplicate {event.type} changed something"

    def _apply(self, event: ShipmentEvent) -> Outcome | None:
        before = self._state()
        try:
            outcome = self.world.shipments.apply(event)
        except (Conflict, InvalidInput, NotFound):
            assert self._state() == before, f"a refused {event.type} changed something"
            return None
        self.sent.append(event)
        return outcome

    # --- stock --------------------------------------------------------------------------------

    @rule(
        sku=st.sampled_from(SKUS),
        loc=st.sampled_from(LOCATIONS),
        quantity=st.integers(1, 4),
        again=st.booleans(),
    )
    def receive(self, sku: str, loc: str, quantity: int, again: bool) -> None:
        event_id = self.receipts[-1] if again and self.receipts else self._id("rcv")
        self.receipts.append(event_id)
        if self.world.inventory.receive(sku, loc, quantity, event_id=event_id):
            self.received[sku] += quantity

    @rule(sku=st.sampled_from(SKUS), loc=st.sampled_from(LOCATIONS), delta=st.integers(-2, 3))
    def adjust(self, sku: str, loc: str, delta: int) -> None:
        if delta == 0:
            return
        before = self.world.levels()
        try:
            self.world.inventory.adjust(sku, loc, delta, reason="machine")
        except Conflict:
            assert self.world.levels() == before
            return
        self.adjusted[sku] += delta

    @precondition(lambda self: self.marks)
    @rule(
        sku=st.sampled_from(SKUS),
        loc=st.sampled_from(LOCATIONS),
        counted=st.integers(0, 8),
        back=st.integers(0, 6),
    )
    def count(self, sku: str, loc: str, counted: int, back: int) -> None:
        """A count stamped at the end of an earlier step: what was counted then plus the
        movements since (a count older than the last one applied changes nothing)."""
        mark = max(len(self.marks) - 1 - back, 0)
        key = (sku, loc)
        level = self.world.levels().get(key)
        was = level.on_hand if level else 0
        fresh = mark > self.last_count.get(key, -1)
        since = sum(d for step, k, d in self.journal if k == key and step > mark)
        self.counting = True
        applied = self.world.inventory.count(
            sku, loc, counted, self.marks[mark], event_id=self._id("cnt")
        )
        assert applied == fresh, (mark, self.last_count.get(key))
        level = self.world.levels().get(key)
        now = level.on_hand if level else 0
        if fresh:
            self.last_count[key] = mark
            assert now == max(0, counted + since), (counted, since, now)
        else:
            assert now == was
        self.counted[sku] += now - was

    # --- returns and quarantine ---------------------------------------------------------------

    @precondition(lambda self: self.order_ids)
    @rule(
        i=INDEX,
        line=INDEX,
        quantity=st.integers(1, 2),
        damaged=st.booleans(),
        at=st.sampled_from(["dc-a", STORE]),
    )
    def return_units(self, i: int, line: int, quantity: int, damaged: bool, at: str) -> None:
        order = self.world.order(self._pick(i))
        sku = order.lines[line % len(order.lines)].sku
        before = self._state()
        try:
            rma = self.world.returns.request(
                RequestReturn(
                    order.order_id,
                    [RequestedLine(sku, quantity, ReturnReason.CHANGED_MIND)],
                    principal=SERVICE,
                )
            )
        except (InvalidInput, Conflict):
            assert self._state() == before
            return
        condition = Condition.DAMAGED if damaged else Condition.SELLABLE
        self.world.returns.received(
            ReturnEvent(
                event_id=self._id("ret"),
                location_id=at,
                occurred_at=iso(datetime.now(UTC)),
                rma_id=rma.rma_id,
                lines=((sku, quantity, condition),),
            )
        )
        if damaged:
            self.quarantine[(sku, at)] += quantity
        else:
            self.restocked[sku] += quantity

    @precondition(lambda self: any(self.quarantine.values()))
    @rule(i=INDEX, release=st.booleans(), quantity=st.integers(1, 2))
    def quarantined(self, i: int, release: bool, quantity: int) -> None:
        held = sorted(k for k, q in self.quarantine.items() if q)
        sku, loc = held[i % len(held)]
        before = self.world.levels()
        try:
            self.world.inventory.quarantine(
                sku, loc, release=release, quantity=quantity, reason="machine"
            )
        except Conflict:
            assert self.world.levels() == before
            return
        self.quarantine[(sku, loc)] -= quantity
        if release:
            self.restocked[sku] += quantity

    # --- the books ----------------------------------------------------------------------------

    @invariant()
    def books_are_true(self) -> None:
        levels = self.world.levels()
        assert self.world.stock.violations() == []
        orders = [self.world.order(o) for o in self.order_ids]
        reserved: Counter[tuple[str, str]] = Counter()
        transit: Counter[tuple[str, str]] = Counter()
        shipped: Counter[str] = Counter()
        written_off: Counter[str] = Counter()
        for order in orders:
            assert not order.unaccounted(), (order.order_id, order.ledger())
            for sku, loc, quantity in order.open_reservations():
                reserved[(sku, loc)] += quantity
        for reservation_id, _, _ in self.checkouts:
            checkout = self.world.reservation_store.get(reservation_id)
            if checkout.status == ReservationStatus.OPEN:
                for sku, loc, quantity in checkout.holds:
                    reserved[(sku, loc)] += quantity
        for order in orders:
            for s in order.shipments:
                if s.status == ShipmentStatus.IN_TRANSIT:
                    for sku, quantity in s.lines.items():
                        transit[(sku, s.stock_at)] += quantity
            for sku, row in order.ledger().items():
                shipped[sku] += row["shipped"]
            for h in order.history:
                if h.event == "short_pick":
                    written_off[h.detail["sku"]] += h.detail["missing_quantity"]
        nowhere = {k for k, q in (reserved + transit).items() if q and k not in levels}
        assert not nowhere, f"reserved or in transit at no stock item: {nowhere}"
        for key, level in levels.items():
            assert level.reserved >= 0, level
            assert level.reserved == reserved[key], (key, level, reserved[key])
            assert level.in_transit == transit[key], (key, level, transit[key])
            assert level.quarantine == self.quarantine[key], (key, level)
            was = self.before.get(key)
            if was and level.reserved > was.reserved and level.available < was.available:
                assert level.available >= 0, f"{key} oversold: {was} -> {level}"
        for sku in SKUS:
            expected = (
                self.initial[sku]
                + self.received[sku]
                + self.adjusted[sku]
                + self.counted[sku]
                + self.restocked[sku]
                - shipped[sku]
                - written_off[sku]
            )
            assert _units(levels, sku) == expected, (sku, _units(levels, sku), expected)
            physical = expected + shipped[sku] + written_off[sku] - self.gone[sku]
            assert _units(levels, sku) == physical, f"{sku}: the books lost track of units"
        self._journal(levels)

    def _journal(self, levels: dict[tuple[str, str], StockLevel]) -> None:
        """Journal the step's on_hand changes, then mark the moment before the next step."""
        step = len(self.marks)
        if not self.counting:
            for key in set(levels) | set(self.before):
                now = levels[key].on_hand if key in levels else 0
                was = self.before[key].on_hand if key in self.before else 0
                if now != was:
                    self.journal.append((step, key, now - was))
        self.counting = False
        self.before = levels
        self.marks.append(datetime.now(UTC))
        time.sleep(self.world.stamp_resolution)  # every later write is stamped after the mark


def _units(levels: dict[tuple[str, str], StockLevel], sku: str) -> int:
    """The units of ``sku`` in the network: on hand, or on their way to a store."""
    return sum(lvl.on_hand + lvl.in_transit for (s, _), lvl in levels.items() if s == sku)


TestLifecycle = Lifecycle.TestCase
TestLifecycle.settings = settings(max_examples=40, stateful_step_count=60, deadline=None)
