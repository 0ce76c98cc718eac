"""Health, the OpenAPI document and API keys."""

from __future__ import annotations

from chalice import Blueprint
from pydantic import BaseModel, ConfigDict, Field

from chalicelib import wiring
from chalicelib.api import openapi
from chalicelib.api.http import Ctx, endpoint
from chalicelib.domain.access import Role

bp = Blueprint(__name__)


class Health(BaseModel):
    status: str


class ApiKeyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Role = Field(description="admin, service or channel")
    channel: str | None = Field(
        default=None, min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_-]*$"
    )


class ApiKeyCreated(BaseModel):
    key_id: str
    api_key: str = Field(description="shown once; only its hash is stored")
    role: Role
    channel: str | None = None


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
