"""Request and response models of rule simulations (``/sourcing-rules/simulations``)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from chalicelib.api.models.common import Request


class PeriodIn(Request):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, defer_build=True)
    start: str = Field(alias="from", min_length=10, max_length=10, description="YYYY-MM-DD (UTC)")
    end: str = Field(alias="to", min_length=10, max_length=10, description="YYYY-MM-DD, inclusive")


class SimulationIn(Request):
    rules: dict[str, Any] = Field(
        description="a candidate rules document, validated as PUT /sourcing-rules validates it"
    )
    period: PeriodIn = Field(description="at most 31 days of recorded orders")


class ProgressOut(BaseModel):
    done: int
    total: int | None = None


class SimulationOut(BaseModel):
    simulation_id: str
    status: str = Field(description="queued, running, done or failed")
    period: dict[str, str]
    progress: ProgressOut
    created_at: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    current_version: int = Field(description="the rules version the candidate is compared with")
    candidate_rules: dict[str, Any] | None = None
    activated_version: int | None = None
    error: str | None = Field(default=None, description="why the last failed step failed")
    results: dict[str, Any] | None = Field(
        default=None,
        description=(
            "orders_replayed, not_replayable; current/candidate totals (cost_to_serve, margin,"
            " avg_promise_days, on_time_share, split_rate, parcels); difference; locations"
            " (units and parcels per location under both); deltas (top by |cost delta|)"
        ),
    )


class LatestOut(BaseModel):
    latest: SimulationOut | None = None


class ActivatedOut(BaseModel):
    simulation_id: str
    version: int
    rules: dict[str, Any] | None = None
