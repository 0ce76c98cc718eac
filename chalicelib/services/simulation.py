"""Rule simulation: record every order's sourcing inputs after its commit, replay a period of
them under candidate and current rules as a job of steps, activate a candidate.

The job: step 0 counts the period's inputs; every later step replays up to ``chunk`` of them
from the stored cursor and writes the tally, the cursor and the progress only if the stored step
is still its own (a redelivered step changes nothing), then queues the next step.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol

from aws_lambda_powertools import Logger

from chalicelib.domain.catalog import rules_from_doc
from chalicelib.domain.channel import Channel
from chalicelib.domain.errors import Conflict, FieldError, InvalidInput, NotFound
from chalicelib.domain.network import CarrierService, Location, Product, StockLevel
from chalicelib.domain.order.model import Order
from chalicelib.domain.simulation import (
    MAX_PERIOD_DAYS,
    MAX_STOCK_LOCATIONS,
    Network,
    SimInput,
    Tally,
    replay,
    stock_seen,
    totals,
)

logger = Logger(service="dirigent")

CHUNK = 200


class InputStore(Protocol):
    def put(self, inp: SimInput) -> None: ...
    def count(self, day: str) -> int: ...
    def page(
        self, day: str, after: str | None, limit: int
    ) -> list[tuple[str, SimInput | None]]: ...


class SimulationStore(Protocol):
    def create(self, sim: dict[str, Any]) -> None: ...
    def get(self, simulation_id: str) -> dict[str, Any] | None: ...
    def latest(self) -> dict[str, Any] | None: ...
    def advance(self, simulation_id: str, expected_step: int, changes: dict[str, Any]) -> bool: ...
    def mark_sent(self, simulation_id: str, step: int) -> None: ...
    def failed(self, simulation_id: str, step: int, reason: str) -> bool: ...
    def set_activated(self, simulation_id: str, version: int) -> None: ...


class StepQueue(Protocol):
    def send_step(self, simulation_id: str, step: int) -> None: ...


class Catalog(Protocol):
    def locations(self) -> list[Location]: ...
    def carrier_services(self) -> list[CarrierService]: ...
    def products(self, skus: Iterable[str]) -> dict[str, Product]: ...
    def channel(self, name: str) -> Channel | None: ...
    def rules_doc(self) -> dict[str, Any] | None: ...
    def put_rules(self, values: dict[str, Any]) -> dict[str, Any]: ...


class InputRecorder:
    """Stores an order's sourcing inputs; never raises (the order is placed already)."""

    def __init__(self, store: InputStore, locations: Callable[[], Sequence[Location]]) -> None:
        self._store, self._locations = store, locations

    def record(
        self, order: Order, stock: Sequence[StockLevel], lines: Sequence[tuple[str, int, Any]]
    ) -> bool:
        """True once stored."""
        try:
            skus = {sku for sku, _, _ in lines}
            holders = {s.location_id for s in stock if s.sku in skus and s.available > 0}
            nearest = len(holders) > MAX_STOCK_LOCATIONS  # only then are distances needed
            self._store.put(inputs_of(order, stock, lines, self._locations() if nearest else ()))
        except Exception:  # this order is then counted not replayable
            logger.exception("sourcing inputs not recorded", order_id=order.order_id)
            return False
        return True


def inputs_of(
    order: Order,
    stock: Sequence[StockLevel],
    lines: Sequence[tuple[str, int, Any]],
    locations: Sequence[Location],
) -> SimInput:
    delivery = order.delivery or {}
    skus = [sku for sku, _, _ in lines]
    return SimInput(
        order_id=order.order_id,
        channel=order.channel,
        currency=order.currency,
        ship_to=order.ship_to,
        lines=tuple((sku, int(q), None if p is None else int(p)) for sku, q, p in lines),
        kind=delivery.get("kind"),
        pickup_location_id=delivery.get("pickup_location_id"),
        stock=stock_seen(stock, skus, order.ship_to, locations),
        created_at=datetime.fromisoformat(order.created_at.replace("Z", "+00:00")),
        promised_date=delivery.get("promised_date"),
    )


def parse_period(start: str, end: str, today: date) -> tuple[date, date]:
    """A period of whole UTC days, ``start`` to ``end`` inclusive: 422 naming the field."""
    days: list[date] = []
    for name, value in (("period.from", start), ("period.to", end)):
        try:
            days.append(date.fromisoformat(value))
        except (TypeError, ValueError):
            raise InvalidInput(
                "bad period", fields=[FieldError(name, "a date YYYY-MM-DD")]
            ) from None
    first, last = days
    if last < first:
        raise InvalidInput("bad period", fields=[FieldError("period.to", "before period.from")])
    if (last - first).days + 1 > MAX_PERIOD_DAYS:
        raise InvalidInput(
            "bad period", fields=[FieldError("period.to", f"at most {MAX_PERIOD_DAYS} days")]
        )
    if first > today:
        raise InvalidInput("bad period", fields=[FieldError("period.from", "in the future")])
    if last > today:  # nothing is recorded yet for a day to come
        raise InvalidInput("bad period", fields=[FieldError("period.to", "in the future")])
    return first, last


class SimulationService:
    def __init__(
        self,
        *,
        store: SimulationStore,
        inputs: InputStore,
        queue: StepQueue,
        catalog: Catalog,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        chunk: int | None = None,
    ) -> None:
        self._store, self._inputs, self._queue = store, inputs, queue
        self._catalog, self._clock, self._chunk = catalog, clock, chunk or CHUNK

    # --- the API ------------------------------------------------------------------------------

    def start(self, candidate: dict[str, Any], first: date, last: date, by: str) -> dict[str, Any]:
        """A queued simulation of ``candidate`` (validated values) against the current rules."""
        current = self._catalog.rules_doc() or {"version": 0}
        sim = {
            "simulation_id": "sim_" + secrets.token_hex(8),
            "status": "queued",
            "created_at": self._now(),
            "created_by": by,
            "period_from": first.isoformat(),
            "period_to": last.isoformat(),
            "current_rules": current,
            "candidate_rules": candidate,
            "current_version": int(current.get("version", 0)),
            "step": 0,
            "done": 0,
        }
        self._store.create(sim)
        try:
            self._send(str(sim["simulation_id"]), 0)
        except Exception:  # the next GET queues it again (``kick``)
            logger.exception("simulation step 0 not queued", simulation_id=sim["simulation_id"])
        return view(sim)

    def kick(self, sim: dict[str, Any]) -> None:
        """Queue step 0 again for a simulation whose first message never went out."""
        if sim.get("status") == "queued" and "sent" not in sim:
            self._send(str(sim["simulation_id"]), 0)

    def get(self, simulation_id: str) -> dict[str, Any]:
        sim = self._store.get(simulation_id)
        if sim is None:
            raise NotFound(
                f"no simulation {simulation_id!r}", fields=[FieldError("simulation_id", "unknown")]
            )
        return sim

    def latest(self) -> dict[str, Any] | None:
        sim = self._store.latest()
        return view(sim) if sim else None

    def activate(self, simulation_id: str) -> dict[str, Any]:
        """Store the candidate as the next rules version (once: a retry answers the same)."""
        sim = self.get(simulation_id)
        if sim.get("status") != "done":
            raise Conflict(
                "only a finished simulation can be activated",
                fields=[FieldError("simulation_id", f"status is {sim.get('status')}")],
            )
        if "activated_version" in sim:
            return {"simulation_id": simulation_id, "version": sim["activated_version"]}
        doc = self._catalog.put_rules(dict(sim["candidate_rules"]))
        version = int(doc["version"])
        self._store.set_activated(simulation_id, version)
        return {"simulation_id": simulation_id, "version": version, "rules": doc}

    # --- the job ------------------------------------------------------------------------------

    def step(self, simulation_id: str, step: int) -> None:
        """Run step ``step``; a stale or repeated delivery only re-queues a lost next step."""
        sim = self._store.get(simulation_id)
        if sim is None or sim.get("status") in ("done", "failed"):
            return
        stored = int(sim["step"])
        if step != stored:
            if step == stored - 1 and int(sim.get("sent", -1)) < stored:
                self._send(simulation_id, stored)  # this step ran but its successor was lost
            return
        try:
            changes = self._count(sim) if step == 0 else self._replay(sim)
        except Exception as exc:
            if self._store.failed(simulation_id, step, f"{type(exc).__name__}: {exc}"[:300]):
                logger.exception("simulation failed", simulation_id=simulation_id, step=step)
                return  # given up: the status says so
            raise  # SQS retries the step
        changes["failures"] = 0
        if not self._store.advance(simulation_id, step, changes):
            return  # another delivery ran this step first
        if changes["status"] != "done":
            self._send(simulation_id, step + 1)

    def _count(self, sim: dict[str, Any]) -> dict[str, Any]:
        total = sum(self._inputs.count(day) for day in _days(sim))
        return {
            "status": "running",
            "started_at": self._now(),
            "total": total,
            "done": 0,
            "cursor": {"day": sim["period_from"], "after": None},
            "tally": Tally().as_doc(),
        }

    def _replay(self, sim: dict[str, Any]) -> dict[str, Any]:
        cursor = dict(sim["cursor"])
        days = [d for d in _days(sim) if d >= cursor["day"]]
        batch: list[tuple[str, SimInput | None]] = []
        finished = True
        for day in days:
            want = self._chunk - len(batch)
            after = cursor["after"] if day == cursor["day"] else None
            page = self._inputs.page(day, after, want)
            batch += page
            cursor = {"day": day, "after": page[-1][0] if page else after}
            if len(page) == want:  # the chunk is full: this day may hold more
                finished = False
                break
        tally = Tally.from_doc(sim.get("tally"))
        self._tally(sim, batch, tally)
        done = tally.replayed + tally.not_replayable
        changes: dict[str, Any] = {"tally": tally.as_doc(), "done": done, "cursor": cursor}
        changes["status"] = "done" if finished else "running"
        if finished:
            changes["finished_at"] = self._now()
            changes["total"] = done  # records may have expired since they were counted
        return changes

    def _tally(
        self, sim: dict[str, Any], batch: list[tuple[str, SimInput | None]], tally: Tally
    ) -> None:
        inputs = [i for _, i in batch if i is not None]
        tally.not_replayable += len(batch) - len(inputs)
        if not inputs:
            return
        skus = sorted({sku for i in inputs for sku, _, _ in i.lines})
        channels = {n: c for n in {i.channel for i in inputs} if (c := self._catalog.channel(n))}
        network = Network(
            locations=self._catalog.locations(),
            carrier_services=self._catalog.carrier_services(),
            products=self._catalog.products(skus),
            channels=channels,
        )
        current = rules_from_doc(dict(sim["current_rules"]))
        candidate = rules_from_doc(dict(sim["candidate_rules"]))
        for inp in inputs:
            try:
                outcomes = replay(inp, current, network), replay(inp, candidate, network)
            except Exception:  # one odd record never stops the job
                logger.exception("order not replayable", order_id=inp.order_id)
                tally.not_replayable += 1
                continue
            tally.add(inp.order_id, *outcomes)

    def _send(self, simulation_id: str, step: int) -> None:
        self._queue.send_step(simulation_id, step)
        self._store.mark_sent(simulation_id, step)

    def _now(self) -> str:
        return self._clock().isoformat(timespec="seconds").replace("+00:00", "Z")


def _days(sim: dict[str, Any]) -> list[str]:
    first, last = date.fromisoformat(sim["period_from"]), date.fromisoformat(sim["period_to"])
    return [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]


def view(sim: dict[str, Any], limit: int = 100) -> dict[str, Any]:
    """The API's answer: status, progress, the rule versions compared and, once there are any,
    the totals, per-location volumes and the top ``limit`` per-order deltas by |cost delta|."""
    out: dict[str, Any] = {
        "simulation_id": sim["simulation_id"],
        "status": sim["status"],
        "period": {"from": sim["period_from"], "to": sim["period_to"]},
        "progress": {"done": int(sim.get("done", 0)), "total": sim.get("total")},
        "created_at": sim.get("created_at"),
        "started_at": sim.get("started_at"),
        "finished_at": sim.get("finished_at"),
        "current_version": int(sim.get("current_version", 0)),
        "candidate_rules": sim.get("candidate_rules"),
        "activated_version": sim.get("activated_version"),
        "error": sim.get("error") if sim["status"] == "failed" else None,
    }
    if sim.get("tally"):
        tally = Tally.from_doc(sim["tally"])
        out["results"] = {**totals(tally), "deltas": tally.deltas[:limit]}
    return out
