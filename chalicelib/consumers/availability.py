"""After-commit triggers of the availability feed, called by the consumers once a stock change
is committed: they log the change (``changed_since``) and send the coalesced pushes. The change
stands whatever happens here: when this fails, a delayed ``stock_changed`` message on the
order-events queue does it again (``changed``, which raises so that SQS retries), as it does
for the HTTP writers' changes (``OrderEvents.stock_changed``).

A consumer's batch runs its triggers ``coalesced``: the SKUs of all its records are checked
once, after the last record (one change-log write, one read of the products and of each SKU's
stock and push state, instead of one per record). A record's own commit does not wait for it,
and a batch that dies before the end is delivered again, triggers and all."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Annotated, Any

from aws_lambda_powertools import Logger
from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from chalicelib.domain.order.model import Order

logger = Logger(service="dirigent")


class Recheck(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    type: str
    channel: str = Field(min_length=1, max_length=64)
    sku: str = Field(min_length=1, max_length=64)


class StockChanged(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    type: str
    skus: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(
        min_length=1, max_length=100
    )


RETRY_DELAY = 30  # seconds before the retry of a failed trigger (a claim resends after 10)
_batch: ContextVar[set[str] | None] = ContextVar("availability_batch", default=None)


@contextmanager
def coalesced() -> Iterator[None]:
    """Within: ``stock_changed`` keeps the SKUs, and checks them all once on the way out
    (whatever the records did: those that committed need their triggers)."""
    skus: set[str] = set()
    token = _batch.set(skus)
    try:
        yield
    finally:
        _batch.reset(token)
        stock_changed(skus)


def stock_changed(skus: Iterable[str]) -> None:
    pending = _batch.get()
    if pending is not None:
        pending.update(skus)
        return
    wanted = sorted(set(skus))
    if not wanted:
        return
    try:
        from chalicelib.wiring.availability import availability

        sent = availability().stock_changed(wanted)
        logger.info("availability checked", skus=len(wanted), pushes=sent)
    except Exception as exc:  # noqa: BLE001 - the stock change is committed: retry from SQS
        logger.warning("availability trigger failed", skus=wanted[:10], error=type(exc).__name__)
        from chalicelib.wiring import order_events

        try:
            order_events().stock_changed(wanted, delay_seconds=RETRY_DELAY)
        except Exception:  # both AWS paths down: the next change of these SKUs catches up
            logger.exception("availability retry not queued", skus=wanted[:10])


def changed(body: dict[str, Any]) -> None:
    """A ``stock_changed`` message: log and announce its SKUs; raises for SQS to retry."""
    from chalicelib.wiring.availability import availability

    message = StockChanged.model_validate(body)
    sent = availability().stock_changed(message.skus)
    logger.info("availability checked", skus=len(message.skus), pushes=sent)


def order_stock_changed(order_id: str, order: Order | None = None) -> None:
    """The SKUs of ``order_id`` (placed, changed or cancelled: its reservations moved);
    ``order``: the order as just read or written, if the caller has it."""
    try:
        from chalicelib.wiring import orders

        order = order or orders().get(order_id)
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
