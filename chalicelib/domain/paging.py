"""One page of a listing: the items and the cursor of the next page (None: the last one)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    cursor: str | None
