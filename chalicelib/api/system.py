"""Health, the OpenAPI document and API keys."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib import wiring
from chalicelib.api import openapi
from chalicelib.api.http import Ctx, endpoint
from chalicelib.api.models.system import ApiKeyCreated, ApiKeyRequest, Health
from chalicelib.domain.access import Role

bp = Blueprint(__name__)


@endpoint(bp, "/health", response=Health)
def health(ctx: Ctx) -> Health:
    """Liveness: the app is up."""
    return Health(status="ok")


@endpoint(bp, "/openapi.json")
def openapi_document(ctx: Ctx) -> dict:
    """The OpenAPI 3 document of this API."""
    return openapi.document()


@endpoint(
    bp,
    "/api-keys",
    method="POST",
    roles=[Role.ADMIN],
    request=ApiKeyRequest,
    response=ApiKeyCreated,
    status=201,
)
def create_api_key(ctx: Ctx) -> ApiKeyCreated:
    """Create an API key; the key is shown once."""
    req = ctx.body(ApiKeyRequest)
    return ApiKeyCreated.model_validate(wiring.keys().create(req.role, req.channel))
