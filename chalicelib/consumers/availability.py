"""After-commit triggers of the availability feed, called by the consumers once a stock change
is committed: they log the change (``changed_since``) and send the coalesced pushes. Best
effort like the webhook triggers: the change stands whatever happens here (a lost log entry
shows in the next change of that SKU; a lost push in its next band change)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from aws_lambda_powertools import Logger
from pydantic import BaseModel, ConfigDict, Field

logger = Logger(service="dirigent")


class Recheck(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    type: str
    channel: str = Field(min_length=1, max_length=64)
    sku: str = Field(min_length=1, max_length=64)


def stock_changed(skus: Iterable[str]) -> None:
    wanted = sorted(set(skus))
    if not wanted:
        return
    try:
        from chalicelib.wiring.availability import availability

        sent = availability().stock_changed(wanted)
        logger.info("availability checked", skus=len(wanted), pushes=sent)
    except Exception as exc:  # noqa: BLE001 - the stock change is committed; this is extra
        logger.warning("availability trigger failed", skus=wanted[:10], error=type(exc).__name__)


def order_stock_changed(order_id: str) -> None:
    """The SKUs of ``order_id`` (placed, changed or cancelled: its reservations moved)."""
    try:
        from chalicelib.wiring import orders

        order = orders().get(order_id)
    except Exception as exc:  # noqa: BLE001
        logger.warning("availability trigger failed", order_id=order_id, error=type(exc).__name__)
        return
    if order is not None:
        stock_changed(line.sku for line in order.lines)


def recheck(body: dict[str, Any]) -> None:
    """A deferred re-check (``availability_recheck`` on the order-events queue). Raises on
    failure so that SQS redelivers it."""
    from chalicelib.wiring.availability import availability

    message = Recheck.model_validate(body)
    sent = availability().recheck(message.channel, message.sku)
    logger.info("availability re-checked", channel=message.channel, sku=message.sku, pushes=sent)
