"""The sourcing rules as pydantic sees them (``SourcingRules`` is a plain dataclass)."""

from __future__ import annotations

from pydantic import TypeAdapter

from chalicelib.domain.rules import SourcingRules

RULES = TypeAdapter(SourcingRules)
