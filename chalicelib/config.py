"""Settings read from the environment. The stage config (.chalice/config.json) and the local
stack set the same variables; only endpoints and names differ between stages."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache


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
    token_secret: str
    track_url: str  # the public base of GET /track/{order_id}, for customer mails
    # Exports larger than this go to the exports bucket behind a pre-signed link: Lambda
    # answers at most 6 MB, and a CSV grows when escaped into the proxy response.
    export_inline_max_bytes: int


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
        # Derives customers' tracking tokens; set a long random value per deployment.
        token_secret=_env("DIRIGENT_TOKEN_SECRET", "local-only-not-secret"),
        track_url=_env("TRACK_URL", "http://127.0.0.1:8000/track"),
        export_inline_max_bytes=int(_env("EXPORT_INLINE_MAX_BYTES", "4000000")),
    )


def queue_name(kind: str) -> str:
    """Queue names for the Chalice SQS decorators, evaluated at import (and package) time."""
    return f"{_env('DIRIGENT_PREFIX', 'dirigent')}-{kind}"
