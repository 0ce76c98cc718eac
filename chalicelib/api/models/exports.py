"""The response model of a large CSV export (``GET /exports/{kind}``)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class ExportLink(BaseModel):
    """The answer for an export too large to return inline."""

    export: str
    filename: str
    rows: int
    bytes: int
    url: str = Field(description="pre-signed GET link to the CSV in the exports bucket")
    expires_at: str
