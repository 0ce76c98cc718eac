"""Promise dates: when a location ships an order and when the carrier delivers it.

The rules, in order:

1. *Release.* An order placed before the location's cut-off (its local wall-clock time, so daylight
   saving is respected; an express service shifts the cut-off by ``order_cutoff_shift_hours``) is
   released that day if it is a business day of the location; otherwise on the next business day.
2. *Processing.* ``processing_days`` business days of the location are added: the ship date.
   A location's business days skip its ``closed_weekdays`` and the public holidays of its
   ``holidays_country``.
3. *Transit.* The lane's ``transit_days`` (plus ``remote_extra_days`` when the destination postal
   code starts with one of the service's remote prefixes for that country) are added as carrier
   business days: Monday to Friday, skipping the destination country's public holidays.

Building a ``holidays`` calendar is slow (milliseconds), so the set of holiday dates is cached per
(country, year); day arithmetic is cached too because sourcing asks the same questions for every
location that shares a profile.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from chalicelib.domain.network import Address, CarrierService, Lane, Location

CARRIER_CLOSED_WEEKDAYS = frozenset({5, 6})  # carriers deliver Monday to Friday
_MAX_SCAN_DAYS = 366  # a calendar closed for a whole year is a configuration error


@lru_cache(maxsize=256)
def public_holidays(country: str, year: int) -> frozenset[date]:
    """The public holidays of ``country`` (ISO alpha-2) in ``year``; empty for "" or unknown."""
    if not country:
        return frozenset()
    import holidays  # ~50 ms: loaded by the first date computation, not by every import

    try:
        return frozenset(holidays.country_holidays(country, years=year).keys())
    except NotImplementedError:
        return frozenset()


def is_open(d: date, closed_weekdays: frozenset[int], holidays_country: str) -> bool:
    """Whether ``d`` is a working day for a calendar with these closed weekdays and holidays."""
    return d.weekday() not in closed_weekdays and d not in public_holidays(holidays_country, d.year)


def is_business_day(location: Location, d: date) -> bool:
    """Whether ``location`` works (picks, packs, hands over parcels) on ``d``."""
    return is_open(d, location.closed_weekdays, location.holidays_country)


def is_transit_day(country: str, d: date) -> bool:
    """Whether carriers deliver in ``country`` on ``d`` (Monday to Friday, not a public holiday)."""
    return is_open(d, CARRIER_CLOSED_WEEKDAYS, country)


@lru_cache(maxsize=8192)
def first_open_day(start: date, closed_weekdays: frozenset[int], holidays_country: str) -> date:
    """``start`` if it is open, else the next open day."""
    d = start
    for _ in range(_MAX_SCAN_DAYS):
        if is_open(d, closed_weekdays, holidays_country):
            return d
        d += timedelta(days=1)
    raise ValueError(f"no open day within a year of {start} for closed={sorted(closed_weekdays)}")


@lru_cache(maxsize=8192)
def add_open_days(
    start: date, days: int, closed_weekdays: frozenset[int], holidays_country: str
) -> date:
    """The ``days``-th open day after ``start`` (``start`` itself is not counted)."""
    d = start
    for _ in range(days):
        d = first_open_day(d + timedelta(days=1), closed_weekdays, holidays_country)
    return d


@lru_cache(maxsize=4096)
def _released_ship_date(
    today: date,
    before_cutoff: bool,
    closed_weekdays: frozenset[int],
    holidays_country: str,
    processing_days: int,
) -> date:
    """The ship date of an order placed on the location's local ``today``, before its cut-off
    or not: cached on the local date, so every request of the day shares it."""
    if before_cutoff and is_open(today, closed_weekdays, holidays_country):
        released = today
    else:
        released = first_open_day(today + timedelta(days=1), closed_weekdays, holidays_country)
    return add_open_days(released, processing_days, closed_weekdays, holidays_country)


def ship_date(location: Location, now: datetime, *, cutoff_shift_hours: int = 0) -> date:
    """The business day on which ``location`` hands an order placed at ``now`` to the carrier.

    ``now`` must be timezone-aware. Also the day a click & collect order is ready at a store.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    tz = ZoneInfo(location.timezone)
    local = now.astimezone(tz)
    today = local.date()
    cutoff = datetime.combine(today, location.cutoff_time, tzinfo=tz)
    before = local < cutoff + timedelta(hours=cutoff_shift_hours)
    return _released_ship_date(
        today,
        before,
        location.closed_weekdays,
        location.holidays_country,
        location.processing_days,
    )


def transit_days(service: CarrierService, lane: Lane, destination: Address) -> int:
    """The lane's transit business days, plus the service's extra days for remote postal codes."""
    prefixes = service.remote_postal_prefixes.get(destination.country, ())
    remote = any(destination.postal_code.startswith(p) for p in prefixes)
    return lane.transit_days + (service.remote_extra_days if remote else 0)


def delivery_date(shipped: date, days: int, country: str) -> date:
    """The date a parcel handed over on ``shipped`` arrives after ``days`` carrier business days."""
    return add_open_days(shipped, days, CARRIER_CLOSED_WEEKDAYS, country)


def promised_date(
    location: Location, service: CarrierService, lane: Lane, destination: Address, now: datetime
) -> date:
    """The delivery date to promise for an order placed at ``now`` and sent from ``location``."""
    shipped = ship_date(location, now, cutoff_shift_hours=service.order_cutoff_shift_hours)
    return delivery_date(shipped, transit_days(service, lane, destination), destination.country)
