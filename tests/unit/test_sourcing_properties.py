"""Properties every sourcing result holds, on random carts and stock over the real network."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings, strategies as st

from chalicelib.domain.calendar import is_business_day
from chalicelib.domain.network import CartLine, LocationType, Product, StockLevel
from chalicelib.domain.rules import SourcingRules
from chalicelib.domain.sourcing import OptionKind, SourcingRequest, SourcingResult, plan
from tests.fixtures.network import load_network

NET = load_network()
LOCATIONS = {loc.location_id: loc for loc in NET.locations}
SKUS = ("A", "B", "C", "D")
PRODUCTS = {sku: Product(sku, 300 + 1700 * i, {"EUR": 1500}) for i, sku in enumerate(SKUS)}
START = datetime(2026, 1, 1, tzinfo=UTC)

carts = st.dictionaries(st.sampled_from(SKUS), st.integers(1, 4), min_size=1, max_size=4)
stocks = st.dictionaries(
    st.tuples(st.sampled_from(SKUS), st.sampled_from(sorted(LOCATIONS))),
    st.integers(0, 6),
    max_size=30,
)
moments = st.integers(0, 365 * 24 * 4).map(lambda q: START + timedelta(minutes=15 * q))


@st.composite
def requests(draw: st.DrawFn) -> SourcingRequest:
    cart = draw(carts)
    return SourcingRequest(
        lines=[CartLine(sku, qty) for sku, qty in cart.items()],
        ship_to=draw(st.sampled_from(NET.demand)).address,
        stock=[StockLevel(sku, loc, qty) for (sku, loc), qty in draw(stocks).items()],
        locations=NET.locations,
        carrier_services=NET.carrier_services,
        products=PRODUCTS,
        now=draw(moments),
        rules=SourcingRules(max_parcels=draw(st.integers(1, 4))),
        allow_partial=draw(st.booleans()),
    )


def available(request: SourcingRequest) -> dict[tuple[str, str], int]:
    return {(level.sku, level.location_id): level.available for level in request.stock}


def needed(request: SourcingRequest, result: SourcingResult) -> dict[str, int]:
    need = {line.sku: line.quantity for line in request.lines}
    return {sku: q - result.shortages.get(sku, 0) for sku, q in need.items()}


def shipping(result: SourcingResult) -> list:  # type: ignore[type-arg]
    return [p for p in result.options if p.kind is not OptionKind.CLICK_COLLECT]


@settings(max_examples=200, deadline=None)
@given(requests())
def test_no_plan_takes_more_than_is_available(request: SourcingRequest) -> None:
    result = plan(request)
    have = available(request)
    protect = request.rules.store_protection_units
    for option in result.options:
        for shipment in option.shipments:
            location = LOCATIONS[shipment.location_id]
            for sku, qty in shipment.lines:
                limit = have.get((sku, shipment.location_id), 0)
                sent_by_carrier = shipment.carrier_service not in (None, "store-transfer")
                if sent_by_carrier and location.type is LocationType.STORE:
                    limit -= protect
                assert 0 < qty <= limit


@settings(max_examples=200, deadline=None)
@given(requests())
def test_every_unit_of_the_cart_is_covered_exactly_once(request: SourcingRequest) -> None:
    result = plan(request)
    if result.shortages and not request.allow_partial:
        assert not shipping(result)
    wanted = {sku: q for sku, q in needed(request, result).items() if q > 0}
    for option in shipping(result):
        assert option.lines == wanted
        assert option.parcels <= request.rules.max_parcels
    full = {line.sku: line.quantity for line in request.lines}
    for option in result.options:
        if option.kind is OptionKind.CLICK_COLLECT:
            assert option.lines == full


@settings(max_examples=200, deadline=None)
@given(requests())
def test_fastest_and_consolidated_are_what_they_say(request: SourcingRequest) -> None:
    result = plan(request)
    options = shipping(result)
    fastest = result.first(OptionKind.FASTEST)
    consolidated = result.first(OptionKind.CONSOLIDATED)
    cheapest = result.first(OptionKind.CHEAPEST)
    if not options:
        return
    assert fastest is not None and consolidated is not None and cheapest is not None
    assert all(fastest.promised_date <= p.promised_date for p in options)
    assert all(consolidated.parcels <= p.parcels for p in options)
    allowed = fastest.promised_date + timedelta(days=request.rules.cheapest_max_delay_days)
    assert cheapest.promised_date <= allowed
    assert all(cheapest.cost.total <= p.cost.total for p in options if p.promised_date <= allowed)


@settings(max_examples=200, deadline=None)
@given(requests())
def test_ship_dates_are_business_days_and_option_ids_unique(request: SourcingRequest) -> None:
    result = plan(request)
    ids = [p.option_id for p in result.options]
    assert len(ids) == len(set(ids))
    for option in result.options:
        assert option.promised_date == max(s.promised_date for s in option.shipments)
        for shipment in option.shipments:
            assert is_business_day(LOCATIONS[shipment.location_id], shipment.ship_date)
            assert shipment.ship_date >= request.now.date() - timedelta(days=1)
            assert shipment.promised_date >= shipment.ship_date
