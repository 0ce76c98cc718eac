"""Checkout reservations: a quote's option kept for a cart while the customer pays.

``POST /reservations`` holds the option's units for the channel's reservation time;
``POST /reservations/{id}/extend`` once more; ``DELETE /reservations/{id}`` gives them back;
``POST /orders`` with ``delivery: {reservation_id}`` takes them over.
"""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib import wiring
from chalicelib.api.http import Ctx, endpoint, json_response
from chalicelib.domain.access import Role
from chalicelib.domain.errors import FieldError, Forbidden

bp = Blueprint(__name__)


def _channel(ctx: Ctx) -> str:
    if not ctx.principal.channel:
        raise Forbidden(
            "reservations are made with a channel key",
            fields=[FieldError("Authorization", "needs a channel key")],
        )
    return ctx.principal.channel


def _view(res: Any) -> dict[str, Any]:
    from chalicelib.services.reservations import reservation_view  # sourcing: on first use

    return reservation_view(res, wiring.reservations().now())


@endpoint(
    bp,
    "/reservations",
    method="POST",
    roles=[Role.CHANNEL],
    request="reservations:ReservationRequest",
    response="reservations:ReservationView",
    status=201,
)
def reserve(ctx: Ctx) -> Any:
    """Keep a quoted option's stock (201; 200 with the same reservation for a retry)."""
    from chalicelib.api.models.reservations import ReservationRequest

    req = ctx.body(ReservationRequest)
    res, created = wiring.reservations().reserve(_channel(ctx), req.option_id)
    return json_response(_view(res), 201 if created else 200)


@endpoint(
    bp,
    "/reservations/{reservation_id}",
    roles=[Role.CHANNEL, Role.SERVICE],
    response="reservations:ReservationView",
)
def get_reservation(ctx: Ctx, reservation_id: str) -> dict[str, Any]:
    """A reservation of the caller's channel (customer service sees every channel's)."""
    return _view(wiring.reservations().get(ctx.principal.channel, reservation_id))


@endpoint(
    bp,
    "/reservations/{reservation_id}/extend",
    method="POST",
    roles=[Role.CHANNEL],
    response="reservations:ReservationView",
)
def extend_reservation(ctx: Ctx, reservation_id: str) -> dict[str, Any]:
    """Keep the units the channel's reservation time more from now (once)."""
    return _view(wiring.reservations().extend(_channel(ctx), reservation_id))


@endpoint(
    bp,
    "/reservations/{reservation_id}",
    method="DELETE",
    roles=[Role.CHANNEL],
    response="reservations:ReservationView",
)
def release_reservation(ctx: Ctx, reservation_id: str) -> dict[str, Any]:
    """Give the units back (the cart was abandoned)."""
    return _view(wiring.reservations().release(_channel(ctx), reservation_id))
