"""Returns: ``POST /returns`` and ``GET /returns/{rma_id}`` for the customer (the order's
tracking token is the credential; a wrong one is exactly an unknown order or RMA: 404) and for
customer service (a ``service`` or ``admin`` key); and the return events of the
warehouse-events queue (``return_received``, ``return_in_transit``).
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from chalice import Blueprint

from chalicelib import wiring
from chalicelib.api.auth import authenticate
from chalicelib.api.http import Ctx, endpoint
from chalicelib.api.idempotency import IdempotentCall, call_once, idempotency_key, idempotent_call
from chalicelib.domain.access import Principal, Role
from chalicelib.domain.errors import FieldError, Unauthorized
from chalicelib.domain.returns.model import RequestedLine

if TYPE_CHECKING:
    from chalicelib.api.models.returns import ReturnRequest, RmaView

logger = Logger(service="dirigent")
bp = Blueprint(__name__)

IDEMPOTENCY_KEY_PREFIX = "return-request"


def _staff(ctx: Ctx) -> Principal | None:
    """A service (or admin) key when one is sent; None for the customer (token)."""
    if not ctx.header("Authorization"):
        return None
    return authenticate(ctx.request, frozenset({Role.SERVICE}))


def _request(req: ReturnRequest, principal: Principal | None, request_key: str = "") -> RmaView:
    from chalicelib.api.models.returns import rma_view

    if principal is None and not req.token:
        raise Unauthorized(
            "a return needs the order's tracking token or a service key",
            fields=[FieldError("token", "missing")],
        )
    from chalicelib.services.returns import RequestReturn

    rma = wiring.returns().request(
        RequestReturn(
            order_id=req.order_id,
            token=req.token,
            principal=principal,
            lines=[
                RequestedLine(line.sku, line.quantity, line.reason, line.comment)
                for line in req.lines
            ],
            request_key=request_key,
        )
    )
    return rma_view(rma)


@cache
def _request_once(store: Any) -> IdempotentCall:
    """``_request`` made idempotent on (key, caller, order), on ``store``."""
    from chalicelib.api.models.returns import ReturnCommand, RmaView

    def run(command: ReturnCommand, principal: Principal | None) -> RmaView:
        key = f"{command.staff}:{command.idempotency_key}"
        return _request(command.request, principal, key)

    return idempotent_call(
        run,
        store=store,
        key_prefix=IDEMPOTENCY_KEY_PREFIX,
        event_key="[idempotency_key, staff, request.order_id]",
        payload="request",
        output=RmaView,
    )


@endpoint(
    bp,
    "/returns",
    method="POST",
    request="returns:ReturnRequest",
    response="returns:RmaView",
    status=201,
)
def post_return(ctx: Ctx) -> RmaView:
    """Start a return: the customer with order_id and token, or customer service with a key.
    Answers the RMA and its ranked return options; 422 names each line that breaks the policy.
    With an ``Idempotency-Key`` header a replay returns the first answer."""
    from chalicelib.api.models.returns import ReturnCommand, ReturnRequest

    principal = _staff(ctx)
    req = ctx.body(ReturnRequest)
    key = idempotency_key(ctx)
    if key is None:
        return _request(req, principal)
    command = ReturnCommand(
        idempotency_key=key, staff=principal.key_id if principal else "", request=req
    )
    result: RmaView = call_once(
        bp, _request_once(wiring.idempotency_store()), command=command, principal=principal
    )
    return result


@endpoint(bp, "/returns/{rma_id}", response="returns:RmaView")
def get_return(ctx: Ctx, rma_id: str) -> RmaView:
    """One return: for the customer with ``?token=`` (the order's tracking token), or for
    customer service with a key. A wrong token is exactly an unknown RMA (404)."""
    from chalicelib.api.models.returns import MAX_TOKEN_LENGTH, rma_view

    principal = _staff(ctx)
    token = (ctx.query("token") or "")[:MAX_TOKEN_LENGTH]
    rma = wiring.returns().get(rma_id[:64], token=token, principal=principal)
    return rma_view(rma)


@endpoint(
    bp,
    "/returns/{rma_id}/cancel",
    method="POST",
    request="returns:ReturnCancel",
    response="returns:RmaView",
)
def cancel_return(ctx: Ctx, rma_id: str) -> RmaView:
    """Withdraw a return before its parcel travels: the customer with ``token`` in the body, or
    customer service with a key. Once a carrier or a location has it: 409. Idempotent."""
    from chalicelib.api.models.returns import ReturnCancel, rma_view

    principal = _staff(ctx)
    raw = ctx.request.raw_body
    req = ctx.body(ReturnCancel) if raw and raw.strip() else ReturnCancel()
    if principal is None and not req.token:
        raise Unauthorized(
            "cancelling a return needs the order's tracking token or a service key",
            fields=[FieldError("token", "missing")],
        )
    rma = wiring.returns().cancel(
        rma_id[:64], token=req.token, principal=principal, reason=req.reason
    )
    return rma_view(rma)
