"""The scheduled entries: what each schedule runs, and the rates read at package time."""

from __future__ import annotations

import os
from typing import Any

from chalice import Rate

from chalicelib import wiring

RATE_ENV = "LOW_STOCK_ALERT_RATE_MINUTES"
OUTBOX_SWEEP = Rate(1, unit=Rate.MINUTES)
PICKUP_EXPIRY = Rate(15, unit=Rate.MINUTES)
HOLD_EXPIRY = Rate(5, unit=Rate.MINUTES)
PREORDER_RELEASE = Rate(60, unit=Rate.MINUTES)
RESERVATION_EXPIRY = Rate(1, unit=Rate.MINUTES)
AMAZON_POLL = Rate(5, unit=Rate.MINUTES)  # each channel at its own poll_minutes, no oftener
NETWORK_VALUES = Rate(60, unit=Rate.MINUTES)  # each SKU about daily (network_value.REFRESH_AFTER)


def alert_rate() -> Rate:
    """The low-stock schedule's rate in minutes from ``LOW_STOCK_ALERT_RATE_MINUTES`` (default
    60). Chalice reads it when app.py is imported, i.e. when ``chalice package``/``deploy``
    runs: set it in that shell per stage (``make package STAGE=prod
    LOW_STOCK_ALERT_RATE_MINUTES=15``), not in the Lambda's environment."""
    raw = os.environ.get(RATE_ENV, "60")
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"{RATE_ENV} must be a whole number of minutes >= 1, not {raw!r}")
    return Rate(int(raw), unit=Rate.MINUTES)


def low_stock_alerts() -> dict[str, Any]:
    """One alert run: a digest per recipient group of what is at or below its reorder point."""
    return vars(wiring.low_stock_alerts().run())


def outbox_sweep() -> int:
    """Re-send fulfilment requests whose dispatch did not complete (the outbox), and bring
    each swept order what its order-events message would have (``order_events.swept``)."""
    from chalicelib.consumers.order_events import swept

    return wiring.dispatcher().sweep(then=swept)


def pickup_expiry() -> int:
    """Cancel click & collect shipments not collected within the channel's window."""
    return wiring.pickup_expiry().expire()


def hold_expiry() -> int:
    """Cancel orders still held at their auto-cancel deadline."""
    return wiring.order_changes().expire_holds()


def release_preorders() -> int:
    """Free the cap of preorder claims whose order was never written, then serve the waiting
    preorders of products whose release window has begun (the units served)."""
    wiring.preorders().sweep()
    return sum(wiring.backorders().allocate(sku) for sku in wiring.preorders().due())


def expire_reservations() -> int:
    """Give back the units of checkout reservations past their time."""
    return wiring.reservations().sweep()


def amazon_poll() -> list[dict[str, Any]]:
    """Poll Amazon's orders of every channel that is due (each channel's ``poll_minutes``)."""
    from chalicelib.wiring.amazon import amazon_poller

    return [vars(result) for result in amazon_poller().run()]


def network_values() -> dict[str, Any]:
    """Recompute every selling SKU's network value per location (network-aware sourcing)."""
    from chalicelib.wiring.network_value import network_values as service

    return vars(service().run())
