"""Powertools logging and metrics for every handler, through Chalice middleware: the Powertools
decorators expect ``(event, context)``, which Chalice views do not have. Every log line of the
``dirigent`` logger is masked (``chalicelib.domain.redaction``): no e-mail address, API key or
token reaches the logs, whatever field or exception text carries it."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
from aws_lambda_powertools.metrics import MetricUnit
from chalice import Chalice
from chalice.app import CloudWatchEvent, Request, SQSEvent

from chalicelib.domain.redaction import mask


class MaskingFormatter(LambdaPowertoolsFormatter):
    """The Powertools JSON formatter, masking every field of the record before it is written."""

    def serialize(self, log: dict[str, Any]) -> str:  # type: ignore[override]
        return super().serialize(log=mask(log))


def install_masking(target: Logger) -> None:
    """Put the masking formatter on the handler every ``Logger(service="dirigent")`` shares
    (once: the keys it was given so far stay)."""
    handler = target.registered_handler
    if not isinstance(handler.formatter, MaskingFormatter):
        handler.setFormatter(MaskingFormatter(service=target.service))


logger = Logger(service="dirigent")
install_masking(logger)
metrics = Metrics(namespace="Dirigent", service="dirigent")


def _correlation_id(event: Any) -> str | None:
    if isinstance(event, Request):
        headers: Mapping[str, str] = event.headers or {}
        return headers.get("x-correlation-id") or (event.context or {}).get("requestId")
    if isinstance(event, SQSEvent):
        ids = [record.to_dict().get("messageId") for record in event]
        return ids[0] if len(ids) == 1 else None
    if isinstance(event, CloudWatchEvent):
        return event.event_id
    return None


def _metrics_disabled() -> bool:
    return os.environ.get("POWERTOOLS_METRICS_DISABLED", "false").lower() == "true"


def instrument(app: Chalice) -> None:
    @app.middleware("all")
    def observe(event: Any, get_response: Any) -> Any:
        ctx = getattr(app, "lambda_context", None)  # only set by HTTP requests
        logger.structure_logs(append=False, cold_start=False)
        if ctx is not None and hasattr(ctx, "function_name"):
            logger.append_keys(function_name=ctx.function_name)
        logger.set_correlation_id(_correlation_id(event))
        if isinstance(event, SQSEvent):
            count = sum(1 for _ in event)
            metrics.add_metric(name="SqsMessages", unit=MetricUnit.Count, value=count)
        elif isinstance(event, CloudWatchEvent):
            metrics.add_metric(name="ScheduleRuns", unit=MetricUnit.Count, value=1)
        try:
            response = get_response(event)
            if isinstance(event, Request):
                status = getattr(response, "status_code", 200)
                metrics.add_metric(name=f"Http{status // 100}xx", unit=MetricUnit.Count, value=1)
                logger.info("request", path=event.path, method=event.method, status=status)
            return response
        finally:
            if _metrics_disabled():
                metrics.clear_metrics()  # flush would keep them, and print every 100
            else:
                metrics.flush_metrics()
