"""Quote delivery options and capture orders.

Both read the cart's stock in one round trip and run sourcing on it. Capture writes the order and
its reservations in one transaction (a lost race re-sources, at most ``max_attempts`` times, then
409 ``out_of_stock``; every unit is planned or, if allowed, backordered), then records its inputs.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger

from chalicelib.domain.channel import BackorderPolicy, Channel
from chalicelib.domain.errors import (
    Conflict,
    FieldError,
    OrderExists,
    OutOfStock,
    StaleOrder,
    StockRace,
    WriteConflict,
)
from chalicelib.domain.network import CartLine, Product, StockLevel
from chalicelib.domain.network_value import NetworkValues
from chalicelib.domain.order.capture import (
    check_accounted,
    check_line_caps,
    customer_units,
    out_of_stock,
    over_daily_cap,
    price_policy,
    unplaced,
)
from chalicelib.domain.order.changes import hold_at_capture
from chalicelib.domain.order.model import Order, OrderLine, order_id_for
from chalicelib.domain.order.writes import OrderWrite
from chalicelib.domain.sourcing import Plan, SourcingRequest, plan
from chalicelib.services.delivery_options import (
    check_channel,
    check_pickup,
    choose,
    delivery_view,
    known_products,
    live_quote,
    nearest_cost,
    new_shipment,
    option_view,
    parse_option,
    reservations_for,
    wants_pickup,
)
from chalicelib.services.order_commands import Cart, Placed, PlaceOrder, request_hash
from chalicelib.services.ports import Network, OrderEvents, OrderStore, Reservation, Snapshots
from chalicelib.services.promises import BackorderPromises
from chalicelib.services.reservations import ReservationService

__all__ = ["Cart", "OrderService", "PlaceOrder", "Placed", "request_hash"]

logger = Logger(service="dirigent")

MAX_LINES = 50  # leaves room in one 100-item transaction for splits across locations


class OrderService:
    def __init__(
        self,
        *,
        network: Network,
        snapshots: Snapshots,
        orders: OrderStore,
        events: OrderEvents,
        token_secret: bytes,
        quote_ttl_seconds: int = 1800,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        max_attempts: int = 3,
        promises: BackorderPromises | None = None,
        reservations: ReservationService | None = None,
    ) -> None:
        self._network, self._snapshots, self._orders = network, snapshots, orders
        self._reservations = reservations  # checkout reservations an order may take over
        self._promises = promises  # dates for backordered units from future supply
        self._events, self._secret = events, token_secret
        self._quote_ttl, self._clock, self._max_attempts = quote_ttl_seconds, clock, max_attempts

    # --- quotes ----------------------------------------------------------------------------

    def quote(self, cart: Cart) -> dict[str, Any]:
        """Delivery options for ``cart``, stored as a quote. Read eventually consistent and
        from cached master data; an answer of out of stock is only given on fresh data."""
        channel = self._channel(cart)
        for fresh in (False, True):
            if fresh:
                self._network.refresh()
            snap = self._snapshots.read(
                skus=_skus(cart), location_ids=self._location_ids(), consistent=fresh
            )
            products = known_products(cart.lines, snap.products)
            result = plan(self._request(cart, channel, snap.stock, products, allow_partial=False))
            backorder = channel.backorder_policy == BackorderPolicy.BACKORDER
            shipping = [p for p in result.options if p.pickup_location_id is None]
            if backorder and (result.shortages or not shipping):
                result = plan(
                    self._request(cart, channel, snap.stock, products, allow_partial=True)
                )
            elif not result.options:
                if not fresh:
                    continue
                skus = result.shortages or self._unsendable(cart, channel, snap.stock, products)
                raise out_of_stock(_lines(cart), sorted(skus or _skus(cart)))
            break
        quote_id = "q_" + secrets.token_hex(8)
        now = self._clock()
        options = [option_view(quote_id, p) for p in result.options]
        doc: dict[str, Any] = {
            "quote_id": quote_id,
            "expires_at": datetime.fromtimestamp(
                now.timestamp() + self._quote_ttl, UTC
            ).isoformat(),
            "currency": cart.currency,
            "options": options,
            "backordered": [
                {"sku": s, "quantity": q} for s, q in sorted(result.shortages.items()) if backorder
            ],
        }
        if self._promises and result.shortages and backorder:
            doc["backorder_promises"] = self._promises.quote(
                cart.channel, cart.ship_to, result.shortages
            )
        self._orders.put_quote(quote_id, cart.channel, doc, self._quote_ttl)
        return doc

    # --- capture ---------------------------------------------------------------------------

    def place(self, cmd: PlaceOrder) -> Placed:
        channel = self._channel(cmd.cart)
        check_line_caps(channel, _lines(cmd.cart))
        order_id = order_id_for(cmd.cart.channel, cmd.channel_order_id)
        reservation_id = cmd.delivery.get("reservation_id")
        if cmd.delivery.get("pickup_location_id"):
            excluded = channel.excluded_locations | self._network.rules().excluded_for(
                channel.channel
            )
            check_pickup(self._network.locations(), excluded, cmd.delivery["pickup_location_id"])
        quote_id, option_hash = parse_option(cmd.delivery)
        lost: list[str] = []
        for attempt in range(self._max_attempts):
            snap = self._snapshots.read(
                skus=_skus(cmd.cart),
                location_ids=self._location_ids(),
                quote_id=quote_id,
                order_id=order_id,
                consistent=attempt > 0,
            )
            if snap.order is not None:
                return self._replay(cmd, snap.order)
            products = known_products(cmd.cart.lines, snap.products)
            quote = live_quote(snap.quote, cmd.cart.channel, self._clock())
            delivery, stock, take = cmd.delivery, snap.stock, None
            if reservation_id and self._reservations:
                take = self._reservations.take(channel, reservation_id, _units(cmd.cart))
                delivery, quote, stock = take.delivery, take.quote, take.add_back(stock)
                option_hash = parse_option(delivery)[1]
            try:
                order, reservations, placed = self._build(
                    cmd, channel, stock, products, quote, option_hash, delivery
                )
            except OutOfStock:
                if attempt > 0:
                    raise
                self._network.refresh()  # stale data may explain it: decide on fresh data
                continue
            writes: list[OrderWrite] = [*customer_units(order, channel)]
            releases: list[Reservation] = []
            if take and (consumed := take.write()):
                reservations, releases = take.net(reservations)
                writes.append(consumed)
                order.stock_shards = take.stock_shards()  # a hot SKU's held units: their shards
            try:
                self._orders.create(
                    order, reservations, order.created_at, writes=writes, releases=releases
                )
            except WriteConflict:
                if take and self._reservations and self._reservations.lost(take, channel):
                    continue  # the reservation went: the channel has its order re-sourced
                raise over_daily_cap(order, channel) from None
            except OrderExists:
                stored = self._orders.get(order_id)
                assert stored is not None
                return self._replay(cmd, stored)
            except StockRace as race:
                lost = race.skus
                continue
            except StaleOrder:
                continue  # another transaction held a shared item (stock, report aggregates)
            record = getattr(self._snapshots, "record_inputs", lambda *_: False)
            self._publish(order, sale_recorded=bool(record(order, stock, cmd.cart.lines)))
            return placed
        if not lost:
            raise StaleOrder("the order could not be saved for concurrent writes; try again")
        raise OutOfStock(lost, "the last units were sold while this order was placed")

    def _build(
        self,
        cmd: PlaceOrder,
        channel: Channel,
        stock: list[StockLevel],
        products: dict[str, Product],
        quote: dict[str, Any] | None,
        option_hash: str | None,
        delivery: dict[str, Any],
    ) -> tuple[Order, list[Reservation], Placed]:
        backorder = channel.backorder_policy == BackorderPolicy.BACKORDER
        request = self._request(cmd.cart, channel, stock, products, allow_partial=backorder)
        result = plan(request)
        # shortages without backorder: nothing can ship it all, but a store may hand it over
        if result.shortages and not backorder and not wants_pickup(delivery, quote, option_hash):
            raise out_of_stock(_lines(cmd.cart), sorted(result.shortages))
        chosen, changed = choose(result, delivery, quote, option_hash)
        if changed and channel.strict:
            raise Conflict(
                "the chosen delivery option can no longer be promised",
                fields=[FieldError("delivery", "promise changed; ask for new options")],
            )
        # What the chosen plan leaves out is backordered, or the order is refused.
        left = unplaced(_lines(cmd.cart), chosen.lines if chosen else {})
        if left and not backorder:
            skus = left if chosen else self._unsendable(cmd.cart, channel, stock, products)
            raise out_of_stock(_lines(cmd.cart), sorted(skus or left))
        order = self._new_order(cmd, chosen, left)
        check_accounted(order)
        price_policy(order, channel, [(s, p) for s, _, p in cmd.cart.lines], products)
        if self._promises and left:  # last: it claims preorder caps, for this order only
            order.delivery["backorder_promises"] = self._promises.quote(
                cmd.cart.channel,
                cmd.cart.ship_to,
                left,
                order_id=order.order_id,
                cart=_skus(cmd.cart),
            )
        if chosen is not None:
            order.delivery["nearest_cost"] = nearest_cost(request)
        placed = Placed(
            order, created=True, tracking_token=self._token(order.order_id), promise_changed=changed
        )
        return order, reservations_for(order), placed

    def _new_order(self, cmd: PlaceOrder, chosen: Plan | None, shortages: dict[str, int]) -> Order:
        now = self._clock().isoformat(timespec="milliseconds").replace("+00:00", "Z")
        order_id = order_id_for(cmd.cart.channel, cmd.channel_order_id)
        shipments = (
            [new_shipment(order_id, i, s, chosen) for i, s in enumerate(chosen.shipments)]
            if chosen
            else []
        )
        order = Order(
            order_id=order_id,
            channel=cmd.cart.channel,
            channel_order_id=cmd.channel_order_id,
            currency=cmd.cart.currency,
            customer=cmd.customer,
            ship_to=cmd.cart.ship_to,
            lines=[OrderLine(sku, q, price or 0) for sku, q, price in cmd.cart.lines],
            shipments=shipments,
            created_at=now,
            delivery=delivery_view(chosen),
            token_hash=hashlib.sha256(self._token(order_id).encode()).hexdigest(),
            request_hash=cmd.request_hash,
            backorders=dict(shortages),
            explanation=list(chosen.explanation) if chosen else [],
        )
        by = cmd.by or f"channel:{cmd.cart.channel}"
        order.record(at=now, event="placed", source=by)
        if shortages:
            order.record(at=now, event="backordered", source="sourcing", skus=shortages)
        hold_at_capture(
            order,
            cmd.holds,
            payment_status=cmd.payment_status,
            auto_cancel_after_hours=cmd.auto_cancel_after_hours,
            by=by,
            now=self._clock(),
            at=now,
        )
        return order

    def _replay(self, cmd: PlaceOrder, order: Order) -> Placed:
        if order.request_hash != cmd.request_hash:
            raise Conflict(
                f"order {cmd.channel_order_id} exists with different content",
                fields=[FieldError("channel_order_id", "already used for another order")],
            )
        return Placed(order, created=False, tracking_token=self._token(order.order_id))

    def _publish(self, order: Order, *, sale_recorded: bool) -> None:
        """Best effort: the outbox sweeper re-sends what this misses (a crash, SQS down)."""
        try:
            self._events.order_placed(order.order_id, sale_recorded=sale_recorded)
        except Exception:
            logger.exception(
                "order_placed not published; the outbox sweeper will", order_id=order.order_id
            )

    # --- shared ----------------------------------------------------------------------------

    def token_matches(self, order: Order, token: str) -> bool:
        digest = hashlib.sha256(token.encode()).hexdigest()
        return hmac.compare_digest(digest, order.token_hash)

    def tracking_token(self, order_id: str) -> str:
        """The customer's token for ``order_id`` (for the confirmation mail's link)."""
        return self._token(order_id)

    def _token(self, order_id: str) -> str:
        """The customer's tracking token: 128 bits derived from a server secret, so a replayed
        request can hand it out again while only its hash is stored on the order."""
        mac = hmac.new(self._secret, order_id.encode(), hashlib.sha256).digest()[:16]
        return mac.hex()

    def _channel(self, cart: Cart) -> Channel:
        return check_channel(
            self._network.channel(cart.channel), cart.channel, cart.currency, cart.ship_to.country
        )

    def _network_values(self, cart: Cart) -> NetworkValues | None:
        """The cart's network values when the rules are network-aware (read by the snapshots)."""
        reader: Any = getattr(self._snapshots, "network_values", None)
        aware = reader is not None and self._network.rules().network_aware
        return reader(_skus(cart)) if aware else None

    def _location_ids(self) -> list[str]:
        return [loc.location_id for loc in self._network.locations()]

    def _unsendable(
        self, cart: Cart, channel: Channel, stock: list[StockLevel], products: dict[str, Product]
    ) -> dict[str, int]:
        """The units no plan can send (e.g. beyond the parcel limit), to name them in a 409."""
        return plan(self._request(cart, channel, stock, products, allow_partial=True)).shortages

    def _request(
        self,
        cart: Cart,
        channel: Channel,
        stock: list[StockLevel],
        products: dict[str, Product],
        *,
        allow_partial: bool,
    ) -> SourcingRequest:
        return SourcingRequest(
            lines=[CartLine(sku, q) for sku, q, _ in cart.lines],
            ship_to=cart.ship_to,
            stock=stock,
            locations=self._network.locations(),
            carrier_services=self._network.carrier_services(),
            products=products,
            now=self._clock(),
            rules=self._network.rules(),
            channel=cart.channel,
            currency=cart.currency,
            unit_prices={sku: price for sku, _, price in cart.lines if price is not None} or None,
            excluded_location_ids=channel.excluded_locations,
            allow_partial=allow_partial,
            network_values=self._network_values(cart),
        )


def _skus(cart: Cart) -> list[str]:
    return [sku for sku, _, _ in cart.lines]


def _units(cart: Cart) -> dict[str, int]:
    return {sku: quantity for sku, quantity, _ in cart.lines}


def _lines(cart: Cart) -> list[tuple[str, int]]:
    return [(sku, quantity) for sku, quantity, _ in cart.lines]
