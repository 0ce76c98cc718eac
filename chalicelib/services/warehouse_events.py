"""What the warehouses tell us, applied once per event.

``WarehouseEventService.handlers`` maps an event ``type`` to ``handler(event, body)``: the
parsed event (attributes as in ``consumers.warehouse_events``) and its raw JSON body. Stock events
are applied here; order and return events are kept as pending (durably, nothing is lost) until
their handlers are passed in with ``handlers={"picked": ..., ...}`` (see ``wiring``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from aws_lambda_powertools import Logger

from chalicelib.services.inventory import InventoryService

logger = Logger(service="dirigent")

Handler = Callable[[Any, dict[str, Any]], None]

# Event types whose handlers live elsewhere (orders, returns); kept as pending until then.
LATER_TYPES = (
    "picked",
    "shipped",
    "delivered",
    "ready_for_pickup",
    "collected",
    "short_pick",
    "return_received",
)


class PendingEvents(Protocol):
    def keep(self, event_id: str, event_type: str, body: dict[str, Any]) -> None: ...


class WarehouseEventService:
    def __init__(
        self,
        *,
        inventory: InventoryService,
        pending: PendingEvents,
        handlers: Mapping[str, Handler] | None = None,
    ) -> None:
        self._inventory = inventory
        self._pending = pending
        self.handlers: dict[str, Handler] = {
            **dict.fromkeys(LATER_TYPES, self.keep_pending),
            "stock_received": self.stock_received,
            "stock_count": self.stock_count,
            **(handlers or {}),
        }

    def handle(self, event: Any, body: dict[str, Any]) -> None:
        """Apply one event; raises for an event that must be retried (or dead-lettered)."""
        handler = self.handlers.get(event.type)
        if handler is None:
            raise ValueError(f"no handler for warehouse event type {event.type!r}")
        handler(event, body)

    def stock_received(self, event: Any, body: dict[str, Any]) -> None:
        applied = self._inventory.receive(
            event.sku, event.location_id, event.quantity, event_id=event.event_id
        )
        logger.info("stock received", event_id=event.event_id, applied=applied)

    def stock_count(self, event: Any, body: dict[str, Any]) -> None:
        applied = self._inventory.count(
            event.sku,
            event.location_id,
            event.counted_on_hand,
            event.counted_at,
            event_id=event.event_id,
        )
        logger.info("stock counted", event_id=event.event_id, applied=applied)

    def keep_pending(self, event: Any, body: dict[str, Any]) -> None:
        self._pending.keep(event.event_id, event.type, body)
