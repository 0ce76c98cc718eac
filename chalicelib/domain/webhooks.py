"""Webhooks out, on plain data: the event types, subscriptions and their deliveries, the events
an order's history announces, the retry schedule and the address rules against SSRF.

An order's events are derived from its history (append-only; each entry states the order's
status after it), so every entry is announced once wherever it came from: the sequence number
is the entry's index. A delivery's id, and the ``webhook-id`` a receiver dedupes on, are
deterministic per (subscription, order, sequence, event type).
"""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from chalicelib.domain.errors import DomainError, ErrorCode, FieldError
from chalicelib.domain.order.model import Order


class BadWebhook(DomainError):
    """A subscription this server will not call (400 naming the field)."""

    code = ErrorCode.BAD_REQUEST


class EventType(StrEnum):
    ORDER_PLACED = "order.placed"
    ORDER_STATUS_CHANGED = "order.status_changed"
    SHIPMENT_SHIPPED = "shipment.shipped"
    SHIPMENT_TRACKING_CORRECTED = "shipment.tracking_corrected"  # a later number replaced it
    ORDER_CANCELLED = "order.cancelled"
    RETURN_RECEIVED = "return.received"
    REFUND_RECORDED = "refund.recorded"
    STOCK_AVAILABILITY_CHANGED = "stock.availability_changed"


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # queued, not yet attempted
    RETRYING = "retrying"  # failed; attempted again at next_retry_at
    DELIVERED = "delivered"  # the receiver answered 2xx
    FAILED = "failed"  # every attempt failed: the message rests in the DLQ


# Seconds to wait after each failed attempt (the Standard Webhooks recommendation): 8 attempts
# over 27 h 35 min; each wait fits SQS's 12 h visibility limit.
RETRY_SCHEDULE = (5, 300, 1800, 7200, 18000, 36000, 36000)
MAX_ATTEMPTS = len(RETRY_SCHEDULE) + 1
MAX_ATTEMPTS_KEPT = 20  # the newest attempts a delivery record lists


def retry_delay(attempt: int) -> int | None:
    """Seconds until the attempt after ``attempt`` (1-based), or None after the last one."""
    return RETRY_SCHEDULE[attempt - 1] if 1 <= attempt <= len(RETRY_SCHEDULE) else None


@dataclass
class Subscription:
    subscription_id: str
    url: str
    events: list[str]
    secret: str  # ``whsec_<base64>``, Standard Webhooks form
    created_at: str
    updated_at: str

    def wants(self, event_type: str) -> bool:
        return event_type in self.events


@dataclass(frozen=True)
class WebhookEvent:
    """One event to announce: ``key`` is stable for the fact it describes."""

    type: EventType
    key: str
    at: str
    data: dict[str, Any]

    def payload(self) -> dict[str, Any]:
        return {"type": self.type.value, "timestamp": self.at, "data": self.data}


@dataclass
class Delivery:
    delivery_id: str
    subscription_id: str
    webhook_id: str
    event_type: str
    payload: dict[str, Any]
    created_at: str
    status: DeliveryStatus = DeliveryStatus.PENDING
    attempts: list[dict[str, Any]] = field(default_factory=list)  # newest last
    attempt_count: int = 0
    next_retry_at: str | None = None


def _digest(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:32]


def webhook_id(subscription_id: str, event: WebhookEvent) -> str:
    return f"msg_{_digest(subscription_id, event.type.value, event.key)}"


def delivery_id(subscription_id: str, event: WebhookEvent) -> str:
    """Sorts by the event's time (newest last), then deterministic by the webhook id."""
    stamp = "".join(ch for ch in event.at if ch.isdigit())[:17].ljust(17, "0")
    return f"d{stamp}-{_digest(subscription_id, event.type.value, event.key)[:24]}"


def order_events(order: Order, since: int = 0) -> list[WebhookEvent]:
    """The events of the order's history entries from index ``since`` on, in order. Each
    carries the order's ``version`` as read and the entry's ``sequence``: a receiver keeps the
    highest it has seen per order and drops an older one arriving late."""
    out: list[WebhookEvent] = []
    for index in range(max(since, 0), len(order.history)):
        entry = order.history[index]
        key = f"{order.order_id}:{index}"
        data = {
            "order_id": order.order_id,
            "channel": order.channel,
            "channel_order_id": order.channel_order_id,
            "version": order.version,
            "sequence": index,
            "status": entry.status,
        }
        for kind, extra in _entry_events(order, index):
            out.append(WebhookEvent(kind, key, entry.at, {**data, **extra}))
    return out


def _entry_events(order: Order, index: int) -> list[tuple[EventType, dict[str, Any]]]:
    entry = order.history[index]
    found: list[tuple[EventType, dict[str, Any]]] = []
    if entry.event == "placed":
        found.append((EventType.ORDER_PLACED, {"currency": order.currency, "units": order.units}))
    previous = order.history[index - 1].status if index else None
    if previous is not None and entry.status != previous:
        found.append((EventType.ORDER_STATUS_CHANGED, {"previous_status": previous}))
        if entry.status == "cancelled":
            reason = str(entry.detail.get("reason", ""))
            found.append((EventType.ORDER_CANCELLED, {"reason": reason}))
    if entry.event == "shipped" and entry.shipment_id:
        shipment = next((s for s in order.shipments if s.shipment_id == entry.shipment_id), None)
        found.append(
            (
                EventType.SHIPMENT_SHIPPED,
                {
                    "shipment_id": entry.shipment_id,
                    "location_id": shipment.location_id if shipment else None,
                    "carrier": shipment.carrier if shipment else None,
                    "tracking_number": shipment.tracking_number if shipment else None,
                    "lines": dict(shipment.lines) if shipment else {},
                },
            )
        )
    if entry.event == "tracking_corrected" and entry.shipment_id:
        fix = {
            "shipment_id": entry.shipment_id,
            "tracking_number": entry.detail.get("tracking_number"),
            "previous_tracking_number": entry.detail.get("previous"),
        }
        if "carrier" in entry.detail:
            fix["carrier"] = entry.detail["carrier"]
        found.append((EventType.SHIPMENT_TRACKING_CORRECTED, fix))
    if entry.event == "return_received":
        rma_id = entry.detail.get("rma_id")
        found.append((EventType.RETURN_RECEIVED, {"rma_id": rma_id, "source": entry.source}))
        if int(entry.detail.get("refund") or 0) > 0:
            refund = {
                "rma_id": rma_id,
                "amount": int(entry.detail["refund"]),
                "currency": entry.detail.get("currency") or order.currency,
            }
            found.append((EventType.REFUND_RECORDED, refund))
    return found


def availability_event(
    channel: str, sku: str, available: int, *, at: str, version: int
) -> WebhookEvent:
    """``stock.availability_changed`` for one SKU on one channel; ``version`` grows with
    every change the feed announces (a receiver drops a lower one)."""
    data = {"channel": channel, "sku": sku, "available": available, "version": version}
    return WebhookEvent(
        EventType.STOCK_AVAILABILITY_CHANGED, f"{channel}:{sku}:{version}", at, data
    )


# --- server-side request forgery ---------------------------------------------------------------


def check_url(url: str, *, local: bool) -> tuple[str, int]:
    """``(host, port)`` of a receiver URL: https (http too on the local stage), a host name or
    address, no credentials. Raises BadWebhook naming ``url``."""

    def bad(reason: str) -> BadWebhook:
        return BadWebhook("the webhook URL is not allowed", fields=[FieldError("url", reason)])

    if len(url) > 2048:
        raise bad("at most 2048 characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise bad(f"malformed ({exc})") from None
    allowed = ("https", "http") if local else ("https",)
    if parts.scheme not in allowed:
        raise bad("must be https" if not local else "must be http or https")
    if not parts.hostname:
        raise bad("has no host")
    if parts.username or parts.password:
        raise bad("may not carry credentials")
    return parts.hostname, port or (443 if parts.scheme == "https" else 80)


def refused_address(address: str, *, allow_loopback: bool = False) -> str | None:
    """Why a receiver may not be reached at ``address`` (None: it may)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return f"{address} is not an IP address"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return None if allow_loopback else f"{ip} is a loopback address"
    for name, hit in (
        ("private", ip.is_private),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("reserved", ip.is_reserved),
        ("unspecified", ip.is_unspecified),
        ("not globally routable", not ip.is_global),
    ):
        if hit:
            return f"{ip} is a {name} address"
    return None
