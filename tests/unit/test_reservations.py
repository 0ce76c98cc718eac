"""Checkout reservations: expiry, extend once, who may turn one into an order."""

from __future__ import annotations

import pytest

from chalicelib.domain.errors import Conflict, ErrorCode, InvalidInput
from chalicelib.domain.reservations import (
    DEFAULT_MINUTES,
    ReservationExpired,
    ReservationStatus,
    check_usable,
    extended,
    holds_of,
    may_expire,
    new_reservation,
    reservation_minutes,
)

NOW = 1_800_000_000.0
OPTION = {
    "option_id": "q_1.abc",
    "kind": "fastest",
    "shipments": [
        {"location_id": "dc-b", "lines": [{"sku": "A", "quantity": 2}]},
        {
            "location_id": "dc-a",
            "lines": [{"sku": "A", "quantity": 1}, {"sku": "B", "quantity": 4}],
        },
    ],
}


def _res(minutes: int = DEFAULT_MINUTES):
    return new_reservation("r_1", "web", OPTION, now=NOW, minutes=minutes)


def test_holds_one_per_sku_and_location_sorted():
    assert holds_of(OPTION) == (("A", "dc-a", 1), ("A", "dc-b", 2), ("B", "dc-a", 4))
    assert _res().units() == {"A": 3, "B": 4}


def test_an_option_without_shipments_reserves_nothing():
    with pytest.raises(InvalidInput) as err:
        holds_of({"shipments": []})
    assert err.value.fields[0].path == "option_id"


def test_expires_after_the_channels_time():
    res = _res(minutes=20)
    assert res.expires_at == NOW + 20 * 60
    assert res.status_at(NOW + 20 * 60 - 1) == ReservationStatus.OPEN
    assert res.status_at(NOW + 20 * 60) == ReservationStatus.EXPIRED
    assert not may_expire(res, NOW + 60)
    assert may_expire(res, NOW + 20 * 60)


@pytest.mark.parametrize("value", [0, 241, -5, 1.5, "15", True])
def test_reservation_time_is_whole_minutes_up_to_four_hours(value):
    with pytest.raises(InvalidInput) as err:
        reservation_minutes(value)
    assert err.value.fields[0].path == "reservation_minutes"


def test_reservation_time_defaults_to_15_minutes_and_allows_four_hours():
    assert reservation_minutes(None) == 15
    assert reservation_minutes(240) == 240


def test_extend_once_then_409_naming_why():
    res = extended(_res(), now=NOW + 600, minutes=15)
    assert res.extended and res.expires_at == NOW + 600 + 15 * 60
    with pytest.raises(Conflict) as err:
        extended(res, now=NOW + 700, minutes=15)
    assert err.value.code == ErrorCode.CONFLICT
    assert err.value.fields[0].reason == "extended once already"


def test_extending_never_shortens():
    res = extended(_res(minutes=60), now=NOW + 60, minutes=15)
    assert res.expires_at == NOW + 3600


def test_an_expired_reservation_can_not_be_extended_or_ordered():
    res = _res()
    late = NOW + DEFAULT_MINUTES * 60
    with pytest.raises(ReservationExpired) as err:
        extended(res, now=late, minutes=15)
    assert err.value.code == "reservation_expired"
    with pytest.raises(ReservationExpired):
        check_usable(res, channel="web", units={"A": 3, "B": 4}, now=late)


def test_an_order_takes_it_over_only_for_its_channel_and_units():
    res = _res()
    check_usable(res, channel="web", units={"A": 3, "B": 4}, now=NOW + 1)
    with pytest.raises(InvalidInput) as err:
        check_usable(res, channel="shop", units={"A": 3, "B": 4}, now=NOW + 1)
    assert err.value.fields[0].path == "delivery.reservation_id"
    with pytest.raises(InvalidInput) as err:
        check_usable(res, channel="web", units={"A": 3}, now=NOW + 1)
    assert err.value.fields[0].path == "lines"
    with pytest.raises(InvalidInput):
        check_usable(res, channel="web", units={"A": 2, "B": 5}, now=NOW + 1)
    check_usable(res, channel="web", units={"A": 4, "B": 4, "C": 1}, now=NOW + 1)  # more: sourced


@pytest.mark.parametrize("status", [ReservationStatus.CONSUMED, ReservationStatus.RELEASED])
def test_a_closed_reservation_is_not_open_any_more(status):
    from dataclasses import replace

    res = replace(_res(), status=status)
    with pytest.raises(Conflict) as err:
        check_usable(res, channel="web", units={"A": 3, "B": 4}, now=NOW + 1)
    assert not isinstance(err.value, ReservationExpired)
    assert not may_expire(res, NOW + 10**6)


def test_the_channel_carries_its_reservation_time_and_policy():
    from pydantic import ValidationError

    from chalicelib.api.models.common import ChannelIn
    from chalicelib.domain.catalog import channel_from_doc

    body = {"kind": "webshop", "currencies": ["EUR"], "countries": ["DE"]}
    default = ChannelIn.model_validate(body).to_domain("web")
    assert default.reservation_minutes == 15 and not default.resource_expired_reservations
    assert channel_from_doc({"channel": "old", "kind": "webshop"}).reservation_minutes == 15
    four_hours = ChannelIn.model_validate({**body, "reservation_minutes": 240}).to_domain("web")
    assert four_hours.reservation_minutes == 240
    with pytest.raises(ValidationError) as err:
        ChannelIn.model_validate({**body, "reservation_minutes": 241})
    assert err.value.errors()[0]["loc"] == ("reservation_minutes",)
