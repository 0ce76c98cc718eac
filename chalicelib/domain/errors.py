"""Domain errors. Each carries a stable ``code``; the HTTP layer maps the class to a status."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum


class ErrorCode(StrEnum):
    """The stable ``error.code`` values clients see; the strings never change."""

    ERROR = "error"  # a domain error without a more specific code
    VALIDATION_ERROR = "validation_error"  # the request breaks a rule or fails validation (422)
    NOT_FOUND = "not_found"  # no such resource, or not visible to the caller (404)
    CONFLICT = "conflict"  # the request conflicts with the current state (409)
    OUT_OF_STOCK = "out_of_stock"  # not enough stock to source or reserve the cart (409)
    RESERVATION_EXPIRED = "reservation_expired"  # a checkout reservation ran out (409)
    INSUFFICIENT_STOCK = "insufficient_stock"  # a stock movement would take too much (409)
    INVALID_TRANSITION = "invalid_transition"  # the status change is not allowed (409)
    ORDER_EXISTS = "order_exists"  # an order with that id is stored already (409)
    CONCURRENT_UPDATE = "concurrent_update"  # changed since it was read: read and retry (409)
    UNAUTHORIZED = "unauthorized"  # no valid API key (401)
    FORBIDDEN = "forbidden"  # the key's role may not do this (403)
    BAD_REQUEST = "bad_request"  # the body is missing or unreadable (not JSON, not UTF-8) (400)
    PAYLOAD_TOO_LARGE = "payload_too_large"  # the body is over the size limit (413)
    METHOD_NOT_ALLOWED = "method_not_allowed"  # the path has no such method: see Allow (405)
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"  # a Content-Type the route can't read (415)
    TOO_MANY_REQUESTS = "too_many_requests"  # a rate limit: wait ``Retry-After`` seconds (429)
    INTERNAL_ERROR = "internal_error"  # an unexpected failure on our side (500)


@dataclass(frozen=True)
class FieldError:
    path: str  # e.g. "lines[0].quantity"
    reason: str


@dataclass(frozen=True)
class RowError:
    """A row of a bulk import that was refused, and why."""

    row: int  # 1-based: the first data row is 1
    field: str
    reason: str


class DomainError(Exception):
    code: ErrorCode = ErrorCode.ERROR

    def __init__(self, message: str, *, fields: Sequence[FieldError] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.fields = list(fields)


class InvalidInput(DomainError):
    """The request is well-formed but breaks a rule (422)."""

    code = ErrorCode.VALIDATION_ERROR


class NotFound(DomainError):
    code = ErrorCode.NOT_FOUND


class Conflict(DomainError):
    code = ErrorCode.CONFLICT


class OutOfStock(Conflict):
    code = ErrorCode.OUT_OF_STOCK

    def __init__(self, skus: Iterable[str], message: str = "") -> None:
        self.skus = sorted(set(skus))
        super().__init__(message or f"not enough stock for {', '.join(self.skus)}")


class InsufficientStock(Conflict):
    """A stock update would take more than is available or make ``reserved`` negative."""

    code = ErrorCode.INSUFFICIENT_STOCK


class InvalidTransition(Conflict):
    code = ErrorCode.INVALID_TRANSITION


class Unauthorized(DomainError):
    code = ErrorCode.UNAUTHORIZED


class Forbidden(DomainError):
    code = ErrorCode.FORBIDDEN


class OrderExists(Conflict):
    """An order with the same id is stored already (a replayed or concurrent capture)."""

    code = ErrorCode.ORDER_EXISTS


class StockRace(Conflict):
    """A reservation's condition failed: someone took the stock since we read it."""

    code = ErrorCode.OUT_OF_STOCK

    def __init__(self, skus: Sequence[str]) -> None:
        self.skus = sorted(set(skus))
        super().__init__(f"stock changed for {', '.join(self.skus)}")


class StaleOrder(Conflict):
    """The order changed since it was read (optimistic concurrency): read again and retry."""

    code = ErrorCode.CONCURRENT_UPDATE


class WriteConflict(Conflict):
    """A condition on a write that goes with an order failed (its event marker exists, the
    RMA or a stock item changed since it was read): nothing was written."""

    code = ErrorCode.CONCURRENT_UPDATE
