"""No e-mail address, API key or token in a log line: the masking formatter on the shared
``dirigent`` logger (``chalicelib.observability``), and the consumers' failure records."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from chalicelib.consumers import batch
from chalicelib.domain.redaction import mask, mask_text
from chalicelib.observability import logger

ADDRESS = "ada.lovelace@example.com"
API_KEY = "dg_0123456789ab_c2VjcmV0LXBhcnQtb2YtdGhlLWtleQ"


class Recorder:
    def __init__(self) -> None:
        self.failures: list[tuple[str, str, str]] = []

    def record_failure(self, consumer: str, message_id: str, reason: str) -> None:
        self.failures.append((consumer, message_id, reason))


def _event(*bodies: str) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": f"m-{i}",
                "receiptHandle": "rh",
                "body": body,
                "attributes": {},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:eu-central-1:123456789012:dirigent-order-events",
                "awsRegion": "eu-central-1",
            }
            for i, body in enumerate(bodies)
        ]
    }


def _fail(body: str) -> None:
    raise RuntimeError(f"SES refused the mail to {ADDRESS} for /track/o_1?token=9f8e7d6c5b4a")


def test_an_order_failure_is_logged_and_recorded_with_the_address_masked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The reproduction: a consumer's "failed" line carried the customer's address."""
    recorder = Recorder()
    monkeypatch.setattr(batch.wiring, "operations", lambda: recorder)
    out = io.StringIO()
    handler = logger.registered_handler
    old = handler.setStream(out)  # type: ignore[attr-defined]
    try:
        result = batch.handle_batch(_event("{}"), None, _fail, consumer="order_events")
    finally:
        handler.setStream(old)  # type: ignore[attr-defined]
    assert result == {"batchItemFailures": [{"itemIdentifier": "m-0"}]}
    text = out.getvalue()
    (line,) = [json.loads(x) for x in text.splitlines() if "order_events failed" in x]
    assert ADDRESS not in text and "9f8e7d6c5b4a" not in text
    assert line["reason"] == (
        "RuntimeError: SES refused the mail to a***@example.com for /track/o_1?token=***"
    )
    assert line["message_id"] == "m-0"
    ((consumer, message_id, reason),) = recorder.failures
    assert (consumer, message_id) == ("order_events", "m-0")
    assert ADDRESS in reason  # the service masks what it stores (tests/api/test_operations.py)


def test_every_field_and_the_exception_text_are_masked() -> None:
    out = io.StringIO()
    handler = logger.registered_handler
    old = handler.setStream(out)  # type: ignore[attr-defined]
    try:
        try:
            raise ValueError(f"no such customer {ADDRESS}")
        except ValueError:
            logger.exception(
                "lookup failed",
                customer={"email": ADDRESS, "token": "0a1b2c3d"},
                headers={"Authorization": f"Bearer {API_KEY}"},
                keys=[API_KEY],
            )
    finally:
        handler.setStream(old)  # type: ignore[attr-defined]
    text = out.getvalue()
    assert ADDRESS not in text and "0a1b2c3d" not in text
    assert "c2VjcmV0" not in text  # the secret part of the API key
    line = json.loads(text.splitlines()[-1])
    assert line["customer"] == {"email": "a***@example.com", "token": "***"}
    assert line["headers"] == {"Authorization": "***"}
    assert line["keys"] == ["dg_0123456789ab_***"]  # the key id stays: it names the key
    assert "a***@example.com" in line["exception"]


def test_a_failure_log_that_fails_never_fails_the_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken() -> Any:
        raise ConnectionError("DynamoDB unreachable")

    monkeypatch.setattr(batch.wiring, "operations", broken)
    result = batch.handle_batch(_event("{}", "{}"), None, _fail, consumer="order_events")
    assert [f["itemIdentifier"] for f in result["batchItemFailures"]] == ["m-0", "m-1"]


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("mail to ada@example.com failed", "mail to a***@example.com failed"),
        ("GET /returns/r_1?token=abc&x=1", "GET /returns/r_1?token=***&x=1"),
        (f"key {API_KEY} refused", "key dg_0123456789ab_*** refused"),
        ("Authorization: Bearer abc.def", "Authorization: Bearer ***"),
        ("nothing secret: o_123 SKU-1", "nothing secret: o_123 SKU-1"),
    ],
)
def test_mask_text(text: str, masked: str) -> None:
    assert mask_text(text) == masked


def test_mask_keeps_numbers_and_masks_named_secrets_at_any_depth() -> None:
    assert mask({"n": 3, "ok": True, "x": None, "a": [{"api_key": "k", "e": ADDRESS}]}) == {
        "n": 3,
        "ok": True,
        "x": None,
        "a": [{"api_key": "***", "e": "a***@example.com"}],
    }
