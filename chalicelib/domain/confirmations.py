"""Confirmations back to the sales platform an order came from, on plain data: which facts of
an order's history the platform is told (a shipment shipped, the order cancelled, a refund
recorded), their records, and what a platform's answer means.

Like webhook events they are derived from the order's history (append-only), with a mark per
order, so each fact is confirmed once however often the order changes: the key of a
confirmation names the fact (``<order>:shipment:<shipment_id>``, ``<order>:cancel``,
``<order>:refund:<sequence>``, ``<order>:tracking:<sequence>``), so a shipment that is
reported shipped twice, or a history read twice, still makes one record.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any

from chalicelib.domain.order.model import DeliveryMode, Order, OrderShipment


class ConfirmationKind(StrEnum):
    SHIPMENT = "shipment"  # a parcel left with a carrier: fulfilment with tracking
    CANCEL = "cancel"  # the whole order was cancelled here
    LINES_CANCELLED = "lines_cancelled"  # some units were cancelled, the order goes on
    REFUND = "refund"  # a return's refund was recorded
    TRACKING = "tracking"  # a shipped parcel's tracking number was corrected


class ConfirmationStatus(StrEnum):
    PENDING = "pending"  # queued, not yet attempted
    RETRYING = "retrying"  # failed with a reason a retry may fix; again at next_retry_at
    SENT = "sent"  # the platform accepted it
    FAILED = "failed"  # refused for good (or every attempt failed); retry by hand
    SKIPPED = "skipped"  # the platform has no way to take it (see ``error``)


class PlatformRefused(Exception):
    """The platform refused the call in a way a retry cannot fix (a 4xx such as 404 or 422,
    a SKU it does not know): the record fails with the platform's message."""


class PlatformUnavailable(Exception):
    """No answer, 429 or 5xx: retried on the back-off schedule."""


RETRYABLE_STATUSES = frozenset({408, 409, 425, 429})
MESSAGE_MAX = 500


def failure(status: int, answer: str) -> Exception:
    """The exception for a platform's non-2xx ``status`` and (cut) answer."""
    text = f"the platform answered {status}: {answer.strip()[:MESSAGE_MAX]}".rstrip(": ")
    if status >= 500 or status in RETRYABLE_STATUSES:
        return PlatformUnavailable(text)
    return PlatformRefused(text)


@dataclass(frozen=True)
class Draft:
    """One fact to confirm: ``key`` is stable for it."""

    kind: ConfirmationKind
    key: str
    at: str
    data: dict[str, Any]


@dataclass
class Confirmation:
    confirmation_id: str
    channel: str
    platform: str
    order_id: str
    channel_order_id: str
    kind: ConfirmationKind
    data: dict[str, Any]
    at: str  # when the fact happened
    created_at: str
    status: ConfirmationStatus = ConfirmationStatus.PENDING
    attempts: list[dict[str, Any]] = field(default_factory=list)  # newest last
    attempt_count: int = 0
    next_retry_at: str | None = None
    error: str | None = None  # why the last attempt failed (the platform's message)
    result: dict[str, Any] = field(default_factory=dict)  # what the platform made, e.g. ids


def confirmation_doc(c: Confirmation) -> dict[str, Any]:
    """A confirmation as the store and the API show it."""
    return {**asdict(c), "kind": c.kind.value, "status": c.status.value}


def confirmation_from_doc(doc: dict[str, Any]) -> Confirmation:
    return Confirmation(
        **{
            **doc,
            "kind": ConfirmationKind(doc["kind"]),
            "status": ConfirmationStatus(doc["status"]),
        }
    )


def confirmation_id(channel: str, draft: Draft) -> str:
    """Sorts by the fact's time (newest last), then deterministic by the key."""
    stamp = "".join(ch for ch in draft.at if ch.isdigit())[:17].ljust(17, "0")
    digest = hashlib.sha256(f"{channel}\0{draft.key}".encode()).hexdigest()[:24]
    return f"c{stamp}-{digest}"


def captured_by(order: Order) -> str | None:
    """The platform whose connector captured the order (``placed`` by ``connector:<name>``),
    else None."""
    placed = next((h for h in order.history if h.event == "placed"), None)
    if placed is None or not placed.source.startswith("connector:"):
        return None
    return placed.source.removeprefix("connector:")


def drafts(order: Order, platform: str, since: int = 0) -> list[Draft]:
    """The confirmations the history entries from ``since`` on call for, in order. A shipment
    counts on its first ``shipped`` entry (ship-to-address shipments only: a pick-up is no
    parcel the platform tracks); a cancel when an entry leaves the order cancelled, unless the
    platform itself cancelled it, and a partial cancel (units cancelled at once, a short pick
    nobody could re-source, a location's confirmed cancel) for the units and their price
    while the order goes on; a refund per ``return_received`` that recorded one; a tracking
    correction per ``tracking_corrected`` of a shipped parcel (its new and previous number)."""
    out: list[Draft] = []
    ours = f"channel:{order.channel}:{platform}"  # a cancel the platform's webhook asked for
    for index in range(max(since, 0), len(order.history)):
        entry = order.history[index]
        previous = order.history[index - 1].status if index else None
        if entry.event == "shipped" and entry.shipment_id:
            shipment = _parcel(order, entry.shipment_id)
            if shipment is None:
                continue
            data = {
                "shipment_id": shipment.shipment_id,
                "carrier": shipment.carrier or entry.detail.get("carrier"),
                "tracking_number": shipment.tracking_number or entry.detail.get("tracking_number"),
                "lines": dict(shipment.lines),
                "ship_date": entry.at,
                "complete": entry.status in ("shipped", "delivered"),
            }
            key = f"{order.order_id}:shipment:{shipment.shipment_id}"
            out.append(Draft(ConfirmationKind.SHIPMENT, key, entry.at, data))
        elif entry.status == "cancelled" and previous not in (None, "cancelled"):
            if entry.source == ours:
                continue
            reason = str(entry.detail.get("reason", ""))
            key = f"{order.order_id}:cancel"
            out.append(Draft(ConfirmationKind.CANCEL, key, entry.at, {"reason": reason}))
        elif entry.status != "cancelled" and (units := _cancelled_units(entry)):
            if entry.source == ours:
                continue
            prices = {line.sku: line.unit_price for line in order.lines}
            data = {
                "lines": units,
                "reason": str(entry.detail.get("reason", "")),
                "amount": sum(prices.get(sku, 0) * q for sku, q in units.items()),
                "currency": order.currency,
            }
            key = f"{order.order_id}:lines_cancelled:{index}"
            out.append(Draft(ConfirmationKind.LINES_CANCELLED, key, entry.at, data))
        elif entry.event == "tracking_corrected" and entry.shipment_id:
            shipment = _parcel(order, entry.shipment_id)
            if shipment is None:
                continue
            data = {
                "shipment_id": shipment.shipment_id,
                "carrier": entry.detail.get("carrier") or shipment.carrier,
                "tracking_number": entry.detail.get("tracking_number"),
                "previous": entry.detail.get("previous"),
            }
            key = f"{order.order_id}:tracking:{index}"
            out.append(Draft(ConfirmationKind.TRACKING, key, entry.at, data))
        elif entry.event == "return_received" and int(entry.detail.get("refund") or 0) > 0:
            data = {
                "rma_id": entry.detail.get("rma_id"),
                "amount": int(entry.detail["refund"]),
                "currency": entry.detail.get("currency") or order.currency,
            }
            key = f"{order.order_id}:refund:{index}"
            out.append(Draft(ConfirmationKind.REFUND, key, entry.at, data))
    first: dict[str, Draft] = {}
    for d in out:
        first.setdefault(d.key, d)  # a fact reported twice is confirmed once
    return list(first.values())


def _parcel(order: Order, shipment_id: str) -> OrderShipment | None:
    """The order's shipment ``shipment_id`` if it is a parcel to an address (not a pick-up)."""
    found = next((s for s in order.shipments if s.shipment_id == shipment_id), None)
    return found if found is not None and found.mode == DeliveryMode.SHIP else None


_CANCELLED_UNITS = {  # history event -> its detail naming the units it cancelled
    "cancelled": "cancelled",
    "cancel_requested": "cancelled",  # the part cancelled at once; the rest when confirmed
    "line_cancelled": "skus",
    "cancel_confirmed": "freed",
}


def _cancelled_units(entry: Any) -> dict[str, int]:
    """The units per SKU a history entry cancelled (none for other entries)."""
    name = _CANCELLED_UNITS.get(entry.event)
    found = entry.detail.get(name) if name else None
    if not isinstance(found, dict):
        return {}
    return {str(sku): int(q) for sku, q in sorted(found.items()) if int(q) > 0}


def channel_skus(config: dict[str, Any], sku: str) -> list[str]:
    """The platform's SKUs that are our ``sku``: the ``sku_map`` entries naming it, then the
    SKU itself (capture accepts an unmapped SKU that is ours)."""
    mapped = sorted(k for k, v in (config.get("sku_map") or {}).items() if v == sku)
    return [*mapped, sku] if sku not in mapped else mapped


_EXPONENTS = {
    **dict.fromkeys(("BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG"), 0),
    **dict.fromkeys(("RWF", "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF"), 0),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
}


def decimal_amount(minor: int, currency: str) -> str:
    """``1234, "EUR"`` -> ``"12.34"``: minor units as the platforms' decimal strings."""
    exponent = _EXPONENTS.get(currency.upper(), 2)
    return str(Decimal(minor).scaleb(-exponent).quantize(Decimal(1).scaleb(-exponent)))
