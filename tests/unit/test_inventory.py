"""Inventory use cases on the in-memory fakes."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from chalicelib.adapters.memory import MemoryCatalog, MemoryStock
from chalicelib.domain.catalog import Kind
from chalicelib.domain.errors import InsufficientStock, NotFound
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
        self.broken = broken

    def stock_arrived(self, sku, location_id):
        if self.broken:
            raise RuntimeError("the order-events queue is down")
        self.arrived.append((sku, location_id))


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
    with pytest.raises(InsufficientStock):
        service.adjust("MUG", "dc-kassel", -3, reason="broken")
    assert service.adjust("MUG", "dc-kassel", -2, reason="broken").on_hand == 1
    assert arrived == []


def test_counts_in_any_time_zone_are_ordered_by_their_instant(service):
    berlin = timezone(timedelta(hours=2))
    noon_utc = datetime(2026, 5, 2, 12, 0, tzinfo=UTC)
    assert service.count("MUG", "dc-kassel", 7, noon_utc, event_id="c1") is True
    # 13:30 in Berlin is 11:30 UTC: older than the count applied, so ignored
    earlier = datetime(2026, 5, 2, 13, 30, tzinfo=berlin)
    assert service.count("MUG", "dc-kassel", 9, earlier, event_id="c2") is False
    assert service.stock.get("MUG", "dc-kassel").on_hand == 7
    assert utc_stamp(earlier) < utc_stamp(noon_utc)


def test_the_stock_of_a_sku_counts_negative_availability_as_nothing(service):
    service.set_levels("MUG", "dc-kassel", on_hand=2)
    service.stock.apply("MUG", "dc-kassel", inventory.Movement.RESERVE, 2)
    service.count("MUG", "dc-kassel", 0, datetime.now(UTC), event_id="c3")
    stock = service.stock_of("MUG")
    assert stock.levels[0].available == -2
    assert (stock.on_hand, stock.reserved, stock.available) == (0, 2, 0)
