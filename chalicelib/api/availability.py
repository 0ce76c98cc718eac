"""The per-channel availability feed: ``GET /channels/{channel}/availability`` with either
``skus=A,B,…`` (1 to 100 distinct SKUs) or ``changed_since=<ISO instant>`` (paged: ``limit``,
``cursor``); ``country`` picks the destination the figures are for. A channel key reads its
own channel only; admin and service keys any."""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING

from chalice import Blueprint

from chalicelib.api.http import ID_PATTERN, Ctx, endpoint
from chalicelib.domain.access import Role
from chalicelib.domain.availability import MAX_SKUS
from chalicelib.domain.errors import FieldError, InvalidInput, NotFound
from chalicelib.wiring.clock import now

if TYPE_CHECKING:
    from chalicelib.api.models.availability import AvailabilityOut

bp = Blueprint(__name__)

MAX_PAGE = 100
_SKU = re.compile(ID_PATTERN)
_COUNTRY = re.compile(r"[A-Z]{2}")


def _invalid(field: str, reason: str) -> InvalidInput:
    return InvalidInput(f"{field}: {reason}", fields=[FieldError(field, reason)])


def parse_skus(raw: str) -> list[str]:
    skus = raw.split(",")
    if len(skus) > MAX_SKUS:
        raise _invalid("skus", f"at most {MAX_SKUS} SKUs")
    seen: set[str] = set()
    for i, sku in enumerate(skus):
        if not sku:
            raise _invalid(f"skus[{i}]", "empty")
        if not _SKU.fullmatch(sku):
            raise _invalid(f"skus[{i}]", "letters, digits, . _ : - only, at most 64 characters")
        if sku in seen:
            raise _invalid(f"skus[{i}]", f"{sku} is given twice")
        seen.add(sku)
    return skus


def parse_since(raw: str) -> datetime:
    try:
        since = datetime.fromisoformat(raw.replace("Z", "+00:00").replace(" ", "+"))
    except ValueError:
        raise _invalid("changed_since", "an ISO 8601 instant, e.g. 2030-01-02T03:04:05Z") from None
    if since.tzinfo is None:
        raise _invalid("changed_since", "needs a UTC offset (Z or +hh:mm)")
    return since


@endpoint(
    bp,
    "/channels/{channel}/availability",
    roles=[Role.ADMIN, Role.SERVICE, Role.CHANNEL],
    response="availability:AvailabilityOut",
)
def get_availability(ctx: Ctx, channel: str) -> AvailabilityOut:
    """What the channel can sell now per SKU (``skus``) or of the SKUs changed since an
    instant (``changed_since``, paged), with the earliest promise date."""
    from chalicelib.api.models.availability import AvailabilityOut, SkuAvailabilityOut
    from chalicelib.wiring.availability import availability

    if not ctx.principal.sees_channel(channel):
        raise NotFound(f"channel {channel} not found", fields=[FieldError("channel", "unknown")])
    raw_skus, raw_since = ctx.query("skus"), ctx.query("changed_since")
    if raw_skus is not None and raw_since is not None:
        raise InvalidInput(
            "give skus or changed_since, not both",
            fields=[
                FieldError("skus", "not with changed_since"),
                FieldError("changed_since", "not with skus"),
            ],
        )
    if raw_skus is None and raw_since is None:
        raise _invalid("skus", "skus or changed_since is required")
    country = ctx.query("country")
    if country is not None and not _COUNTRY.fullmatch(country):
        raise _invalid("country", "ISO 3166-1 alpha-2, upper case")
    as_of = now().isoformat(timespec="seconds").replace("+00:00", "Z")
    service = availability()
    if raw_skus is not None:
        items = service.for_skus(channel, parse_skus(raw_skus), country=country)
        return AvailabilityOut(
            channel=channel,
            as_of=as_of,
            availability=[SkuAvailabilityOut(**item) for item in items],
        )
    assert raw_since is not None
    page = service.changed(
        channel,
        parse_since(raw_since),
        limit=ctx.whole_number("limit", MAX_PAGE, 1, MAX_PAGE),
        cursor=ctx.query("cursor"),
        country=country,
    )
    return AvailabilityOut(
        channel=channel,
        as_of=as_of,
        availability=[SkuAvailabilityOut(**item) for item in page.items],
        cursor=page.cursor,
    )
