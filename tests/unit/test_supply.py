"""Promise dates from purchase orders (domain/supply.py): the earliest free PO quantity, first
promised first served, a slipped PO moving the promises it carries, receipts closing lines."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from chalicelib.domain.errors import Conflict
from chalicelib.domain.network import Address
from chalicelib.domain.supply import (
    Demand,
    PoLine,
    PoStatus,
    PurchaseOrder,
    Supply,
    apply_asn,
    apply_receipt,
    arrival,
    po_supply,
    promise,
    revise,
)
from tests.fixtures.network import load_network

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday
BERLIN = Address(country="DE", postal_code="10115", city="Berlin")
NET = load_network()
LOCATIONS = {loc.location_id: loc for loc in NET.locations}


def dated(piece: Supply, demand: Demand) -> date | None:
    location = LOCATIONS[piece.location_id]
    return arrival(location, NET.carrier_services, demand.ship_to, NOW, piece.expected)


def po(po_id: str, expected: str, quantity: int, *, sku: str = "SKU-P", loc: str = "dc-kassel"):
    return PurchaseOrder(po_id, "Acme", loc, expected, [PoLine("1", sku, quantity)])


def want(key: str, quantity: int, **kw) -> Demand:
    return Demand(key, "SKU-P", quantity, BERLIN, **kw)


def test_a_backorder_is_promised_from_the_earliest_po_plus_processing_and_transit():
    supply = po_supply([po("po-late", "2026-03-20", 5), po("po-early", "2026-03-10", 5)], "SKU-P")
    [p] = promise([want("o1", 3)], supply, dated)
    # received Tuesday 10th at Kassel (0 processing days) ships that day; DE->DE is 1 day
    assert p.date == date(2026, 3, 11) and p.po_ids == ("po-early",)


def test_processing_days_of_the_location_count():
    supply = po_supply([po("po-nl", "2026-03-10", 5, loc="3pl-venlo")], "SKU-P")
    [p] = promise([want("o1", 1)], supply, dated)
    nl_to_de = next(
        lane.transit_days
        for s in NET.carrier_services
        if s.service_id == "parcel-express"
        for lane in s.lanes
        if (lane.from_country, lane.to_country) == ("NL", "DE")
    )
    assert p.date is not None
    assert (p.date - date(2026, 3, 11)).days >= nl_to_de  # one processing day, then transit


def test_po_quantity_is_consumed_first_promised_first():
    supply = po_supply([po("po-a", "2026-03-10", 5), po("po-b", "2026-03-20", 10)], "SKU-P")
    first, second, third = promise([want("o1", 4), want("o2", 3), want("o3", 2)], supply, dated)
    assert first.date == date(2026, 3, 11) and first.po_ids == ("po-a",)
    # one unit left on po-a, two from po-b: the latest piece dates the line
    assert second.date == date(2026, 3, 23) and second.po_ids == ("po-a", "po-b")
    assert third.date == date(2026, 3, 23) and third.po_ids == ("po-b",)


def test_units_on_the_shelf_come_before_any_po():
    supply = [Supply("SKU-P", "dc-kassel", 1), *po_supply([po("po-a", "2026-03-10", 5)], "SKU-P")]
    first, second = promise([want("o1", 1), want("o2", 1)], supply, dated)
    assert first.date == date(2026, 3, 3) and first.po_ids == ()  # ships today, there tomorrow
    assert second.date == date(2026, 3, 11)


def test_a_slipped_po_moves_the_promises_it_carries_and_only_those():
    early, late = po("po-a", "2026-03-10", 2), po("po-b", "2026-03-12", 2)
    demands = [want("o1", 2), want("o2", 2)]
    before = promise(demands, po_supply([early, late], "SKU-P"), dated)
    assert [p.date for p in before] == [date(2026, 3, 11), date(2026, 3, 13)]

    revise(
        early,
        supplier="Acme",
        expected_date="2026-03-13",
        lines=[PoLine("1", "SKU-P", 2)],
        at="2026-03-05T10:00:00.000Z",
    )
    after = promise(demands, po_supply([early, late], "SKU-P"), dated)
    # po-b is now the earliest: the first in line takes it; the slipped po-a carries o2 now
    assert after[0].date == date(2026, 3, 13) and after[0].po_ids == ("po-b",)
    assert after[1].date == date(2026, 3, 16) and after[1].po_ids == ("po-a",)  # Fri -> Mon


def test_an_asn_date_slips_the_po():
    early = po("po-a", "2026-03-10", 2)
    assert apply_asn(early, "asn-1", [("1", 2)], "2026-03-17", at="t")
    assert not apply_asn(early, "asn-1", [("1", 2)], "2026-03-30", at="t")  # redelivered
    assert early.expected_date == "2026-03-17" and early.lines[0].in_transit == 2
    [p] = promise([want("o1", 1)], po_supply([early], "SKU-P"), dated)
    assert p.date == date(2026, 3, 18)


def test_uncovered_demand_has_no_date_and_does_not_block_the_next():
    supply = po_supply([po("po-a", "2026-03-10", 3)], "SKU-P")
    big, small = promise([want("o1", 5), want("o2", 2)], supply, dated)
    assert big.date is None and small.date == date(2026, 3, 11)


def test_a_location_the_channel_may_not_use_is_skipped():
    supply = po_supply(
        [po("po-a", "2026-03-10", 3), po("po-b", "2026-03-20", 3, loc="dc-lyon")], "SKU-P"
    )
    [p] = promise([want("o1", 1, excluded=frozenset({"dc-kassel"}))], supply, dated)
    assert p.po_ids == ("po-b",)


def test_a_preorder_is_promised_no_earlier_than_its_release():
    supply = po_supply([po("po-a", "2026-03-10", 3)], "SKU-P")
    [p] = promise([want("o1", 1, not_before=date(2026, 4, 1))], supply, dated)
    assert p.date == date(2026, 4, 1)


def test_receipts_close_lines_idempotently_and_record_over_receipt():
    order = po("po-a", "2026-03-10", 5)
    assert apply_receipt(order, "e1", "1", 3, at="t")
    assert not apply_receipt(order, "e1", "1", 3, at="t")
    assert order.lines[0].open == 2 and order.status == PoStatus.OPEN
    assert apply_receipt(order, "e2", "1", 4, at="t")
    assert order.lines[0].received == 7 and order.lines[0].over_received == 2
    assert order.status == PoStatus.RECEIVED and po_supply([order], "SKU-P") == []


def test_a_quantity_below_what_was_received_is_refused_naming_the_line():
    order = po("po-a", "2026-03-10", 5)
    apply_receipt(order, "e1", "1", 3, at="t")
    with pytest.raises(Conflict) as err:
        revise(
            order,
            supplier="Acme",
            expected_date="2026-03-10",
            lines=[PoLine("1", "SKU-P", 2)],
            at="t",
        )
    assert [f.path for f in err.value.fields] == ["lines[0].quantity"]
    revise(
        order, supplier="Acme", expected_date="2026-03-10", lines=[PoLine("1", "SKU-P", 3)], at="t"
    )
    assert order.status == PoStatus.RECEIVED
