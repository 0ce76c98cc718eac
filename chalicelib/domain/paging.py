"""One page of a listing: the items and the cursor of the next page (None: the last one), and
the page size a caller asks for."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chalicelib.domain.errors import FieldError, InvalidInput


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    cursor: str | None


def whole_number(text: str, name: str, low: int, high: int) -> int:
    """``text`` (a query value) as a whole number from ``low`` to ``high``; 422 naming ``name``
    else. ASCII digits only: ``int`` also takes "٣", "1_0" and " 7", and ``str.isdigit`` "²",
    which ``int`` refuses."""
    if not (text.isascii() and text.isdigit()) or not low <= int(text) <= high:
        raise InvalidInput(f"bad {name}", fields=[FieldError(name, f"{low} to {high}")])
    return int(text)
