"""What one order contributes to the report aggregates, as a pure function of its state.

``metrics(order)`` gives counters (integers) that depend only on the order as stored: placed
units and revenue, units shipped and cancelled, whether it arrived on time, the funnel stages
it reached, its short picks per location, its returns. The order keeps what it has already
added (``Order.aggregated``); every save adds ``delta(metrics(order), order.aggregated)`` in
the same transaction and stores the new figures with the order. So the aggregates always equal
the sum of ``metrics`` over the stored orders, whatever the order of events, and a duplicate
or a retried save adds nothing: the difference is zero, or the versioned write fails.

Every counter of an order is attributed to the day the order was placed (a cohort): "the fill
rate of last week" is the share of units ordered last week that have shipped. Counters named
``open_*`` are gauges (open backorders, not per day).

Keyed counters are ``<name>@<key>``: ``alloc@<location>``, ``short@<location>``,
``shipped@<location>``, ``sku_shipped@<sku>``, ``returned@<sku>``, ``reason@<reason>``,
``open_backorder@<sku>``. The ``margin*`` counters are ``domain.margin.counters``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chalicelib.domain.margin import counters as margin_counters
from chalicelib.domain.order.model import (
    DeliveryMode,
    Order,
    OrderShipment,
    OrderStatus,
    ShipmentStatus,
)

GAUGE_PREFIX = "open_"
KEY_SEP = "@"
UNSPECIFIED = "unspecified"

# The furthest step an order's shipments reached, from its history (append-only: monotone).
FUNNEL = ("released", "picked", "shipped", "delivered")
_RANK = {
    "released": 1,
    "picked": 2,
    "shipped": 3,
    "ready_for_pickup": 3,
    "delivered": 4,
    "collected": 4,
}
# The event that keeps a shipment's promise: delivered, or ready at the pick-up store.
_KEEPS_PROMISE = {
    DeliveryMode.SHIP: ("delivered",),
    DeliveryMode.PICKUP: ("ready_for_pickup", "collected"),
}
_FULFILLED = (OrderStatus.DELIVERED, OrderStatus.READY_FOR_PICKUP)


def keyed(name: str, key: str) -> str:
    return f"{name}{KEY_SEP}{key}"


def metrics(order: Order) -> dict[str, int]:
    """The order's counters now (zeros left out)."""
    out: dict[str, int] = {"orders": 1, "units": order.units}
    out["goods"] = sum(line.quantity * line.unit_price for line in order.lines)
    out["delivery_fees"] = int(order.delivery.get("price") or 0)
    _add_cost(out, order.delivery)
    out.update(margin_counters(order.delivery))
    _add_shipments(out, order)
    _add_fulfilment(out, order)
    _add_returns(out, order.returns)
    if order.status == OrderStatus.CANCELLED:
        out["cancelled_orders"] = 1
    out["units_cancelled"] = sum(order.cancelled.values())
    waiting = {sku: q for sku, q in order.backorders.items() if q > 0}
    if waiting:
        out["open_backorder_orders"] = 1
        out["open_backorder_units"] = sum(waiting.values())
        for sku, quantity in waiting.items():
            out[keyed("open_backorder", sku)] = quantity
    return {k: v for k, v in out.items() if v}


def delta(now: Mapping[str, int], before: Mapping[str, int]) -> dict[str, int]:
    """What to add to the aggregates to go from ``before`` to ``now`` (non-zero only)."""
    keys = set(now) | set(before)
    change = {k: now.get(k, 0) - before.get(k, 0) for k in keys}
    return {k: v for k, v in sorted(change.items()) if v}


def split_gauges(counters: Mapping[str, int]) -> tuple[dict[str, int], dict[str, int]]:
    """``(daily counters, gauges)``."""
    daily = {k: v for k, v in counters.items() if not k.startswith(GAUGE_PREFIX)}
    gauges = {k: v for k, v in counters.items() if k.startswith(GAUGE_PREFIX)}
    return daily, gauges


def _add_cost(out: dict[str, int], delivery: Mapping[str, Any]) -> None:
    cost = delivery.get("cost")
    if not isinstance(cost, Mapping):
        return
    chosen = int(cost.get("total", 0))
    out["costed_orders"] = 1
    out["cost"] = chosen
    out["cost_shipping"] = int(cost.get("shipping", 0))
    out["cost_handling"] = int(cost.get("handling", 0))
    nearest = delivery.get("nearest_cost")
    if isinstance(nearest, int):
        out["baseline_orders"] = 1
        out["baseline_cost"] = nearest
        out["baseline_chosen_cost"] = chosen


def _add_shipments(out: dict[str, int], order: Order) -> None:
    shipments = order.shipments
    out["shipments"] = len(shipments)
    out["split_orders"] = int(len(shipments) > 1)
    # The plan's parcels at capture (heavy shipments travel as several), plus one per
    # shipment added later (re-sourced short picks, backorders served).
    later = sum(1 for s in shipments if s.resourced_from) + sum(
        1 for h in order.history if h.event == "backorder_allocated"
    )
    out["parcels"] = int(order.delivery.get("parcels") or len(shipments) - later) + later
    shorts = _short_units(order)
    for shipment in shipments:
        units = sum(shipment.lines.values())
        loc = shipment.location_id
        short = shorts.get(shipment.shipment_id, 0)
        out[keyed("alloc", loc)] = out.get(keyed("alloc", loc), 0) + units + short
        if short:
            out[keyed("short", loc)] = out.get(keyed("short", loc), 0) + short
        if shipment.left_location:
            out["units_shipped"] = out.get("units_shipped", 0) + units
            out[keyed("shipped", loc)] = out.get(keyed("shipped", loc), 0) + units
            for sku, quantity in shipment.lines.items():
                name = keyed("sku_shipped", sku)
                out[name] = out.get(name, 0) + quantity


def _short_units(order: Order) -> dict[str, int]:
    """Units short-picked per shipment id, from the history."""
    out: dict[str, int] = {}
    for entry in order.history:
        if entry.event == "short_pick" and entry.shipment_id:
            missing = int(entry.detail.get("missing_quantity", 0))
            out[entry.shipment_id] = out.get(entry.shipment_id, 0) + missing
    return out


def _add_fulfilment(out: dict[str, int], order: Order) -> None:
    reached = max((_RANK.get(h.event, 0) for h in order.history), default=0)
    for rank, stage in enumerate(FUNNEL, start=1):
        if reached >= rank:
            out[f"funnel_{stage}"] = 1
    if order.status not in _FULFILLED:
        return
    out["fulfilled_orders"] = 1
    fulfilled_at = fulfilment_time(order)
    promise = promised_date(order)
    if fulfilled_at and promise and fulfilled_at[:10] <= promise:
        out["on_time_orders"] = 1


def promised_date(order: Order) -> str | None:
    """The date promised to the customer at capture (else the latest shipment promise)."""
    promise = order.delivery.get("promised_date")
    if promise:
        return str(promise)
    return max((s.promised_date for s in order.shipments), default=None)


def fulfilment_time(order: Order) -> str | None:
    """When the last live shipment first kept its promise (delivered, or ready for pick-up)."""
    times = []
    for shipment in _live(order.shipments):
        events = _KEEPS_PROMISE[shipment.mode]
        first = min(
            (
                h.at
                for h in order.history
                if h.shipment_id == shipment.shipment_id and h.event in events
            ),
            default=None,
        )
        if first is None:
            return None
        times.append(first)
    return max(times, default=None)


def _live(shipments: list[OrderShipment]) -> list[OrderShipment]:
    return [s for s in shipments if s.status != ShipmentStatus.CANCELLED and s.lines]


def _add_returns(out: dict[str, int], returns: Mapping[str, Mapping[str, Any]]) -> None:
    for summary in returns.values():
        out["rmas"] = out.get("rmas", 0) + 1
        reasons = summary.get("reasons") or {}
        for sku, quantity in (summary.get("lines") or {}).items():
            q = int(quantity)
            out["returned_units"] = out.get("returned_units", 0) + q
            out[keyed("returned", sku)] = out.get(keyed("returned", sku), 0) + q
            reason = keyed("reason", str(reasons.get(sku) or UNSPECIFIED))
            out[reason] = out.get(reason, 0) + q
        received = sum(int(q) for q in (summary.get("received") or {}).values())
        if received:
            out["returns_received_units"] = out.get("returns_received_units", 0) + received
