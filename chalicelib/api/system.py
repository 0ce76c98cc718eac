"""Health, the OpenAPI document and API keys."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalice import Blueprint

from chalicelib import wiring
from chalicelib.api import openapi
from chalicelib.api.http import Ctx, endpoint
from chalicelib.domain.access import Role

if TYPE_CHECKING:
    from chalicelib.api.models.system import ApiKey, ApiKeyCreated, ApiKeyList, Health

bp = Blueprint(__name__)


@endpoint(bp, "/health", response="system:Health")
def health(ctx: Ctx) -> Health:
    """Liveness: the app is up."""
    from chalicelib.api.models.system import Health

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
    request="system:ApiKeyRequest",
    response="system:ApiKeyCreated",
    status=201,
)
def create_api_key(ctx: Ctx) -> ApiKeyCreated:
    """Create an API key, optionally expiring; the key is shown once."""
    from chalicelib.api.models.system import ApiKeyCreated, ApiKeyRequest

    req = ctx.body(ApiKeyRequest)
    created = wiring.keys().create(
        req.role, req.channel, expires_in_days=req.expires_in_days, expires_at=req.expires_at
    )
    return ApiKeyCreated.model_validate(created)


@endpoint(bp, "/api-keys", roles=[Role.ADMIN], response="system:ApiKeyList")
def list_api_keys(ctx: Ctx) -> ApiKeyList:
    """Every API key with its role, expiry, last use and revocation (never the key)."""
    from chalicelib.api.models.system import ApiKey, ApiKeyList

    return ApiKeyList(keys=[ApiKey.model_validate(k) for k in wiring.keys().list()])


@endpoint(bp, "/api-keys/{key_id}", method="DELETE", roles=[Role.ADMIN], response="system:ApiKey")
def revoke_api_key(ctx: Ctx, key_id: str) -> ApiKey:
    """Revoke an API key at once; revoking it again answers the same."""
    from chalicelib.api.models.system import ApiKey

    return ApiKey.model_validate(wiring.keys().revoke(key_id))
