"""Local improvement of a split: move lines, or single units, between the open locations."""

from __future__ import annotations

from datetime import date

from chalicelib.domain.sourcing_context import Context, Site


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
        parts: list[tuple[Site, dict[str, int]]],
        deadline: date,
        *,
        pairs: bool = False,
    ):
        self.ctx, self.deadline, self.pairs = ctx, deadline, pairs
        self.penalty = ctx.request.rules.split_penalty
        self.sites = [site for site, _ in parts]
        self.lines = [dict(lines) for _, lines in parts]
        w = ctx.weights
        self.weight = [sum(w[k] * q for k, q in lines.items()) for lines in self.lines]
        self.unit = [
            sum(site.unit_cost[k] * q for k, q in lines.items())
            for site, lines in zip(self.sites, self.lines, strict=True)
        ]
        self.units = [sum(lines.values()) for lines in self.lines]
        # per site: weight -> fixed cost, shared by every rebalancing of the request
        self.fixed: list[dict[int, float]] = [
            ctx.memo.setdefault(("fixed", id(site), deadline), {}) for site in self.sites
        ]
        self.cost = [
            self.part_cost(i, self.weight[i], self.unit[i], self.units[i])
            for i in range(len(parts))
        ]

    def part_cost(self, i: int, weight: int, unit: int, units: int) -> float:
        """Cost of site ``i`` sending ``units`` units, with the split penalty of its parcels."""
        if units == 0:
            return 0.0
        fixed = self.fixed[i].get(weight)
        if fixed is None:
            best = self.sites[i].best_route(weight, self.deadline)
            handling = self.sites[i].location.handling_cost_per_order
            fixed = float("inf") if best is None else handling + best[2] + self.penalty * best[1]
            self.fixed[i][weight] = fixed
        return fixed + unit

    def try_move(self, a: int, b: int, moves: tuple[tuple[str, int], ...]) -> bool:
        """Move every (sku, qty) of ``moves`` from site ``a`` to site ``b`` if that saves."""
        if len(moves) == 1:
            return self.try_one(a, b, *moves[0])
        site_a, site_b = self.sites[a], self.sites[b]
        lines_a, lines_b = self.lines[a], self.lines[b]
        dw = du_a = du_b = dn = 0
        for sku, qty in moves:
            if site_b.avail.get(sku, 0) < lines_b.get(sku, 0) + qty or lines_a.get(sku, 0) < qty:
                return False
            dw += self.ctx.weights[sku] * qty
            du_a += site_a.unit_cost[sku] * qty
            du_b += site_b.unit_cost[sku] * qty
            dn += qty
        return self._apply(a, b, moves, dw, du_a, du_b, dn)

    def try_one(self, a: int, b: int, sku: str, qty: int) -> bool:
        """``try_move`` of a single (sku, qty): the hot path, without the loop."""
        site_b = self.sites[b]
        if site_b.avail.get(sku, 0) < self.lines[b].get(sku, 0) + qty:
            return False
        if self.lines[a].get(sku, 0) < qty:
            return False
        du_a = self.sites[a].unit_cost[sku] * qty
        dw = self.ctx.weights[sku] * qty
        return self._apply(a, b, ((sku, qty),), dw, du_a, site_b.unit_cost[sku] * qty, qty)

    def _apply(
        self,
        a: int,
        b: int,
        moves: tuple[tuple[str, int], ...],
        dw: int,
        du_a: int,
        du_b: int,
        dn: int,
    ) -> bool:
        """Make the move if the two sites' costs after it are lower than before."""
        weight, unit, units = self.weight, self.unit, self.units
        cost_a = self.part_cost(a, weight[a] - dw, unit[a] - du_a, units[a] - dn)
        cost_b = self.part_cost(b, weight[b] + dw, unit[b] + du_b, units[b] + dn)
        if cost_a + cost_b >= self.cost[a] + self.cost[b]:
            return False
        weight[a], unit[a], units[a] = weight[a] - dw, unit[a] - du_a, units[a] - dn
        weight[b], unit[b], units[b] = weight[b] + dw, unit[b] + du_b, units[b] + dn
        self.cost[a], self.cost[b] = cost_a, cost_b
        lines_a, lines_b = self.lines[a], self.lines[b]
        for sku, qty in moves:
            left = lines_a[sku] - qty
            if left:
                lines_a[sku] = left
            else:
                del lines_a[sku]
            lines_b[sku] = lines_b.get(sku, 0) + qty
        return True

    def _single_moves(self, a: int) -> list[tuple[tuple[str, int], ...]]:
        return [((sku, qty),) for sku, have in self.lines[a].items() for qty in {1, have}]

    def _pair_moves(self, a: int) -> list[tuple[tuple[str, int], ...]]:
        """Two lines (or units) together: one alone may not cross a weight-band boundary."""
        singles = [move[0] for move in self._single_moves(a)]
        return [
            (first, second)
            for i, first in enumerate(singles)
            for second in singles[i + 1 :]
            if first[0] != second[0]
        ]

    def _sweep(self, pairs: bool) -> bool:
        """Every move from every site, each to the first other site where it saves."""
        n, moved = len(self.sites), False
        for a in range(n):
            others = [b for b in range(n) if b != a]
            if pairs:
                for moves in self._pair_moves(a):
                    moved = any(self.try_move(a, b, moves) for b in others) or moved
                continue
            for sku, have in list(self.lines[a].items()):
                for qty in {1, have}:
                    for b in others:
                        if self.try_one(a, b, sku, qty):
                            moved = True
                            break
        return moved

    def run(self) -> list[tuple[Site, dict[str, int]]]:
        """Single moves until none saves, then pairs of moves, then singles again, bounded."""
        for _ in range(3 * len(self.ctx.need)):
            if not self._sweep(pairs=False) and not (self.pairs and self._sweep(pairs=True)):
                break
        return list(zip(self.sites, self.lines, strict=True))
