"""Request and response models of low-stock alert recipient groups."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, EmailStr, Field

from chalicelib.api.models.common import Id, Request
from chalicelib.domain.alerts.rules import Scope


def _unique_addresses(values: list[str]) -> list[str]:
    if len({v.lower() for v in values}) != len(values):
        raise ValueError("addresses must not repeat")
    return values


class AlertGroupIn(Request):
    group_id: Id | None = Field(default=None, description="must equal the path if given")
    scope: Scope
    value: str | None = Field(
        default=None,
        max_length=64,
        description="location id (scope location), country code (scope country), none (all)",
    )
    recipients: Annotated[list[EmailStr], AfterValidator(_unique_addresses)] = Field(
        min_length=1, max_length=50
    )
    daily_reminder: bool = Field(
        default=False, description="mail still-low items again once a day, not only once"
    )


class AlertGroupOut(BaseModel):
    group_id: str
    scope: Scope
    value: str | None
    recipients: list[str]
    daily_reminder: bool


class AlertGroupList(BaseModel):
    alert_groups: list[AlertGroupOut]
