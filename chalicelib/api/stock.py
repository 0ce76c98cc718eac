"""Stock routes: absolute levels, idempotent adjustments, and the stock of a SKU."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyValidationError,
)
from aws_lambda_powertools.utilities.idempotency.serialization.pydantic import PydanticSerializer
from chalice import Blueprint
from pydantic import BaseModel, Field

from chalicelib import wiring
from chalicelib.api.http import Ctx, endpoint
from chalicelib.api.schemas import (
    AdjustmentIn,
    AdjustmentOut,
    StockLevelIn,
    StockLocationOut,
    StockOut,
    StockTotal,
    check_path_id,
)
from chalicelib.domain.access import Role
from chalicelib.domain.errors import Conflict, FieldError, InvalidInput
from chalicelib.domain.network import StockLevel

bp = Blueprint(__name__)

IDEMPOTENCY_KEY_PREFIX = "stock-adjustment"
IDEMPOTENCY_TTL_SECONDS = 24 * 3600


def _location_out(level: StockLevel) -> StockLocationOut:
    return StockLocationOut(
        location_id=level.location_id,
        on_hand=level.on_hand,
        reserved=level.reserved,
        safety_stock=level.safety_stock,
        available=level.available,
        reorder_point=level.reorder_point,
    )


@endpoint(
    bp,
    "/stock/{sku}/{location_id}",
    method="PUT",
    roles=[Role.ADMIN],
    request=StockLevelIn,
    response=StockLocationOut,
)
def put_stock(ctx: Ctx, sku: str, location_id: str) -> StockLocationOut:
    """Set absolute levels of a SKU at a location (what is reserved stays reserved)."""
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


class AdjustmentCommand(BaseModel):
    idempotency_key: str = Field(min_length=1, max_length=200)
    adjustment: AdjustmentIn


def _adjust(adjustment: AdjustmentIn) -> AdjustmentOut:
    level = wiring.inventory().adjust(
        adjustment.sku, adjustment.location_id, adjustment.delta, reason=adjustment.reason
    )
    return AdjustmentOut(
        sku=adjustment.sku,
        delta=adjustment.delta,
        reason=adjustment.reason,
        **_location_out(level).model_dump(),
    )


@dataclass(frozen=True)
class IdempotentCall:
    config: IdempotencyConfig
    run: Callable[..., Any]


@wiring.on_reset
@cache
def _adjust_once() -> IdempotentCall:
    """``_adjust`` made idempotent on the key, built lazily (the persistence layer makes a
    client). The same key with another body raises ``IdempotencyValidationError``."""
    config = IdempotencyConfig(
        event_key_jmespath="idempotency_key",
        payload_validation_jmespath="adjustment",
        expires_after_seconds=IDEMPOTENCY_TTL_SECONDS,
    )

    @idempotent_function(
        data_keyword_argument="command",
        persistence_store=wiring.idempotency_store(),
        config=config,
        output_serializer=PydanticSerializer(AdjustmentOut),
        key_prefix=IDEMPOTENCY_KEY_PREFIX,
    )
    def run(command: AdjustmentCommand) -> AdjustmentOut:
        return _adjust(command.adjustment)

    return IdempotentCall(config=config, run=run)


@endpoint(
    bp,
    "/stock/adjustments",
    method="POST",
    roles=[Role.ADMIN],
    request=AdjustmentIn,
    response=AdjustmentOut,
    status=201,
)
def post_adjustment(ctx: Ctx) -> AdjustmentOut:
    """Correct on_hand by a signed delta. With an ``Idempotency-Key`` header a replay returns
    the first answer and the same key with another body is 422."""
    adjustment = ctx.body(AdjustmentIn)
    key = ctx.header("Idempotency-Key")
    if key is None:
        return _adjust(adjustment)
    if not key.strip() or len(key) > 200:
        raise InvalidInput(
            "the Idempotency-Key is invalid",
            fields=[FieldError("Idempotency-Key", "1 to 200 characters")],
        )
    once = _adjust_once()
    if hasattr(bp.lambda_context, "get_remaining_time_in_millis"):
        once.config.register_lambda_context(bp.lambda_context)
    try:
        result: AdjustmentOut = once.run(
            command=AdjustmentCommand(idempotency_key=key, adjustment=adjustment)
        )
    except IdempotencyValidationError as exc:
        raise InvalidInput(
            "this Idempotency-Key was used with another body",
            fields=[FieldError("Idempotency-Key", "reused with a different body")],
        ) from exc
    except IdempotencyAlreadyInProgressError as exc:
        raise Conflict(
            "a request with this Idempotency-Key is in progress",
            fields=[FieldError("Idempotency-Key", "in progress; retry shortly")],
        ) from exc
    return result


@endpoint(bp, "/stock/{sku}", roles=[Role.ADMIN, Role.SERVICE, Role.CHANNEL], response=StockOut)
def get_stock(ctx: Ctx, sku: str) -> StockOut:
    """The stock of a SKU at every location, with totals."""
    stock = wiring.inventory().stock_of(sku)
    return StockOut(
        sku=sku,
        total=StockTotal(on_hand=stock.on_hand, reserved=stock.reserved, available=stock.available),
        locations=[_location_out(level) for level in stock.levels],
    )
