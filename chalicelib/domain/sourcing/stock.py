"""What the network has of a request's cart: the need, stale feeds, the sellable units per
location and SKU (before store protection), and the locations the request excludes."""

from __future__ import annotations

from chalicelib.domain.freshness import Freshness, freshness
from chalicelib.domain.sourcing.model import SourcingRequest


def merged_need(request: SourcingRequest) -> dict[str, int]:
    need: dict[str, int] = {}
    for line in request.lines:
        if line.quantity > 0:
            need[line.sku] = need.get(line.sku, 0) + line.quantity
    return need


def stale_feeds(request: SourcingRequest) -> dict[str, Freshness]:
    """The locations whose stock feed is stale at ``request.now`` (``domain.freshness``)."""
    found: dict[str, Freshness] = {}
    for loc in request.locations:
        if loc.feed_interval_minutes:
            fresh = freshness(
                loc.feed_interval_minutes, loc.feed_stale_limit_minutes, loc.feed_at, request.now
            )
            if fresh.stale:
                found[loc.location_id] = fresh
    return found


def stock_by_location(
    request: SourcingRequest,
    need: dict[str, int],
    stale: dict[str, Freshness] | None = None,
) -> dict[str, dict[str, int]]:
    """Sellable units per location per needed SKU, > 0 only (a stale feed discounted); a
    location with none is absent."""
    stock: dict[str, dict[str, int]] = {}
    if stale:
        return _discounted(request, need, stale)
    for level in request.stock:  # every row of every request: kept tight
        sku = level.sku
        if sku not in need:
            continue
        units = level.on_hand - level.reserved - level.safety_stock  # ``available``, inlined
        if units <= 0:
            continue
        at = stock.get(level.location_id)
        if at is None:
            stock[level.location_id] = {sku: units}
        else:
            at[sku] = at.get(sku, 0) + units
    return stock


def _discounted(
    request: SourcingRequest, need: dict[str, int], stale: dict[str, Freshness]
) -> dict[str, dict[str, int]]:
    """``stock_by_location`` with the stale feeds' units discounted."""
    stock: dict[str, dict[str, int]] = {}
    for level in request.stock:
        sku = level.sku
        if sku not in need:
            continue
        lid, available = level.location_id, level.available
        units = stale[lid].sellable(available) if lid in stale else available
        if units <= 0:
            continue
        at = stock.get(lid)
        if at is None:
            stock[lid] = {sku: units}
        else:
            at[sku] = at.get(sku, 0) + units
    return stock


def excluded_ids(request: SourcingRequest) -> frozenset[str]:
    return request.rules.excluded_for(request.channel) | request.excluded_location_ids
