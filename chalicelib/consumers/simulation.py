"""``simulation_step`` messages on the order-events queue: one step of a rule simulation."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class SimulationStep(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    type: str
    simulation_id: str = Field(min_length=1, max_length=64)
    step: int = Field(ge=0, le=1_000_000)


def step(body: dict[str, Any]) -> None:
    from chalicelib.wiring.simulation import simulations

    message = SimulationStep.model_validate(body)
    simulations().step(message.simulation_id, message.step)
