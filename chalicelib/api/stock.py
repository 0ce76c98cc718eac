"""Stock routes: absolute levels, idempotent adjustments, and the stock of a SKU."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from chalice import Blueprint

from chalicelib import wiring
from chalicelib.api.http import Ctx, endpoint
from chalicelib.api.idempotency import IdempotentCall, call_once, idempotency_key, idempotent_call
from chalicelib.domain.access import Role
from chalicelib.domain.network import StockLevel

if TYPE_CHECKING:
    from chalicelib.api.models.common import AdjustmentIn, AdjustmentOut, StockLocationOut, StockOut
    from chalicelib.api.models.stock import QuarantineIn, QuarantineOut

bp = Blueprint(__name__)

IDEMPOTENCY_KEY_PREFIX = "stock-adjustment"
QUARANTINE_KEY_PREFIX = "stock-quarantine"


def _location_out(level: StockLevel) -> StockLocationOut:
    from chalicelib.api.models.common import StockLocationOut

    return StockLocationOut(
        location_id=level.location_id,
        on_hand=level.on_hand,
        reserved=level.reserved,
        safety_stock=level.safety_stock,
        available=max(level.available, 0),  # safety stock above on_hand: none, as in reports
        reorder_point=level.reorder_point,
        in_transit=level.in_transit,
        quarantine=level.quarantine,
    )


@endpoint(
    bp,
    "/stock/{sku}/{location_id}",
    method="PUT",
    roles=[Role.ADMIN],
    request="common:StockLevelIn",
    response="common:StockLocationOut",
)
def put_stock(ctx: Ctx, sku: str, location_id: str) -> StockLocationOut:
    """Set absolute levels of a SKU at a location (what is reserved stays reserved)."""
    from chalicelib.api.models.common import StockLevelIn, check_path_id

    check_path_id("sku", sku)
    check_path_id("location_id", location_id)
    req = ctx.body(StockLevelIn)
    level = wiring.inventory().set_levels(
        sku,
        location_id,
        on_hand=req.on_hand,
        safety_stock=req.safety_stock,
        reorder_point=req.reorder_point,
    )
    return _location_out(level)


def _adjust(adjustment: AdjustmentIn) -> AdjustmentOut:
    from chalicelib.api.models.common import AdjustmentOut

    level = wiring.inventory().adjust(
        adjustment.sku, adjustment.location_id, adjustment.delta, reason=adjustment.reason
    )
    return AdjustmentOut(
        sku=adjustment.sku,
        delta=adjustment.delta,
        reason=adjustment.reason,
        **_location_out(level).model_dump(),
    )


@cache
def _adjust_once(store: Any) -> IdempotentCall:
    """``_adjust`` made idempotent on the key (the same key with another body is 422)."""
    from chalicelib.api.models.common import AdjustmentCommand, AdjustmentOut

    def run(command: AdjustmentCommand) -> AdjustmentOut:
        return _adjust(command.adjustment)

    return idempotent_call(
        run,
        store=store,
        key_prefix=IDEMPOTENCY_KEY_PREFIX,
        event_key="idempotency_key",
        payload="adjustment",
        output=AdjustmentOut,
    )


@endpoint(
    bp,
    "/stock/adjustments",
    method="POST",
    roles=[Role.ADMIN],
    request="common:AdjustmentIn",
    response="common:AdjustmentOut",
    status=201,
)
def post_adjustment(ctx: Ctx) -> AdjustmentOut:
    """Correct on_hand by a signed delta. With an ``Idempotency-Key`` header a replay returns
    the first answer and the same key with another body is 422."""
    from chalicelib.api.models.common import AdjustmentCommand, AdjustmentIn

    adjustment = ctx.body(AdjustmentIn)
    key = idempotency_key(ctx)
    if key is None:
        return _adjust(adjustment)
    command = AdjustmentCommand(idempotency_key=key, adjustment=adjustment)
    result: AdjustmentOut = call_once(bp, _adjust_once(wiring.idempotency_store()), command=command)
    return result


@endpoint(
    bp, "/stock/{sku}", roles=[Role.ADMIN, Role.SERVICE, Role.CHANNEL], response="common:StockOut"
)
def get_stock(ctx: Ctx, sku: str) -> StockOut:
    """The stock of a SKU at every location, with totals; ``sellable``: what sourcing would
    take of a location (its available units, discounted while its stock feed is stale)."""
    from chalicelib.api.models.common import StockOut, StockTotal

    stock = wiring.inventory().stock_of(sku)
    return StockOut(
        sku=sku,
        total=StockTotal(
            on_hand=stock.on_hand,
            reserved=stock.reserved,
            available=stock.available,
            in_transit=stock.in_transit,
            quarantine=stock.quarantine,
            sellable=stock.sellable,
        ),
        locations=[
            _location_out(level).model_copy(
                update={
                    "sellable": stock.sellable_at(level),
                    "feed_status": stock.feed_status(level).value,
                }
            )
            for level in stock.levels
        ],
    )


def _quarantine(sku: str, location_id: str, req: QuarantineIn) -> QuarantineOut:
    from chalicelib.api.models.stock import QuarantineAction, QuarantineOut

    level = wiring.inventory().quarantine(
        sku,
        location_id,
        release=req.action == QuarantineAction.RELEASE,
        quantity=req.quantity,
        reason=req.reason,
    )
    return QuarantineOut(
        sku=sku,
        action=req.action,
        quantity=req.quantity,
        reason=req.reason,
        **_location_out(level).model_dump(),
    )


@cache
def _quarantine_once(store: Any) -> IdempotentCall:
    """``_quarantine`` made idempotent on the key (the same key with another body is 422)."""
    from chalicelib.api.models.stock import QuarantineCommand, QuarantineOut

    def run(command: QuarantineCommand) -> QuarantineOut:
        return _quarantine(command.sku, command.location_id, command.request)

    return idempotent_call(
        run,
        store=store,
        key_prefix=QUARANTINE_KEY_PREFIX,
        event_key="idempotency_key",
        payload="[sku, location_id, request]",
        output=QuarantineOut,
    )


@endpoint(
    bp,
    "/stock/{sku}/{location_id}/quarantine",
    method="POST",
    roles=[Role.ADMIN, Role.SERVICE],
    request="stock:QuarantineIn",
    response="stock:QuarantineOut",
)
def post_quarantine(ctx: Ctx, sku: str, location_id: str) -> QuarantineOut:
    """Release quarantined units to sellable stock (``release``: waiting backorders may take
    them) or write them off (``write_off``). 409 naming ``quantity`` when fewer are quarantined.
    With an ``Idempotency-Key`` header a replay returns the first answer."""
    from chalicelib.api.models.common import check_path_id
    from chalicelib.api.models.stock import QuarantineCommand, QuarantineIn

    check_path_id("sku", sku)
    check_path_id("location_id", location_id)
    req = ctx.body(QuarantineIn)
    key = idempotency_key(ctx)
    if key is None:
        return _quarantine(sku, location_id, req)
    command = QuarantineCommand(idempotency_key=key, sku=sku, location_id=location_id, request=req)
    result: QuarantineOut = call_once(
        bp, _quarantine_once(wiring.idempotency_store()), command=command
    )
    return result
