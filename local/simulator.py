"""A simulated warehouse for the local stack: it consumes fulfilment requests and reports back
on the warehouse-events queue, as a real location's connector would.

A parcel goes ``picked`` -> ``shipped`` (carrier and tracking number) -> ``delivered``, a
click & collect shipment ``picked`` -> ``ready_for_pickup`` -> ``collected`` (reported by the
pick-up store), each step a few seconds apart. Now and then a line is short by one unit: a
``short_pick`` comes before ``picked``, and the order re-sources it. Requests are deduplicated
by ``message_id``, as the API asks of every receiver.

Environment (read at start): ``SIMULATOR_STEP_SECONDS`` (default 3, the mean time between two
steps) and ``SIMULATOR_SHORT_PICK_RATE`` (default 0.1, the share of requests with a short pick).
"""

from __future__ import annotations

import heapq
import itertools
import json
import logging
import os
import random
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any

log = logging.getLogger("local.simulator")

WAIT_TIME_S = 1
SHIP_STEPS = ("picked", "shipped", "delivered")
PICKUP_STEPS = ("picked", "ready_for_pickup", "collected")


def plan_events(
    request: dict[str, Any], *, rng: random.Random, short_rate: float
) -> list[dict[str, Any]]:
    """The events a location sends for one fulfilment request, in the order it sends them
    (without ``occurred_at``: stamped when sent)."""
    pickup = request.get("pickup")
    base = {
        "order_id": request["order_id"],
        "shipment_id": request["shipment_id"],
        "location_id": request["location_id"],
    }
    events: list[dict[str, Any]] = []
    short = _short_line(request["lines"], rng) if rng.random() < short_rate else None
    if short:
        events.append({**base, "type": "short_pick", "sku": short, "missing_quantity": 1})
    for step in PICKUP_STEPS if pickup else SHIP_STEPS:
        event = {**base, "type": step}
        if step == "shipped":
            event["carrier"] = _carrier(request.get("carrier_service"))
            event["tracking_number"] = f"SIM{rng.randrange(10**9, 10**10)}"
        if step in ("ready_for_pickup", "collected") and pickup:
            event["location_id"] = pickup["location_id"]
        events.append(event)
    return events


def _short_line(lines: list[dict[str, Any]], rng: random.Random) -> str | None:
    """A line that stays non-empty when one unit is missing (an empty parcel never ships)."""
    candidates = [line["sku"] for line in lines if int(line["quantity"]) >= 2]
    return rng.choice(candidates) if candidates else None


def _carrier(service: str | None) -> str:
    name = (service or "carrier").split("-")[0]
    return name.upper() if len(name) <= 4 else name.title()


class SimulatedWarehouse(threading.Thread):
    def __init__(
        self,
        *,
        sqs: Any,
        fulfilment_queue: str,
        events_queue: str,
        stop: threading.Event,
        step_s: float | None = None,
        short_rate: float | None = None,
        seed: int | None = None,
    ) -> None:
        super().__init__(name="simulated-warehouse", daemon=True)
        self._sqs, self._halt = sqs, stop
        self._in = sqs.get_queue_url(QueueName=fulfilment_queue)["QueueUrl"]
        self._out = sqs.get_queue_url(QueueName=events_queue)["QueueUrl"]
        env = os.environ
        self.step_s = step_s if step_s is not None else float(env.get("SIMULATOR_STEP_SECONDS", 3))
        self.short_rate = (
            short_rate
            if short_rate is not None
            else float(env.get("SIMULATOR_SHORT_PICK_RATE", 0.1))
        )
        self._rng = random.Random(seed)
        self._seen: set[str] = set()
        self._due: list[tuple[float, int, dict[str, Any]]] = []
        self._tie = itertools.count()

    def run(self) -> None:
        while not self._halt.is_set():
            try:
                self._receive()
                self._send_due()
            except Exception:
                if not self._halt.is_set():
                    log.exception("simulated warehouse failed; retrying")
                    self._halt.wait(1)

    def _receive(self) -> None:
        wait = WAIT_TIME_S if not self._due else 0
        messages = self._sqs.receive_message(
            QueueUrl=self._in, MaxNumberOfMessages=10, WaitTimeSeconds=wait
        ).get("Messages", [])
        for message in messages:
            self.accept(json.loads(message["Body"]))
            self._sqs.delete_message(QueueUrl=self._in, ReceiptHandle=message["ReceiptHandle"])
        if not messages and self._due:
            self._halt.wait(min(0.2, max(0.0, self._due[0][0] - time.monotonic())))

    def accept(self, request: dict[str, Any]) -> bool:
        """Schedule the events for a request; False for a duplicate (same ``message_id``)."""
        message_id = str(request.get("message_id") or request.get("shipment_id"))
        if message_id in self._seen:
            return False
        self._seen.add(message_id)
        at = time.monotonic()
        for event in plan_events(request, rng=self._rng, short_rate=self.short_rate):
            at += self.step_s * self._rng.uniform(0.6, 1.4)
            heapq.heappush(self._due, (at, next(self._tie), event))
        log.info("fulfilment request %s accepted", message_id)
        return True

    def _send_due(self) -> None:
        now = time.monotonic()
        while self._due and self._due[0][0] <= now:
            _, _, event = heapq.heappop(self._due)
            body = {
                "event_id": f"sim-{uuid.uuid4()}",
                "occurred_at": datetime.now(UTC).isoformat(),
                **event,
            }
            self._sqs.send_message(QueueUrl=self._out, MessageBody=json.dumps(body))
            log.info("sent %s for %s", event["type"], event["shipment_id"])
