"""``Idempotency-Key`` for writes that aren't naturally idempotent, through Powertools: a replay
returns the first answer, the same key with another body is 422, one still running is 409."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from chalicelib.domain.errors import Conflict, FieldError, InvalidInput

if TYPE_CHECKING:  # Powertools idempotency loads boto3: only a route that writes pays for it
    from aws_lambda_powertools.utilities.idempotency import BasePersistenceLayer, IdempotencyConfig
    from chalice import Blueprint
    from pydantic import BaseModel

    from chalicelib.api.http import Ctx

TTL_SECONDS = 24 * 3600
MAX_KEY_LENGTH = 200


@dataclass(frozen=True)
class IdempotentCall:
    config: IdempotencyConfig
    run: Callable[..., Any]


def idempotent_call(
    run: Callable[..., BaseModel],
    *,
    store: BasePersistenceLayer,
    key_prefix: str,
    event_key: str,
    payload: str,
    output: type[BaseModel],
) -> IdempotentCall:
    """``run(command=..., **kw)`` made idempotent on the JMESPath ``event_key`` of its command,
    recorded in ``store`` (``wiring.idempotency_store()``, built lazily: it makes a DynamoDB
    client; cache the result per store). The explicit
    ``key_prefix`` keeps records valid across Chalice handlers (the default uses the function
    name), and ``PydanticSerializer`` makes replays return the same model."""
    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
    from aws_lambda_powertools.utilities.idempotency.serialization.pydantic import (
        PydanticSerializer,
    )

    config = IdempotencyConfig(
        event_key_jmespath=event_key,
        payload_validation_jmespath=payload,
        expires_after_seconds=TTL_SECONDS,
    )
    wrapped = idempotent_function(
        data_keyword_argument="command",
        persistence_store=store,
        config=config,
        output_serializer=PydanticSerializer(output),
        key_prefix=key_prefix,
    )(run)
    return IdempotentCall(config=config, run=wrapped)


def idempotency_key(ctx: Ctx) -> str | None:
    """The request's ``Idempotency-Key`` header, validated; None when there is none."""
    key = ctx.header("Idempotency-Key")
    if key is not None and (not key.strip() or len(key) > MAX_KEY_LENGTH):
        raise InvalidInput(
            "the Idempotency-Key is invalid",
            fields=[FieldError("Idempotency-Key", f"1 to {MAX_KEY_LENGTH} characters")],
        )
    return key


def call_once(bp: Blueprint, once: IdempotentCall, **kwargs: Any) -> Any:
    """Run ``once`` with Powertools' Lambda-timeout awareness, mapping its errors to HTTP."""
    from aws_lambda_powertools.utilities.idempotency.exceptions import (
        IdempotencyAlreadyInProgressError,
        IdempotencyValidationError,
    )

    context: Any = bp.lambda_context
    if hasattr(context, "get_remaining_time_in_millis"):
        once.config.register_lambda_context(context)
    try:
        return once.run(**kwargs)
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
