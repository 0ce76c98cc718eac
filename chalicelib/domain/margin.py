"""Margin: revenue - cost of goods - cost to serve, in minor units of the order's currency.

- **revenue**: the units sent at their order price plus what the customer pays for delivery;
- **cost of goods**: the units at their product's ``cost_prices[currency]``; unknown (None) as
  soon as one SKU has no cost price in that currency, and then so is the margin (never 0);
- **cost to serve**: what the retailer pays out (``CostBreakdown.cost_to_serve``: shipping and
  handling; the rule terms steer sourcing but are not paid).

``min_margin`` (per currency, per order) and ``min_margin_pct`` (of revenue) are the rules'
floors; ``counters`` is what an order adds to the daily aggregates for ``report``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from chalicelib.domain.network import Product
from chalicelib.domain.rules import SourcingRules

Counters = Mapping[str, int]


@dataclass(frozen=True, slots=True)
class Margin:
    revenue: int
    cost_of_goods: int | None
    cost_to_serve: int

    @property
    def margin(self) -> int | None:
        if self.cost_of_goods is None:
            return None
        return self.revenue - self.cost_of_goods - self.cost_to_serve

    @property
    def pct(self) -> float | None:
        """The margin as a percentage of revenue (None when unknown or without revenue)."""
        margin = self.margin
        if margin is None or not self.revenue:
            return None
        return round(100 * margin / self.revenue, 2)

    def as_dict(self) -> dict[str, Any]:
        return {
            "revenue": self.revenue,
            "cost_of_goods": self.cost_of_goods,
            "cost_to_serve": self.cost_to_serve,
            "margin": self.margin,
            "margin_pct": self.pct,
        }


def cost_of_goods(
    lines: Mapping[str, int], products: Mapping[str, Product], currency: str
) -> int | None:
    """What the units cost the retailer; None if a SKU has no cost price in ``currency``."""
    total = 0
    for sku, quantity in lines.items():
        product = products.get(sku)
        unit = product.cost_prices.get(currency) if product else None
        if unit is None:
            return None
        total += unit * quantity
    return total


def margin_of(
    lines: Mapping[str, int],
    unit_prices: Mapping[str, int],
    products: Mapping[str, Product],
    currency: str,
    *,
    delivery_price: int,
    cost_to_serve: int,
) -> Margin:
    """The margin of sending ``lines`` at ``unit_prices`` (per SKU)."""
    goods = sum(unit_prices.get(sku, 0) * quantity for sku, quantity in lines.items())
    return Margin(
        revenue=goods + delivery_price,
        cost_of_goods=cost_of_goods(lines, products, currency),
        cost_to_serve=cost_to_serve,
    )


def floor_for(rules: SourcingRules, currency: str, revenue: int) -> int | None:
    """The lowest acceptable margin of an order with ``revenue`` (None: no floor): the higher
    of ``min_margin[currency]`` and ``min_margin_pct`` of revenue (rounded up)."""
    floors = []
    if currency in rules.min_margin:
        floors.append(rules.min_margin[currency])
    if rules.min_margin_pct > 0:
        floors.append(-int(-rules.min_margin_pct * revenue // 100))
    return max(floors) if floors else None


def meets(rules: SourcingRules, currency: str, margin: Margin) -> bool | None:
    """Whether ``margin`` meets the rules' floor; None when there is no floor or it is unknown."""
    floor = floor_for(rules, currency, margin.revenue)
    if floor is None or margin.margin is None:
        return None
    return margin.margin >= floor


# --- aggregates and the report ---------------------------------------------------------------


def counters(delivery: Mapping[str, Any]) -> dict[str, int]:
    """What an order's ``delivery["margin"]`` (the chosen plan's, at capture) adds to the daily
    aggregates: an order with an unknown cost of goods counts in ``margin_unknown_orders``."""
    margin = delivery.get("margin")
    if not isinstance(margin, Mapping):
        return {}
    if margin.get("margin") is None:
        return {"margin_unknown_orders": 1}
    return {
        "margin_orders": 1,
        "margin_revenue": int(margin["revenue"]),
        "margin_cogs": int(margin["cost_of_goods"]),
        "margin_cts": int(margin["cost_to_serve"]),
        "margin": int(margin["margin"]),
    }


COLUMNS = (
    "orders",
    "unknown_orders",
    "revenue",
    "cost_of_goods",
    "cost_to_serve",
    "margin",
    "margin_pct",
    "margin_per_order",
)


def _row(c: Counters) -> dict[str, Any]:
    orders, margin, revenue = (
        c.get("margin_orders", 0),
        c.get("margin", 0),
        c.get("margin_revenue", 0),
    )
    return {
        "orders": orders,
        "unknown_orders": c.get("margin_unknown_orders", 0),
        "revenue": revenue,
        "cost_of_goods": c.get("margin_cogs", 0),
        "cost_to_serve": c.get("margin_cts", 0),
        "margin": margin,
        "margin_pct": round(100 * margin / revenue, 2) if revenue else None,
        "margin_per_order": (2 * margin + orders) // (2 * orders) if orders else None,
    }


def report(
    series: Mapping[tuple[str, str], Mapping[str, Counters]], days: Sequence[str]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(rows, totals): one row per day, channel and currency of the orders whose margin is
    known (the unknown ones are counted apart), and totals per currency."""
    rows: list[dict[str, Any]] = []
    by_currency: dict[str, dict[str, int]] = {}
    for channel, currency in sorted(series):
        per_day = series[(channel, currency)]
        for day in days:
            c = per_day.get(day, {})
            into = by_currency.setdefault(currency, {})
            for name, value in c.items():
                into[name] = into.get(name, 0) + value
            rows.append({"date": day, "channel": channel, "currency": currency, **_row(c)})
    totals = [{"currency": cur, **_row(c)} for cur, c in sorted(by_currency.items())]
    return rows, totals
