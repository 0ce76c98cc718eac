"""Health, the OpenAPI document and API keys."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib import wiring
from chalicelib.api import openapi
from chalicelib.api.http import Ctx, endpoint
from chalicelib.api.models.system import ApiKey, ApiKeyCreated, ApiKeyList, ApiKeyRequest, Health
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
    """Create an API key, optionally expiring; the key is shown once."""
    req = ctx.body(ApiKeyRequest)
    created = wiring.keys().create(
        req.role, req.channel, expires_in_days=req.expires_in_days, expires_at=req.expires_at
    )
    return ApiKeyCreated.model_validate(created)


@endpoint(bp, "/api-keys", roles=[Role.ADMIN], response=ApiKeyList)
def list_api_keys(ctx: Ctx) -> ApiKeyList:
    """Every API key with its role, expiry, last use and revocation (never the key)."""
    return ApiKeyList(keys=[ApiKey.model_validate(k) for k in wiring.keys().list()])


@endpoint(bp, "/api-keys/{key_id}", method="DELETE", roles=[Role.ADMIN], response=ApiKey)
def revoke_api_key(ctx: Ctx, key_id: str) -> ApiKey:
    """Revoke an API key at once; revoking it again answers the same."""
    return ApiKey.model_validate(wiring.keys().revoke(key_id))
