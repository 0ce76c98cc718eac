"""Rule simulations (admin; a service key may read): ``POST /sourcing-rules/simulations``
replays a period's recorded orders under candidate and current rules as a job,
``GET .../{simulation_id}`` answers its progress and results, ``GET /sourcing-rules/simulations``
the latest one, and ``POST .../{simulation_id}/activate`` stores the candidate as a new version."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint, Response

from chalicelib.api.catalog import validate_rules
from chalicelib.api.http import Ctx, endpoint, json_response
from chalicelib.domain.access import Role
from chalicelib.wiring.simulation import simulations

bp = Blueprint(__name__)

ADMIN = [Role.ADMIN]
READERS = [Role.ADMIN, Role.SERVICE]
MAX_DELTAS = 100


@endpoint(
    bp,
    "/sourcing-rules/simulations",
    method="POST",
    roles=ADMIN,
    request="simulations:SimulationIn",
    response="simulations:SimulationOut",
    status=202,
)
def start_simulation(ctx: Ctx) -> Response:
    """Replay the period's recorded orders under the candidate and the current rules (a job:
    poll ``GET /sourcing-rules/simulations/{simulation_id}``)."""
    from chalicelib.api.models.simulations import SimulationIn
    from chalicelib.services.simulation import parse_period
    from chalicelib.wiring.clock import now

    raw = ctx.json()
    req = SimulationIn.model_validate(raw)
    candidate = validate_rules(raw["rules"])  # exactly as PUT /sourcing-rules: 422 naming it
    first, last = parse_period(req.period.start, req.period.end, now().date())
    sim = simulations().start(candidate, first, last, ctx.principal.source)
    return json_response(sim, 202)


@endpoint(bp, "/sourcing-rules/simulations", roles=READERS, response="simulations:LatestOut")
def latest_simulation(ctx: Ctx) -> dict[str, Any]:
    """The latest simulation (``latest`` is null before the first)."""
    return {"latest": simulations().latest()}


@endpoint(
    bp,
    "/sourcing-rules/simulations/{simulation_id}",
    roles=READERS,
    response="simulations:SimulationOut",
)
def get_simulation(ctx: Ctx, simulation_id: str) -> dict[str, Any]:
    """Status, progress ``done``/``total`` and, once running, the totals under both rule sets,
    per-location volumes and per-order deltas (the ``limit`` largest by |cost delta|, <= 100)."""
    from chalicelib.services.simulation import view

    limit = ctx.whole_number("limit", MAX_DELTAS, 0, MAX_DELTAS)
    service = simulations()
    sim = service.get(simulation_id)
    service.kick(sim)  # its first step was never queued (SQS down at the start)
    return view(sim, limit)


@endpoint(
    bp,
    "/sourcing-rules/simulations/{simulation_id}/activate",
    method="POST",
    roles=ADMIN,
    response="simulations:ActivatedOut",
)
def activate_simulation(ctx: Ctx, simulation_id: str) -> dict[str, Any]:
    """Store the simulation's candidate as the next rules version (409 unless it is done)."""
    return simulations().activate(simulation_id)
