"""Local improvement of a split: move lines, or single units, between the open locations.

A split is a list of per-site vectors of units, indexed like ``Context.skus`` (see
``context``), so costing a move is integer arithmetic on lists.
"""

from __future__ import annotations

from datetime import date
from operator import mul

from chalicelib.domain.sourcing.context import Context, Site

Move = tuple[int, int]  # (SKU index, units)


class Rebalancer:
    """Moves a line, or one unit of it, between open sites while that saves money.

    The allocation by unit cost ignores parcel prices: heavy units may push a parcel into a
    dearer weight band (or add a parcel) that a neighbouring site's parcel would have absorbed.
    Per-site weight, unit cost and units are kept incrementally; the fixed cost of a site
    (handling per order, parcel prices, split penalty) is memoised by weight per request.
    """

    def __init__(
        self,
        ctx: Context,
        sites: list[Site],
        lines: list[list[int]],
        deadline: date,
        *,
        pairs: bool = False,
    ):
        self.ctx, self.deadline, self.pairs = ctx, deadline, pairs
        self.penalty = ctx.request.rules.split_penalty
        self.sites, self.lines = sites, [list(row) for row in lines]
        w = self.w = ctx.weight_v
        self.stock = [site.stock_v for site in sites]
        self.unit_v = [site.unit_v for site in sites]
        self.weight = [sum(map(mul, w, row)) for row in self.lines]
        self.unit = [sum(map(mul, u, row)) for u, row in zip(self.unit_v, self.lines, strict=True)]
        self.units = [sum(row) for row in self.lines]
        self.handling = [site.location.handling_cost_per_order for site in sites]
        # per site: weight -> parcel prices and their split penalty, shared by every
        # rebalancing of the request and by the sites with the same routes
        self.fixed: list[dict[int, float]] = [
            ctx.memo.setdefault(("fixed", id(site.memo), deadline), {}) for site in sites
        ]
        self.cost = [
            self.part_cost(i, self.weight[i], self.unit[i], self.units[i])
            for i in range(len(sites))
        ]

    def part_cost(self, i: int, weight: int, unit: int, units: int) -> float:
        """Cost of site ``i`` sending ``units`` units, with the split penalty of its parcels."""
        if units == 0:
            return 0.0
        fixed = self.fixed[i].get(weight)
        return (self._fixed(i, weight) if fixed is None else fixed) + self.handling[i] + unit

    def _fixed(self, i: int, weight: int) -> float:
        """Parcel prices and their split penalty of site ``i`` sending ``weight`` (memoised)."""
        best = self.sites[i].best_route(weight, self.deadline)
        fixed = float("inf") if best is None else best[2] + self.penalty * best[1]
        self.fixed[i][weight] = fixed
        return fixed

    def _saves(self, a: int, b: int, dw: int, du_a: int, du_b: int, dn: int) -> bool:
        """Record the new totals of ``a`` and ``b`` if their costs after the move are lower."""
        weight, unit, units = self.weight, self.unit, self.units
        cost_a = self.part_cost(a, weight[a] - dw, unit[a] - du_a, units[a] - dn)
        cost_b = self.part_cost(b, weight[b] + dw, unit[b] + du_b, units[b] + dn)
        if cost_a + cost_b >= self.cost[a] + self.cost[b]:
            return False
        weight[a], unit[a], units[a] = weight[a] - dw, unit[a] - du_a, units[a] - dn
        weight[b], unit[b], units[b] = weight[b] + dw, unit[b] + du_b, units[b] + dn
        self.cost[a], self.cost[b] = cost_a, cost_b
        return True

    def _single_moves(self, a: int) -> list[Move]:
        """Each line of ``a``: one unit of it, and all of it."""
        moves: list[Move] = []
        for j, have in enumerate(self.lines[a]):
            if have:
                moves.append((j, 1))
                if have > 1:
                    moves.append((j, have))
        return moves

    def _pair_moves(self, a: int) -> list[tuple[Move, Move]]:
        """Two lines (or units) together: one alone may not cross a weight-band boundary."""
        singles = self._single_moves(a)
        return [
            (first, second)
            for i, first in enumerate(singles)
            for second in singles[i + 1 :]
            if first[0] != second[0]
        ]

    def _sweep_pairs(self) -> bool:
        """Every pair of moves from every site, each to the first other site where it saves."""
        n, moved = len(self.sites), False
        lines, stock, unit_v, w = self.lines, self.stock, self.unit_v, self.w
        for a in range(n):
            row_a, unit_a = lines[a], unit_v[a]
            for (j, p), (k, q) in self._pair_moves(a):
                if row_a[j] < p or row_a[k] < q:
                    continue
                dw = w[j] * p + w[k] * q
                du_a = unit_a[j] * p + unit_a[k] * q
                for b in range(n):
                    row_b, stock_b = lines[b], stock[b]
                    if b == a or stock_b[j] < row_b[j] + p or stock_b[k] < row_b[k] + q:
                        continue
                    du_b = unit_v[b][j] * p + unit_v[b][k] * q
                    if self._saves(a, b, dw, du_a, du_b, p + q):
                        row_a[j], row_a[k] = row_a[j] - p, row_a[k] - q
                        row_b[j], row_b[k] = row_b[j] + p, row_b[k] + q
                        moved = True
                        break
        return moved

    def _sweep(self) -> bool:
        """From every site, the single move that saves most (to any other site), if any.

        Best rather than first improvement: the first saving move can block a better one (a
        light line moved where a heavier one would have dropped a weight band). The hot path of
        sourcing: ``try_move`` and ``part_cost`` inlined on local lists.
        """
        n, moved = len(self.sites), False
        lines, stock, unit_v, w, fixed = self.lines, self.stock, self.unit_v, self.w, self.fixed
        weight, unit, units, cost = self.weight, self.unit, self.units, self.cost
        handling = self.handling
        for a in range(n):
            row_a, unit_a = lines[a], unit_v[a]
            best: tuple[float, int, int, int, float, float] | None = None
            for j, qty in self._single_moves(a):
                dw, du_a = w[j] * qty, unit_a[j] * qty
                if units[a] == qty:
                    cost_a = 0.0
                else:
                    f = fixed[a].get(weight[a] - dw)
                    if f is None:
                        f = self._fixed(a, weight[a] - dw)
                    cost_a = f + handling[a] + unit[a] - du_a
                for b in range(n):
                    if b == a or stock[b][j] < lines[b][j] + qty:
                        continue
                    f = fixed[b].get(weight[b] + dw)
                    if f is None:
                        f = self._fixed(b, weight[b] + dw)
                    cost_b = f + handling[b] + unit[b] + unit_v[b][j] * qty
                    saving = cost[a] + cost[b] - cost_a - cost_b
                    if saving > 0 and (best is None or saving > best[0]):
                        best = (saving, j, qty, b, cost_a, cost_b)
            if best is None:
                continue
            _, j, qty, b, cost_a, cost_b = best
            dw, du_a, du_b = w[j] * qty, unit_a[j] * qty, unit_v[b][j] * qty
            weight[a], unit[a], units[a] = weight[a] - dw, unit[a] - du_a, units[a] - qty
            weight[b], unit[b], units[b] = weight[b] + dw, unit[b] + du_b, units[b] + qty
            cost[a], cost[b] = cost_a, cost_b
            row_a[j] -= qty
            lines[b][j] += qty
            moved = True
        return moved

    def run(self) -> list[list[int]]:
        """Single moves until none saves, then pairs of moves, then singles again, bounded."""
        for _ in range(3 * len(self.ctx.need)):
            if not self._sweep() and not (self.pairs and self._sweep_pairs()):
                break
        return self.lines
