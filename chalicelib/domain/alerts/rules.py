"""Low-stock alerts on plain data: who is told about which item, when, and what each line says.

An item is *low* when its reorder point is set (> 0: a reorder point of 0 means the location
does not replenish that SKU) and ``available <= reorder_point``. A recipient group is told about
a low item once; it is told again only after the item has *recovered* (``available >
reorder_point``, which drops the group's notice) and dropped again, unless the group asked for a
daily reminder. Each line carries the sales velocity (units shipped per day over the last
``VELOCITY_DAYS`` days), the days of cover that gives, and a suggested transfer from the
location with the most excess of the SKU.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from chalicelib.domain.network import StockLevel

VELOCITY_DAYS = 14
# Cover a donor keeps above its reorder point, and the cover a transfer aims to give.
SAFETY_DAYS = 7
# An hourly schedule drifts by seconds: a reminder is due a little before 24 hours have passed.
REMINDER_AFTER = timedelta(hours=23)

ItemKey = tuple[str, str]  # sku, location_id


class Scope(StrEnum):
    LOCATION = "location"  # one location; value is its location_id
    COUNTRY = "country"  # every location in one country; value is ISO 3166-1 alpha-2
    ALL = "all"  # every location (purchasing); no value


@dataclass(frozen=True, slots=True)
class AlertGroup:
    group_id: str
    scope: Scope
    value: str | None
    recipients: tuple[str, ...]
    daily_reminder: bool = False

    def covers(self, location_id: str, country: str | None) -> bool:
        if self.scope == Scope.ALL:
            return True
        if self.scope == Scope.LOCATION:
            return location_id == self.value
        return country is not None and country == self.value


@dataclass(frozen=True, slots=True)
class Notice:
    """What a group was told about an item: kept until the item recovers."""

    group_id: str
    sku: str
    location_id: str
    low_since: str  # ISO UTC: the run that first found it low for this group
    notified_at: str  # ISO UTC: the last mail about it

    @property
    def key(self) -> ItemKey:
        return (self.sku, self.location_id)


def key_of(level: StockLevel) -> ItemKey:
    return (level.sku, level.location_id)


def is_low(level: StockLevel) -> bool:
    return level.reorder_point > 0 and level.available <= level.reorder_point


def due_for_group(
    group: AlertGroup,
    low: Iterable[StockLevel],
    countries: Mapping[str, str],
    notices: Mapping[ItemKey, Notice],
    now: datetime,
) -> list[StockLevel]:
    """The low items in the group's scope that it must hear about now: never told, or told
    at least ``REMINDER_AFTER`` ago when the group wants a daily reminder."""
    due = []
    for level in low:
        if not (
            is_low(level) and group.covers(level.location_id, countries.get(level.location_id))
        ):
            continue
        notice = notices.get(key_of(level))
        if notice is None or (
            group.daily_reminder
            and datetime.fromisoformat(notice.notified_at) <= now - REMINDER_AFTER
        ):
            due.append(level)
    return due


def recovered(
    notices: Mapping[ItemKey, Notice], current: Mapping[ItemKey, StockLevel | None]
) -> list[ItemKey]:
    """Notices whose item is no longer low (or no longer exists): dropping them re-arms the
    alert. ``current`` holds a fresh level for every notice key (None when gone); keys it lacks
    are left alone."""
    out = []
    for key in notices:
        if key not in current:
            continue
        level = current[key]
        if level is None or not is_low(level):
            out.append(key)
    return out


# --- velocity, cover and transfers -----------------------------------------------------------


def velocity(shipped: Mapping[date, int], today: date, *, days: int = VELOCITY_DAYS) -> float:
    """Units shipped per day over the ``days`` calendar days ending with ``today`` (today
    included, so the figure moves as soon as something ships)."""
    first = today - timedelta(days=days - 1)
    return sum(q for day, q in shipped.items() if first <= day <= today) / days


def days_of_cover(available: int, units_per_day: float) -> float | None:
    """How many days ``available`` lasts at ``units_per_day``; None without sales."""
    if units_per_day <= 0:
        return None
    return max(available, 0) / units_per_day


def excess(level: StockLevel, units_per_day: float, *, safety_days: int = SAFETY_DAYS) -> int:
    """What a location can give away: available above its reorder point and a safety margin
    of ``safety_days`` of its own sales."""
    margin = math.ceil(units_per_day * safety_days)
    return level.available - max(level.reorder_point, 0) - margin


def need(level: StockLevel, units_per_day: float, *, cover_days: int = SAFETY_DAYS) -> int:
    """Units that lift a low item back above its reorder point plus ``cover_days`` of sales."""
    return max(level.reorder_point - level.available + 1, 0) + math.ceil(units_per_day * cover_days)


@dataclass(frozen=True, slots=True)
class Transfer:
    from_location: str
    quantity: int
    donor_excess: int


def suggest_transfer(
    low: StockLevel,
    units_per_day: float,
    others: Sequence[tuple[StockLevel, float]],
) -> Transfer | None:
    """A transfer from the other location with the most excess of the SKU (ties: location
    id), of what the low item needs but never more than that excess; None without excess."""
    best: tuple[int, str] | None = None
    for level, donor_velocity in others:
        if level.sku != low.sku or level.location_id == low.location_id:
            continue
        spare = excess(level, donor_velocity)
        if spare > 0 and (best is None or (-spare, level.location_id) < (-best[0], best[1])):
            best = (spare, level.location_id)
    if best is None:
        return None
    return Transfer(best[1], min(best[0], need(low, units_per_day)), best[0])


# --- digest lines and grouping ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DigestLine:
    sku: str
    location_id: str
    country: str
    on_hand: int
    reserved: int
    available: int
    reorder_point: int
    units_per_day: float
    days_of_cover: float | None
    low_since: str
    transfer: Transfer | None

    @property
    def key(self) -> ItemKey:
        return (self.sku, self.location_id)


def line_for(
    level: StockLevel,
    *,
    country: str,
    units_per_day: float,
    low_since: str,
    transfer: Transfer | None,
) -> DigestLine:
    return DigestLine(
        sku=level.sku,
        location_id=level.location_id,
        country=country,
        on_hand=level.on_hand,
        reserved=level.reserved,
        available=level.available,
        reorder_point=level.reorder_point,
        units_per_day=units_per_day,
        days_of_cover=days_of_cover(level.available, units_per_day),
        low_since=low_since,
        transfer=transfer,
    )


def urgency(line: DigestLine) -> tuple[float, str, str]:
    """Fewest days of cover first (no sales last), then SKU and location."""
    cover = line.days_of_cover if line.days_of_cover is not None else math.inf
    return (cover, line.sku, line.location_id)


def by_recipient(
    groups: Iterable[AlertGroup],
    due: Mapping[str, Sequence[ItemKey]],
    lines: Mapping[ItemKey, DigestLine],
) -> dict[str, list[DigestLine]]:
    """One digest per recipient (addresses compared case-insensitively): the union of the
    items due for every group the recipient is in, each item once, most urgent first."""
    keys: dict[str, set[ItemKey]] = {}
    for group in groups:
        for recipient in group.recipients:
            keys.setdefault(recipient.strip().lower(), set()).update(due.get(group.group_id, ()))
    return {
        recipient: sorted((lines[k] for k in wanted if k in lines), key=urgency)
        for recipient, wanted in sorted(keys.items())
        if any(k in lines for k in wanted)
    }
