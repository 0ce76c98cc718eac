"""The availability feed's computation and its push decisions, on plain domain objects."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.domain.availability import (
    RESEND_AFTER,
    Action,
    Band,
    PushState,
    availability,
    band_of,
    candidate_locations,
    decide,
    parcel_fills,
)
from chalicelib.domain.channel import BackorderPolicy, Channel, ChannelKind
from chalicelib.domain.network import Product, StockLevel
from chalicelib.domain.rules import SourcingRules
from chalicelib.services.availability import AvailabilityService, PushFailed
from chalicelib.services.cursors import CursorSigner
from tests.fixtures.network import load_network

NOW = datetime(2030, 3, 4, 7, 0, tzinfo=UTC)  # a Monday morning
NET = load_network()
CHANNEL = Channel(
    channel="web",
    kind=ChannelKind.WEBSHOP,
    currencies=frozenset({"EUR"}),
    countries=frozenset({"DE"}),
)


def feed(
    levels: list[StockLevel],
    *,
    channel: Channel = CHANNEL,
    rules: SourcingRules | None = None,
    locations: Any = None,
    weight_g: int = 500,
) -> Any:
    skus = sorted({lv.sku for lv in levels}) or ["SKU-1"]
    return availability(
        channel,
        skus=skus,
        stock=levels,
        locations=list(locations if locations is not None else NET.locations),
        carrier_services=list(NET.carrier_services),
        products={s: Product(sku=s, weight_g=weight_g) for s in skus},
        rules=rules or SourcingRules(),
        now=NOW,
    )


def test_a_warehouse_sells_everything_available_after_safety_stock():
    found = feed([StockLevel("SKU-1", "dc-kassel", on_hand=10, reserved=2, safety_stock=3)])
    assert found["SKU-1"].available == 5
    assert found["SKU-1"].band is Band.LOW


def test_a_store_keeps_its_protected_units_for_walk_in_customers():
    found = feed([StockLevel("SKU-1", "st-berlin", on_hand=3)])
    assert found["SKU-1"].available == 2  # store_protection_units = 1
    alone = feed([StockLevel("SKU-1", "st-berlin", on_hand=1)])
    assert alone["SKU-1"].available == 0
    assert alone["SKU-1"].band is Band.OUT


def test_a_stale_feed_is_discounted_like_sourcing_discounts_it():
    stale = replace(
        NET.location("dc-kassel"), feed_interval_minutes=60, feed_at=NOW - timedelta(minutes=90)
    )
    locations = [stale if loc.location_id == "dc-kassel" else loc for loc in NET.locations]
    found = feed([StockLevel("SKU-1", "dc-kassel", on_hand=12)], locations=locations)
    assert found["SKU-1"].available == 10  # 12 * (240 - 90) / 180, rounded down


def test_a_feed_past_its_limit_is_not_sold_nor_even_read():
    dead = replace(NET.location("dc-kassel"), feed_interval_minutes=60, feed_at=None)
    locations = [dead if loc.location_id == "dc-kassel" else loc for loc in NET.locations]
    found = feed([StockLevel("SKU-1", "dc-kassel", on_hand=12)], locations=locations)
    assert found["SKU-1"].available == 0
    read = candidate_locations(CHANNEL, SourcingRules(), locations, NOW)
    assert "dc-kassel" not in {loc.location_id for loc in read}


def test_excluded_and_non_shipping_locations_do_not_count():
    levels = [
        StockLevel("SKU-1", "dc-kassel", on_hand=10),
        StockLevel("SKU-1", "3pl-venlo", on_hand=20),
        StockLevel("SKU-1", "st-koeln", on_hand=40),  # click & collect only
        StockLevel("SKU-1", "dc-lyon", on_hand=7),
    ]
    channel = replace(CHANNEL, excluded_locations=frozenset({"3pl-venlo"}))
    rules = SourcingRules(excluded_locations={"web": ("dc-lyon",)})
    found = feed(levels, channel=channel, rules=rules)
    assert found["SKU-1"].available == 10
    assert found["SKU-1"].on_locations == 10
    names = {loc.location_id for loc in candidate_locations(channel, rules, NET.locations, NOW)}
    assert not names & {"3pl-venlo", "dc-lyon", "st-koeln"}


def test_one_order_takes_at_most_the_parcel_limit_of_locations():
    levels = [
        StockLevel("SKU-1", loc, on_hand=q)
        for loc, q in [("dc-kassel", 10), ("dc-lyon", 9), ("3pl-venlo", 8), ("st-berlin", 6)]
    ]
    found = feed(levels)["SKU-1"]
    assert found.on_locations == 10 + 9 + 8 + 5
    assert found.available == 10 + 9 + 8  # max_parcels = 3: the three largest


def test_heavy_units_fill_parcels_by_the_heaviest_band():
    found = feed([StockLevel("SKU-1", "dc-kassel", on_hand=10)], weight_g=10_000)["SKU-1"]
    assert found.available == 9  # 3 units per 31.5 kg parcel, 3 parcels
    assert parcel_fills(10, 3, 3) == [3, 3, 3]
    assert parcel_fills(5, 3, 3) == [3, 2]
    assert parcel_fills(5, None, 3) == [5]


def test_the_promise_is_the_earliest_delivery_from_a_location_holding_stock():
    levels = [
        StockLevel("SKU-1", "dc-lyon", on_hand=5),
        StockLevel("SKU-2", "dc-lyon", on_hand=5),
        StockLevel("SKU-2", "dc-kassel", on_hand=5),
    ]
    found = feed(levels)
    assert found["SKU-2"].promise_location_id == "dc-kassel"  # in DE, like the customer
    assert found["SKU-2"].promise_date is not None
    assert found["SKU-1"].promise_date is not None
    assert found["SKU-2"].promise_date <= found["SKU-1"].promise_date
    assert feed([StockLevel("SKU-3", "dc-kassel", on_hand=0)])["SKU-3"].promise_date is None


def test_a_backorder_channel_shows_physical_stock_and_says_it_takes_more():
    channel = replace(CHANNEL, backorder_policy=BackorderPolicy.BACKORDER)
    found = feed([StockLevel("SKU-1", "dc-kassel", on_hand=0)], channel=channel)["SKU-1"]
    assert (found.available, found.backorderable) == (0, True)


def test_bands_follow_the_channels_low_threshold():
    assert [band_of(n, 5) for n in (-1, 0, 1, 5, 6)] == [
        Band.OUT,
        Band.OUT,
        Band.LOW,
        Band.LOW,
        Band.IN,
    ]
    assert band_of(1, 0) is Band.IN


# --- push decisions ------------------------------------------------------------------------------


def test_the_first_band_seen_is_announced():
    assert decide(None, Band.IN, 100.0).action is Action.SEND


def test_an_unchanged_band_is_not_announced_again():
    state = PushState(Band.IN, sent_at=0.0, version=1)
    assert decide(state, Band.IN, 1000.0).action is Action.NONE


def test_a_change_inside_the_window_is_deferred_to_its_end():
    state = PushState(Band.IN, sent_at=100.0, version=1)
    decision = decide(state, Band.OUT, 110.0)
    assert (decision.action, decision.at) == (Action.DEFER, 130.0)
    assert decide(state, Band.OUT, 130.0).action is Action.SEND


def test_a_pending_recheck_is_not_scheduled_twice_unless_lost():
    pending = PushState(Band.IN, sent_at=100.0, version=1, pending_until=130.0)
    assert decide(pending, Band.LOW, 120.0).action is Action.NONE
    assert decide(pending, Band.LOW, 120.0, recheck=True).action is Action.DEFER
    lost = PushState(Band.IN, sent_at=100.0, version=1, pending_until=50.0)
    assert decide(lost, Band.LOW, 120.0).action is Action.DEFER


# --- the service's coalescing, on an in-memory store --------------------------------------------


class MemoryStore:
    """The push-state part of the store, with the adapter's conditional semantics."""

    def __init__(self) -> None:
        self.states: dict[tuple[str, str], PushState] = {}
        self.logged: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def log_changes(self, skus: Any, at: datetime) -> None:
        self.logged += [(at.isoformat(), s) for s in skus]

    def changes(self, since: Any, until: Any, limit: int, after: Any) -> Any:
        return [], None

    def push_state(self, channel: str, sku: str) -> PushState | None:
        return self.states.get((channel, sku))

    def claim_send(self, channel: str, sku: str, seen: Any, band: Band, now: float) -> Any:
        with self._lock:
            if self.states.get((channel, sku)) != seen:
                return None
            version = (seen.version if seen else 0) + 1
            self.states[(channel, sku)] = PushState(band, now, version, unsent=True)
            return version

    def confirm_sent(self, channel: str, sku: str, version: int) -> None:
        with self._lock:
            state = self.states[(channel, sku)]
            if state.version == version:
                self.states[(channel, sku)] = replace(state, unsent=False)

    def claim_defer(self, channel: str, sku: str, seen: PushState, until: float) -> bool:
        with self._lock:
            if self.states.get((channel, sku)) != seen:
                return False
            self.states[(channel, sku)] = replace(seen, pending_until=until)
            return True


class Network:
    def __init__(self, channels: list[Channel]) -> None:
        self._channels = {c.channel: c for c in channels}

    def channel(self, name: str) -> Channel | None:
        return self._channels.get(name)

    def channels(self) -> list[Channel]:
        return list(self._channels.values())

    def locations(self) -> list[Any]:
        return list(NET.locations)

    def carrier_services(self) -> list[Any]:
        return list(NET.carrier_services)

    def rules(self) -> SourcingRules:
        return SourcingRules()

    def products(self, skus: Any) -> dict[str, Product]:
        return {s: Product(sku=s, weight_g=500) for s in skus}


class Stock:
    def __init__(self) -> None:
        self.levels: dict[tuple[str, str], StockLevel] = {}

    def set(self, sku: str, location_id: str, on_hand: int) -> None:
        self.levels[(sku, location_id)] = StockLevel(sku, location_id, on_hand=on_hand)

    def for_sku(self, sku: str) -> list[StockLevel]:
        return [lv for (s, _), lv in list(self.levels.items()) if s == sku]


class Clock:
    def __init__(self) -> None:
        self.at = NOW

    def __call__(self) -> datetime:
        return self.at

    def tick(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)


@pytest.fixture
def rig() -> Any:
    class Rig:
        clock = Clock()
        stock = Stock()
        store = MemoryStore()
        pushes: list[tuple[str, str, int, int]] = []
        scheduled: list[tuple[str, str, int]] = []

    rig = Rig()

    class Rechecks:
        def schedule(self, channel: str, sku: str, delay: int) -> None:
            rig.scheduled.append((channel, sku, delay))

    def push(channel: str, sku: str, available: int, version: int) -> int:
        rig.pushes.append((channel, sku, available, version))
        return 1

    rig.service = AvailabilityService(
        network=Network([CHANNEL]),
        stock=rig.stock,
        store=rig.store,
        push=push,
        rechecks=Rechecks(),
        cursors=CursorSigner(b"k" * 32),
        clock=rig.clock,
    )
    return rig


def test_a_change_inside_the_window_is_sent_when_it_ends(rig: Any):
    rig.stock.set("SKU-1", "dc-kassel", 20)
    assert rig.service.stock_changed(["SKU-1"]) == 1
    rig.clock.tick(5)
    rig.stock.set("SKU-1", "dc-kassel", 0)
    assert rig.service.stock_changed(["SKU-1"]) == 0  # inside the window: deferred
    assert rig.scheduled == [("web", "SKU-1", 25)]
    rig.clock.tick(1)
    rig.stock.set("SKU-1", "dc-kassel", 2)
    assert rig.service.stock_changed(["SKU-1"]) == 0
    assert len(rig.scheduled) == 1  # one re-check per window
    rig.clock.tick(24)
    assert rig.service.recheck("web", "SKU-1") == 1
    assert rig.pushes == [("web", "SKU-1", 20, 1), ("web", "SKU-1", 2, 2)]
    assert [s for _, s in rig.store.logged] == ["SKU-1"] * 3


def test_a_change_undone_inside_the_window_is_not_announced(rig: Any):
    rig.stock.set("SKU-1", "dc-kassel", 20)
    rig.service.stock_changed(["SKU-1"])
    rig.clock.tick(3)
    rig.stock.set("SKU-1", "dc-kassel", 0)
    rig.service.stock_changed(["SKU-1"])
    rig.stock.set("SKU-1", "dc-kassel", 30)
    rig.service.stock_changed(["SKU-1"])
    rig.clock.tick(30)
    assert rig.service.recheck("web", "SKU-1") == 0
    assert len(rig.pushes) == 1


def test_a_change_within_the_band_is_not_announced(rig: Any):
    rig.stock.set("SKU-1", "dc-kassel", 20)
    rig.service.stock_changed(["SKU-1"])
    rig.clock.tick(60)
    rig.stock.set("SKU-1", "dc-kassel", 9)
    assert rig.service.stock_changed(["SKU-1"]) == 0
    assert rig.scheduled == []


def test_a_push_that_fails_after_its_claim_is_sent_again_on_the_retry(rig: Any):
    rig.stock.set("SKU-1", "dc-kassel", 20)
    delivered = rig.service._push
    calls: list[int] = []

    def failing(channel: str, sku: str, available: int, version: int) -> int:
        calls.append(version)
        raise ConnectionError("the webhooks table is unreachable")

    rig.service._push = failing
    with pytest.raises(PushFailed):
        rig.service.stock_changed(["SKU-1"])
    assert rig.store.states[("web", "SKU-1")].unsent
    rig.service._push = delivered
    assert rig.service.stock_changed(["SKU-1"]) == 0  # a push may still be under way
    rig.clock.tick(RESEND_AFTER)
    assert rig.service.stock_changed(["SKU-1"]) == 1  # the retry (SQS redelivers it later)
    assert calls == [1]
    assert rig.pushes == [("web", "SKU-1", 20, 2)]
    assert not rig.store.states[("web", "SKU-1")].unsent
    rig.clock.tick(RESEND_AFTER)
    assert rig.service.stock_changed(["SKU-1"]) == 0  # confirmed: not sent a third time


def test_one_failing_push_does_not_hold_back_the_others(rig: Any):
    for sku in ("SKU-1", "SKU-2"):
        rig.stock.set(sku, "dc-kassel", 20)
    delivered = rig.service._push

    def failing(channel: str, sku: str, available: int, version: int) -> int:
        if sku == "SKU-1":
            raise ConnectionError("refused")
        return delivered(channel, sku, available, version)

    rig.service._push = failing
    with pytest.raises(PushFailed):
        rig.service.stock_changed(["SKU-1", "SKU-2"])
    assert [p[1] for p in rig.pushes] == ["SKU-2"]


def test_an_unconfirmed_claim_is_resent_whatever_the_band():
    lost = PushState(Band.IN, sent_at=100.0, version=3, unsent=True)
    assert decide(lost, Band.IN, 100.0 + RESEND_AFTER - 1).action is Action.NONE
    assert decide(lost, Band.IN, 100.0 + RESEND_AFTER).action is Action.SEND
    assert decide(lost, Band.OUT, 100.0 + RESEND_AFTER).action is Action.SEND
