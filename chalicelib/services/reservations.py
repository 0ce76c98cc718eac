"""Checkout reservations: a quote's option kept for a cart while the customer pays.

``reserve`` holds the option's units (per SKU and location) for the channel's reservation
time; the order that names the reservation takes them over in its own transaction
(``Takeover``: no second sourcing race); the ``reservation_expiry`` schedule gives back what
was neither ordered nor released, within a minute of its expiry.
"""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Protocol

from aws_lambda_powertools import Logger

from chalicelib.domain.channel import Channel
from chalicelib.domain.errors import (
    Conflict,
    FieldError,
    InvalidInput,
    NotFound,
    OutOfStock,
    StaleOrder,
    StockRace,
    WriteConflict,
)
from chalicelib.domain.network import StockLevel
from chalicelib.domain.order.writes import ReservationConsumed
from chalicelib.domain.reservations import (
    CheckoutReservation,
    ReservationExpired,
    ReservationStatus,
    check_usable,
    extended,
    may_expire,
    new_reservation,
)
from chalicelib.services.delivery_options import live_quote, parse_option
from chalicelib.services.ports import Network, OrderEvents, Reservation, Snapshots

logger = Logger(service="dirigent")

ATTEMPTS = 8  # a reservation lost to a concurrent transaction (not to stock) is retried


class ReservationStore(Protocol):
    """Errors: ``create`` raises StockRace (units gone), WriteConflict (the id exists) or
    StaleOrder (retry); ``extend`` and ``close`` raise WriteConflict when the reservation is no
    longer as read (not open, extended, or out of time)."""

    def create(self, res: CheckoutReservation) -> None: ...
    def get(self, reservation_id: str) -> CheckoutReservation | None: ...
    def extend(self, old: CheckoutReservation, new: CheckoutReservation, *, now: float) -> None: ...
    def close(
        self, res: CheckoutReservation, status: ReservationStatus, *, due_by: float | None
    ) -> None: ...
    def due(self, now: float, limit: int = 100) -> list[str]: ...


@dataclass(frozen=True)
class Takeover:
    """How an order uses a reservation: ``holds`` are the units it takes over (none when an
    expired reservation is re-sourced), ``delivery`` and ``quote`` what sourcing honours."""

    reservation: CheckoutReservation
    delivery: dict[str, Any]
    quote: dict[str, Any] | None
    holds: tuple[tuple[str, str, int], ...]
    before: float | None  # the order must be written before this (epoch seconds)

    def add_back(self, stock: list[StockLevel]) -> list[StockLevel]:
        """The stock as sourcing may see it: the held units are this order's to take."""
        held = {(s, loc): q for s, loc, q in self.holds}
        return [
            replace(s, reserved=s.reserved - held[(s.sku, s.location_id)])
            if (s.sku, s.location_id) in held
            else s
            for s in stock
        ]

    def net(self, needed: Sequence[Reservation]) -> tuple[list[Reservation], list[Reservation]]:
        """(units to reserve on top of the holds, held units the order does not need)."""
        held = {(s, loc): q for s, loc, q in self.holds}
        need = {(s, loc): q for s, loc, q in needed}
        more = [(s, loc, q - held.get((s, loc), 0)) for (s, loc), q in need.items()]
        less = [(s, loc, q - need.get((s, loc), 0)) for (s, loc), q in held.items()]
        return [r for r in more if r[2] > 0], [r for r in less if r[2] > 0]

    def stock_shards(self) -> dict[str, dict[str, int]]:
        """Where a hot SKU's held units are (``Order.stock_shards``): the order taking them
        over starts from this map, so what it gives back or ships leaves those shards."""
        if not self.holds:
            return {}
        return {key: dict(held) for key, held in self.reservation.stock_shards.items()}

    def write(self) -> ReservationConsumed | None:
        if not self.holds:
            return None
        return ReservationConsumed(self.reservation.reservation_id, self.before)


def reservation_id_for(channel: str, option_id: str) -> str:
    """One reservation per channel and quoted option: a retried POST finds the first."""
    return "r_" + hashlib.sha256(f"{channel}|{option_id}".encode()).hexdigest()[:20]


def reservation_view(res: CheckoutReservation, now: float) -> dict[str, Any]:
    return {
        "reservation_id": res.reservation_id,
        "channel": res.channel,
        "status": res.status_at(now).value,
        "expires_at": _iso(res.expires_at),
        "extended": res.extended,
        "order_id": res.order_id,
        "option": dict(res.option),
        "units": [{"sku": s, "location_id": loc, "quantity": q} for s, loc, q in res.holds],
    }


class ReservationService:
    def __init__(
        self,
        *,
        store: ReservationStore,
        snapshots: Snapshots,
        network: Network,
        events: OrderEvents,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store, self._snapshots, self._network = store, snapshots, network
        self._events, self._clock = events, clock

    def now(self) -> float:
        return self._clock()

    def reserve(self, channel: str, option_id: str) -> tuple[CheckoutReservation, bool]:
        """Hold the units of a quoted option; ``(reservation, created)``. A retry of the same
        option answers the open reservation it made."""
        quote_id, _ = parse_option({"option_id": option_id}, field="option_id")
        snap = self._snapshots.read(skus=(), location_ids=(), quote_id=quote_id)
        now = self._clock()
        quote = live_quote(snap.quote, channel, datetime.fromtimestamp(now, UTC))
        option = next(
            (o for o in (quote or {}).get("options", ()) if o["option_id"] == option_id), None
        )
        if option is None:
            raise InvalidInput(
                "unknown delivery option",
                fields=[FieldError("option_id", "not an option of a live quote; quote again")],
            )
        minutes = self._channel(channel).reservation_minutes
        res = new_reservation(
            reservation_id_for(channel, option_id), channel, option, now=int(now), minutes=minutes
        )
        lost: list[str] = []
        for attempt in range(ATTEMPTS):
            if attempt == 0 or lost:
                self._check_stock(res, lost, consistent=bool(lost))
            lost = []
            try:
                self._store.create(res)
                self._held(res)
                return res, True
            except StockRace as race:
                lost = race.skus  # a hot SKU's shard may have emptied: read again, retry
            except WriteConflict:
                existing = self._store.get(res.reservation_id)
                if existing is None:
                    continue
                if existing.status_at(self._clock()) != ReservationStatus.OPEN:
                    raise Conflict(
                        f"the reservation of this option is {existing.status_at(now).value}",
                        fields=[FieldError("option_id", "reserved before; quote again")],
                    ) from None
                return existing, False
            except StaleOrder:
                time.sleep(random.uniform(0, 0.01 * 2**attempt))
        if lost:
            raise OutOfStock(lost, "the option's units are no longer available; quote again")
        raise StaleOrder("the reservation could not be saved for concurrent writes; try again")

    def _check_stock(self, res: CheckoutReservation, lost: list[str], *, consistent: bool) -> None:
        """Read the holds' stock (which renews a hot SKU's shard hints: the store spreads the
        units by them); after a lost race, OutOfStock when the units are really gone."""
        snap = self._snapshots.read(
            skus={s for s, _, _ in res.holds},
            location_ids={loc for _, loc, _ in res.holds},
            consistent=consistent,
        )
        if not lost:
            return
        have = {(s.sku, s.location_id): s.available for s in snap.stock}
        gone = sorted({s for s, loc, q in res.holds if have.get((s, loc), 0) < q})
        if gone:
            raise OutOfStock(gone, "the option's units are no longer available; quote again")

    def get(self, channel: str | None, reservation_id: str) -> CheckoutReservation:
        """The reservation; 404 when unknown or another channel's (``channel`` None: staff)."""
        res = self._store.get(reservation_id)
        if res is None or (channel is not None and res.channel != channel):
            raise NotFound(
                f"reservation {reservation_id} not found",
                fields=[FieldError("reservation_id", "unknown")],
            )
        return res

    def extend(self, channel: str, reservation_id: str) -> CheckoutReservation:
        """Keep it the channel's reservation time more from now (once)."""
        res = self.get(channel, reservation_id)
        now = self._clock()
        longer = extended(res, now=now, minutes=self._channel(channel).reservation_minutes)
        try:
            self._store.extend(res, longer, now=now)
        except WriteConflict:
            fresh = self.get(channel, reservation_id)
            extended(fresh, now=self._clock(), minutes=1)  # names why, if it can't be extended
            raise StaleOrder("the reservation changed meanwhile; try again") from None
        return longer

    def release(self, channel: str, reservation_id: str) -> CheckoutReservation:
        """Give the units back. Releasing a released or expired reservation changes nothing."""
        for _ in range(ATTEMPTS):
            res = self.get(channel, reservation_id)
            if res.status in (ReservationStatus.RELEASED, ReservationStatus.EXPIRED):
                return res
            if res.status == ReservationStatus.CONSUMED:
                raise Conflict(
                    f"reservation {reservation_id} became order {res.order_id}",
                    fields=[FieldError("reservation_id", "consumed by an order")],
                )
            try:
                self._store.close(res, ReservationStatus.RELEASED, due_by=None)
            except (WriteConflict, StaleOrder):
                continue
            self._announce(res)
            return replace(res, status=ReservationStatus.RELEASED)
        raise StaleOrder("the reservation could not be released for concurrent writes; try again")

    def sweep(self) -> int:
        """Give back the units of every reservation past its time (the expiry schedule)."""
        now, done = self._clock(), 0
        for reservation_id in self._store.due(now):
            res = self._store.get(reservation_id)
            if res is None or not may_expire(res, now):
                continue
            try:
                self._store.close(res, ReservationStatus.EXPIRED, due_by=now)
            except (WriteConflict, StaleOrder):
                continue  # extended, ordered or released meanwhile; or retried next minute
            self._announce(res)
            done += 1
        return done

    # --- orders --------------------------------------------------------------------------

    def take(self, channel: Channel, reservation_id: str, units: dict[str, int]) -> Takeover:
        """How an order of ``units`` (per SKU) uses the reservation. An expired one is a 409
        ``reservation_expired``, unless the channel re-sources: then its units are taken over
        while the sweeper has not given them back, and sourced anew after."""
        res = self.get(channel.channel, reservation_id)
        now = self._clock()
        option = res.option
        if (
            res.status_at(now) == ReservationStatus.EXPIRED
            and channel.resource_expired_reservations
        ):
            if res.status == ReservationStatus.OPEN:
                return self._takeover(res, before=None)
            kind = {"kind": option["kind"], "pickup_location_id": option.get("pickup_location_id")}
            return Takeover(res, {k: v for k, v in kind.items() if v}, None, (), None)
        check_usable(res, channel=channel.channel, units=units, now=now)
        return self._takeover(res, before=now)

    def lost(self, takeover: Takeover, channel: Channel) -> bool:
        """After a refused order transaction: True to source again (the reservation went and
        the channel re-sources), False when the reservation was not the cause; raises when
        the reservation can no longer be used."""
        if takeover.write() is None:
            return False
        res = self.get(channel.channel, takeover.reservation.reservation_id)
        now = self._clock()
        if res.status == ReservationStatus.OPEN and (
            takeover.before is None or now < res.expires_at
        ):
            return False
        if channel.resource_expired_reservations and res.status != ReservationStatus.CONSUMED:
            return True
        if res.status_at(now) == ReservationStatus.EXPIRED:
            raise ReservationExpired(
                f"reservation {res.reservation_id} expired",
                fields=[FieldError("delivery.reservation_id", "expired; quote and reserve again")],
            )
        raise Conflict(
            f"reservation {res.reservation_id} is {res.status.value}",
            fields=[FieldError("delivery.reservation_id", f"{res.status.value}, no longer open")],
        )

    def _takeover(self, res: CheckoutReservation, *, before: float | None) -> Takeover:
        quote = {"options": [dict(res.option)]}
        return Takeover(res, {"option_id": res.option["option_id"]}, quote, res.holds, before)

    def _announce(self, res: CheckoutReservation) -> None:
        """Freed units may serve waiting backorders (best effort: receipts and counts retry)."""
        for sku, location_id, _ in res.holds:
            try:
                self._events.stock_arrived(sku, location_id)
            except Exception:
                logger.exception("stock_arrived not announced", sku=sku, location_id=location_id)

    def _held(self, res: CheckoutReservation) -> None:
        """Held units are no longer available: the availability feed hears it."""
        try:
            self._events.stock_changed(sorted({sku for sku, _, _ in res.holds}))
        except Exception:
            logger.exception("stock_changed not announced", reservation=res.reservation_id)

    def _channel(self, name: str) -> Channel:
        channel = self._network.channel(name)
        if channel is None:
            raise InvalidInput(
                f"channel {name} is not configured",
                fields=[FieldError("channel", "unknown; PUT /channels/{channel} first")],
            )
        return channel


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
