"""Returns: ``POST /returns`` and ``GET /returns/{rma_id}`` for the customer (the order's
tracking token is the credential; a wrong one is exactly an unknown order or RMA: 404) and for
customer service (a ``service`` or ``admin`` key); and the return events of the
warehouse-events queue (``return_received``, ``return_in_transit``).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Annotated, Any

from aws_lambda_powertools import Logger
from chalice import Blueprint
from pydantic import BaseModel, ConfigDict, Field

from chalicelib import wiring
from chalicelib.api.auth import authenticate
from chalicelib.api.http import Ctx, endpoint
from chalicelib.api.idempotency import IdempotentCall, call_once, idempotency_key, idempotent_call
from chalicelib.api.models.common import MAX_QUANTITY, Id
from chalicelib.domain.access import Principal, Role
from chalicelib.domain.errors import FieldError, Unauthorized
from chalicelib.domain.returns.policy import Condition, RequestedLine, ReturnReason, Rma
from chalicelib.services.fulfilment import iso
from chalicelib.services.returns import RequestReturn, ReturnEvent

logger = Logger(service="dirigent")
bp = Blueprint(__name__)

IDEMPOTENCY_KEY_PREFIX = "return-request"
MAX_TOKEN_LENGTH = 128
Token = Annotated[str, Field(max_length=MAX_TOKEN_LENGTH)]


class ReturnLineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sku: Id
    quantity: int = Field(ge=1, le=MAX_QUANTITY)
    reason: ReturnReason
    comment: str = Field(default="", max_length=500, description="the customer's own words")


class ReturnRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    order_id: str = Field(min_length=1, max_length=64)
    token: Token | None = Field(default=None, description="the order's tracking token")
    lines: list[ReturnLineIn] = Field(min_length=1, max_length=50)


class RmaLineOut(BaseModel):
    sku: str
    quantity: int
    reason: str
    comment: str = ""
    unit_price: int
    received_sellable: int
    received_damaged: int


class RefundOut(BaseModel):
    at: str
    currency: str
    items: int
    shipping: int
    total: int
    lines: dict[str, int]


class RmaView(BaseModel):
    rma_id: str
    order_id: str
    status: str
    created_at: str
    currency: str
    lines: list[RmaLineOut]
    options: list[dict[str, Any]] = Field(description="ranked: rank 1 is the recommended one")
    refunded: int = Field(description="minor units refunded so far")
    refunds: list[RefundOut] = []
    receipts: list[dict[str, Any]] = []
    history: list[dict[str, Any]] = []
    carrier: str | None = None
    tracking_number: str | None = None


def rma_view(rma: Rma) -> RmaView:
    return RmaView(
        rma_id=rma.rma_id,
        order_id=rma.order_id,
        status=rma.status.value,
        created_at=rma.created_at,
        currency=rma.currency,
        lines=[
            RmaLineOut(
                sku=line.sku,
                quantity=line.quantity,
                reason=line.reason.value,
                comment=line.comment,
                unit_price=line.unit_price,
                received_sellable=line.sellable,
                received_damaged=line.damaged,
            )
            for line in rma.lines
        ],
        options=rma.options,
        refunded=rma.refunded,
        refunds=[
            RefundOut(
                at=r.at,
                currency=r.currency,
                items=r.items,
                shipping=r.shipping,
                total=r.total,
                lines=r.lines,
            )
            for r in rma.refunds
        ],
        receipts=[{k: v for k, v in r.items() if k != "event_id"} for r in rma.receipts],
        history=[{k: v for k, v in h.items() if k != "event_id"} for h in rma.history],
        carrier=rma.carrier,
        tracking_number=rma.tracking_number,
    )


def _staff(ctx: Ctx) -> Principal | None:
    """A service (or admin) key when one is sent; None for the customer (token)."""
    if not ctx.header("Authorization"):
        return None
    return authenticate(ctx.request, frozenset({Role.SERVICE}))


def _request(req: ReturnRequest, principal: Principal | None) -> RmaView:
    if principal is None and not req.token:
        raise Unauthorized(
            "a return needs the order's tracking token or a service key",
            fields=[FieldError("token", "missing")],
        )
    rma = wiring.returns().request(
        RequestReturn(
            order_id=req.order_id,
            token=req.token,
            principal=principal,
            lines=[
                RequestedLine(line.sku, line.quantity, line.reason, line.comment)
                for line in req.lines
            ],
        )
    )
    return rma_view(rma)


class ReturnCommand(BaseModel):
    idempotency_key: str = Field(min_length=1, max_length=200)
    staff: str = ""  # the key id: one caller's key never answers another's request
    request: ReturnRequest


@wiring.on_reset
@cache
def _request_once() -> IdempotentCall:
    """``_request`` made idempotent on (key, caller, order)."""

    def run(command: ReturnCommand, principal: Principal | None) -> RmaView:
        return _request(command.request, principal)

    return idempotent_call(
        run,
        key_prefix=IDEMPOTENCY_KEY_PREFIX,
        event_key="[idempotency_key, staff, request.order_id]",
        payload="request",
        output=RmaView,
    )


@endpoint(bp, "/returns", method="POST", request=ReturnRequest, response=RmaView, status=201)
def post_return(ctx: Ctx) -> RmaView:
    """Start a return: the customer with order_id and token, or customer service with a key.
    Answers the RMA and its ranked return options; 422 names each line that breaks the policy.
    With an ``Idempotency-Key`` header a replay returns the first answer."""
    principal = _staff(ctx)
    req = ctx.body(ReturnRequest)
    key = idempotency_key(ctx)
    if key is None:
        return _request(req, principal)
    command = ReturnCommand(
        idempotency_key=key, staff=principal.key_id if principal else "", request=req
    )
    result: RmaView = call_once(bp, _request_once(), command=command, principal=principal)
    return result


@endpoint(bp, "/returns/{rma_id}", response=RmaView)
def get_return(ctx: Ctx, rma_id: str) -> RmaView:
    """One return: for the customer with ``?token=`` (the order's tracking token), or for
    customer service with a key. A wrong token is exactly an unknown RMA (404)."""
    principal = _staff(ctx)
    token = (ctx.query("token") or "")[:MAX_TOKEN_LENGTH]
    rma = wiring.returns().get(rma_id[:64], token=token, principal=principal)
    return rma_view(rma)


# --- return events from the warehouse-events queue ------------------------------------------


def apply_return_event(event: Any, body: dict[str, Any]) -> None:
    """A parsed ``return_received`` or ``return_in_transit`` (``consumers.warehouse_events``)."""
    service = wiring.returns()
    common = {
        "event_id": event.event_id,
        "location_id": event.location_id,
        "occurred_at": iso(event.occurred_at),
        "rma_id": event.rma_id,
    }
    if event.type == "return_received":
        lines = tuple((ln.sku, ln.quantity, Condition(ln.condition)) for ln in event.lines)
        outcome = service.received(ReturnEvent(**common, lines=lines))
    else:
        outcome = service.in_transit(
            ReturnEvent(
                **common,
                carrier=getattr(event, "carrier", None),
                tracking_number=getattr(event, "tracking_number", None),
            )
        )
    logger.info("return event", event_id=event.event_id, type=event.type, outcome=outcome.value)


RETURN_EVENT_TYPES = ("return_received", "return_in_transit")


def return_event_handlers() -> dict[str, Callable[[Any, dict[str, Any]], None]]:
    """``type -> handler`` for ``WarehouseEventService(handlers=...)``."""
    return dict.fromkeys(RETURN_EVENT_TYPES, apply_return_event)


def replay_pending_returns(pending: list[dict[str, Any]]) -> dict[str, str]:
    """Apply return events kept as pending before returns were handled (``pending`` as
    ``DynamoPendingEvents.pending()`` lists them): ``event_id -> outcome`` ("applied", or the
    reason it failed, e.g. an RMA this system never issued). Safe to run again: every event
    applies once."""
    from chalicelib.consumers.warehouse_events import parse

    outcomes: dict[str, str] = {}
    for kept in pending:
        if kept["type"] not in RETURN_EVENT_TYPES:
            continue
        try:
            event, body = parse(_json(kept["body"]))
            apply_return_event(event, body)
            outcomes[kept["event_id"]] = "applied"
        except Exception as exc:  # noqa: BLE001 - reported per event, the others go on
            logger.warning("pending return event not applied", event_id=kept["event_id"])
            outcomes[kept["event_id"]] = f"{type(exc).__name__}: {exc}"
    return outcomes


def _json(body: Any) -> str:
    import json

    return body if isinstance(body, str) else json.dumps(body)
