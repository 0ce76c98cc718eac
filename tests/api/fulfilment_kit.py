"""Helpers for the fulfilment and tracking tests: a shop with stock, SQS events with unique
message ids (warehouse events signed by the location they name), the fulfilment queue as a
location sees it, and the mails moto kept."""

from __future__ import annotations

import email
import json
import re
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.policy import default as default_policy
from email.utils import getaddresses
from typing import Any

from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from chalicelib import wiring
from chalicelib.api.http import ID_PATTERN
from chalicelib.services.fulfilment import Dispatcher
from tests.api.seed import auth, order_body, seed_channel, seed_network, seed_product, set_stock

REGION = "eu-central-1"
WAREHOUSE_EVENTS = "dirigent-warehouse-events"


def make_shop(client: Any, admin_key: str, aws: Any, **channel: Any) -> dict[str, str]:
    seed_network(client, admin_key)
    key = seed_channel(client, admin_key, "webshop", **channel)
    service = json.loads(
        client.http.post(
            "/api-keys", body=json.dumps({"role": "service"}), headers=auth(admin_key)
        ).body
    )["api_key"]
    for sku in ("SKU-1", "SKU-2"):
        seed_product(client, admin_key, sku)
    set_stock(aws, "SKU-1", "dc-kassel", 5)
    set_stock(aws, "SKU-1", "dc-lyon", 5)
    set_stock(aws, "SKU-2", "dc-kassel", 4)
    return {"key": key, "service": service, "admin": admin_key}


def place(client: Any, key: str, coid: str, lines: list[tuple[str, int]], **kw: Any) -> dict:
    resp = client.http.post(
        "/orders", body=json.dumps(order_body(coid, lines, **kw)), headers=auth(key)
    )
    assert resp.status_code == 201, resp.body
    return dict(json.loads(resp.body))


def sqs_records(
    client: Any,
    queue: str,
    bodies: list[Any],
    *,
    signed: bool = True,
    attributes: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Lambda's SQS event for ``bodies``; on the warehouse-events queue each record signed by
    the location its body names (see ``sign_records``)."""
    event = client.events.generate_sqs_event(
        message_bodies=[b if isinstance(b, str) else json.dumps(b) for b in bodies],
        queue_name=queue,
    )
    for record in event["Records"]:
        record["messageId"] = str(uuid.uuid4())  # the generator repeats one id
    if queue == WAREHOUSE_EVENTS:
        sign_records(event, signed=signed, attributes=attributes)
    return dict(event)


def location_signature(body: str, location_id: str | None = None) -> dict[str, str]:
    """The message attributes ``location_id`` (by default the location the body names) signs
    ``body`` with; none for a body that names no valid location id."""
    if location_id is None:
        try:
            raw = json.loads(body)
        except ValueError:
            return {}
        named = raw.get("location_id") if isinstance(raw, dict) else None
        if not isinstance(named, str) or not re.fullmatch(ID_PATTERN, named):
            return {}
        location_id = named
    return wiring.event_keys().sign(location_id, body)


def message_attributes(body: str) -> dict[str, Any]:
    """``location_signature`` as SendMessage's ``MessageAttributes`` (for tests that send to
    the queue itself)."""
    return {
        name: {"DataType": "String", "StringValue": value}
        for name, value in location_signature(body).items()
    }


def sign_records(
    event: dict[str, Any], *, signed: bool = True, attributes: dict[str, str] | None = None
) -> dict[str, Any]:
    """Give every record the attributes its location signs it with; ``attributes`` instead,
    verbatim (a forged or stale signature), or none at all with ``signed=False``."""
    for record in event["Records"]:
        if attributes is not None:
            given = attributes
        else:
            given = location_signature(record["body"]) if signed else {}
        record["messageAttributes"] = {
            name: {
                "stringValue": value,
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": "String",
            }
            for name, value in given.items()
        }
    return event


def deliver(
    client: Any,
    handler: str,
    queue: str,
    *bodies: Any,
    signed: bool = True,
    attributes: dict[str, str] | None = None,
) -> list[int]:
    """Invoke ``handler`` with one record per body; the indexes of the failed records.
    Warehouse events are signed unless ``signed=False`` (or ``attributes`` are given)."""
    event = sqs_records(client, queue, list(bodies), signed=signed, attributes=attributes)
    ids = [r["messageId"] for r in event["Records"]]
    failures = client.lambda_.invoke(handler, event).payload["batchItemFailures"]
    return sorted(ids.index(f["itemIdentifier"]) for f in failures)


def drain(aws: Any, queue: str) -> list[dict[str, Any]]:
    """Receive and delete everything waiting in ``queue`` (bodies as dicts)."""
    sqs = aws.client("sqs")
    url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
    bodies = []
    while True:
        msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not msgs:
            return bodies
        for m in msgs:
            bodies.append(json.loads(m["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


def dispatch_placed(client: Any, aws: Any) -> list[dict[str, Any]]:
    """Feed the order-events queue to its handler; return the fulfilment requests sent."""
    placed = drain(aws, "dirigent-order-events")
    if placed:
        assert deliver(client, "on_order_event", "dirigent-order-events", *placed) == []
    return drain(aws, "dirigent-fulfilment")


def unique_by_message_id(requests: list[dict[str, Any]]) -> dict[str, int]:
    return dict(Counter(r["message_id"] for r in requests))


def event(kind: str, order: dict[str, Any], shipment: dict[str, Any], **extra: Any) -> dict:
    return {
        "event_id": f"ev-{uuid.uuid4()}",
        "type": kind,
        "location_id": shipment["location_id"],
        "occurred_at": extra.pop("occurred_at", None) or at(),
        "order_id": order["order_id"],
        "shipment_id": shipment["shipment_id"],
        **extra,
    }


def at(*, minutes: int = 0) -> str:
    """A timestamp ``minutes`` from now: events happen after the order was placed."""
    return (datetime.now(UTC) + timedelta(minutes=minutes)).isoformat()


def shipped(order: dict[str, Any], shipment: dict[str, Any], number: str = "") -> dict:
    return event(
        "shipped",
        order,
        shipment,
        carrier="DHL",
        tracking_number=number or f"TN{uuid.uuid4().hex[:10].upper()}",
        occurred_at=at(minutes=5),
    )


@dataclass(frozen=True)
class SentMail:
    """One mail as moto's SES kept it (``SendRawEmail``: the raw MIME), parsed."""

    source: str
    destinations: list[str]  # moto's list: Destinations and the To header, so repeats
    to: list[str]  # the To header's addresses
    subject: str
    text: str  # the plain-text body
    html: str  # the HTML body
    message: EmailMessage


def parse_mail(raw: Any) -> SentMail:
    message = email.message_from_string(raw.raw_data, policy=default_policy)
    assert isinstance(message, EmailMessage)
    text, html = message.get_body(("plain",)), message.get_body(("html",))
    return SentMail(
        source=str(raw.source),
        destinations=list(raw.destinations),
        to=[address for _, address in getaddresses([str(message["To"] or "")])],
        subject=str(message["Subject"] or ""),
        text=text.get_content() if text is not None else "",
        html=html.get_content() if html is not None else "",
        message=message,
    )


def mails() -> list[SentMail]:
    """Every mail sent so far, oldest first (customer mails and digests: all are raw)."""
    return [parse_mail(m) for m in ses_backends[DEFAULT_ACCOUNT_ID][REGION].sent_messages]


def get_order(client: Any, key: str, order_id: str) -> dict[str, Any]:
    resp = client.http.get(f"/orders/{order_id}", headers=auth(key))
    assert resp.status_code == 200, resp.body
    return dict(json.loads(resp.body))


def later_dispatcher(minutes: int = 2, **parts: Any) -> Dispatcher:
    """The app's dispatcher with its clock ``minutes`` ahead (2: past the sweeper's minimum
    age); ``parts`` replace its collaborators (``queues=...``)."""
    return Dispatcher(
        **{
            "orders": wiring.orders(),
            "outbox": wiring.fulfilment_log(),
            "queues": wiring.queues(),
            "network": wiring.catalog_service(),
            "notifier": wiring.notifier(),
            "default_queue": "dirigent-fulfilment",
            "clock": lambda: datetime.now(UTC) + timedelta(minutes=minutes),
            **parts,
        }
    )
