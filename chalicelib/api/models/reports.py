"""The response model of reports (``GET /reports/{name}``)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from chalicelib.domain.reports import ReportName


class ReportView(BaseModel):
    report: str = Field(description=f"one of {', '.join(r.value for r in ReportName)}")
    from_: str = Field(alias="from", description="first day (YYYY-MM-DD), inclusive")
    to: str = Field(description="last day, inclusive")
    as_of: str | None = Field(default=None, description="for reports of the current state")
    filters: dict[str, str | None]
    columns: list[str]
    rows: list[dict[str, Any]] = Field(
        description="one per day and channel/currency (daily reports), location, reason or SKU"
    )
    totals: list[dict[str, Any]] = Field(description="the range as a whole, per currency")
