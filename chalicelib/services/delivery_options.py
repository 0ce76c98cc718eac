"""The pure steps of quoting and capture (``chalicelib.services.ordering``): which delivery
option to honour, what the customer sees of an option, and the order's shipments and
reservations from the chosen plan."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from chalicelib.domain.channel import Channel
from chalicelib.domain.errors import Conflict, FieldError, InvalidInput
from chalicelib.domain.network import Capability, Location, Product
from chalicelib.domain.order.model import DeliveryMode, Order, OrderShipment, shipment_id_for
from chalicelib.domain.order.snapshot import StoredQuote
from chalicelib.domain.sourcing import (
    OptionKind,
    Plan,
    SourcingRequest,
    SourcingResult,
    nearest_plan,
)
from chalicelib.services.ports import Reservation

CartLines = Sequence[tuple[str, int, int | None]]  # sku, quantity, unit price


def check_channel(channel: Channel | None, name: str, currency: str, country: str) -> Channel:
    """The cart's channel, configured and selling in ``currency`` to ``country``; else 400."""
    if channel is None:
        raise InvalidInput(
            f"channel {name} is not configured",
            fields=[FieldError("channel", "unknown; PUT /channels/{channel} first")],
        )
    if currency not in channel.currencies:
        raise InvalidInput(
            f"{name} does not sell in {currency}",
            fields=[FieldError("currency", f"not one of {sorted(channel.currencies)}")],
        )
    if channel.countries and country not in channel.countries:
        raise InvalidInput(
            f"{name} does not deliver to {country}",
            fields=[FieldError("ship_to.country", f"not one of {sorted(channel.countries)}")],
        )
    return channel


def known_products(lines: CartLines, products: dict[str, Product]) -> dict[str, Product]:
    """The cart's products; InvalidInput naming every line whose SKU is unknown."""
    unknown = [
        FieldError(f"lines[{i}].sku", f"unknown SKU {sku}")
        for i, (sku, _, _) in enumerate(lines)
        if sku not in products
    ]
    if unknown:
        raise InvalidInput("the cart names unknown SKUs", fields=unknown)
    return dict(products)


def parse_option(
    delivery: dict[str, Any], field: str = "delivery.option_id"
) -> tuple[str | None, str | None]:
    """``(quote_id, option hash)`` of ``delivery["option_id"]``, or ``(None, None)``; 400
    naming ``field`` when it is not an option id."""
    option_id = delivery.get("option_id")
    if not option_id:
        return None, None
    quote_id, _, option_hash = option_id.partition(".")
    if not quote_id.startswith("q_") or not option_hash:
        raise InvalidInput(
            "unknown delivery option", fields=[FieldError(field, "not an option of a quote")]
        )
    return quote_id, option_hash


def live_quote(quote: StoredQuote | None, channel: str, now: datetime) -> dict[str, Any] | None:
    """The quote's document, if it was made for ``channel`` and has not expired."""
    if quote is None or quote.channel != channel or quote.expires_at < now.timestamp():
        return None
    return quote.doc


def wants_pickup(
    delivery: dict[str, Any], quote: dict[str, Any] | None, option_hash: str | None
) -> bool:
    """Whether the order asks for click & collect (by kind, or by a quoted pick-up option)."""
    if option_hash is None:
        return delivery.get("kind") == OptionKind.CLICK_COLLECT.value
    quoted = _quoted(quote, option_hash) if quote else None
    return quoted is not None and quoted["kind"] == OptionKind.CLICK_COLLECT.value


def _quoted(quote: dict[str, Any], option_hash: str) -> dict[str, Any] | None:
    """The quote's option whose id ends in ``option_hash``."""
    return next((o for o in quote["options"] if o["option_id"].endswith("." + option_hash)), None)


def check_pickup(locations: Sequence[Location], excluded: frozenset[str], location_id: str) -> None:
    """A named pick-up location must be a click & collect store the channel may use (not in
    ``excluded``: the channel's and the rules' exclusions, as sourcing has them); another store
    may still stand in when this one can't serve the cart, as a changed promise."""
    found = next((loc for loc in locations if loc.location_id == location_id), None)
    reason = (
        "unknown location"
        if found is None
        else "not a click & collect location"
        if Capability.CLICK_COLLECT not in found.capabilities
        else "excluded for this channel"
        if location_id in excluded
        else None
    )
    if reason:
        raise InvalidInput(
            f"cannot pick up at {location_id}",
            fields=[FieldError("delivery.pickup_location_id", reason)],
        )


def choose(
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
        quoted = _quoted(quote, option_hash)
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


def new_shipment(order_id: str, index: int, shipment: Any, chosen: Plan) -> OrderShipment:
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


def reservations_for(order: Order) -> list[Reservation]:
    """One reservation per (sku, location): a transaction may touch each stock item once."""
    merged: dict[tuple[str, str], int] = {}
    for shipment in order.shipments:
        for sku, quantity in shipment.lines.items():
            key = (sku, shipment.location_id)
            merged[key] = merged.get(key, 0) + quantity
    return [(sku, loc, q) for (sku, loc), q in sorted(merged.items())]


def option_view(quote_id: str, p: Plan) -> dict[str, Any]:
    """An option as the customer sees it (its id names the quote; the cost stays internal)."""
    view = p.as_dict()
    view["option_id"] = f"{quote_id}.{p.option_id}"
    view.pop("cost", None)  # the retailer's cost stays internal
    from chalicelib.domain.sourcing.explain import public

    view["explanation"] = public(view.get("explanation", []))  # and so do its numbers
    return view


def delivery_view(chosen: Plan | None) -> dict[str, Any]:
    """The order's ``delivery``: what was chosen (``{"kind": None}``: all backordered)."""
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
        "margin": chosen.margin,
    }


def nearest_cost(request: SourcingRequest) -> int | None:
    """What sending every unit from the nearest location that has it would cost: the baseline
    of the cost-to-serve report. None when the network can't cover the whole cart."""
    baseline = nearest_plan(request)
    return baseline.cost.total if baseline else None
