"""The confirmations use case on fakes: what is recorded, skipped and queued once, and the
back-off of a platform that never answers."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.adapters.platform_out import AmazonOut
from chalicelib.domain.confirmations import (
    Confirmation,
    ConfirmationKind,
    ConfirmationStatus,
    PlatformUnavailable,
)
from chalicelib.domain.order.cancel import cancel
from chalicelib.domain.order.model import Order
from chalicelib.domain.webhooks import RETRY_SCHEDULE
from chalicelib.services.confirmations import ConfirmationService
from chalicelib.services.cursors import CursorSigner
from chalicelib.services.webhooks import RetryLater
from tests.unit.test_confirmations import AT, FakeSpApi, an_order, ship, shipment


class MemoryStore:
    def __init__(self) -> None:
        self.items: dict[str, Confirmation] = {}
        self.marks: dict[str, int] = {}

    def add_confirmation(self, c: Confirmation) -> Confirmation | None:
        if c.confirmation_id in self.items:
            return self.items[c.confirmation_id]
        self.items[c.confirmation_id] = c
        return None

    def confirmation(self, channel: str, confirmation_id: str) -> Confirmation | None:
        return self.items.get(confirmation_id)

    def save_confirmation(self, c: Confirmation) -> None:
        self.items[c.confirmation_id] = c

    def confirmations(self, channel: str, limit: int, cursor: str | None) -> Any:
        raise NotImplementedError

    def confirmed(self, order_id: str) -> int:
        return self.marks.get(order_id, 0)

    def mark_confirmed(self, order_id: str, count: int) -> None:
        self.marks[order_id] = max(count, self.marks.get(order_id, 0))


class MemoryQueue:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.waits: list[int] = []

    def send_many(self, bodies: Any) -> None:
        self.sent += list(bodies)

    def retry_after(self, receipt_handle: str, seconds: int) -> None:
        self.waits.append(seconds)


def service(order: Order, config: dict[str, Any], client: Any) -> Any:
    store, queue = MemoryStore(), MemoryQueue()
    svc = ConfirmationService(
        store=store,
        orders=lambda oid: order if oid == order.order_id else None,
        connector=lambda channel: config,
        platforms=lambda name, cfg: client,
        queue=queue,
        cursors=CursorSigner(b"k" * 32),
    )
    return svc, store, queue


class Unreachable:
    def __init__(self) -> None:
        self.sent = 0

    def unsupported(self, kind: ConfirmationKind) -> str | None:
        return AmazonOut({}, lambda: FakeSpApi()).unsupported(kind)

    def send(self, c: Confirmation) -> dict[str, Any]:
        self.sent += 1
        raise PlatformUnavailable("the platform answered 503")


def test_an_amazon_cancel_is_recorded_as_skipped_and_nothing_is_queued():
    order = an_order(shipment("s1", {"SKU-1": 1}), by="connector:amazon")
    cancel(order, None, at=AT, source="cs", reason="no")
    svc, store, queue = service(order, {"platform": "amazon"}, Unreachable())
    assert svc.confirm_order("o_1") == 0 and queue.sent == []
    (skipped,) = store.items.values()
    assert (skipped.kind, skipped.status) == (ConfirmationKind.CANCEL, ConfirmationStatus.SKIPPED)
    assert "Seller Central" in (skipped.error or "")


def test_a_platform_that_never_answers_is_retried_on_the_schedule_then_failed():
    order = an_order(shipment("s1", {"SKU-1": 1}), by="connector:amazon")
    ship(order, "s1")
    client = Unreachable()
    svc, store, queue = service(order, {"platform": "amazon"}, client)
    assert svc.confirm_order("o_1") == 1 and svc.confirm_order("o_1") == 0
    (message,) = queue.sent
    for attempt in range(1, len(RETRY_SCHEDULE) + 2):
        with pytest.raises(RetryLater):
            svc.attempt(
                "webshop", message["confirmation_id"], receive_count=attempt, receipt_handle="r"
            )
    assert queue.waits == [*RETRY_SCHEDULE, 0]  # 0: the next receive dead-letters it
    (failed,) = store.items.values()
    assert failed.status == ConfirmationStatus.FAILED and failed.attempt_count == client.sent == 8
    assert [a["outcome"] for a in failed.attempts] == ["unavailable"] * 8


def test_an_order_no_connector_captured_or_confirmations_off_sends_nothing():
    placed_by_api = an_order(shipment("s1", {"SKU-1": 1}), by="channel:webshop:k1")
    ship(placed_by_api, "s1")
    svc, store, _ = service(placed_by_api, {"platform": "shopify"}, Unreachable())
    assert svc.confirm_order("o_1") == 0 and store.items == {}
    off = an_order(shipment("s1", {"SKU-1": 1}))
    ship(off, "s1")
    svc, store, _ = service(off, {"platform": "shopify", "confirmations": False}, None)
    assert svc.confirm_order("o_1") == 0 and store.items == {} and store.marks == {"o_1": 3}
