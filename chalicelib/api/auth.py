"""Bearer-key authentication: one check used by every view (see ``http.endpoint``)."""

from __future__ import annotations

from collections.abc import Mapping

from chalice.app import Request

from chalicelib import wiring
from chalicelib.domain.access import ANONYMOUS, Principal, Role
from chalicelib.domain.errors import FieldError, Forbidden, Unauthorized


def authenticate(request: Request, allowed: frozenset[Role] | None) -> Principal:
    """The caller behind the ``Authorization: Bearer`` header. ``allowed=None`` means public;
    admins may call everything that names any role."""
    if allowed is None:
        return ANONYMOUS
    headers: Mapping[str, str] = request.headers or {}
    header = headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized(
            "an API key is required", fields=[FieldError("Authorization", "missing bearer key")]
        )
    principal = wiring.keys().resolve(token.strip())
    if principal is None:
        raise Unauthorized(
            "the API key is not valid", fields=[FieldError("Authorization", "unknown key")]
        )
    if principal.role != Role.ADMIN and principal.role not in allowed:
        raise Forbidden(
            f"role {principal.role.value} may not do this",
            fields=[
                FieldError("Authorization", f"needs one of {sorted(r.value for r in allowed)}")
            ],
        )
    return principal
