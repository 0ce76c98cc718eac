"""Low-stock alert recipient groups (admin): who gets which digest.

``scope`` ``location`` (``value`` = a known location id), ``country`` (``value`` = ISO 3166-1
alpha-2) or ``all`` (purchasing: every location, no ``value``).
"""

from __future__ import annotations

import os
from typing import Annotated, Any

from chalice import Blueprint, Rate
from pydantic import AfterValidator, BaseModel, EmailStr, Field, TypeAdapter, ValidationError

from chalicelib import wiring
from chalicelib.api.http import Ctx, endpoint
from chalicelib.api.models.common import CountryCode, Id, Request, check_path_id, same_id
from chalicelib.domain.access import Role
from chalicelib.domain.alerts.rules import AlertGroup, Scope
from chalicelib.domain.errors import FieldError, InvalidInput, NotFound
from chalicelib.services.alerts import group_to_doc

bp = Blueprint(__name__)
_COUNTRY: TypeAdapter[str] = TypeAdapter(CountryCode)


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


def _value(req: AlertGroupIn) -> str | None:
    """The scope's value, checked: 422 on ``value`` when it does not fit the scope."""
    if req.scope == Scope.ALL:
        if req.value is not None:
            raise InvalidInput(
                "scope all takes no value", fields=[FieldError("value", "must be absent")]
            )
        return None
    if not req.value:
        raise InvalidInput(
            f"scope {req.scope.value} needs a value",
            fields=[FieldError("value", f"required for scope {req.scope.value}")],
        )
    if req.scope == Scope.COUNTRY:
        try:
            return _COUNTRY.validate_python(req.value)
        except ValidationError as exc:
            reason = exc.errors()[0]["msg"]
            raise InvalidInput(reason, fields=[FieldError("value", reason)]) from None
    if wiring.catalog_service().location(req.value) is None:
        raise InvalidInput(
            f"no location {req.value!r}", fields=[FieldError("value", "unknown location")]
        )
    return req.value


@endpoint(
    bp,
    "/alert-groups/{group_id}",
    method="PUT",
    roles=[Role.ADMIN],
    request=AlertGroupIn,
    response=AlertGroupOut,
)
def put_alert_group(ctx: Ctx, group_id: str) -> AlertGroupOut:
    """Create or replace a low-stock recipient group."""
    check_path_id("group_id", group_id)
    req = ctx.body(AlertGroupIn)
    same_id("group_id", group_id, req.group_id)
    group = AlertGroup(
        group_id=group_id,
        scope=req.scope,
        value=_value(req),
        recipients=tuple(str(r) for r in req.recipients),
        daily_reminder=req.daily_reminder,
    )
    return AlertGroupOut(**group_to_doc(wiring.alert_groups().put(group)))


@endpoint(bp, "/alert-groups/{group_id}", roles=[Role.ADMIN], response=AlertGroupOut)
def get_alert_group(ctx: Ctx, group_id: str) -> AlertGroupOut:
    """One recipient group."""
    group = wiring.alert_groups().get(group_id)
    if group is None:
        raise NotFound(f"no alert group {group_id!r}", fields=[FieldError("group_id", "unknown")])
    return AlertGroupOut(**group_to_doc(group))


@endpoint(bp, "/alert-groups", roles=[Role.ADMIN], response=AlertGroupList)
def list_alert_groups(ctx: Ctx) -> AlertGroupList:
    """Every recipient group."""
    groups = wiring.alert_groups().list()
    return AlertGroupList(alert_groups=[AlertGroupOut(**group_to_doc(g)) for g in groups])


# --- the schedule ------------------------------------------------------------------------------

RATE_ENV = "LOW_STOCK_ALERT_RATE_MINUTES"


def alert_rate() -> Rate:
    """The schedule's rate in minutes from ``LOW_STOCK_ALERT_RATE_MINUTES`` (default 60).
    Chalice reads it when app.py is imported, i.e. when ``chalice package``/``deploy`` runs:
    set it in that shell per stage (``make package STAGE=prod LOW_STOCK_ALERT_RATE_MINUTES=15``),
    not in the Lambda's environment."""
    raw = os.environ.get(RATE_ENV, "60")
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"{RATE_ENV} must be a whole number of minutes >= 1, not {raw!r}")
    return Rate(int(raw), unit=Rate.MINUTES)


def run_schedule() -> dict[str, Any]:
    """One alert run (the schedule handler)."""
    return vars(wiring.low_stock_alerts().run())
