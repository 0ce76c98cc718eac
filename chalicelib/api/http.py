"""The HTTP edge shared by every blueprint: authentication, body parsing with pydantic, error
mapping and the OpenAPI registry.

Chalice turns view exceptions into responses before middleware sees them, so errors are mapped by
the ``endpoint`` decorator that wraps every view.
"""

from __future__ import annotations

import decimal
import json
import math
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import wraps
from typing import Any, TypeVar

from aws_lambda_powertools import Logger
from chalice import Blueprint, Response
from chalice.app import Request
from pydantic import BaseModel, TypeAdapter, ValidationError

from chalicelib import wiring
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
from chalicelib.domain.paging import whole_number
from chalicelib.domain.throttle import retry_after

logger = Logger(service="dirigent")

MAX_BODY_BYTES = 1_000_000
MAX_JSON_DEPTH = 32
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"
_ID_RE = re.compile(ID_PATTERN)
# Query parameters that reach a key or an index: the longest value each may have. Any other
# parameter may have up to MAX_QUERY_VALUE characters.
QUERY_LIMITS = {
    "skus": 6600,  # 100 SKU ids and their commas (GET /channels/{channel}/availability)
    "cursor": 2048,
    "email": 254,
    "channel_order_id": 100,
    "tracking_number": 100,
}
QUERY_IDS = ("channel", "sku", "location_id", "order_id")
MAX_QUERY_VALUE = 256
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_BRACKET_PAIR = re.compile(rb"\[\]|\{\}")
_NOT_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")
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


def _source_address(request: Request) -> str:
    identity = (request.context or {}).get("identity") or {}
    return str(identity.get("sourceIp") or "unknown")


def _throttled(wait: float, message: str) -> Response:
    response = error_response(429, ErrorCode.TOO_MANY_REQUESTS, message)
    response.headers["Retry-After"] = retry_after(wait)
    return response


def error_response(
    status: int, code: ErrorCode, message: str, fields: Iterable[FieldError] = (), **extra: Any
) -> Response:
    body: dict[str, Any] = {"code": code, "message": message}
    body["fields"] = [{"path": f.path, "reason": f.reason} for f in fields]
    body.update(extra)
    return json_response({"error": body}, status)


_CHALICE_ERRORS = {
    405: (ErrorCode.METHOD_NOT_ALLOWED, "method"),
    415: (ErrorCode.UNSUPPORTED_MEDIA_TYPE, "Content-Type"),
}


def in_our_shape(response: Response) -> Response:
    """Chalice's own answers (an unrouted method, an unreadable Content-Type) in the error
    shape of every other 4xx; anything else as it is."""
    known = _CHALICE_ERRORS.get(response.status_code)
    body = response.body
    if known is None or not isinstance(body, dict) or "Code" not in body:
        return response
    code, field_name = known
    message = str(body.get("Message", ""))
    reason = message.split(": ", 1)[-1] or "not accepted"
    shaped = error_response(response.status_code, code, message, [FieldError(field_name, reason)])
    shaped.headers.update({k: v for k, v in response.headers.items() if k.lower() == "allow"})
    return shaped


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
    if _rejected_input(exc):
        logger.warning("the store refused a value of the request", error=repr(exc)[:500])
        return error_response(
            400,
            ErrorCode.BAD_REQUEST,
            "a value of the request cannot be stored",
            [FieldError("body", "a value is out of range or too long")],
        )
    logger.exception("unhandled error")
    return error_response(500, ErrorCode.INTERNAL_ERROR, "something went wrong on our side")


def _rejected_input(exc: Exception) -> bool:
    """DynamoDB (or boto3's number context) refused a value: the caller's input, a last line
    behind the models' bounds."""
    boto_errors = sys.modules.get("botocore.exceptions")  # not loaded: no AWS call was made
    if boto_errors is not None and isinstance(exc, boto_errors.ClientError):
        return exc.response.get("Error", {}).get("Code") == "ValidationException"
    return isinstance(exc, decimal.Inexact | decimal.Rounded | decimal.Overflow)


def _nesting_over(raw: bytes, limit: int) -> bool:
    """Whether a JSON text nests deeper than ``limit``, told without recursion: strings
    dropped, then innermost bracket pairs removed ``limit`` times. An unbalanced text is left
    to the parser."""
    brackets = _JSON_STRING.sub(b"", raw).translate(None, _NOT_BRACKET)
    for _ in range(limit):
        if not brackets:
            return False
        reduced = _BRACKET_PAIR.sub(b"", brackets)
        if len(reduced) == len(brackets):
            return False
        brackets = reduced
    return bool(brackets)


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number out of range: {text[:40]}")
    return value


def _no_constant(text: str) -> Any:
    raise ValueError(f"{text} is not a JSON number")


class _DuplicateKey(Exception):
    """A JSON object names a key twice: parsers disagree on which one counts."""


def _one_of_each(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found = dict(pairs)
    if len(found) < len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return found


def _too_deep() -> BadRequest:
    return BadRequest(
        "the body is nested too deeply",
        fields=[FieldError("body", f"nested deeper than {MAX_JSON_DEPTH} levels")],
    )


def parse_json(raw: bytes | str) -> Any:
    """A request body as JSON: 400 naming ``body`` when malformed, nested deeper than
    ``MAX_JSON_DEPTH`` or holding a non-finite number (``NaN``, ``Infinity``, ``1e999``); 400
    naming the key when an object gives one twice (which counts would be a guess)."""
    data = raw.encode() if isinstance(raw, str) else raw
    if _nesting_over(data, MAX_JSON_DEPTH):
        raise _too_deep()
    try:
        value = json.loads(
            data, parse_float=_finite, parse_constant=_no_constant, object_pairs_hook=_one_of_each
        )
        if b"\\u" in data:  # an escaped lone surrogate parses, but no store can encode it
            json.dumps(value, ensure_ascii=False).encode()
        return value
    except RecursionError as exc:  # unbalanced and deep: the scan left it to the parser
        raise _too_deep() from exc
    except _DuplicateKey as exc:
        key = str(exc)[:64]
        raise BadRequest(
            f"the body gives {key} twice", fields=[FieldError(key, "given more than once")]
        ) from exc
    except ValueError as exc:  # UnicodeError is one
        raise BadRequest(
            "the body is not valid JSON", fields=[FieldError("body", f"malformed JSON: {exc}")]
        ) from exc


def check_id(name: str, value: str) -> str:
    """``value`` as an id (``ID_PATTERN``), else 400 naming ``name``."""
    if not _ID_RE.fullmatch(value):
        raise BadRequest(
            f"{name} is not a valid id",
            fields=[FieldError(name, "letters, digits, . _ : - only, at most 64 characters")],
        )
    return value


def check_query(params: Mapping[str, str] | None) -> None:
    """Query values bounded before they reach a key: ids by ``ID_PATTERN``, the rest by
    length; 400 naming the parameter."""
    for name, value in (params or {}).items():
        limit = QUERY_LIMITS.get(name, MAX_QUERY_VALUE)
        if name in QUERY_IDS:
            check_id(name, value)
        elif len(value) > limit or len(name) > MAX_QUERY_VALUE:
            raise BadRequest(
                f"{name[:64]} is too long",
                fields=[FieldError(name[:64], f"at most {limit} characters")],
            )


@dataclass
class Ctx:
    """What a view gets: the caller and the request, with typed accessors."""

    principal: Principal
    request: Request

    def body(self, model: type[M]) -> M:
        """The JSON body as ``model``, strictly: a number must be a JSON number (not ``true``
        or ``"5"``), a flag a JSON boolean; dates, enums and the like are read from strings."""
        self.json()  # size, depth and non-finite numbers: refused naming the body
        return model.model_validate_json(self._raw(), strict=True)

    def body_as(self, adapter: TypeAdapter[Any]) -> Any:
        self.json()
        return adapter.validate_json(self._raw(), strict=True)

    def _raw(self) -> bytes:
        raw = self.request.raw_body or b""
        return raw.encode() if isinstance(raw, str) else raw

    def json(self) -> Any:
        raw = self.request.raw_body or b""
        if len(raw) > MAX_BODY_BYTES:
            raise PayloadTooLarge(
                f"the body is larger than {MAX_BODY_BYTES} bytes",
                fields=[FieldError("body", "too large")],
            )
        if not raw.strip():
            raise BadRequest("a JSON body is required", fields=[FieldError("body", "missing")])
        return parse_json(raw)

    def query(self, name: str, default: str | None = None) -> str | None:
        params: Mapping[str, str] = self.request.query_params or {}
        return params.get(name, default)

    def whole_number(self, name: str, default: int, low: int, high: int) -> int:
        """The query parameter ``name`` (``domain.paging.whole_number``), else ``default``."""
        raw = self.query(name)
        return whole_number(raw, name, low, high) if raw else default

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
            limits, address = wiring.limits(), _source_address(req)
            if wait := limits.failures.wait(address):
                return _throttled(wait, "too many failed attempts from this address")
            try:
                principal = authenticate(req, allowed)
                if principal.key_id and (wait := limits.per_key.take(principal.key_id)):
                    return _throttled(wait, "this API key is over its rate limit")
                for name, value in params.items():
                    check_id(name, value)
                check_query(req.query_params)
                result = view(Ctx(principal, req), **params)
            except Exception as exc:  # noqa: BLE001 - every error becomes a mapped response
                response = _map_error(exc)
                if response.status_code == 401 or (allowed is None and response.status_code == 404):
                    limits.failures.take(address)  # a wrong key or token: guessing is slowed
                return response
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
