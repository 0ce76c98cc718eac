"""Low-stock alert recipient groups (admin): who gets which digest.

``scope`` ``location`` (``value`` = a known location id), ``country`` (``value`` = ISO 3166-1
alpha-2) or ``all`` (purchasing: every location, no ``value``).
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from chalice import Blueprint
from pydantic import ConfigDict, TypeAdapter, ValidationError

from chalicelib import wiring
from chalicelib.api.http import Ctx, endpoint
from chalicelib.domain.access import Role
from chalicelib.domain.alerts.rules import AlertGroup, Scope
from chalicelib.domain.errors import FieldError, InvalidInput, NotFound

if TYPE_CHECKING:
    from chalicelib.api.models.alerts import AlertGroupIn, AlertGroupList, AlertGroupOut

bp = Blueprint(__name__)


@cache
def _country() -> TypeAdapter[str]:
    from chalicelib.api.models.common import CountryCode

    return TypeAdapter(CountryCode, config=ConfigDict(defer_build=True))


def _out(group: AlertGroup) -> AlertGroupOut:
    from chalicelib.api.models.alerts import AlertGroupOut
    from chalicelib.services.alerts import group_to_doc  # the digest code loads on first use

    return AlertGroupOut(**group_to_doc(group))


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
            return _country().validate_python(req.value)
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
    request="alerts:AlertGroupIn",
    response="alerts:AlertGroupOut",
)
def put_alert_group(ctx: Ctx, group_id: str) -> AlertGroupOut:
    """Create or replace a low-stock recipient group."""
    from chalicelib.api.models.alerts import AlertGroupIn
    from chalicelib.api.models.common import check_path_id, same_id

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
    return _out(wiring.alert_groups().put(group))


@endpoint(bp, "/alert-groups/{group_id}", roles=[Role.ADMIN], response="alerts:AlertGroupOut")
def get_alert_group(ctx: Ctx, group_id: str) -> AlertGroupOut:
    """One recipient group."""
    group = wiring.alert_groups().get(group_id)
    if group is None:
        raise NotFound(f"no alert group {group_id!r}", fields=[FieldError("group_id", "unknown")])
    return _out(group)


@endpoint(bp, "/alert-groups", roles=[Role.ADMIN], response="alerts:AlertGroupList")
def list_alert_groups(ctx: Ctx) -> AlertGroupList:
    """Every recipient group."""
    from chalicelib.api.models.alerts import AlertGroupList

    groups = wiring.alert_groups().list()
    return AlertGroupList(alert_groups=[_out(g) for g in groups])
