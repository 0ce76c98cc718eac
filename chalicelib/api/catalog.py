"""Master data routes: channels, sourcing rules, locations, products and carrier services."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib import wiring
from chalicelib.api.http import Ctx, endpoint, json_response
from chalicelib.domain.access import Role
from chalicelib.domain.catalog import RULE_FIELDS, Kind
from chalicelib.domain.errors import FieldError, InvalidInput, NotFound
from chalicelib.domain.rules import SourcingRules

bp = Blueprint(__name__)

STAFF = [Role.ADMIN, Role.SERVICE]
MAX_RULE_NUMBER = 1_000_000_000  # weights, units, days, km: far beyond any sensible rule


def _found(doc: dict[str, Any] | None, what: str, name: str, value: str) -> dict[str, Any]:
    if doc is None:
        raise NotFound(f"no {what} {value!r}", fields=[FieldError(name, "unknown")])
    return doc


def _unknown_locations(named: list[tuple[str, str]]) -> list[FieldError]:
    """A problem per (field, location id) whose location does not exist: an exclusion or a
    floor naming a typo would silently do nothing."""
    if not named:
        return []
    known = {doc["location_id"] for doc in wiring.catalog_service().docs(Kind.LOCATION)}
    return [
        FieldError(name, f"no location {lid[:64]!r}") for name, lid in named if lid not in known
    ]


# --- channels ----------------------------------------------------------------------------------


@endpoint(
    bp,
    "/channels/{channel}",
    method="PUT",
    roles=[Role.ADMIN],
    request="common:ChannelIn",
    response="common:ChannelIn",
)
def put_channel(ctx: Ctx, channel: str) -> dict[str, Any]:
    """Create or replace a sales channel."""
    from chalicelib.api.models.common import ChannelIn, check_path_id, same_id

    check_path_id("channel", channel)
    req = ctx.body(ChannelIn)
    same_id("channel", channel, req.channel)
    named = [(f"excluded_locations.{i}", lid) for i, lid in enumerate(req.excluded_locations)]
    if problems := _unknown_locations(named):
        raise InvalidInput("the channel names unknown locations", fields=problems)
    return wiring.catalog_service().put(Kind.CHANNEL, channel, req.doc(channel))


@endpoint(bp, "/channels/{channel}", roles=[*STAFF, Role.CHANNEL], response="common:ChannelIn")
def get_channel(ctx: Ctx, channel: str) -> dict[str, Any]:
    """One channel (a channel key sees only its own)."""
    if not ctx.principal.sees_channel(channel):
        raise NotFound(f"no channel {channel!r}", fields=[FieldError("channel", "unknown")])
    return _found(
        wiring.catalog_service().doc(Kind.CHANNEL, channel), "channel", "channel", channel
    )


@endpoint(bp, "/channels", roles=STAFF, response="common:ChannelList")
def list_channels(ctx: Ctx) -> dict[str, Any]:
    """Every channel."""
    return {"channels": wiring.catalog_service().docs(Kind.CHANNEL)}


# --- sourcing rules ----------------------------------------------------------------------------


RULE_LIMITS = {
    "cheapest_max_delay_days": 365,
    "holding_horizon_days": 3650,
    "max_parcels": 50,  # one transaction holds 100 items: the order and its reservations
}


def validate_rules(raw: Any) -> dict[str, Any]:
    from chalicelib.api.models.common import MAX_MONEY
    from chalicelib.api.models.rules import RULES

    if not isinstance(raw, dict):
        raise InvalidInput(
            "the rules must be an object", fields=[FieldError("body", "not an object")]
        )
    # what GET answers goes back as it is: the version and time it was stored are the server's
    raw = {k: v for k, v in raw.items() if k not in ("version", "stored_at")}
    unknown = sorted(set(raw) - RULE_FIELDS)
    if unknown:
        raise InvalidInput(
            "unknown rule fields", fields=[FieldError(name, "unknown field") for name in unknown]
        )
    values = RULES.dump_python(RULES.validate_python(raw), mode="json")
    problems = [
        FieldError(name, "must be >= 0")
        for name, value in values.items()
        if isinstance(value, int | float) and not isinstance(value, bool) and value < 0
    ]
    problems += [
        FieldError(name, f"must be <= {MAX_RULE_NUMBER}")
        for name, value in values.items()
        if isinstance(value, int | float) and value > MAX_RULE_NUMBER
    ]
    problems += [
        FieldError(f"free_shipping_threshold.{currency}", f"must be 0..{MAX_MONEY}")
        for currency, value in values["free_shipping_threshold"].items()
        if not 0 <= value <= MAX_MONEY
    ]
    problems += [
        FieldError(f"excluded_locations.{channel[:64]}", "ids of at most 64 characters, 500 ids")
        for channel, ids in values["excluded_locations"].items()
        if len(channel) > 64 or len(ids) > 500 or any(len(i) > 64 for i in ids)
    ]
    if values["max_parcels"] < 1:
        problems.append(FieldError("max_parcels", "must be >= 1"))
    problems += [  # dates and transactions have bounds of their own
        FieldError(name, f"must be <= {limit}")
        for name, limit in RULE_LIMITS.items()
        if values[name] > limit
    ]
    from chalicelib.api.models.cost_rules import cost_rule_problems

    problems += cost_rule_problems(values)
    for currency in values["free_shipping_threshold"]:
        if len(currency) != 3 or not currency.isupper():
            problems.append(FieldError(f"free_shipping_threshold.{currency}", "not a currency"))
    if not problems:  # well-formed: then every location it names must exist
        named = [
            (f"excluded_locations.{channel}.{i}", lid)
            for channel, ids in values["excluded_locations"].items()
            for i, lid in enumerate(ids)
        ]
        named += [
            (f"min_item_value_by_location.{key}", key)
            for key in values["min_item_value_by_location"]
            if not key.startswith("type:")
        ]
        problems = _unknown_locations(named)
    if problems:
        raise InvalidInput("the rules are invalid", fields=problems)
    values.pop("version", None)  # the server numbers versions
    return values


@endpoint(
    bp,
    "/sourcing-rules",
    method="PUT",
    roles=[Role.ADMIN],
    request="rules:RULES",
    response="common:RulesOut",
)
def put_rules(ctx: Ctx) -> dict[str, Any]:
    """Store a new version of the sourcing rules; the answer carries its ``version``."""
    return wiring.catalog_service().put_rules(validate_rules(ctx.json()))


@endpoint(bp, "/sourcing-rules", roles=STAFF, response="common:RulesOut")
def get_rules(ctx: Ctx) -> dict[str, Any]:
    """The current sourcing rules (the defaults, version 0, until some are stored)."""
    from chalicelib.api.models.rules import RULES

    doc = wiring.catalog_service().rules_doc()
    if doc is None:
        return {**RULES.dump_python(SourcingRules(), mode="json"), "version": 0}
    return doc


# --- locations ---------------------------------------------------------------------------------


@endpoint(
    bp,
    "/locations/{location_id}",
    method="PUT",
    roles=[Role.ADMIN],
    request="common:LocationIn",
    response="common:LocationIn",
)
def put_location(ctx: Ctx, location_id: str) -> dict[str, Any]:
    """Create or replace a warehouse, store or 3PL."""
    from chalicelib.api.models.common import LocationIn, check_path_id, same_id

    check_path_id("location_id", location_id)
    req = ctx.body(LocationIn)
    same_id("location_id", location_id, req.location_id)
    _check_fulfilment_queue(req.fulfilment_queue)
    return wiring.catalog_service().put(Kind.LOCATION, location_id, req.doc(location_id))


def _check_fulfilment_queue(name: str) -> None:
    """A location's fulfilment requests go to a queue that exists and that no Dirigent consumer
    reads (they would arrive there as warehouse events, or be lost in a DLQ)."""
    from chalicelib.config import queue_name

    own = {queue_name(kind) for kind in ("warehouse-events", "order-events", "webhooks")}
    reason = (
        "one of Dirigent's own queues"
        if name in own or (name.startswith(queue_name("")) and name.endswith("-dlq"))
        else "no such queue"
        if not wiring.queues().exists(name)
        else None
    )
    if reason:
        raise InvalidInput(
            f"cannot send fulfilment requests to {name}",
            fields=[FieldError("fulfilment_queue", reason)],
        )


@endpoint(bp, "/locations", roles=STAFF, response="common:LocationList")
def list_locations(ctx: Ctx) -> dict[str, Any]:
    """Every location, with the age of its stock feed."""
    return {"locations": wiring.catalog_service().location_docs()}


@endpoint(bp, "/locations/{location_id}", roles=STAFF, response="common:LocationOut")
def get_location(ctx: Ctx, location_id: str) -> dict[str, Any]:
    """One location, with its last stock report (``feed_at``), its age and status."""
    doc = wiring.catalog_service().location_doc(location_id)
    return _found(doc, "location", "location_id", location_id)


@endpoint(
    bp,
    "/locations/{location_id}/event-key",
    method="POST",
    roles=[Role.ADMIN],
    response="common:EventKeyOut",
    status=201,
)
def issue_event_key(ctx: Ctx, location_id: str) -> Any:
    """Issue the location's warehouse-event key; the previous one stops verifying at once."""
    from chalicelib.api.models.common import EventKeyOut

    key = wiring.event_keys().issue(location_id)
    out = EventKeyOut(
        location_id=key.location_id,
        key_version=key.key_version,
        secret=key.secret,
        issued_at=key.issued_at,
    )
    return json_response(out, 201, headers={"Cache-Control": "no-store"})


# --- products ----------------------------------------------------------------------------------


@endpoint(
    bp,
    "/products/{sku}",
    method="PUT",
    roles=[Role.ADMIN],
    request="products:HotProductIn",
    response="products:HotProductIn",
)
def put_product(ctx: Ctx, sku: str) -> dict[str, Any]:
    """Create or replace a product."""
    from chalicelib.api.models.common import check_path_id, same_id
    from chalicelib.api.models.products import HotProductIn

    check_path_id("sku", sku)
    req = ctx.body(HotProductIn)
    same_id("sku", sku, req.sku)
    doc = wiring.catalog_service().put(Kind.PRODUCT, sku, req.doc(sku))
    wiring.inventory().set_hot_shards(sku, req.hot_shards)  # idempotent: every unit kept
    return doc


@endpoint(bp, "/products/{sku}", roles=[*STAFF, Role.CHANNEL], response="products:HotProductIn")
def get_product(ctx: Ctx, sku: str) -> dict[str, Any]:
    """One product."""
    return _found(wiring.catalog_service().doc(Kind.PRODUCT, sku), "product", "sku", sku)


# --- carrier services --------------------------------------------------------------------------


@endpoint(
    bp,
    "/carrier-services/{service_id}",
    method="PUT",
    roles=[Role.ADMIN],
    request="carriers:CarrierServiceIn",
    response="carriers:CarrierServiceIn",
)
def put_carrier_service(ctx: Ctx, service_id: str) -> dict[str, Any]:
    """Create or replace a carrier service with its lanes and rate card."""
    from chalicelib.api.models.carriers import CarrierServiceIn
    from chalicelib.api.models.common import check_path_id, same_id

    check_path_id("service_id", service_id)
    req = ctx.body(CarrierServiceIn)
    same_id("service_id", service_id, req.service_id)
    return wiring.catalog_service().put(Kind.CARRIER, service_id, req.doc(service_id))


@endpoint(bp, "/carrier-services", roles=STAFF, response="carriers:CarrierServiceList")
def list_carrier_services(ctx: Ctx) -> dict[str, Any]:
    """Every carrier service."""
    return {"carrier_services": wiring.catalog_service().docs(Kind.CARRIER)}
