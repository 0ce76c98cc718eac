"""Inventory rules on plain data: what a stock movement does to a stock level.

The DynamoDB adapter applies the same movements as conditional update expressions; these
functions are the reference they are tested against, and what the in-memory fake uses.
``available = on_hand - reserved - safety_stock`` holds after every movement.
"""

from __future__ import annotations

from dataclasses import replace
from enum import StrEnum

from chalicelib.domain.errors import InsufficientStock
from chalicelib.domain.network import StockLevel


class Movement(StrEnum):
    RESERVE = "reserve"  # an order takes units: available -> reserved
    RELEASE = "release"  # a cancelled or re-sourced line gives them back: reserved -> available
    SHIP = "ship"  # reserved units leave the building: on_hand and reserved fall together
    RECEIVE = "receive"  # units arrive (purchase, transfer, sellable return): on_hand rises
    ADJUST = "adjust"  # a manual correction of on_hand by a signed delta
    SHORT = "short"  # a short pick: reserved units that are not there leave on_hand and reserved
    QUARANTINE = "quarantine"  # damaged returns: counted apart, never available


def apply(level: StockLevel, movement: Movement, quantity: int) -> StockLevel:
    """The level after ``movement`` of ``quantity`` units, or ``InsufficientStock``."""
    if movement != Movement.ADJUST and quantity < 1:
        raise ValueError("quantity must be positive")
    if movement == Movement.RESERVE:
        _require(level.available >= quantity, level, f"only {level.available} available")
        return replace(level, reserved=level.reserved + quantity)
    if movement in (Movement.RELEASE, Movement.SHIP, Movement.SHORT):
        _require(level.reserved >= quantity, level, f"only {level.reserved} reserved")
        if movement == Movement.RELEASE:
            return replace(level, reserved=level.reserved - quantity)
        return replace(level, reserved=level.reserved - quantity, on_hand=level.on_hand - quantity)
    if movement == Movement.RECEIVE:
        return replace(level, on_hand=level.on_hand + quantity)
    if movement == Movement.ADJUST:
        _require(level.available + quantity >= 0, level, "would take reserved or safety stock")
        return replace(level, on_hand=level.on_hand + quantity)
    if movement == Movement.QUARANTINE:
        return replace(level, quarantine=level.quarantine + quantity)
    raise ValueError(f"unknown movement {movement}")


def count(level: StockLevel, counted_on_hand: int) -> StockLevel:
    """An absolute count sets on_hand; reserved is never touched (available may go negative,
    which blocks new reservations until stock arrives or reservations are released)."""
    if counted_on_hand < 0:
        raise ValueError("a count cannot be negative")
    return replace(level, on_hand=counted_on_hand)


def _require(ok: bool, level: StockLevel, reason: str) -> None:
    if not ok:
        raise InsufficientStock(f"{level.sku} at {level.location_id}: {reason}")
