"""Rule simulation, pure: replaying recorded inputs under two rule sets, the deltas and the
per-location volumes they add up to, the compact record, and the job's steps on fakes."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

import pytest

from chalicelib.domain.channel import Channel, ChannelKind
from chalicelib.domain.errors import Conflict, InvalidInput
from chalicelib.domain.network import Address, Product, StockLevel
from chalicelib.domain.rules import SourcingRules
from chalicelib.domain.simulation import (
    Network,
    SimInput,
    Tally,
    location_volumes,
    order_delta,
    replay,
    stock_seen,
    totals,
)
from chalicelib.services.simulation import SimulationService, parse_period, view
from tests.fixtures.network import load_network

NET = load_network()
AT = datetime(2026, 3, 10, 8, 0, tzinfo=UTC)
BERLIN = Address(
    country="DE", postal_code="10115", city="Berlin", lat=52.52, lon=13.41, name="Ada", line1="x"
)
NETWORK = Network(
    locations=NET.locations,
    carrier_services=NET.carrier_services,
    products={"MUG": Product("MUG", 400, {"EUR": 1200})},
    channels={
        "webshop": Channel(
            channel="webshop",
            kind=ChannelKind.WEBSHOP,
            currencies=frozenset({"EUR"}),
            countries=frozenset({"DE"}),
        )
    },
)


def mug_order(order_id: str = "o-1", stock: tuple[tuple[str, str, int], ...] = ()) -> SimInput:
    return SimInput(
        order_id=order_id,
        channel="webshop",
        currency="EUR",
        ship_to=BERLIN,
        lines=(("MUG", 2, 1200),),
        kind="fastest",
        pickup_location_id=None,
        stock=stock or (("dc-kassel", "MUG", 9), ("3pl-venlo", "MUG", 9)),
        created_at=AT,
    )


def test_a_rule_that_forbids_a_location_moves_its_volume_and_the_deltas_say_so() -> None:
    current_rules = SourcingRules()
    first = replay(mug_order(), current_rules, NETWORK)
    assert first.placed and [loc for loc, _, _ in first.volumes] == ["dc-kassel"]
    forbid = SourcingRules(excluded_locations={"webshop": ("dc-kassel",)})
    second = replay(mug_order(), forbid, NETWORK)
    assert [loc for loc, _, _ in second.volumes] == ["3pl-venlo"]

    tally = Tally()
    tally.add("o-1", first, second)
    tally.add("o-2", first, second)
    assert location_volumes(tally) == [
        {
            "location_id": "3pl-venlo",
            "current": {"units": 0, "parcels": 0},
            "candidate": {"units": 4, "parcels": 2},
            "units_delta": 4,
            "parcels_delta": 2,
        },
        {
            "location_id": "dc-kassel",
            "current": {"units": 4, "parcels": 2},
            "candidate": {"units": 0, "parcels": 0},
            "units_delta": -4,
            "parcels_delta": -2,
        },
    ]
    view = totals(tally)
    assert view["orders_replayed"] == 2
    assert view["current"]["cost_to_serve"] == 2 * first.cost
    assert view["candidate"]["cost_to_serve"] == 2 * second.cost
    assert view["difference"]["cost_to_serve"] == 2 * (second.cost - first.cost) != 0
    assert [d["order_id"] for d in tally.deltas] == ["o-1", "o-2"]
    delta = tally.deltas[0]
    assert delta["cost"] == second.cost - first.cost
    assert delta["current_locations"] == ["dc-kassel"]
    assert delta["candidate_locations"] == ["3pl-venlo"]
    assert delta["promise_days"] == second.promise_days - first.promise_days


def test_an_order_no_location_may_serve_is_unplaceable_under_the_candidate() -> None:
    everywhere = SourcingRules(excluded_locations={"webshop": ("dc-kassel", "3pl-venlo")})
    current, candidate = (
        replay(mug_order(), SourcingRules(), NETWORK),
        replay(mug_order(), everywhere, NETWORK),
    )
    assert current.placed and not candidate.placed
    tally = Tally()
    tally.add("o-1", current, candidate)
    view = totals(tally)
    assert view["candidate"]["unplaceable"] == 1 and view["candidate"]["orders"] == 0
    assert view["difference"]["unplaceable"] == 1
    assert tally.deltas[0]["placed"] == [True, False]
    assert tally.deltas[0]["cost"] == -current.cost


def test_same_rules_change_nothing_and_keep_no_delta() -> None:
    outcome = replay(mug_order(), SourcingRules(), NETWORK)
    assert order_delta("o-1", outcome, outcome)["changed"] is False
    tally = Tally()
    tally.add("o-1", outcome, outcome)
    assert tally.deltas == []
    assert totals(tally)["difference"]["cost_to_serve"] == 0


def test_the_tally_survives_its_stored_form_and_keeps_the_largest_deltas() -> None:
    a = replay(mug_order(), SourcingRules(), NETWORK)
    b = replay(mug_order(), SourcingRules(excluded_locations={"webshop": ("dc-kassel",)}), NETWORK)
    tally = Tally()
    tally.add("o-1", a, b)
    again = Tally.from_doc(tally.as_doc())
    again.add("o-2", a, b)
    assert again.replayed == 2
    assert again.sides["candidate"]["locations"]["3pl-venlo"] == {"units": 4, "parcels": 2}


def test_the_record_is_compact_and_keeps_no_personal_address_fields() -> None:
    doc = mug_order().as_doc()
    assert doc["to"] == {
        "country": "DE",
        "postal_code": "10115",
        "city": "Berlin",
        "lat": 52.52,
        "lon": 13.41,
    }
    back = SimInput.from_doc(doc)
    assert back == replace(mug_order(), ship_to=replace(BERLIN, name=None, line1=None))


def test_only_the_carts_skus_at_the_nearest_holding_locations_are_kept() -> None:
    kassel = NET.location("dc-kassel")
    far = [replace(kassel, location_id=f"far-{n:02d}", lat=40.0 + n / 10) for n in range(45)]
    stock = [StockLevel("MUG", loc.location_id, 3) for loc in far]
    stock += [StockLevel("OTHER", "dc-kassel", 5), StockLevel("MUG", "dc-kassel", 0)]
    kept = stock_seen(stock, ["MUG"], BERLIN, far, cap=40)
    assert len(kept) == 40
    assert {loc for loc, _, _ in kept} == {f"far-{n:02d}" for n in range(5, 45)}  # nearest
    assert {sku for _, sku, _ in kept} == {"MUG"}


@pytest.mark.parametrize(
    ("start", "end", "field"),
    [
        ("2026-03-01", "2026-04-01", "period.to"),  # 32 days
        ("2026-03-10", "2026-03-09", "period.to"),
        ("2026-3-1", "2026-03-09", "period.from"),
        ("2026-03-01", "tomorrow!!", "period.to"),
        ("2027-01-01", "2027-01-02", "period.from"),  # in the future
    ],
)
def test_a_bad_period_is_a_422_naming_the_field(start: str, end: str, field: str) -> None:
    with pytest.raises(InvalidInput) as err:
        parse_period(start, end, date(2026, 12, 2))
    assert [f.path for f in err.value.fields] == [field]


# --- the job on fakes --------------------------------------------------------------------------


class FakeInputs:
    def __init__(self, by_day: dict[str, list[SimInput | None]]) -> None:
        self.by_day = by_day

    def put(self, inp: SimInput) -> None:
        raise NotImplementedError

    def count(self, day: str) -> int:
        return len(self.by_day.get(day, []))

    def page(self, day: str, after: str | None, limit: int) -> list[tuple[str, SimInput | None]]:
        rows = [(f"o-{day}-{n:03d}", inp) for n, inp in enumerate(self.by_day.get(day, []))]
        return [r for r in rows if after is None or r[0] > after][:limit]


class FakeStore:
    def __init__(self) -> None:
        self.sims: dict[str, dict[str, Any]] = {}

    def create(self, sim: dict[str, Any]) -> None:
        self.sims[sim["simulation_id"]] = dict(sim)

    def get(self, simulation_id: str) -> dict[str, Any] | None:
        sim = self.sims.get(simulation_id)
        return dict(sim) if sim else None

    def latest(self) -> dict[str, Any] | None:
        return None

    def advance(self, simulation_id: str, expected_step: int, changes: dict[str, Any]) -> bool:
        sim = self.sims[simulation_id]
        if sim["step"] != expected_step:
            return False
        sim.update(changes, step=expected_step + 1)
        return True

    def mark_sent(self, simulation_id: str, step: int) -> None:
        sim = self.sims[simulation_id]
        sim["sent"] = max(step, sim.get("sent", -1))

    def failed(self, simulation_id: str, step: int, reason: str) -> bool:
        sim = self.sims[simulation_id]
        if sim["step"] != step:
            return False
        sim["failures"] = sim.get("failures", 0) + 1
        sim["error"] = reason
        if sim["failures"] >= 3:
            sim["status"] = "failed"
        return sim["status"] == "failed"

    def set_activated(self, simulation_id: str, version: int) -> None:
        self.sims[simulation_id]["activated_version"] = version


class FakeQueue:
    def __init__(self) -> None:
        self.sent: list[int] = []
        self.fail = False

    def send_step(self, simulation_id: str, step: int) -> None:
        if self.fail:
            raise RuntimeError("SQS down")
        self.sent.append(step)


class FakeCatalog:
    def __init__(self) -> None:
        self.versions: list[dict[str, Any]] = []

    def locations(self):  # type: ignore[no-untyped-def]
        return list(NET.locations)

    def carrier_services(self):  # type: ignore[no-untyped-def]
        return list(NET.carrier_services)

    def products(self, skus):  # type: ignore[no-untyped-def]
        return dict(NETWORK.products)

    def channel(self, name: str) -> Channel | None:
        return NETWORK.channels.get(name)

    def rules_doc(self) -> dict[str, Any] | None:
        return self.versions[-1] if self.versions else None

    def put_rules(self, values: dict[str, Any]) -> dict[str, Any]:
        self.versions.append({**values, "version": len(self.versions) + 1})
        return self.versions[-1]


def job(by_day: dict[str, list[SimInput | None]]) -> tuple[SimulationService, FakeStore, FakeQueue]:
    store, queue = FakeStore(), FakeQueue()
    service = SimulationService(
        store=store, inputs=FakeInputs(by_day), queue=queue, catalog=FakeCatalog(), chunk=2
    )
    return service, store, queue


def test_the_job_runs_in_steps_and_a_redelivered_step_counts_nothing_twice() -> None:
    days = {"2026-03-10": [mug_order()] * 3, "2026-03-11": [None, mug_order()]}
    service, store, queue = job(days)
    candidate = {"excluded_locations": {"webshop": ["dc-kassel"]}}
    sim_id = service.start(candidate, date(2026, 3, 10), date(2026, 3, 11), "admin")[
        "simulation_id"
    ]
    with pytest.raises(Conflict):
        service.activate(sim_id)
    service.step(sim_id, 0)
    assert store.sims[sim_id]["status"] == "running" and store.sims[sim_id]["total"] == 5
    service.step(sim_id, 1)
    service.step(sim_id, 1)  # redelivered: nothing changes
    assert store.sims[sim_id]["done"] == 2
    for step in range(2, 10):
        if store.sims[sim_id]["status"] == "done":
            break
        service.step(sim_id, step)
    sim = store.sims[sim_id]
    assert sim["status"] == "done" and sim["done"] == sim["total"] == 5
    results = service.get(sim_id)["tally"]
    assert results["replayed"] == 4 and results["not_replayable"] == 1
    assert results["sides"]["candidate"]["locations"] == {"3pl-venlo": {"units": 8, "parcels": 4}}
    assert queue.sent == sorted(queue.sent) and len(queue.sent) == len(set(queue.sent))
    assert service.activate(sim_id)["version"] == 1
    assert service.activate(sim_id)["version"] == 1  # a retry stores no second version


def test_a_step_whose_successor_was_lost_queues_it_again_on_redelivery() -> None:
    service, store, queue = job({"2026-03-10": [mug_order()] * 3})
    sim_id = service.start({}, date(2026, 3, 10), date(2026, 3, 10), "admin")["simulation_id"]
    service.step(sim_id, 0)
    queue.fail = True
    with pytest.raises(RuntimeError):
        service.step(sim_id, 1)  # step 1 is stored; queueing step 2 failed
    queue.fail = False
    service.step(sim_id, 1)  # SQS redelivers step 1: step 2 goes out, nothing is recounted
    assert queue.sent[-1] == 2 and store.sims[sim_id]["done"] == 2
    service.step(sim_id, 1)  # a later duplicate of step 1 sends nothing more
    assert queue.sent.count(2) == 1


class BrokenCatalog(FakeCatalog):
    def locations(self):  # type: ignore[no-untyped-def]
        raise RuntimeError("catalog down")


def test_a_step_that_keeps_failing_fails_the_simulation_and_says_why() -> None:
    service, store, _queue = job({"2026-03-10": [mug_order()]})
    sim_id = service.start({}, date(2026, 3, 10), date(2026, 3, 10), "admin")["simulation_id"]
    service.step(sim_id, 0)
    service._catalog = BrokenCatalog()  # type: ignore[assignment]
    for _ in range(2):
        with pytest.raises(RuntimeError):
            service.step(sim_id, 1)  # retried by SQS
    service.step(sim_id, 1)  # the third failure gives up instead of raising
    failed = service.get(sim_id)
    assert failed["status"] == "failed" and failed["step"] == 1
    assert view(failed)["error"] == "RuntimeError: catalog down"
    assert service.step(sim_id, 1) is None and store.sims[sim_id]["failures"] == 3
    with pytest.raises(Conflict):
        service.activate(sim_id)


@pytest.mark.parametrize("sizes", [(1, 0, 2), (2, 2, 0), (0, 0, 0), (3, 0, 1)])
def test_every_record_of_the_period_is_replayed_once_across_days(sizes: tuple[int, ...]) -> None:
    days = {f"2026-03-1{n}": [mug_order()] * size for n, size in enumerate(sizes)}
    service, store, _queue = job(days)
    sim_id = service.start({}, date(2026, 3, 10), date(2026, 3, 12), "admin")["simulation_id"]
    for step in range(20):
        service.step(sim_id, step)
    sim = store.sims[sim_id]
    assert sim["status"] == "done" and sim["done"] == sim["total"] == sum(sizes)
    assert sim["tally"]["replayed"] == sum(sizes)
