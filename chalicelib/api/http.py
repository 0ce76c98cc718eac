"""The HTTP edge shared by every blueprint: authentication, body parsing with pydantic, error
mapping and the OpenAPI registry.

Chalice turns view exceptions into responses before middleware sees them, so errors are mapped by
the ``endpoint`` decorator that wraps every view.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import wraps
from typing import Any, TypeVar

from aws_lambda_powertools import Logger
from chalice import Blueprint, Response
from chalice.app import Request
from pydantic import BaseModel, TypeAdapter, ValidationError

from chalicelib.api.auth import authenticate
from chalicelib.domain.access import Principal, Role
from chalicelib.domain.errors import (
    Conflict,
    DomainError,
    ErrorCode,
    FieldError,
    Forbidden,
    InvalidInput,
    NotFound,
    OutOfStock,
    Unauthorized,
)

logger = Logger(service="dirigent")

MAX_BODY_BYTES = 1_000_000
M = TypeVar("M", bound=BaseModel)

_STATUS: list[tuple[type[DomainError], int]] = [
    (Unauthorized, 401),
    (Forbidden, 403),
    (NotFound, 404),
    (Conflict, 409),
    (InvalidInput, 422),
]


class BadRequest(DomainError):
    code = ErrorCode.BAD_REQUEST


class PayloadTooLarge(DomainError):
    code = ErrorCode.PAYLOAD_TOO_LARGE


def error_response(
    status: int, code: ErrorCode, message: str, fields: Iterable[FieldError] = (), **extra: Any
) -> Response:
    body: dict[str, Any] = {"code": code, "message": message}
    body["fields"] = [{"path": f.path, "reason": f.reason} for f in fields]
    body.update(extra)
    return json_response({"error": body}, status)


def json_response(
    payload: Any, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    if isinstance(payload, BaseModel):
        payload = payload.model_dump(mode="json", exclude_none=True)
    return Response(
        body=json.dumps(payload, default=str, separators=(",", ":")),
        status_code=status,
        headers={"Content-Type": "application/json", **(headers or {})},
    )


def field_errors(exc: ValidationError, prefix: str = "") -> list[FieldError]:
    """Pydantic errors as ``lines[0].quantity``-style paths."""
    out = []
    for err in exc.errors(include_url=False):
        path = prefix
        for part in err["loc"]:
            if isinstance(part, int):
                path += f"[{part}]"
            else:
                path += f".{part}" if path else str(part)
        out.append(FieldError(path=path or "body", reason=err["msg"]))
    return out


def _map_error(exc: Exception) -> Response:
    if isinstance(exc, ValidationError):
        return error_response(
            422, ErrorCode.VALIDATION_ERROR, "the request is invalid", field_errors(exc)
        )
    if isinstance(exc, BadRequest):
        return error_response(400, exc.code, exc.message, exc.fields)
    if isinstance(exc, PayloadTooLarge):
        return error_response(413, exc.code, exc.message, exc.fields)
    if isinstance(exc, OutOfStock):
        return error_response(409, exc.code, exc.message, exc.fields, skus=exc.skus)
    if isinstance(exc, DomainError):
        status = next((s for cls, s in _STATUS if isinstance(exc, cls)), 400)
        return error_response(status, exc.code, exc.message, exc.fields)
    logger.exception("unhandled error")
    return error_response(500, ErrorCode.INTERNAL_ERROR, "something went wrong on our side")


@dataclass
class Ctx:
    """What a view gets: the caller and the request, with typed accessors."""

    principal: Principal
    request: Request

    def body(self, model: type[M]) -> M:
        return model.model_validate(self.json())

    def body_as(self, adapter: TypeAdapter[Any]) -> Any:
        return adapter.validate_python(self.json())

    def json(self) -> Any:
        raw = self.request.raw_body or b""
        if len(raw) > MAX_BODY_BYTES:
            raise PayloadTooLarge(
                f"the body is larger than {MAX_BODY_BYTES} bytes",
                fields=[FieldError("body", "too large")],
            )
        if not raw.strip():
            raise BadRequest("a JSON body is required", fields=[FieldError("body", "missing")])
        try:
            return json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise BadRequest(
                "the body is not valid JSON", fields=[FieldError("body", f"malformed JSON: {exc}")]
            ) from exc

    def query(self, name: str, default: str | None = None) -> str | None:
        params: Mapping[str, str] = self.request.query_params or {}
        return params.get(name, default)

    def header(self, name: str) -> str | None:
        headers: Mapping[str, str] = self.request.headers or {}
        return headers.get(name.lower())


@dataclass
class Operation:
    method: str
    path: str
    roles: frozenset[Role]
    summary: str
    request: Any = None  # a pydantic model class or TypeAdapter
    response: Any = None
    status: int = 200
    tags: list[str] = field(default_factory=list)


OPERATIONS: list[Operation] = []


def endpoint(
    bp: Blueprint,
    path: str,
    *,
    method: str = "GET",
    roles: Iterable[Role] | None = None,
    request: Any = None,
    response: Any = None,
    status: int = 200,
    content_types: list[str] | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a view on ``bp``: authenticate (``roles=None`` is public), map errors, and
    serialise the result (a pydantic model, a dict, or a ready ``Response``) with ``status``."""
    allowed = frozenset(roles) if roles is not None else None

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def handler(**params: Any) -> Response:
            req = bp.current_request
            try:
                principal = authenticate(req, allowed)
                result = view(Ctx(principal, req), **params)
            except Exception as exc:  # noqa: BLE001 - every error becomes a mapped response
                return _map_error(exc)
            return result if isinstance(result, Response) else json_response(result, status)

        OPERATIONS.append(
            Operation(
                method=method,
                path=path,
                roles=allowed or frozenset(),
                summary=(view.__doc__ or view.__name__).strip().splitlines()[0],
                request=request,
                response=response,
                status=status,
                tags=[bp._import_name.rsplit(".", 1)[-1]],
            )
        )
        kwargs: dict[str, Any] = {"methods": [method], "cors": True}
        if content_types:
            kwargs["content_types"] = content_types
        bp.route(path, **kwargs)(handler)
        return handler

    return decorate
