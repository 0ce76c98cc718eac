"""Inventory use cases on the in-memory fakes."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from chalicelib.adapters.memory import MemoryCatalog, MemoryStock
from chalicelib.domain import inventory as inventory_rules
from chalicelib.domain.catalog import Kind
from chalicelib.domain.errors import InsufficientStock, InvalidInput, NotFound
from chalicelib.domain.network import StockLevel
from chalicelib.services import inventory
from chalicelib.services.catalog import CatalogService
from chalicelib.services.inventory import InventoryService, utc_stamp
from local.demo import network_documents


@pytest.fixture
def events():
    return ArrivalLog()


@pytest.fixture
def service(events):
    catalog = CatalogService(MemoryCatalog())
    loc = network_documents()["locations"][0]
    catalog.put(Kind.LOCATION, loc["location_id"], loc)
    catalog.put(Kind.PRODUCT, "MUG", {"sku": "MUG", "weight_g": 300, "reorder_point": 5})
    return InventoryService(MemoryStock(), catalog, events=events)


class ArrivalLog:
    """The events port, recording ``stock_arrived``; ``broken`` makes it fail."""

    def __init__(self, *, broken: bool = False) -> None:
        self.arrived: list[tuple[str, str]] = []
        self.changed: list[str] = []
        self.broken = broken

    def stock_arrived(self, sku, location_id):
        if self.broken:
            raise RuntimeError("the order-events queue is down")
        self.arrived.append((sku, location_id))

    def stock_changed(self, skus, *, delay_seconds=0):
        if self.broken:
            raise RuntimeError("the order-events queue is down")
        self.changed.extend(sorted(set(skus)))


@pytest.fixture
def arrived(events):
    return events.arrived


def test_new_levels_take_the_products_reorder_point(service):
    level = service.set_levels("MUG", "dc-kassel", on_hand=3)
    assert (level.on_hand, level.available, level.reorder_point) == (3, 3, 5)


def test_stock_for_an_unknown_location_or_product_is_not_found(service):
    with pytest.raises(NotFound) as exc:
        service.set_levels("MUG", "nowhere", on_hand=3)
    assert exc.value.fields[0].path == "location_id"
    with pytest.raises(NotFound):
        service.receive("NOPE", "dc-kassel", 1, event_id="e1")


def test_a_receipt_is_applied_once_and_announced_once(service, arrived):
    assert service.receive("MUG", "dc-kassel", 4, event_id="rcv-1") is True
    assert service.receive("MUG", "dc-kassel", 4, event_id="rcv-1") is False
    assert service.stock.get("MUG", "dc-kassel").on_hand == 4
    assert arrived == [("MUG", "dc-kassel")]


def test_a_failing_announcement_does_not_undo_the_receipt(service, events):
    events.broken = True
    assert service.receive("MUG", "dc-kassel", 2, event_id="rcv-2") is True
    assert service.stock.get("MUG", "dc-kassel").on_hand == 2


def test_a_negative_adjustment_beyond_what_is_available_is_refused(service, arrived):
    service.set_levels("MUG", "dc-kassel", on_hand=3, safety_stock=1)
    arrived.clear()
    with pytest.raises(InsufficientStock):
        service.adjust("MUG", "dc-kassel", -3, reason="broken")
    assert service.adjust("MUG", "dc-kassel", -2, reason="broken").on_hand == 1
    assert arrived == []


def test_counts_in_any_time_zone_are_ordered_by_their_instant(service):
    berlin = timezone(timedelta(hours=2))
    in_utc = datetime.now(UTC) - timedelta(hours=1)
    assert service.count("MUG", "dc-kassel", 7, in_utc, event_id="c1") is True
    # half an hour earlier, written in Berlin time: older than the count applied, so ignored
    earlier = (in_utc - timedelta(minutes=30)).astimezone(berlin)
    assert earlier.replace(tzinfo=None) > in_utc.replace(tzinfo=None)  # its wall clock reads later
    assert service.count("MUG", "dc-kassel", 9, earlier, event_id="c2") is False
    assert service.stock.get("MUG", "dc-kassel").on_hand == 7
    assert utc_stamp(earlier) < utc_stamp(in_utc)


def test_a_count_is_reconciled_with_later_movements_and_announced(service, arrived):
    service.set_levels("MUG", "dc-kassel", on_hand=10)
    counted_at = datetime.now(UTC)
    service.receive("MUG", "dc-kassel", 4, event_id="rcv-after")
    arrived.clear()
    assert service.count("MUG", "dc-kassel", 6, counted_at, event_id="c1") is True
    assert service.stock.get("MUG", "dc-kassel").on_hand == 10  # 6 counted + 4 received since
    assert arrived == [("MUG", "dc-kassel")]  # waiting backorders may take what is free
    assert service.count("MUG", "dc-kassel", 6, counted_at, event_id="c1") is False
    assert arrived == [("MUG", "dc-kassel")]


def test_a_count_in_the_future_is_refused_and_locks_out_nothing(service, arrived):
    service.set_levels("MUG", "dc-kassel", on_hand=10)
    ahead = datetime.now(UTC) + timedelta(minutes=6)
    with pytest.raises(InvalidInput) as exc:
        service.count("MUG", "dc-kassel", 1, ahead, event_id="c-future")
    assert exc.value.fields[0].path == "counted_at"
    assert "future" in exc.value.fields[0].reason
    assert service.stock.get("MUG", "dc-kassel").on_hand == 10
    assert service.count("MUG", "dc-kassel", 4, datetime.now(UTC), event_id="c-now") is True
    assert service.stock.get("MUG", "dc-kassel").on_hand == 4
    # a few minutes of clock skew are tolerated
    soon = datetime.now(UTC) + timedelta(minutes=4)
    assert service.count("MUG", "dc-kassel", 5, soon, event_id="c-soon") is True


def test_a_count_too_old_to_reconcile_is_refused(service):
    old = datetime.now(UTC) - inventory_rules.JOURNAL_RETENTION - timedelta(minutes=1)
    with pytest.raises(InvalidInput) as exc:
        service.count("MUG", "dc-kassel", 1, old, event_id="c-old")
    assert exc.value.fields[0].path == "counted_at"
    assert service.stock.get("MUG", "dc-kassel") is None


def test_every_movement_states_its_effect_on_on_hand():
    """``ON_HAND_EFFECT`` is what the stores journal: it must match ``apply`` for every
    movement, including ones added later."""
    base = StockLevel("A", "dc", on_hand=100, reserved=50, quarantine=50, in_transit=50)
    for movement in inventory_rules.Movement:
        after = inventory_rules.apply(base, movement, 3)
        assert after.on_hand - base.on_hand == inventory_rules.on_hand_delta(movement, 3), movement


def test_reconcile_and_the_journal_kept_after_a_count():
    now = datetime(2026, 6, 10, 12, tzinfo=UTC)
    stamp = inventory_rules.stamp
    journal = [
        (stamp(now - timedelta(days=8)), 1),  # beyond the retention window
        (stamp(now - timedelta(hours=2)), 5),
        (stamp(now - timedelta(hours=1)), -2),
    ]
    counted_at = stamp(now - timedelta(hours=2))  # the +5 is part of the count (same instant)
    assert inventory_rules.reconcile(10, counted_at, journal) == 8
    assert inventory_rules.reconcile(1, counted_at, journal) == 0  # never below zero
    assert inventory_rules.kept_journal(journal, after=counted_at, now=now) == journal[2:]
    assert inventory_rules.kept_journal(journal, after="", now=now) == journal[1:]
    assert stamp("2026-06-10T14:00:00.5+02:00") == "2026-06-10T12:00:00.500000+00:00"
    assert stamp("2026-06-10T12:00:00.500Z") == utc_stamp(now + timedelta(milliseconds=500))


def test_the_stock_of_a_sku_counts_negative_availability_as_nothing(service):
    service.set_levels("MUG", "dc-kassel", on_hand=2)
    service.stock.apply("MUG", "dc-kassel", inventory.Movement.RESERVE, 2)
    service.count("MUG", "dc-kassel", 0, datetime.now(UTC), event_id="c3")
    stock = service.stock_of("MUG")
    assert stock.levels[0].available == -2
    assert (stock.on_hand, stock.reserved, stock.available) == (0, 2, 0)


def test_fewer_units_are_announced_to_the_availability_feed(service, events):
    service.set_levels("MUG", "dc-kassel", on_hand=4)  # more: ``stock_arrived`` says it
    assert (events.arrived, events.changed) == ([("MUG", "dc-kassel")], [])
    service.adjust("MUG", "dc-kassel", -1, reason="broken")
    service.set_levels("MUG", "dc-kassel", on_hand=0)
    assert events.changed == ["MUG", "MUG"]


def test_a_failing_change_announcement_does_not_undo_the_write(service, events):
    events.broken = True
    assert service.set_levels("MUG", "dc-kassel", on_hand=0).on_hand == 0
    assert service.stock.get("MUG", "dc-kassel").on_hand == 0
