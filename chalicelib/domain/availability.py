"""What a channel can sell now, per SKU, and when a change of it is worth a push.

The number comes from sourcing itself: ``build_context`` (the function capture runs) prepares
the channel's sites for a one-unit cart of every asked SKU to the channel's representative
address, so the usable units per location are capture's own: store protection, safety stock
(``available`` already excludes it), stale-feed discounts, the channel's and the rules'
excluded locations, capability and lane checks. What one order can take is then capped by the
parcel limit: the ``max_parcels`` largest parcels the sites can fill (weight bands included).
A product before its ``release_date`` has none (its shelf stock waits for its preorders, as in
capture); a channel that backorders is promised its release day.

Pushes are coalesced per (channel, SKU): only a change of *band* (``out_of_stock`` / ``low`` /
``in_stock``, the low threshold is the channel's ``availability_low_units``) is announced, at
most once per ``COALESCE_SECONDS``; a change inside the window is deferred to its end.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from chalicelib.domain.channel import BackorderPolicy, Channel
from chalicelib.domain.freshness import of_location
from chalicelib.domain.network import (
    Address,
    Capability,
    CarrierService,
    CartLine,
    Location,
    Product,
    StockLevel,
)
from chalicelib.domain.rules import SourcingRules

COALESCE_SECONDS = 30
RESEND_AFTER = 10  # seconds: a claimed push not confirmed by then failed (pushes take ms)
MAX_SKUS = 100
CHANGE_RETENTION_DAYS = 7  # how far back ``changed_since`` may reach (the change log's TTL)


class Band(StrEnum):
    """The levels a channel cares about; a push is sent only when the band changes."""

    OUT = "out_of_stock"  # nothing orderable
    LOW = "low"  # 1 .. the channel's ``availability_low_units``
    IN = "in_stock"  # more than that


def band_of(available: int, low_units: int) -> Band:
    if available <= 0:
        return Band.OUT
    return Band.LOW if available <= low_units else Band.IN


@dataclass(frozen=True, slots=True)
class SkuAvailability:
    sku: str
    available: int  # what one order through the channel can take now
    band: Band
    on_locations: int  # usable units summed over the channel's locations (before the cap)
    promise_date: date | None  # earliest delivery of one unit to the representative address
    promise_location_id: str | None  # the location that promise ships from
    backorderable: bool  # the channel accepts orders beyond ``available``


def destination(channel: Channel, country: str | None = None) -> Address:
    """The channel's representative address: ``country`` (one it sells to) or the first of
    its countries, with no postal code (no remote-area surcharge days)."""
    return Address(country=country or sorted(channel.countries)[0], postal_code="")


def candidate_locations(
    channel: Channel, rules: SourcingRules, locations: Iterable[Location], now: datetime
) -> list[Location]:
    """The locations worth reading stock from for ``channel`` (never more than sourcing would
    consider): not excluded, able to ship, with a feed that is not skipped. Sourcing still
    decides on what is read; this only keeps the read small."""
    excluded = rules.excluded_for(channel.channel) | channel.excluded_locations
    return [
        loc
        for loc in locations
        if loc.location_id not in excluded
        and Capability.SHIP in loc.capabilities
        and not of_location(loc, now).skipped
    ]


def availability(
    channel: Channel,
    *,
    skus: Sequence[str],
    stock: Sequence[StockLevel],
    locations: Sequence[Location],
    carrier_services: Sequence[CarrierService],
    products: Mapping[str, Product],
    rules: SourcingRules,
    now: datetime,
    country: str | None = None,
    currency: str | None = None,
) -> dict[str, SkuAvailability]:
    """Per SKU of ``skus``: what ``channel`` can sell now (see the module docstring)."""
    from chalicelib.domain.sourcing import SourcingRequest
    from chalicelib.domain.sourcing.context import build_context

    # an unreleased product's shelf stock waits for its preorders: capture sells none of it
    unreleased = {
        sku: p.release_date
        for sku, p in products.items()
        if p.release_date is not None and p.release_date > now.date()
    }
    if unreleased:
        stock = [level for level in stock if level.sku not in unreleased]
    request = SourcingRequest(
        lines=[CartLine(sku, 1) for sku in skus],
        ship_to=destination(channel, country),
        stock=stock,
        locations=locations,
        carrier_services=carrier_services,
        products=products,
        now=now,
        rules=rules,
        channel=channel.channel,
        currency=currency or sorted(channel.currencies)[0],
        excluded_location_ids=channel.excluded_locations,
    )
    ctx = build_context(request)
    backorderable = channel.backorder_policy == BackorderPolicy.BACKORDER
    found: dict[str, SkuAvailability] = {}
    for sku in dict.fromkeys(skus):
        weight = ctx.weights.get(sku, 0)
        parcels: list[int] = []
        total, best = 0, None
        for site in ctx.sites:
            have = site.avail.get(sku, 0)
            if have <= 0:
                continue
            total += have
            top = max(route.bands[-1][0] for route in site.routes)
            parcels += parcel_fills(have, per_parcel(top, weight), rules.max_parcels)
            if best is None or site.earliest < best.earliest:
                best = site
        units = sum(sorted(parcels, reverse=True)[: rules.max_parcels])
        found[sku] = SkuAvailability(
            sku=sku,
            available=units,
            band=band_of(units, channel.availability_low_units),
            on_locations=total,
            promise_date=best.earliest if best else unreleased.get(sku) if backorderable else None,
            promise_location_id=best.location_id if best else None,
            backorderable=backorderable,
        )
    return found


def per_parcel(top_weight_g: int, unit_weight_g: int) -> int | None:
    """Units of one SKU a parcel of the heaviest band takes (None: weightless, no limit)."""
    if unit_weight_g <= 0:
        return None
    return max(1, top_weight_g // unit_weight_g)


def parcel_fills(units: int, per: int | None, limit: int) -> list[int]:
    """The units of the (at most ``limit``) fullest parcels ``units`` at one location fill."""
    if per is None or units <= per:
        return [units]
    full = min(units // per, limit)
    rest = units - full * per
    return [per] * full + ([rest] if rest and full < limit else [])


# --- pushes ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PushState:
    """What was last announced for one (channel, SKU); ``version`` counts the announcements."""

    band: Band
    sent_at: float  # epoch seconds
    version: int
    pending_until: float | None = None  # a deferred re-check is due then
    unsent: bool = False  # claimed at ``sent_at`` but its delivery not confirmed yet


class Action(StrEnum):
    NONE = "none"  # the band the channel knows still holds (or a re-check is already due)
    SEND = "send"  # announce now
    DEFER = "defer"  # differs, but inside the window: re-check at ``Decision.at``


@dataclass(frozen=True, slots=True)
class Decision:
    action: Action
    at: float = 0.0  # for DEFER: when the window ends


def decide(
    state: PushState | None,
    band: Band,
    now: float,
    window: float = COALESCE_SECONDS,
    *,
    recheck: bool = False,
) -> Decision:
    """Whether a (channel, SKU) now at ``band`` is announced. The first band ever seen is;
    later only a different band, at most once per ``window``; a change inside the window is
    deferred once to its end. A pending re-check is not repeated while it may still come (up
    to a window after its time: later, its message was lost); the re-check itself (``recheck``)
    defers again if it came early. A claim whose push was not confirmed ``RESEND_AFTER`` seconds
    later is sent again (whatever the band: the channel may never have heard it)."""
    if state is None:
        return Decision(Action.SEND)
    if state.unsent and now >= state.sent_at + RESEND_AFTER:
        return Decision(Action.SEND)  # its push failed after the claim: announce again
    if band == state.band:
        return Decision(Action.NONE)
    due = state.sent_at + window
    if now >= due:
        return Decision(Action.SEND)
    pending = state.pending_until
    if not recheck and pending is not None and now < pending + window:
        return Decision(Action.NONE)
    return Decision(Action.DEFER, at=due)
