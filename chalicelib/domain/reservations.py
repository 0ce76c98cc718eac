"""Checkout reservations as plain data: stock kept for a cart that is not an order yet.

A reservation holds the units of one quoted delivery option (per SKU and location) until
``expires_at`` (epoch seconds). It may be extended once, released, consumed by one order of
its channel, or released by the expiry sweeper once its time has passed. Units of a hot SKU
are held on the shards named by ``stock_shards`` (``"<sku>@<location_id>" -> {shard: units}``,
like ``Order.stock_shards``): what is given back, and the order that takes it over, use them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from chalicelib.domain.errors import Conflict, ErrorCode, FieldError, InvalidInput

DEFAULT_MINUTES = 15
MAX_MINUTES = 240  # four hours

Hold = tuple[str, str, int]  # sku, location_id, quantity


class ReservationStatus(StrEnum):
    OPEN = "open"
    CONSUMED = "consumed"  # turned into an order's reservations
    RELEASED = "released"  # given back by the channel
    EXPIRED = "expired"  # given back by the sweeper


class ReservationExpired(Conflict):
    """The reservation's time passed (or the sweeper released it) before the order came."""

    code = ErrorCode.RESERVATION_EXPIRED


@dataclass(frozen=True, slots=True)
class CheckoutReservation:
    reservation_id: str
    channel: str
    option: Mapping[str, Any]  # the quote's option as the customer saw it
    holds: tuple[Hold, ...]
    created_at: float
    expires_at: float
    status: ReservationStatus = ReservationStatus.OPEN
    extended: bool = False
    order_id: str | None = None
    stock_shards: Mapping[str, Mapping[str, int]] = field(default_factory=dict)

    def status_at(self, now: float) -> ReservationStatus:
        """The status a reader sees: an open reservation past its time is expired."""
        if self.status == ReservationStatus.OPEN and now >= self.expires_at:
            return ReservationStatus.EXPIRED
        return self.status

    def units(self) -> dict[str, int]:
        """Units per SKU over every location."""
        totals: dict[str, int] = {}
        for sku, _, quantity in self.holds:
            totals[sku] = totals.get(sku, 0) + quantity
        return totals


def reservation_minutes(value: Any, field: str = "reservation_minutes") -> int:
    """A channel's reservation time in whole minutes (default 15, 1 to 240)."""
    if value is None:
        return DEFAULT_MINUTES
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_MINUTES:
        raise InvalidInput(
            "the reservation time is out of range",
            fields=[FieldError(field, f"whole minutes from 1 to {MAX_MINUTES}")],
        )
    return value


def holds_of(option: Mapping[str, Any]) -> tuple[Hold, ...]:
    """The units an option's shipments take, one hold per (sku, location), sorted: a
    transaction may touch each stock item once."""
    merged: dict[tuple[str, str], int] = {}
    for shipment in option.get("shipments", ()):
        for line in shipment["lines"]:
            key = (line["sku"], shipment["location_id"])
            merged[key] = merged.get(key, 0) + int(line["quantity"])
    if not merged:
        raise InvalidInput(
            "the option reserves nothing",
            fields=[FieldError("option_id", "an option with shipments")],
        )
    return tuple((sku, loc, q) for (sku, loc), q in sorted(merged.items()))


def new_reservation(
    reservation_id: str, channel: str, option: Mapping[str, Any], *, now: float, minutes: int
) -> CheckoutReservation:
    return CheckoutReservation(
        reservation_id=reservation_id,
        channel=channel,
        option=dict(option),
        holds=holds_of(option),
        created_at=now,
        expires_at=now + 60 * reservation_minutes(minutes),
    )


def extended(res: CheckoutReservation, *, now: float, minutes: int) -> CheckoutReservation:
    """The reservation kept ``minutes`` more from now: once, while it is open and in time."""
    _check_open(res, now)
    if res.extended:
        raise Conflict(
            "a reservation can be extended once",
            fields=[FieldError("reservation_id", "extended once already")],
        )
    expires = max(res.expires_at, now + 60 * reservation_minutes(minutes))
    return replace(res, expires_at=expires, extended=True)


def check_usable(
    res: CheckoutReservation, *, channel: str, units: Mapping[str, int], now: float
) -> None:
    """An order of ``channel`` for ``units`` (per SKU) may take over the reservation: it holds
    every reserved unit (what it orders beyond them is sourced as usual)."""
    if res.channel != channel:
        raise InvalidInput(
            "the reservation belongs to another channel",
            fields=[FieldError("delivery.reservation_id", "not a reservation of this channel")],
        )
    _check_open(res, now)
    short = {sku: q for sku, q in res.units().items() if units.get(sku, 0) < q}
    if short:
        raise InvalidInput(
            "the order leaves reserved units out",
            fields=[FieldError("lines", f"must hold at least the reserved units {short}")],
        )


def may_expire(res: CheckoutReservation, now: float) -> bool:
    """Whether the sweeper may release it now (open and past its time)."""
    return res.status_at(now) == ReservationStatus.EXPIRED and res.status == ReservationStatus.OPEN


def _check_open(res: CheckoutReservation, now: float) -> None:
    status = res.status_at(now)
    if status == ReservationStatus.EXPIRED:
        raise ReservationExpired(
            f"reservation {res.reservation_id} expired",
            fields=[FieldError("reservation_id", "expired; quote and reserve again")],
        )
    if status != ReservationStatus.OPEN:
        raise Conflict(
            f"reservation {res.reservation_id} is {status.value}",
            fields=[FieldError("reservation_id", f"{status.value}, no longer open")],
        )


def expiring_shard(reservation_id: str, shards: int = 4) -> int:
    """The partition of the expiry index a reservation is listed in while open."""
    return sum(reservation_id.encode()) % shards
