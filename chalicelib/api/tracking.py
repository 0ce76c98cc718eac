"""The customer's tracking page: ``GET /track/{order_id}?token=…``.

No API key: the token from the confirmation is the credential. A wrong or missing token gets
exactly the 404 of an unknown order (same code, message and body), and the token is compared
in constant time, also when the order does not exist.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import TYPE_CHECKING

from chalice import Blueprint

from chalicelib import wiring
from chalicelib.api.http import Ctx, endpoint
from chalicelib.domain.errors import FieldError, NotFound

if TYPE_CHECKING:
    from chalicelib.api.models.tracking import Tracking

bp = Blueprint(__name__)

_NOBODY = hashlib.sha256(b"no such order").hexdigest()
MAX_TOKEN_LENGTH = 128


def _not_found(order_id: str) -> NotFound:
    return NotFound(f"order {order_id} not found", fields=[FieldError("order_id", "unknown")])


@endpoint(bp, "/track/{order_id}", roles=None, response="tracking:Tracking")
def track(ctx: Ctx, order_id: str) -> Tracking:
    """The customer's view of an order: status timeline, shipments with carrier, tracking
    number and promised date. Needs the order's tracking token."""
    from chalicelib.api.models.tracking import tracking_view

    token = (ctx.query("token") or "")[:MAX_TOKEN_LENGTH]
    order = wiring.orders().get(order_id) if len(order_id) <= 64 else None
    if order is None:
        # Same work as a real comparison, so timing does not tell unknown orders apart.
        hmac.compare_digest(hashlib.sha256(token.encode()).hexdigest(), _NOBODY)
        raise _not_found(order_id)
    if not wiring.ordering().token_matches(order, token):
        raise _not_found(order_id)
    return tracking_view(order)
