"""Quote delivery options and capture orders.

Both read the cart's stock in one round trip and run sourcing on it. Capture then writes the
order and every reservation in one transaction; a lost race re-reads and re-sources, at most
``max_attempts`` times, then answers 409 ``out_of_stock``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger

from chalicelib.adapters.dynamo_orders import OrderExists, StaleOrder, StockRace, order_from_item
from chalicelib.domain.channel import BackorderPolicy, Channel
from chalicelib.domain.errors import Conflict, FieldError, InvalidInput, OutOfStock
from chalicelib.domain.network import Address, CartLine, Product
from chalicelib.domain.order.model import (
    DeliveryMode,
    Order,
    OrderLine,
    OrderShipment,
    order_id_for,
    shipment_id_for,
)
from chalicelib.domain.sourcing import (
    OptionKind,
    Plan,
    SourcingRequest,
    SourcingResult,
    nearest_plan,
    plan,
)
from chalicelib.services.catalog import product_from_doc
from chalicelib.services.ports import Network, OrderEvents, OrderStore, Reservation, Snapshots

logger = Logger(service="dirigent")

MAX_LINES = 50  # leaves room in one 100-item transaction for splits across locations


@dataclass(frozen=True)
class Cart:
    channel: str
    currency: str
    ship_to: dict[str, Any]
    lines: Sequence[tuple[str, int, int | None]]  # sku, quantity, unit price (None in quotes)


@dataclass(frozen=True)
class PlaceOrder:
    cart: Cart
    channel_order_id: str
    customer: dict[str, Any]
    delivery: dict[str, Any]  # {"option_id"} or {"kind", "pickup_location_id"?}
    request_hash: str


@dataclass
class Placed:
    order: Order
    created: bool
    tracking_token: str
    promise_changed: bool = False
    notes: list[str] = field(default_factory=list)


def request_hash(body: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


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
    ) -> None:
        self._network, self._snapshots, self._orders = network, snapshots, orders
        self._events, self._secret = events, token_secret
        self._quote_ttl, self._clock, self._max_attempts = quote_ttl_seconds, clock, max_attempts

    # --- quotes ----------------------------------------------------------------------------

    def quote(self, cart: Cart) -> dict[str, Any]:
        channel = self._channel(cart)
        snap = self._snapshots.read(
            skus=_skus(cart), location_ids=self._location_ids(), consistent=False
        )
        products = _products(cart, snap.products)
        result = plan(self._request(cart, channel, snap.stock, products, allow_partial=False))
        backorder = channel.backorder_policy == BackorderPolicy.BACKORDER
        if result.shortages and not result.options and not backorder:
            raise OutOfStock(result.shortages)
        if result.shortages and backorder:
            result = plan(self._request(cart, channel, snap.stock, products, allow_partial=True))
        quote_id = "q_" + secrets.token_hex(8)
        now = self._clock()
        options = [_option_view(quote_id, p) for p in result.options]
        doc = {
            "quote_id": quote_id,
            "expires_at": datetime.fromtimestamp(
                now.timestamp() + self._quote_ttl, UTC
            ).isoformat(),
            "currency": cart.currency,
            "options": options,
            "backordered": [{"sku": s, "quantity": q} for s, q in sorted(result.shortages.items())],
        }
        self._orders.put_quote(quote_id, cart.channel, doc, self._quote_ttl)
        return doc

    # --- capture ---------------------------------------------------------------------------

    def place(self, cmd: PlaceOrder) -> Placed:
        channel = self._channel(cmd.cart)
        order_id = order_id_for(cmd.cart.channel, cmd.channel_order_id)
        quote_id, option_hash = _parse_option(cmd.delivery)
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
            products = _products(cmd.cart, snap.products)
            quote = _live_quote(snap.quote, cmd.cart.channel, self._clock())
            order, reservations, placed = self._build(
                cmd, channel, snap.stock, products, quote, option_hash
            )
            try:
                self._orders.create(order, reservations, order.created_at)
            except OrderExists:
                stored = self._orders.get(order_id)
                assert stored is not None
                return self._replay(cmd, stored)
            except StockRace as race:
                lost = race.skus
                continue
            except StaleOrder:
                continue  # another transaction held a shared item (stock, report aggregates)
            self._publish(order)
            return placed
        if not lost:
            raise StaleOrder("the order could not be saved for concurrent writes; try again")
        raise OutOfStock(lost, "the last units were sold while this order was placed")

    def _build(
        self,
        cmd: PlaceOrder,
        channel: Channel,
        stock: list[Any],
        products: dict[str, Product],
        quote: dict[str, Any] | None,
        option_hash: str | None,
    ) -> tuple[Order, list[Reservation], Placed]:
        backorder = channel.backorder_policy == BackorderPolicy.BACKORDER
        request = self._request(cmd.cart, channel, stock, products, allow_partial=backorder)
        result = plan(request)
        if result.shortages and not backorder:
            raise OutOfStock(result.shortages)
        chosen, changed = _choose(result, cmd.delivery, quote, option_hash)
        if changed and channel.strict:
            raise Conflict(
                "the chosen delivery option can no longer be promised",
                fields=[FieldError("delivery", "promise changed; ask for new options")],
            )
        order = self._new_order(cmd, chosen, result.shortages)
        if chosen is not None:
            order.delivery["nearest_cost"] = _nearest_cost(request)
        placed = Placed(
            order, created=True, tracking_token=self._token(order.order_id), promise_changed=changed
        )
        return order, _reservations(order), placed

    def _new_order(self, cmd: PlaceOrder, chosen: Plan | None, shortages: dict[str, int]) -> Order:
        now = self._clock().isoformat(timespec="milliseconds").replace("+00:00", "Z")
        order_id = order_id_for(cmd.cart.channel, cmd.channel_order_id)
        shipments = (
            [_shipment(order_id, i, s, chosen) for i, s in enumerate(chosen.shipments)]
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
            delivery=_delivery_view(chosen),
            token_hash=hashlib.sha256(self._token(order_id).encode()).hexdigest(),
            request_hash=cmd.request_hash,
            backorders=dict(shortages),
            explanation=list(chosen.explanation) if chosen else [],
        )
        order.record(at=now, event="placed", source=f"channel:{cmd.cart.channel}")
        if shortages:
            order.record(at=now, event="backordered", source="sourcing", skus=shortages)
        return order

    def _replay(self, cmd: PlaceOrder, stored: Any) -> Placed:
        order = stored if isinstance(stored, Order) else _load(stored)
        if order.request_hash != cmd.request_hash:
            raise Conflict(
                f"order {cmd.channel_order_id} exists with different content",
                fields=[FieldError("channel_order_id", "already used for another order")],
            )
        return Placed(order, created=False, tracking_token=self._token(order.order_id))

    def _publish(self, order: Order) -> None:
        """Best effort: the outbox sweeper re-sends what this misses (a crash, SQS down)."""
        try:
            self._events.publish("order_placed", order.order_id)
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
        channel = self._network.channel(cart.channel)
        if channel is None:
            raise InvalidInput(
                f"channel {cart.channel} is not configured",
                fields=[FieldError("channel", "unknown; PUT /channels/{channel} first")],
            )
        if cart.currency not in channel.currencies:
            raise InvalidInput(
                f"{cart.channel} does not sell in {cart.currency}",
                fields=[FieldError("currency", f"not one of {sorted(channel.currencies)}")],
            )
        country = cart.ship_to.get("country", "")
        if channel.countries and country not in channel.countries:
            raise InvalidInput(
                f"{cart.channel} does not deliver to {country}",
                fields=[FieldError("ship_to.country", f"not one of {sorted(channel.countries)}")],
            )
        return channel

    def _location_ids(self) -> list[str]:
        return [loc.location_id for loc in self._network.locations()]

    def _request(
        self,
        cart: Cart,
        channel: Channel,
        stock: list[Any],
        products: dict[str, Product],
        *,
        allow_partial: bool,
    ) -> SourcingRequest:
        ship_to = cart.ship_to
        return SourcingRequest(
            lines=[CartLine(sku, q) for sku, q, _ in cart.lines],
            ship_to=Address(
                country=ship_to["country"],
                postal_code=ship_to.get("postal_code", ""),
                city=ship_to.get("city", ""),
                lat=ship_to.get("lat"),
                lon=ship_to.get("lon"),
            ),
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
        )


def _skus(cart: Cart) -> list[str]:
    return [sku for sku, _, _ in cart.lines]


def _products(cart: Cart, docs: dict[str, dict[str, Any]]) -> dict[str, Product]:
    unknown = [
        FieldError(f"lines[{i}].sku", f"unknown SKU {sku}")
        for i, (sku, _, _) in enumerate(cart.lines)
        if sku not in docs
    ]
    if unknown:
        raise InvalidInput("the cart names unknown SKUs", fields=unknown)
    return {sku: product_from_doc(doc) for sku, doc in docs.items()}


def _parse_option(delivery: dict[str, Any]) -> tuple[str | None, str | None]:
    option_id = delivery.get("option_id")
    if not option_id:
        return None, None
    quote_id, _, option_hash = option_id.partition(".")
    if not quote_id.startswith("q_") or not option_hash:
        raise InvalidInput(
            "unknown delivery option",
            fields=[FieldError("delivery.option_id", "not an option of a quote")],
        )
    return quote_id, option_hash


def _live_quote(item: dict[str, Any] | None, channel: str, now: datetime) -> dict[str, Any] | None:
    if item is None or item.get("channel") != channel or int(item["expires_at"]) < now.timestamp():
        return None
    return json.loads(item["doc"])


def _choose(
    result: SourcingResult,
    delivery: dict[str, Any],
    quote: dict[str, Any] | None,
    option_hash: str | None,
) -> tuple[Plan | None, bool]:
    """The plan to honour, and whether its promise differs from what the customer was shown."""
    if not result.options:
        return None, False  # everything is backordered
    if option_hash is not None:
        if quote is None:
            raise InvalidInput(
                "the quote of this option is unknown or expired",
                fields=[FieldError("delivery.option_id", "expired or unknown; quote again")],
            )
        quoted = next(
            (o for o in quote["options"] if o["option_id"].endswith("." + option_hash)), None
        )
        if quoted is None:
            raise InvalidInput(
                "unknown delivery option",
                fields=[FieldError("delivery.option_id", "not an option of its quote")],
            )
        same = result.option(option_hash)
        if same is not None:
            return same, same.promised_date.isoformat() != quoted["promised_date"]
        kind, pickup = OptionKind(quoted["kind"]), quoted.get("pickup_location_id")
    else:
        kind, pickup = (
            OptionKind(delivery.get("kind", "fastest")),
            delivery.get("pickup_location_id"),
        )
    best = result.first(kind, pickup) or (
        result.first(kind) if kind == OptionKind.CLICK_COLLECT else None
    )
    if best is None:
        field_path = "delivery.pickup_location_id" if pickup else "delivery.kind"
        raise Conflict(
            f"no {kind.value} option can be offered for this cart",
            fields=[FieldError(field_path, "not available for this cart and address")],
        )
    return best, option_hash is not None or (
        pickup is not None and best.pickup_location_id != pickup
    )


def _shipment(order_id: str, index: int, shipment: Any, chosen: Plan) -> OrderShipment:
    pickup = chosen.pickup_location_id
    return OrderShipment(
        shipment_id=shipment_id_for(order_id, index),
        location_id=shipment.location_id,
        lines=dict(shipment.lines),
        mode=DeliveryMode.PICKUP if pickup else DeliveryMode.SHIP,
        carrier_service=shipment.carrier_service,
        ship_date=shipment.ship_date.isoformat(),
        promised_date=shipment.promised_date.isoformat(),
        pickup_location_id=pickup,
    )


def _reservations(order: Order) -> list[Reservation]:
    """One reservation per (sku, location): a transaction may touch each stock item once."""
    merged: dict[tuple[str, str], int] = {}
    for shipment in order.shipments:
        for sku, quantity in shipment.lines.items():
            key = (sku, shipment.location_id)
            merged[key] = merged.get(key, 0) + quantity
    return [(sku, loc, q) for (sku, loc), q in sorted(merged.items())]


def _option_view(quote_id: str, p: Plan) -> dict[str, Any]:
    view = p.as_dict()
    view["option_id"] = f"{quote_id}.{p.option_id}"
    view.pop("cost", None)  # the retailer's cost stays internal
    return view


def _delivery_view(chosen: Plan | None) -> dict[str, Any]:
    if chosen is None:
        return {"kind": None}
    return {
        "kind": chosen.kind.value,
        "option_id": chosen.option_id,
        "price": chosen.price,
        "currency": chosen.currency,
        "promised_date": chosen.promised_date.isoformat(),
        "pickup_location_id": chosen.pickup_location_id,
        "ready_at": chosen.ready_at.isoformat() if chosen.ready_at else None,
        "cost": chosen.cost.as_dict(),
        "parcels": chosen.parcels,
    }


def _nearest_cost(request: SourcingRequest) -> int | None:
    """What sending every unit from the nearest location that has it would cost: the baseline
    of the cost-to-serve report. None when the network can't cover the whole cart."""
    baseline = nearest_plan(request)
    return baseline.cost.total if baseline else None


def _load(item: dict[str, Any]) -> Order:
    return order_from_item(item)
