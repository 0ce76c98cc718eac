"""Operable DLQs: an alarm on every DLQ, their depth and the last failure reasons on the
dashboard, and ``make redrive`` moving a DLQ's messages back to the queue they came from."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib import wiring
from infrastructure.create import load_template
from infrastructure.redrive import dlq_name, main as redrive_main, redrive
from tests.api.fulfilment_kit import deliver, drain
from tests.api.seed import auth

EVENTS = "dirigent-warehouse-events"
DLQS = [
    "dirigent-fulfilment-dlq",
    "dirigent-warehouse-events-dlq",
    "dirigent-order-events-dlq",
    "dirigent-webhooks-dlq",
]


def _dlqs_of_the_template() -> set[str]:
    resources = load_template()["Resources"].values()
    return {
        r["Properties"]["QueueName"]["Fn::Sub"].replace("${Prefix}", "dirigent")
        for r in resources
        if r["Type"] == "AWS::SQS::Queue" and "RedrivePolicy" not in r["Properties"]
    }


def test_every_dlq_has_an_alarm_that_tells_the_alarm_topic(aws: Any) -> None:
    alarms = aws.client("cloudwatch").describe_alarms()["MetricAlarms"]
    (topic,) = [t["TopicArn"] for t in aws.client("sns").list_topics()["Topics"]]
    watched = {}
    for alarm in alarms:
        (dimension,) = alarm["Dimensions"]
        assert (alarm["Namespace"], alarm["MetricName"]) == (
            "AWS/SQS",
            "ApproximateNumberOfMessagesVisible",
        )
        assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanThreshold", 0)
        assert alarm["AlarmActions"] == [topic]
        watched[dimension["Value"]] = alarm["AlarmName"]
    assert set(watched) == _dlqs_of_the_template() == set(DLQS)


def _data(client: Any, key: str) -> dict[str, Any]:
    resp = client.http.get("/dashboard/data", headers=auth(key))
    assert resp.status_code == 200, resp.body
    return dict(json.loads(resp.body))


def test_the_dashboard_shows_dlq_depths_and_the_last_failure_reasons(
    client: Any, admin_key: str, aws: Any
) -> None:
    sqs = aws.client("sqs")
    dlq = sqs.get_queue_url(QueueName=f"{EVENTS}-dlq")["QueueUrl"]
    for n in range(3):
        sqs.send_message(QueueUrl=dlq, MessageBody=json.dumps({"event_id": f"dead-{n}"}))
    assert _data(client, admin_key)["operations"]["failures"] == []

    bad = {"event_id": "e-1", "type": "shipped", "location_id": "dc-kassel"}
    assert deliver(client, "on_warehouse_event", EVENTS, bad) == [0]
    assert deliver(client, "on_warehouse_event", EVENTS, "{not json") == [0]

    ops = _data(client, admin_key)["operations"]
    assert {q["queue"]: q["visible"] for q in ops["dlqs"]} == {
        "dirigent-fulfilment-dlq": 0,
        "dirigent-warehouse-events-dlq": 3,
        "dirigent-order-events-dlq": 0,
        "dirigent-webhooks-dlq": 0,
    }
    newest, older = ops["failures"]
    assert newest["consumer"] == older["consumer"] == "warehouse event"
    assert newest["at"] >= older["at"]
    assert newest["reason"].startswith("UnreadableEvent: body: malformed JSON")
    assert older["reason"].startswith("UnreadableEvent: shipped.occurred_at: Field required")


def test_a_message_failing_again_takes_its_own_slot_not_another(aws: Any) -> None:
    ops = wiring.operations()
    for attempt in range(5):  # SQS redelivers the same message id
        ops.record_failure("order_events", "m-1", f"StaleOrder: attempt {attempt}")
    ops.record_failure("order_events", "m-2", "KeyError: 'sku' for bob@example.org")
    failures = ops.status()["failures"]
    assert [(f["message_id"], f["reason"]) for f in failures] == [
        ("m-2", "KeyError: 'sku' for b***@example.org"),
        ("m-1", "StaleOrder: attempt 4"),
    ]


def test_failures_of_different_messages_never_overwrite_each_other(aws: Any) -> None:
    # msg-3 and msg-10 share crc32 % 32: slots hashed from the message id lost one of them
    ops = wiring.operations()
    for n in (3, 10):
        ops.record_failure("warehouse event", f"msg-{n}", f"UnreadableEvent: {n}")
    shown = [(f["message_id"], f["reason"]) for f in ops.status()["failures"]]
    assert shown == [("msg-10", "UnreadableEvent: 10"), ("msg-3", "UnreadableEvent: 3")]


def test_the_failure_log_keeps_the_newest_failures(aws: Any) -> None:
    from chalicelib.services.operations import FAILURE_SLOTS, SHOWN_FAILURES

    ops = wiring.operations()
    for n in range(FAILURE_SLOTS + SHOWN_FAILURES):
        ops.record_failure("order_events", f"m-{n}", f"failure {n}")
    shown = [f["message_id"] for f in ops.status()["failures"]]
    last = FAILURE_SLOTS + SHOWN_FAILURES - 1
    assert shown == [f"m-{n}" for n in range(last, last - SHOWN_FAILURES, -1)]


def test_the_failure_log_is_bounded(aws: Any) -> None:
    from chalicelib.services.operations import FAILURE_SLOTS, SHOWN_FAILURES

    ops = wiring.operations()
    for n in range(3 * FAILURE_SLOTS):
        ops.record_failure("order_events", f"m-{n}", "x" * 2000)
    items = aws.client("dynamodb").query(
        TableName="dirigent-orders",
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": "OPS#failures"}},
    )["Items"]
    assert len(items) <= FAILURE_SLOTS
    shown = ops.status()["failures"]
    assert len(shown) == SHOWN_FAILURES and all(len(f["reason"]) == 500 for f in shown)


def test_redrive_moves_every_dlq_message_back_to_its_queue(aws: Any) -> None:
    sqs = aws.client("sqs")
    dlq = sqs.get_queue_url(QueueName=f"{EVENTS}-dlq")["QueueUrl"]
    bodies = [{"event_id": f"e-{n}", "type": "picked"} for n in range(23)]
    for body in bodies:
        sqs.send_message(QueueUrl=dlq, MessageBody=json.dumps(body))

    result = redrive(sqs, dlq_name("warehouse-events", "dirigent"), native=False)

    assert (result.dlq, result.source, result.moved) == (f"{EVENTS}-dlq", EVENTS, 23)
    assert drain(aws, f"{EVENTS}-dlq") == []
    assert sorted(drain(aws, EVENTS), key=lambda b: int(b["event_id"][2:])) == bodies
    assert redrive(sqs, f"{EVENTS}-dlq", native=False).moved == 0


def test_the_redrive_command_against_an_endpoint_moves_the_messages_itself(
    aws: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """As against the local stack's moto, which has no move task."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", "https://sqs.eu-central-1.amazonaws.com")
    sqs = aws.client("sqs")
    dlq = sqs.get_queue_url(QueueName="dirigent-order-events-dlq")["QueueUrl"]
    sqs.send_message(QueueUrl=dlq, MessageBody='{"type": "order_placed", "order_id": "o_1"}')
    assert redrive_main(["order-events-dlq", "--stage", "local"]) == 0
    assert "dirigent-order-events-dlq -> dirigent-order-events: 1 messages moved" in (
        capsys.readouterr().out
    )
    assert drain(aws, "dirigent-order-events") == [{"type": "order_placed", "order_id": "o_1"}]


class _AwsSqs:
    """What SQS answers on AWS, where the move task exists (moto has none)."""

    def __init__(self) -> None:
        self.started: list[str] = []

    def get_queue_url(self, QueueName: str) -> dict[str, str]:
        return {"QueueUrl": f"https://sqs.eu-central-1.amazonaws.com/1/{QueueName}"}

    def list_dead_letter_source_queues(self, QueueUrl: str) -> dict[str, list[str]]:
        return {"queueUrls": [QueueUrl.removesuffix("-dlq")]}

    def get_queue_attributes(self, QueueUrl: str, AttributeNames: list[str]) -> dict[str, Any]:
        return {"Attributes": {"QueueArn": "arn:aws:sqs:eu-central-1:1:" + QueueUrl.split("/")[-1]}}

    def start_message_move_task(self, SourceArn: str) -> dict[str, str]:
        self.started.append(SourceArn)
        return {"TaskHandle": "task-1"}


def test_redrive_on_aws_starts_the_sqs_move_task() -> None:
    sqs = _AwsSqs()
    result = redrive(sqs, "dirigent-dev-order-events-dlq", native=True)
    assert sqs.started == ["arn:aws:sqs:eu-central-1:1:dirigent-dev-order-events-dlq"]
    assert (result.source, result.moved, result.task) == (
        "dirigent-dev-order-events",
        None,
        "task-1",
    )


@pytest.mark.parametrize(
    "queue",
    ["warehouse-events", "warehouse-events-dlq", "dirigent-dev-warehouse-events-dlq"],
)
def test_the_queue_is_named_with_or_without_prefix_and_suffix(queue: str) -> None:
    assert dlq_name(queue, "dirigent-dev") == "dirigent-dev-warehouse-events-dlq"
