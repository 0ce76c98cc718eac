"""Promise dates: cut-offs, weekends, holidays, processing and transit days."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time

import pytest

from chalicelib.domain.calendar import (
    is_business_day,
    is_transit_day,
    promised_date,
    public_holidays,
    ship_date,
    transit_days,
)
from chalicelib.domain.network import (
    Address,
    Capability,
    CarrierService,
    Lane,
    Location,
    LocationType,
    Speed,
    WeightBand,
)

BERLIN = Address(country="DE", postal_code="10115", city="Berlin")
HIDDENSEE = Address(country="DE", postal_code="18565", city="Hiddensee")


def kassel(**changes: object) -> Location:
    location = Location(
        location_id="dc-kassel",
        type=LocationType.WAREHOUSE,
        country="DE",
        postal_code="34123",
        lat=51.3167,
        lon=9.5,
        timezone="Europe/Berlin",
        capabilities=frozenset({Capability.SHIP}),
        cutoff_time=time(18, 0),
        closed_weekdays=frozenset({5, 6}),
        holidays_country="DE",
    )
    return replace(location, **changes)  # type: ignore[arg-type]


DE_DE = Lane("DE", "DE", transit_days=1, bands=(WeightBand(31500, {"EUR": 490}),))
STANDARD = CarrierService(
    "std", "ParcelCo", Speed.STANDARD, (DE_DE,), {"DE": ("18565",)}, remote_extra_days=1
)
EXPRESS = CarrierService("exp", "ParcelCo", Speed.EXPRESS, (DE_DE,), order_cutoff_shift_hours=-2)


def test_an_order_before_the_cutoff_ships_the_same_day() -> None:
    tuesday_17h_berlin = datetime(2026, 3, 10, 16, 0, tzinfo=UTC)
    assert ship_date(kassel(), tuesday_17h_berlin) == date(2026, 3, 10)


def test_an_order_after_the_cutoff_ships_the_next_business_day() -> None:
    tuesday_18h30_berlin = datetime(2026, 3, 10, 17, 30, tzinfo=UTC)
    assert ship_date(kassel(), tuesday_18h30_berlin) == date(2026, 3, 11)


def test_a_friday_evening_order_ships_on_monday_and_arrives_on_tuesday() -> None:
    friday_evening = datetime(2026, 3, 13, 19, 0, tzinfo=UTC)
    assert ship_date(kassel(), friday_evening) == date(2026, 3, 16)
    assert promised_date(kassel(), STANDARD, DE_DE, BERLIN, friday_evening) == date(2026, 3, 17)


def test_a_weekend_order_waits_for_monday_even_before_the_cutoff() -> None:
    saturday_morning = datetime(2026, 3, 14, 8, 0, tzinfo=UTC)
    assert ship_date(kassel(), saturday_morning) == date(2026, 3, 16)


def test_a_store_open_on_saturday_ships_then_but_the_carrier_delivers_on_monday() -> None:
    store = kassel(closed_weekdays=frozenset({6}), cutoff_time=time(14, 0))
    saturday_morning = datetime(2026, 3, 14, 8, 0, tzinfo=UTC)
    assert ship_date(store, saturday_morning) == date(2026, 3, 14)
    assert promised_date(store, STANDARD, DE_DE, BERLIN, saturday_morning) == date(2026, 3, 16)


def test_christmas_in_germany_is_neither_a_ship_day_nor_a_transit_day() -> None:
    assert date(2026, 12, 25) in public_holidays("DE", 2026)
    assert not is_business_day(kassel(), date(2026, 12, 25))
    assert not is_transit_day("DE", date(2026, 12, 25))
    christmas_eve_evening = datetime(2026, 12, 24, 18, 0, tzinfo=UTC)
    assert ship_date(kassel(), christmas_eve_evening) == date(2026, 12, 28)
    christmas_eve_noon = datetime(2026, 12, 24, 11, 0, tzinfo=UTC)
    assert ship_date(kassel(), christmas_eve_noon) == date(2026, 12, 24)
    assert promised_date(kassel(), STANDARD, DE_DE, BERLIN, christmas_eve_noon) == date(
        2026, 12, 28
    )


def test_a_location_without_a_holidays_country_works_on_public_holidays() -> None:
    assert is_business_day(kassel(holidays_country=""), date(2026, 12, 25))


def test_closed_weekdays_of_the_location_are_skipped() -> None:
    closed_on_wednesday = kassel(closed_weekdays=frozenset({2, 5, 6}))
    tuesday_evening = datetime(2026, 3, 10, 20, 0, tzinfo=UTC)
    assert ship_date(closed_on_wednesday, tuesday_evening) == date(2026, 3, 12)


def test_processing_days_are_business_days_of_the_location() -> None:
    slow = kassel(processing_days=2)
    thursday_noon = datetime(2026, 3, 12, 11, 0, tzinfo=UTC)
    assert ship_date(slow, thursday_noon) == date(2026, 3, 16)


def test_remote_postal_codes_add_the_services_extra_days() -> None:
    tuesday_noon = datetime(2026, 3, 10, 11, 0, tzinfo=UTC)
    assert transit_days(STANDARD, DE_DE, HIDDENSEE) == 2
    assert promised_date(kassel(), STANDARD, DE_DE, HIDDENSEE, tuesday_noon) == date(2026, 3, 12)
    assert promised_date(kassel(), STANDARD, DE_DE, BERLIN, tuesday_noon) == date(2026, 3, 11)


def test_express_must_be_ordered_before_its_earlier_cutoff() -> None:
    tuesday_16h30_berlin = datetime(2026, 3, 10, 15, 30, tzinfo=UTC)
    assert ship_date(kassel(), tuesday_16h30_berlin) == date(2026, 3, 10)
    assert ship_date(kassel(), tuesday_16h30_berlin, cutoff_shift_hours=-2) == date(2026, 3, 11)
    assert promised_date(kassel(), EXPRESS, DE_DE, BERLIN, tuesday_16h30_berlin) == date(
        2026, 3, 12
    )


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        # Friday 27 March 2026, CET (UTC+1): 16:30 UTC is 17:30 local, before the cut-off.
        (datetime(2026, 3, 27, 16, 30, tzinfo=UTC), date(2026, 3, 27)),
        # Monday 30 March 2026, CEST (UTC+2): 16:30 UTC is 18:30 local, after the cut-off.
        (datetime(2026, 3, 30, 16, 30, tzinfo=UTC), date(2026, 3, 31)),
    ],
)
def test_the_cutoff_is_local_wall_clock_time_across_daylight_saving(
    now: datetime, expected: date
) -> None:
    assert ship_date(kassel(), now) == expected


def test_a_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        ship_date(kassel(), datetime(2026, 3, 10, 12, 0))


def test_holiday_calendars_are_built_once_per_country_and_year() -> None:
    public_holidays("AT", 2027)
    before = public_holidays.cache_info().hits
    public_holidays("AT", 2027)
    assert public_holidays.cache_info().hits == before + 1
