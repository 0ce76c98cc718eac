"""Send a warehouse event to the local stack as a location's connector does: with a key issued
through the API (``POST /locations/{id}/event-key``) and the body's HMAC in ``Signature``."""

from __future__ import annotations

from typing import Any

from chalicelib.domain.event_signing import signature
from tests.e2e.conftest import LocalStack

QUEUE = "dirigent-warehouse-events"


def issue_key(stack: LocalStack, location_id: str) -> dict[str, Any]:
    resp = stack.http.post(
        f"{stack.api_url}/locations/{location_id}/event-key", headers=stack.auth(), timeout=30
    )
    assert resp.status_code == 201, resp.text
    return dict(resp.json())


def send_signed(stack: LocalStack, body: str, location_id: str, *, times: int = 1) -> None:
    """Send ``body`` ``times`` times, signed with a freshly issued key of ``location_id``."""
    key = issue_key(stack, location_id)
    sqs = stack.client("sqs")
    url = sqs.get_queue_url(QueueName=QUEUE)["QueueUrl"]
    attributes = {
        "Signature": {"DataType": "String", "StringValue": signature(key["secret"], body)},
        "KeyVersion": {"DataType": "String", "StringValue": str(key["key_version"])},
    }
    for _ in range(times):
        sqs.send_message(QueueUrl=url, MessageBody=body, MessageAttributes=attributes)
