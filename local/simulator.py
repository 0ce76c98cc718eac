"""A simulated warehouse for the local stack: it consumes fulfilment requests and reports back
on the warehouse-events queue, as a real location's connector would: each message signed with
the key of the location it speaks for (the ``Signature`` and ``KeyVersion`` attributes).

A parcel goes ``picked`` -> ``shipped`` (carrier and tracking number) -> ``delivered``, a
click & collect shipment ``picked`` -> ``ready_for_pickup`` -> ``collected`` (reported by the
pick-up store; a transfer from another location is ``shipped`` by it first, to the store), each
step a few seconds apart. Now and then a line is short by one unit: a
``short_pick`` comes before ``picked``, and the order re-sources it. Requests are deduplicated
by ``message_id``, as the API asks of every receiver.

It speaks the cancel protocol: a ``cancel_request`` for a shipment that has not left is
confirmed (``cancel_confirmed``, its remaining steps dropped when the whole shipment goes) or,
now and then, rejected (``cancel_rejected``: "already packed", and the shipment goes on); one for
a shipment that left is rejected ("already shipped"). A notice (the shipment was cancelled
before the location could know) is confirmed and the shipment dropped. For demos and tests a
cancel reason may steer it: ``sim:reject`` rejects, ``sim:ignore`` never answers and ships
anyway, ``sim:confirm`` confirms. A ``transfer_request`` (a store sends a cancelled pick-up's units
back) is ``transfer_back_shipped`` by the store, then ``transfer_back_received`` by the source.

Environment (read at start): ``SIMULATOR_STEP_SECONDS`` (default 3, the mean time between two
steps), ``SIMULATOR_SHORT_PICK_RATE`` (default 0.1, the share of requests with a short pick) and
``SIMULATOR_CANCEL_REJECT_RATE`` (default 0.2, the share of cancel requests rejected).
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
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

log = logging.getLogger("local.simulator")

WAIT_TIME_S = 1
SHIP_STEPS = ("picked", "shipped", "delivered")
PICKUP_STEPS = ("picked", "ready_for_pickup", "collected")
# A pick-up at another store (a transfer): the source ships it to the store first.
TRANSFER_STEPS = ("picked", "shipped", "ready_for_pickup", "collected")


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
    if request.get("type") == "transfer_request":  # a pick-up store sends units back
        back = {**base, "location_id": request["to_location_id"]}
        return [
            {**base, "type": "transfer_back_shipped"},
            {**back, "type": "transfer_back_received"},
        ]
    events: list[dict[str, Any]] = []
    short = _short_line(request["lines"], rng) if rng.random() < short_rate else None
    if short:
        events.append({**base, "type": "short_pick", "lines": [short]})
    steps = SHIP_STEPS
    if pickup:
        transfer = pickup["location_id"] != request["location_id"]
        steps = TRANSFER_STEPS if transfer else PICKUP_STEPS
    for step in steps:
        event = {**base, "type": step}
        if step == "shipped":
            event["carrier"] = _carrier(request.get("carrier_service"))
            event["tracking_number"] = f"SIM{rng.randrange(10**9, 10**10)}"
        if step in ("ready_for_pickup", "collected") and pickup:
            event["location_id"] = pickup["location_id"]
        events.append(event)
    return events


def _short_line(lines: list[dict[str, Any]], rng: random.Random) -> dict[str, Any] | None:
    """A short pick's line, one unit short (absolute: what was picked), of a line that stays
    non-empty (an empty parcel never ships)."""
    candidates = [line for line in lines if int(line["quantity"]) >= 2]
    if not candidates:
        return None
    line = rng.choice(candidates)
    return {"sku": line["sku"], "picked_quantity": int(line["quantity"]) - 1}


def _location_signature(location_id: str, body: str) -> dict[str, str]:
    """Signed as the location itself would: its key is derived in this process."""
    from chalicelib import wiring

    return wiring.event_keys().sign(location_id, body)


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
        signer: Callable[[str, str], dict[str, str]] | None = None,
    ) -> None:
        super().__init__(name="simulated-warehouse", daemon=True)
        self._sqs, self._halt = sqs, stop
        self._sign = signer or _location_signature
        self._in = sqs.get_queue_url(QueueName=fulfilment_queue)["QueueUrl"]
        self._out = sqs.get_queue_url(QueueName=events_queue)["QueueUrl"]
        env = os.environ
        self.step_s = step_s if step_s is not None else float(env.get("SIMULATOR_STEP_SECONDS", 3))
        self.short_rate = (
            short_rate
            if short_rate is not None
            else float(env.get("SIMULATOR_SHORT_PICK_RATE", 0.1))
        )
        self.reject_rate = float(env.get("SIMULATOR_CANCEL_REJECT_RATE", 0.2))
        self._rng = random.Random(seed)
        self._seen: set[str] = set()
        self._left: set[str] = set()  # shipments whose parcel left (shipped or collected)
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
        """Schedule the events for a request, or answer a cancel request; False for a
        duplicate (same ``message_id``)."""
        message_id = str(request.get("message_id") or request.get("shipment_id"))
        if message_id in self._seen:
            return False
        self._seen.add(message_id)
        if request.get("type") == "cancel_request":
            self.answer_cancel(request)
            return True
        at = time.monotonic()
        for event in plan_events(request, rng=self._rng, short_rate=self.short_rate):
            at += self.step_s * self._rng.uniform(0.6, 1.4)
            heapq.heappush(self._due, (at, next(self._tie), event))
        log.info("fulfilment request %s accepted", message_id)
        return True

    def answer_cancel(self, request: dict[str, Any]) -> str:
        """Confirm or reject a cancel request (see the module doc); returns the answer sent
        (``"none"`` for ``sim:ignore``)."""
        shipment_id = str(request["shipment_id"])
        reason = str(request.get("reason") or "")
        base = {
            "order_id": request["order_id"],
            "shipment_id": shipment_id,
            "location_id": request["location_id"],
        }
        if "sim:ignore" in reason and not request.get("notice"):
            log.info("cancel request for %s ignored: it ships anyway", shipment_id)
            return "none"
        gone = shipment_id in self._left
        refuse = "sim:reject" in reason or (
            "sim:confirm" not in reason and self._rng.random() < self.reject_rate
        )
        if gone or (refuse and not request.get("notice")):
            why = "already shipped" if gone else "already packed"
            self._emit({**base, "type": "cancel_rejected", "reason": why})
            return "cancel_rejected"
        if request.get("whole", True) or request.get("notice"):
            self._due = [d for d in self._due if d[2]["shipment_id"] != shipment_id]
            heapq.heapify(self._due)
        self._emit({**base, "type": "cancel_confirmed"})
        return "cancel_confirmed"

    def _send_due(self) -> None:
        now = time.monotonic()
        while self._due and self._due[0][0] <= now:
            _, _, event = heapq.heappop(self._due)
            self._emit(event)

    def _emit(self, event: dict[str, Any]) -> None:
        body = {
            "event_id": f"sim-{uuid.uuid4()}",
            "occurred_at": datetime.now(UTC).isoformat(),
            **event,
        }
        if event["type"] in ("shipped", "collected"):
            self._left.add(str(event["shipment_id"]))
        text = json.dumps(body)
        attributes = {
            name: {"DataType": "String", "StringValue": value}
            for name, value in self._sign(str(body["location_id"]), text).items()
        }
        self._sqs.send_message(QueueUrl=self._out, MessageBody=text, MessageAttributes=attributes)
        log.info("sent %s for %s", event["type"], event["shipment_id"])
