"""Master-data records: their kinds (the catalog table's partition key) and the decoders that
turn a stored document (the validated wire form) into the frozen dataclass sourcing uses."""

from __future__ import annotations

from dataclasses import fields
from datetime import date, datetime, time as clock
from enum import StrEnum
from typing import Any

from chalicelib.domain.channel import BackorderPolicy, Channel, ChannelKind, PriceMismatch
from chalicelib.domain.network import (
    Capability,
    CarrierService,
    Lane,
    Location,
    LocationType,
    Product,
    Speed,
    WeightBand,
)
from chalicelib.domain.rules import SourcingRules

RULE_FIELDS = frozenset(f.name for f in fields(SourcingRules))


class Kind(StrEnum):
    """Kinds of master-data record; the values are the stored partition keys."""

    API_KEY = "APIKEY"
    CHANNEL = "CHANNEL"
    LOCATION = "LOCATION"
    PRODUCT = "PRODUCT"
    CARRIER = "CARRIER"
    RULES = "RULES"
    ALERT_GROUP = "ALERTGROUP"
    CONNECTOR = "CONNECTOR"  # a channel's connector to its sales platform


def channel_from_doc(doc: dict[str, Any]) -> Channel:
    return Channel(
        channel=doc["channel"],
        kind=ChannelKind(doc["kind"]),
        currencies=frozenset(doc.get("currencies", ())),
        countries=frozenset(doc.get("countries", ())),
        backorder_policy=BackorderPolicy(doc.get("backorder_policy", "reject")),
        strict=bool(doc.get("strict", False)),
        return_window_days=int(doc.get("return_window_days", 30)),
        pickup_window_days=int(doc.get("pickup_window_days", 7)),
        excluded_locations=frozenset(doc.get("excluded_locations", ())),
        name=doc.get("name", ""),
        price_tolerance_pct=int(doc.get("price_tolerance_pct", 50)),
        price_mismatch=PriceMismatch(doc.get("price_mismatch", "reject")),
        max_quantity_per_line=_optional_int(doc.get("max_quantity_per_line")),
        max_units_per_customer_day=_optional_int(doc.get("max_units_per_customer_day")),
        reservation_minutes=int(doc.get("reservation_minutes", 15)),
        resource_expired_reservations=bool(doc.get("resource_expired_reservations", False)),
        availability_low_units=int(doc.get("availability_low_units", 5)),
        language=doc.get("language") or "en",
        locale=doc.get("locale") or "",
        display_name=doc.get("display_name") or "",
        mail_from=doc.get("mail_from") or "",
        customer_mail=doc.get("customer_mail") is not False,
    )


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)


def location_from_doc(doc: dict[str, Any]) -> Location:
    hours, minutes = (int(part) for part in doc["cutoff_time"].split(":"))
    address = doc.get("address") or {}
    return Location(
        location_id=doc["location_id"],
        type=LocationType(doc["type"]),
        country=address.get("country", ""),
        postal_code=address.get("postal_code", ""),
        lat=float(doc["lat"]),
        lon=float(doc["lon"]),
        timezone=doc["timezone"],
        capabilities=frozenset(Capability(c) for c in doc.get("capabilities", ())),
        cutoff_time=clock(hours, minutes),
        processing_days=int(doc.get("processing_days", 0)),
        closed_weekdays=frozenset(doc.get("closed_weekdays", (5, 6))),
        holidays_country=doc.get("holidays_country") or "",
        handling_cost_per_order=int(doc.get("handling_cost_per_order", 0)),
        handling_cost_per_unit=int(doc.get("handling_cost_per_unit", 0)),
        holding_cost_per_unit_day=int(doc.get("holding_cost_per_unit_day", 0)),
        fulfilment_queue=doc.get("fulfilment_queue") or "dirigent-fulfilment",
        name=doc.get("name", ""),
        city=address.get("city", ""),
        collect_unclaimed=doc.get("collect_unclaimed") or "keep",
        feed_interval_minutes=_optional_int(doc.get("feed_interval_minutes")),
        feed_stale_limit_minutes=_optional_int(doc.get("feed_stale_limit_minutes")),
        feed_at=datetime.fromisoformat(doc["feed_at"]) if doc.get("feed_at") else None,
    )


def carrier_service_from_doc(doc: dict[str, Any]) -> CarrierService:
    lanes = tuple(
        Lane(
            from_country=lane["from_country"],
            to_country=lane["to_country"],
            transit_days=int(lane["transit_days"]),
            bands=tuple(
                WeightBand(max_weight_g=int(b["max_weight_g"]), price=dict(b["price"]))
                for b in lane["bands"]
            ),
        )
        for lane in doc.get("lanes", ())
    )
    return CarrierService(
        service_id=doc["service_id"],
        carrier=doc["carrier"],
        speed=Speed(doc["speed"]),
        lanes=lanes,
        remote_postal_prefixes={
            country: tuple(prefixes)
            for country, prefixes in (doc.get("remote_postal_prefixes") or {}).items()
        },
        remote_extra_days=int(doc.get("remote_extra_days", 0)),
        order_cutoff_shift_hours=int(doc.get("order_cutoff_shift_hours", 0)),
    )


def rules_from_doc(doc: dict[str, Any]) -> SourcingRules:
    values = {k: v for k, v in doc.items() if k in RULE_FIELDS}
    if "excluded_locations" in values:
        values["excluded_locations"] = {
            channel: tuple(ids) for channel, ids in values["excluded_locations"].items()
        }
    return SourcingRules(**values)


def product_from_doc(doc: dict[str, Any]) -> Product:
    return Product(
        sku=doc["sku"],
        weight_g=int(doc["weight_g"]),
        prices={cur: int(v) for cur, v in (doc.get("prices") or {}).items()},
        returnable=bool(doc.get("returnable", True)),
        name=doc.get("name", ""),
        reorder_point=int(doc.get("reorder_point", 0)),
        cost_prices={cur: int(v) for cur, v in (doc.get("cost_prices") or {}).items()},
        release_date=date.fromisoformat(doc["release_date"]) if doc.get("release_date") else None,
    )
