"""Domain errors. Each carries a stable ``code``; the HTTP layer maps the class to a status."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class FieldError:
    path: str  # e.g. "lines[0].quantity"
    reason: str


class DomainError(Exception):
    code = "error"

    def __init__(self, message: str, *, fields: Sequence[FieldError] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.fields = list(fields)


class InvalidInput(DomainError):
    """The request is well-formed but breaks a rule (422)."""

    code = "validation_error"


class NotFound(DomainError):
    code = "not_found"


class Conflict(DomainError):
    code = "conflict"


class OutOfStock(Conflict):
    code = "out_of_stock"

    def __init__(self, skus: Iterable[str], message: str = "") -> None:
        self.skus = sorted(set(skus))
        super().__init__(message or f"not enough stock for {', '.join(self.skus)}")


class InsufficientStock(Conflict):
    """A stock update would take more than is available or make ``reserved`` negative."""

    code = "insufficient_stock"


class InvalidTransition(Conflict):
    code = "invalid_transition"


class Unauthorized(DomainError):
    code = "unauthorized"


class Forbidden(DomainError):
    code = "forbidden"
