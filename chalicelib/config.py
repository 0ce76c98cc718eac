"""Settings read from the environment. The stage config (.chalice/config.json) and the local
stack set the same variables; only endpoints and names differ between stages."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache

LOCAL_STAGE = "local"
LOCAL_TOKEN_SECRET = "local-only-not-secret"  # noqa: S105 - the local stack's, refused elsewhere
MIN_SECRET_BYTES = 32
SECRET_MAX_AGE_SECONDS = 300  # how long a container keeps a parameter it fetched


@dataclass(frozen=True)
class Settings:
    stage: str
    catalog_table: str
    stock_table: str
    orders_table: str
    idempotency_table: str
    fulfilment_queue: str
    warehouse_events_queue: str
    order_events_queue: str
    exports_bucket: str
    mail_sender: str
    service_email: str  # customer service's mailbox: cancels a location refused, ...
    quote_ttl_seconds: int
    cache_ttl_seconds: float
    rate_per_key: float  # calls a second per API key, per container
    burst_per_key: int
    failures_per_minute: float  # failed attempts per source address, per container
    failures_burst: int
    track_url: str  # the public base of GET /track/{order_id}, for customer mails
    # Exports larger than this go to the exports bucket behind a pre-signed link: Lambda
    # answers at most 6 MB, and a CSV grows when escaped into the proxy response.
    export_inline_max_bytes: int

    @property
    def token_secret(self) -> str:
        """The tracking-token secret, checked (see ``token_secret``); never a field, so that
        it is not in the repr of the settings."""
        return token_secret().decode()


def _env(name: str, default: str) -> str:
    return os.environ.get(name, default)


@cache
def settings() -> Settings:
    prefix = _env("DIRIGENT_PREFIX", "dirigent")
    return Settings(
        stage=_env("DIRIGENT_STAGE", "local"),
        catalog_table=_env("CATALOG_TABLE", f"{prefix}-catalog"),
        stock_table=_env("STOCK_TABLE", f"{prefix}-stock"),
        orders_table=_env("ORDERS_TABLE", f"{prefix}-orders"),
        idempotency_table=_env("IDEMPOTENCY_TABLE", f"{prefix}-idempotency"),
        fulfilment_queue=_env("FULFILMENT_QUEUE", f"{prefix}-fulfilment"),
        warehouse_events_queue=_env("WAREHOUSE_EVENTS_QUEUE", f"{prefix}-warehouse-events"),
        order_events_queue=_env("ORDER_EVENTS_QUEUE", f"{prefix}-order-events"),
        exports_bucket=_env("EXPORTS_BUCKET", f"{prefix}-exports"),
        mail_sender=_env("MAIL_SENDER", "orders@dirigent.example"),
        service_email=_env("SERVICE_EMAIL", "service@dirigent.example"),
        quote_ttl_seconds=int(_env("QUOTE_TTL_SECONDS", "1800")),
        cache_ttl_seconds=float(_env("CACHE_TTL_SECONDS", "30")),
        rate_per_key=float(_env("RATE_LIMIT_PER_KEY", "100")),
        burst_per_key=int(_env("RATE_LIMIT_BURST_PER_KEY", "200")),
        failures_per_minute=float(_env("FAILED_ATTEMPTS_PER_MINUTE", "30")),
        failures_burst=int(_env("FAILED_ATTEMPTS_BURST", "30")),
        track_url=_env("TRACK_URL", "http://127.0.0.1:8000/track"),
        export_inline_max_bytes=int(_env("EXPORT_INLINE_MAX_BYTES", "4000000")),
    )


def token_secret() -> bytes:
    """The server secret behind customers' tracking tokens.

    ``DIRIGENT_TOKEN_SECRET_PARAM`` names where it lives on AWS: an SSM parameter (a
    SecureString, e.g. ``/dirigent/dev/token-secret``) or, prefixed ``secretsmanager:``, a
    Secrets Manager secret; Powertools caches it for ``SECRET_MAX_AGE_SECONDS``. Without it,
    ``DIRIGENT_TOKEN_SECRET`` is read. Only the ``local`` stage may go without one; every other
    stage refuses a missing, short or default secret with a ``RuntimeError`` that never
    contains the value."""
    stage = settings().stage
    param = _env("DIRIGENT_TOKEN_SECRET_PARAM", "").strip()
    source = f"parameter {param}" if param else "DIRIGENT_TOKEN_SECRET"
    value = _fetch(param) if param else _env("DIRIGENT_TOKEN_SECRET", "")
    if stage == LOCAL_STAGE and not value:
        value = LOCAL_TOKEN_SECRET
    secret = value.encode()
    problem = "" if stage == LOCAL_STAGE else _weakness(secret)
    if problem:
        raise RuntimeError(
            f"refusing to run stage {stage!r}: the token secret ({source}) {problem}; "
            f"store at least {MIN_SECRET_BYTES} random bytes there"
        )
    return secret


def _weakness(secret: bytes) -> str:
    if not secret.strip():
        return "is not set"
    if secret == LOCAL_TOKEN_SECRET.encode():
        return "is the public default"
    if len(secret) < MIN_SECRET_BYTES:
        return f"is shorter than {MIN_SECRET_BYTES} bytes"
    return ""


def _fetch(param: str) -> str:
    """The parameter's value through Powertools (cached); a failed read is a refusal too."""
    from aws_lambda_powertools.utilities import parameters

    try:
        if param.startswith("secretsmanager:"):
            value = parameters.get_secret(
                param.removeprefix("secretsmanager:"), max_age=SECRET_MAX_AGE_SECONDS
            )
        else:
            value = parameters.get_parameter(param, decrypt=True, max_age=SECRET_MAX_AGE_SECONDS)
    except parameters.GetParameterError as exc:
        # The SDK's message names the parameter, never its value.
        raise RuntimeError(f"cannot read the token secret from {param}: {exc}") from None
    if isinstance(value, bytes):
        return value.decode()
    return value if isinstance(value, str) else ""


def queue_name(kind: str) -> str:
    """Queue names for the Chalice SQS decorators, evaluated at import (and package) time."""
    return f"{_env('DIRIGENT_PREFIX', 'dirigent')}-{kind}"
