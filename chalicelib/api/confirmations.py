"""Confirmations back to a channel's platform (admin):
``GET /channels/{channel}/connector/confirmations`` (paged) and
``POST .../confirmations/{confirmation_id}/retry``."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.api.http import Ctx, endpoint
from chalicelib.domain.access import Role
from chalicelib.wiring.confirmations import confirmations

bp = Blueprint(__name__)

ADMIN = [Role.ADMIN]
MAX_PAGE = 100


@endpoint(
    bp,
    "/channels/{channel}/connector/confirmations",
    roles=ADMIN,
    response="confirmations:ConfirmationList",
)
def list_confirmations(ctx: Ctx, channel: str) -> dict[str, Any]:
    """Shipments, cancels and refunds told to the platform, newest first: status, attempts
    with the platform's messages, next retry; ``limit`` (at most 100) and ``cursor``."""
    limit = ctx.whole_number("limit", 20, 1, MAX_PAGE)
    page = confirmations().list(channel, limit, ctx.query("cursor"))
    return {"confirmations": page.items, "cursor": page.cursor}


@endpoint(
    bp,
    "/channels/{channel}/connector/confirmations/{confirmation_id}/retry",
    method="POST",
    roles=ADMIN,
    response="confirmations:ConfirmationRetryOut",
    status=202,
)
def retry_confirmation(ctx: Ctx, channel: str, confirmation_id: str) -> dict[str, Any]:
    """Queue one more attempt now (whatever its status: after fixing the connector's
    credentials, say)."""
    found = confirmations().retry(channel, confirmation_id)
    return {"confirmation_id": found.confirmation_id, "queued": True}
