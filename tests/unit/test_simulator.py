"""The simulated warehouse's script: what it reports for a request, and duplicates dropped."""

from __future__ import annotations

import json
import random
import threading
from typing import Any

from local.simulator import SimulatedWarehouse, plan_events

REQUEST = {
    "message_id": "o_1-s1",
    "order_id": "o_1",
    "shipment_id": "o_1-s1",
    "location_id": "dc-kassel",
    "lines": [{"sku": "MUG", "quantity": 3}, {"sku": "CUP", "quantity": 1}],
    "carrier_service": "dhl-standard-de",
    "ship_to": {"country": "DE", "postal_code": "10115"},
}


def test_a_parcel_is_picked_shipped_with_a_tracking_number_and_delivered():
    events = plan_events(REQUEST, rng=random.Random(1), short_rate=0)
    assert [e["type"] for e in events] == ["picked", "shipped", "delivered"]
    assert events[1]["carrier"] == "DHL" and events[1]["tracking_number"].startswith("SIM")
    assert {e["location_id"] for e in events} == {"dc-kassel"}


def test_a_pickup_is_readied_and_collected_at_the_pickup_store():
    request = {**REQUEST, "pickup": {"location_id": "st-berlin"}}
    del request["ship_to"]
    events = plan_events(request, rng=random.Random(1), short_rate=0)
    assert [(e["type"], e["location_id"]) for e in events] == [
        ("picked", "dc-kassel"),
        ("shipped", "dc-kassel"),  # a transfer: the warehouse sends it to the store
        ("ready_for_pickup", "st-berlin"),
        ("collected", "st-berlin"),
    ]
    assert events[1]["tracking_number"].startswith("SIM")


def test_a_pickup_at_its_own_store_is_not_shipped():
    request = {**REQUEST, "location_id": "st-berlin", "pickup": {"location_id": "st-berlin"}}
    events = plan_events(request, rng=random.Random(1), short_rate=0)
    assert [e["type"] for e in events] == ["picked", "ready_for_pickup", "collected"]


def test_a_short_pick_comes_first_and_never_empties_a_line():
    events = plan_events(REQUEST, rng=random.Random(1), short_rate=1)
    assert events[0] == {
        "order_id": "o_1",
        "shipment_id": "o_1-s1",
        "location_id": "dc-kassel",
        "type": "short_pick",
        "lines": [{"sku": "MUG", "picked_quantity": 2}],  # CUP has one unit only
    }
    single = {**REQUEST, "lines": [{"sku": "CUP", "quantity": 1}]}
    assert plan_events(single, rng=random.Random(1), short_rate=1)[0]["type"] == "picked"


def _sign(location_id: str, body: str) -> dict[str, str]:
    return {"Signature": f"{location_id}:{len(body)}", "KeyVersion": "0"}


class _Sqs:
    def get_queue_url(self, QueueName: str) -> dict[str, Any]:
        return {"QueueUrl": QueueName}


def test_a_request_delivered_twice_is_scripted_once():
    sim = SimulatedWarehouse(
        sqs=_Sqs(),
        fulfilment_queue="in",
        events_queue="out",
        stop=threading.Event(),
        seed=1,
        signer=_sign,
    )
    assert sim.accept(REQUEST) is True
    assert sim.accept(dict(REQUEST)) is False


class _Outbox(_Sqs):
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.attributes: list[dict[str, Any]] = []

    def send_message(
        self, QueueUrl: str, MessageBody: str, MessageAttributes: dict[str, Any]
    ) -> None:
        self.sent.append(json.loads(MessageBody))
        self.attributes.append(MessageAttributes)


def _warehouse(reject_rate: float = 0.0) -> tuple[SimulatedWarehouse, _Outbox]:
    sqs = _Outbox()
    sim = SimulatedWarehouse(
        sqs=sqs,
        fulfilment_queue="in",
        events_queue="out",
        stop=threading.Event(),
        seed=1,
        signer=_sign,
    )
    sim.reject_rate = reject_rate
    return sim, sqs


def _cancel(reason: str = "", **extra: Any) -> dict[str, Any]:
    return {
        "type": "cancel_request",
        "message_id": "o_1-s1:cancel:1",
        "order_id": "o_1",
        "shipment_id": "o_1-s1",
        "location_id": "dc-kassel",
        "lines": REQUEST["lines"],
        "whole": True,
        "reason": reason,
        **extra,
    }


def test_a_cancel_before_the_parcel_left_is_confirmed_and_its_steps_dropped():
    sim, sqs = _warehouse()
    sim.accept(REQUEST)
    assert sim.accept(_cancel()) is True
    assert [e["type"] for e in sqs.sent] == ["cancel_confirmed"]
    assert sqs.sent[0]["shipment_id"] == "o_1-s1" and sqs.sent[0]["event_id"]
    assert sim._due == []  # nothing of the shipment is reported any more
    assert sim.accept(_cancel()) is False  # the same request again: dropped


def test_a_cancel_after_the_parcel_left_or_by_chance_is_rejected_and_it_ships():
    sim, sqs = _warehouse()
    sim.accept(REQUEST)
    sim._emit(
        {**{k: REQUEST[k] for k in ("order_id", "shipment_id", "location_id")}, "type": "shipped"}
    )
    sim.accept(_cancel())
    assert sqs.sent[-1]["type"] == "cancel_rejected"
    assert sqs.sent[-1]["reason"] == "already shipped"

    sim, sqs = _warehouse(reject_rate=1.0)
    sim.accept(REQUEST)
    sim.accept(_cancel())
    assert sqs.sent[-1]["type"] == "cancel_rejected" and sim._due  # the steps go on


def test_a_cancel_reason_steers_the_simulator_for_demos_and_tests():
    sim, _ = _warehouse()
    sim.accept(REQUEST)
    assert sim.answer_cancel(_cancel("sim:reject")) == "cancel_rejected"
    assert sim.answer_cancel(_cancel("sim:ignore")) == "none" and sim._due
    sim, _ = _warehouse(reject_rate=1.0)
    sim.accept(REQUEST)
    assert sim.answer_cancel(_cancel("sim:confirm")) == "cancel_confirmed"
    # A notice (cancelled here already) is always confirmed and the shipment dropped.
    sim, _ = _warehouse(reject_rate=1.0)
    sim.accept(REQUEST)
    assert sim.answer_cancel(_cancel("sim:reject", notice=True)) == "cancel_confirmed"
    assert sim._due == []


def test_every_message_is_signed_by_the_location_it_speaks_for():
    sim, sqs = _warehouse()
    sim.accept(REQUEST)
    sim.accept(_cancel("sim:confirm"))
    body = json.dumps(sqs.sent[0])  # the very text sent, so the signature covers it
    assert sqs.attributes == [
        {
            "Signature": {"DataType": "String", "StringValue": f"dc-kassel:{len(body)}"},
            "KeyVersion": {"DataType": "String", "StringValue": "0"},
        }
    ]
