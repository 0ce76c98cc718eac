"""Hot SKUs: a product's stock at a location split over shard items (pure arithmetic).

A hot product (``hot_shards`` N, 2..16) keeps its stock at each location in N items, shard 0
being the ordinary item: reservations write one shard each, so one SKU is no longer capped by a
single DynamoDB partition. Safety stock and the reorder point stay on shard 0. An order
remembers the shards its units were reserved on (``Order.stock_shards``): what it releases or
ships goes back to them.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence

MIN_SHARDS, MAX_SHARDS = 2, 16
Take = list[tuple[int, int]]  # (shard, units), every units > 0


def start_shard(seed: str, shards: int) -> int:
    """The shard a reservation tries first: spread by a stable hash of ``seed``."""
    return zlib.crc32(seed.encode()) % shards if shards > 1 else 0


def split(quantity: int, shards: int) -> list[int]:
    """``quantity`` over ``shards`` as evenly as possible (the first ones get the remainder);
    a negative quantity stays whole on shard 0."""
    if shards < 1:
        raise ValueError("at least one shard")
    if quantity < 0:
        return [quantity] + [0] * (shards - 1)
    base, rest = divmod(quantity, shards)
    return [base + (1 if k < rest else 0) for k in range(shards)]


def pick(available: Sequence[int], quantity: int, start: int) -> Take:
    """Where to reserve ``quantity`` units: from ``start`` on, round the shards, as much as
    each has. Whatever the shards (as last read) cannot cover goes on the best one, so the
    write fails its condition and the caller re-reads: never a unit more than exists."""
    if quantity < 1:
        raise ValueError("quantity must be positive")
    n = len(available)
    if n == 0:
        return [(0, quantity)]
    taken: dict[int, int] = {}
    left = quantity
    for step in range(n):
        shard = (start + step) % n
        units = min(left, max(0, available[shard]))
        if units:
            taken[shard] = units
            left -= units
        if not left:
            break
    if left:
        best = max(range(n), key=lambda k: (available[k], k == start))
        taken[best] = taken.get(best, 0) + left
    return sorted(taken.items())


def take_back(held: Mapping[int, int], quantity: int) -> tuple[Take, dict[int, int]]:
    """Where ``quantity`` reserved units of an order come back from: the shards it holds them
    on (highest first), the rest from shard 0 (units reserved before the SKU was hot are there
    and unrecorded). Returns the take and what the order holds afterwards."""
    left, taken, after = quantity, dict[int, int](), dict(held)
    for shard in sorted(after, reverse=True):
        units = min(left, after[shard])
        if units > 0:
            taken[shard] = taken.get(shard, 0) + units
            after[shard] -= units
            left -= units
    if left > 0:
        taken[0] = taken.get(0, 0) + left
    return sorted(taken.items()), {k: v for k, v in after.items() if v > 0}


def rebalanced(available_total: int, shards: int, items: int) -> list[int]:
    """``available`` per shard item for ``available_total`` spread over the first ``shards``
    of ``items`` existing items (retired ones beyond ``shards`` get none)."""
    spread = split(available_total, max(1, min(shards, items)))
    return spread + [0] * (items - len(spread))
