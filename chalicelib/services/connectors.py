"""Orders in through a channel's connector: its configuration, the platforms' webhooks
(verified, deduplicated, mapped and captured through the normal order path), Amazon's polled
orders (``capture_polled``, the same path) and the orders that could not be captured, kept as
rejected until they are retried.

A webhook is applied at most once per platform webhook id (a claimed marker, released when
applying fails so that the platform's retry applies it) and capture itself is idempotent on
the platform's order id, so a redelivery never makes a second order. A cancel that comes
before its order leaves a tombstone: the late order is then not captured.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol

from chalicelib.connectors import Platform, amazon, shopify, woocommerce
from chalicelib.connectors.common import MappedOrder, PayloadError, parse_exact, signed
from chalicelib.domain.access import Principal, Role
from chalicelib.domain.catalog import Kind
from chalicelib.domain.errors import (
    Conflict,
    DomainError,
    FieldError,
    InvalidInput,
    NotFound,
    StaleOrder,
    Unauthorized,
)
from chalicelib.domain.network import Product
from chalicelib.domain.order.model import Order, order_id_for
from chalicelib.services.connector_config import complete, config_view
from chalicelib.services.ordering import Cart, Placed, PlaceOrder, request_hash

__all__ = ["ConnectorService", "config_view", "rejected_view"]

_MAPPERS: dict[str, Callable[[Any, dict[str, str]], MappedOrder]] = {
    Platform.SHOPIFY: shopify.map_order,
    Platform.WOOCOMMERCE: woocommerce.map_order,
    Platform.AMAZON: amazon.map_order,
}
_ORDER_ID: dict[str, Callable[[Any], str]] = {
    Platform.SHOPIFY: shopify.order_id,
    Platform.WOOCOMMERCE: woocommerce.order_id,
    Platform.AMAZON: amazon.order_id,
}
_ORDER_TOPICS = {
    Platform.SHOPIFY: shopify.TOPICS,
    Platform.WOOCOMMERCE: (*woocommerce.TOPICS, "order.deleted"),
}
_CANCEL_TOPICS = {"orders/cancelled", "order.deleted"}
_SIGNATURE_HEADER = {
    Platform.SHOPIFY: "X-Shopify-Hmac-Sha256",
    Platform.WOOCOMMERCE: "X-WC-Webhook-Signature",
}


class Documents(Protocol):
    def doc(self, kind: str, item_id: str) -> dict[str, Any] | None: ...
    def put(self, kind: str, item_id: str, doc: dict[str, Any]) -> dict[str, Any]: ...
    def docs(self, kind: str) -> list[dict[str, Any]]: ...
    def products(self, skus: list[str]) -> dict[str, Product]: ...


class Ordering(Protocol):
    def place(self, cmd: PlaceOrder) -> Placed: ...


class Desk(Protocol):
    def get(self, order_id: str, principal: Principal) -> Order: ...
    def cancel(
        self, order_id: str, principal: Principal, reason: str = "", lines: Any = None
    ) -> tuple[Order, Any]: ...


class Markers(Protocol):
    def claim(self, key: str, now: float) -> str: ...
    def finish(self, key: str) -> None: ...
    def release(self, key: str) -> None: ...


class Tombstones(Protocol):
    def bury(self, key: str, now: float) -> None: ...
    def buried(self, key: str, now: float) -> bool: ...


class RejectedOrders(Protocol):
    def put(self, channel: str, rejected_id: str, doc: dict[str, Any]) -> None: ...
    def get(self, channel: str, rejected_id: str) -> dict[str, Any] | None: ...
    def list(self, channel: str, limit: int = 100) -> list[dict[str, Any]]: ...
    def delete(self, channel: str, rejected_id: str) -> None: ...


def rejected_view(doc: dict[str, Any], *, full: bool = False) -> dict[str, Any]:
    """A rejected order; its raw payload only when ``full``."""
    return doc if full else {k: v for k, v in doc.items() if k != "raw"}


class ConnectorService:
    def __init__(
        self,
        *,
        catalog: Documents,
        ordering: Ordering,
        desk: Desk,
        markers: Markers,
        rejected: RejectedOrders,
        tombstones: Tombstones,
        check_target: Callable[[str], Any] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._catalog, self._ordering, self._desk = catalog, ordering, desk
        self._markers, self._rejected, self._clock = markers, rejected, clock
        self._tombstones, self._check_target = tombstones, check_target

    # --- configuration ------------------------------------------------------------------

    def configure(self, channel: str, doc: dict[str, Any]) -> dict[str, Any]:
        if self._catalog.doc(Kind.CHANNEL, channel) is None:
            raise NotFound(
                f"channel {channel} is not configured",
                fields=[FieldError("channel", "unknown; PUT /channels/{channel} first")],
            )
        before = self._catalog.doc(Kind.CONNECTOR, channel)
        doc = complete(doc, before, check_target=self._check_target)
        stored = {**doc, "channel": channel, "updated_at": self._now()}
        self._catalog.put(Kind.CONNECTOR, channel, stored)
        return config_view(stored)

    def config(self, channel: str) -> dict[str, Any]:
        doc = self._catalog.doc(Kind.CONNECTOR, channel)
        if doc is None:
            raise NotFound(
                f"channel {channel} has no connector",
                fields=[FieldError("channel", "no connector configured")],
            )
        return config_view(doc)

    def connectors(self, platform: str) -> list[dict[str, Any]]:
        """Every channel's stored connector of ``platform``, secrets included (for pollers)."""
        return [d for d in self._catalog.docs(Kind.CONNECTOR) if d.get("platform") == platform]

    # --- polled orders ------------------------------------------------------------------

    def captured(self, channel: str, platform: str, platform_order_id: str) -> bool:
        """Whether the platform's order is already one of ours (a poll skips it)."""
        return self._existing(channel, platform, platform_order_id) is not None

    def capture_polled(self, config: dict[str, Any], doc: dict[str, Any]) -> dict[str, Any]:
        """Apply one polled order (Amazon: ``{"order": Order, "items": [OrderItem, ...]}``)
        as a webhook's order is applied: captured once, cancelled, or kept as rejected."""
        status = str(doc.get("order", {}).get("OrderStatus", "")) or "order"
        return self._apply(config, status, json.dumps(doc, default=str).encode())

    # --- webhooks -----------------------------------------------------------------------

    def receive(
        self,
        name: str,
        channel: str,
        raw: bytes,
        *,
        topic: str | None,
        signature: str | None,
        webhook_id: str | None,
    ) -> dict[str, Any]:
        """Verify and apply one webhook. Nothing is stored unless its signature is right."""
        platform = Platform(name)
        if platform == Platform.WOOCOMMERCE and not signature and woocommerce.ping_id(raw):
            return {"status": "ping"}
        config = self._catalog.doc(Kind.CONNECTOR, channel)
        secret = config.get("webhook_secret", "") if config else ""
        if not config or config.get("platform") != platform or not signed(secret, raw, signature):
            header = _SIGNATURE_HEADER[platform]
            raise Unauthorized(
                "the webhook's signature is missing or wrong",
                fields=[FieldError(header, "base64 HMAC-SHA256 of the body with the secret")],
            )
        if topic not in _ORDER_TOPICS[platform]:
            return {"status": "ignored", "topic": topic}
        if not webhook_id:
            return self._apply(config, topic, raw)
        key = f"{platform}#{channel}#{webhook_id[:200]}"
        state = self._markers.claim(key, self._clock().timestamp())
        if state == "done":
            return {"status": "duplicate"}
        if state != "claimed":
            raise Conflict(
                "this webhook is being applied by another delivery; retry later",
                fields=[FieldError("webhook_id", "in progress")],
            )
        try:
            result = self._apply(config, topic, raw)
        except Exception:
            self._markers.release(key)
            raise
        self._markers.finish(key)
        return result

    # --- rejected orders ----------------------------------------------------------------

    def rejected_orders(self, channel: str) -> list[dict[str, Any]]:
        return [rejected_view(doc) for doc in self._rejected.list(channel)]

    def rejected_order(self, channel: str, rejected_id: str) -> dict[str, Any]:
        doc = self._rejected.get(channel, rejected_id)
        if doc is None:
            raise NotFound(
                f"no rejected order {rejected_id} on {channel}",
                fields=[FieldError("rejected_id", "unknown")],
            )
        return rejected_view(doc, full=True)

    def retry(self, channel: str, rejected_id: str) -> dict[str, Any]:
        """Map and capture the rejected order again with the connector as configured now.
        Captured: the record goes. Still refused: 409 with the new reason (recorded)."""
        doc = self.rejected_order(channel, rejected_id)
        config = self._catalog.doc(Kind.CONNECTOR, channel)
        if config is None or config.get("platform") != doc["platform"]:
            raise Conflict(
                f"channel {channel} has no {doc['platform']} connector now",
                fields=[FieldError("channel", "configure its connector first")],
            )
        result = self._apply(config, doc["topic"], doc["raw"].encode())
        if result["status"] == "rejected":
            reason = result["reason"]
            raise Conflict(
                f"still rejected: {reason['message']}",
                fields=[FieldError(f["path"], f["reason"]) for f in reason["fields"]],
            )
        return result

    # --- applying an order --------------------------------------------------------------

    def _apply(self, config: dict[str, Any], topic: str, raw: bytes) -> dict[str, Any]:
        platform, channel = config["platform"], config["channel"]
        payload = parse_exact(raw)
        platform_order_id = _ORDER_ID[platform](payload)
        if platform == Platform.AMAZON:
            act = amazon.action(payload["order"])
            if act == amazon.Action.CANCEL:
                return self._cancel(channel, platform, platform_order_id, payload)
            if act != amazon.Action.CAPTURE:
                return {"status": "waiting" if act == amazon.Action.WAIT else "skipped"}
        if topic in _CANCEL_TOPICS:
            return self._cancel(channel, platform, platform_order_id, payload)
        if self._tombstones.buried(self._tomb(channel, platform, platform_order_id), self._ts()):
            self._rejected.delete(channel, platform_order_id)
            return {"status": "cancelled_before_capture"}
        try:
            mapped = _MAPPERS[platform](payload, dict(config.get("sku_map") or {}))
        except PayloadError as exc:
            return self._reject(config, topic, raw, platform_order_id, exc, None)
        if mapped.cancelled:
            return self._cancel(channel, platform, platform_order_id, payload)
        return self._capture(config, topic, raw, mapped)

    def _capture(
        self, config: dict[str, Any], topic: str, raw: bytes, mapped: MappedOrder
    ) -> dict[str, Any]:
        platform, channel = config["platform"], config["channel"]
        existing = self._existing(channel, platform, mapped.platform_order_id)
        if existing is not None:  # edits after capture are not applied
            self._rejected.delete(channel, mapped.platform_order_id)
            return {"status": "exists", "order_id": existing.order_id}
        known = self._catalog.products([line.sku for line in mapped.lines])
        unknown = [
            FieldError(f"lines[{i}].sku", f"{line.channel_sku} has no mapping and is no SKU")
            for i, line in enumerate(mapped.lines)
            if line.sku not in known
        ]
        if unknown:
            error = InvalidInput("a line's SKU is not mapped", fields=unknown)
            return self._reject(config, topic, raw, mapped.platform_order_id, error, mapped)
        cmd = PlaceOrder(
            cart=Cart(
                channel=channel,
                currency=mapped.currency,
                ship_to=mapped.ship_to,
                lines=[(line.sku, line.quantity, line.unit_price) for line in mapped.lines],
            ),
            channel_order_id=mapped.platform_order_id,
            customer=dict(mapped.customer),
            delivery=dict(config.get("default_delivery") or {"kind": "fastest"}),
            request_hash=request_hash(mapped.to_doc()),
            payment_status=mapped.payment_status,
            by=f"connector:{platform}",
        )
        try:
            placed = self._ordering.place(cmd)
        except StaleOrder:
            raise  # concurrent writes: the platform's retry captures it
        except (InvalidInput, Conflict) as exc:  # not sourceable, out of stock, prices
            return self._reject(config, topic, raw, mapped.platform_order_id, exc, mapped)
        self._rejected.delete(channel, mapped.platform_order_id)
        out = {"status": "captured", "order_id": placed.order.order_id}
        return {**out, "notes": list(mapped.notes)} if mapped.notes else out

    def _cancel(
        self, channel: str, platform: str, platform_order_id: str, payload: Any
    ) -> dict[str, Any]:
        existing = self._existing(channel, platform, platform_order_id)
        if existing is None:  # never captured: nothing to cancel, nor to capture later
            self._tombstones.bury(self._tomb(channel, platform, platform_order_id), self._ts())
            self._rejected.delete(channel, platform_order_id)
            return {"status": "cancelled_before_capture"}
        reason = payload.get("cancel_reason") if isinstance(payload, dict) else None
        order, _ = self._desk.cancel(
            existing.order_id,
            _principal(channel, platform),
            f"cancelled on {platform}" + (f": {reason}" if isinstance(reason, str) else ""),
        )
        return {"status": "cancelled", "order_id": order.order_id, "order_status": order.status}

    def _existing(self, channel: str, platform: str, platform_order_id: str) -> Order | None:
        try:
            return self._desk.get(
                order_id_for(channel, platform_order_id), _principal(channel, platform)
            )
        except NotFound:
            return None

    def _reject(
        self,
        config: dict[str, Any],
        topic: str,
        raw: bytes,
        platform_order_id: str,
        error: DomainError,
        mapped: MappedOrder | None,
    ) -> dict[str, Any]:
        channel, now = config["channel"], self._now()
        before = self._rejected.get(channel, platform_order_id) or {}
        reason = {
            "code": str(error.code),
            "message": error.message,
            "fields": [{"path": f.path, "reason": f.reason} for f in error.fields],
        }
        doc = {
            "id": platform_order_id,
            "channel": channel,
            "platform": config["platform"],
            "platform_order_id": platform_order_id,
            "topic": topic,
            "reason": reason,
            "mapped": mapped.to_doc() if mapped else None,
            "received_at": before.get("received_at", now),
            "attempts": int(before.get("attempts", 0)) + 1,
            "last_attempt_at": now,
            "raw": raw.decode("utf-8", errors="replace"),
        }
        self._rejected.put(channel, platform_order_id, doc)
        return {"status": "rejected", "rejected_id": platform_order_id, "reason": reason}

    @staticmethod
    def _tomb(channel: str, platform: str, platform_order_id: str) -> str:
        return f"{platform}#{channel}#{platform_order_id[:200]}"

    def _ts(self) -> float:
        return self._clock().timestamp()

    def _now(self) -> str:
        return self._clock().isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _principal(channel: str, platform: str) -> Principal:
    """Who the connector acts as: the channel, named ``channel:<c>:<platform>`` in timelines."""
    return Principal(Role.CHANNEL, key_id=platform, channel=channel)
