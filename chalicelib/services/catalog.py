"""Master data: channels, locations, products, carrier services and the versioned sourcing
rules, stored as JSON documents (the validated wire form) and read back as domain objects.

The API validates documents with pydantic (``chalicelib.api.models.common``) before they get here;
the ``*_from_doc`` decoders turn stored documents into the frozen dataclasses sourcing uses.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import fields
from datetime import time as clock
from typing import Any, Protocol

from chalicelib.domain.catalog import Kind
from chalicelib.domain.channel import BackorderPolicy, Channel, ChannelKind
from chalicelib.domain.errors import Conflict
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
from chalicelib.domain.products import product_from_doc
from chalicelib.domain.rules import SourcingRules


class DocumentStore(Protocol):
    def put(
        self, kind: str, item_id: str, doc: dict[str, Any], *, only_new: bool = False
    ) -> None: ...
    def put_many(self, kind: str, docs: Sequence[tuple[str, dict[str, Any]]]) -> None: ...
    def get(self, kind: str, item_id: str) -> dict[str, Any] | None: ...
    def list(self, kind: str) -> list[dict[str, Any]]: ...
    def get_many(self, kind: str, ids: Iterable[str]) -> dict[str, dict[str, Any]]: ...
    def invalidate(self, kind: str | None = None) -> None: ...


RULE_FIELDS = frozenset(f.name for f in fields(SourcingRules))


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
    )


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


_ID_FIELD: dict[str, str] = {  # the id field of each kind's documents
    Kind.CHANNEL: "channel",
    Kind.LOCATION: "location_id",
    Kind.PRODUCT: "sku",
    Kind.CARRIER: "service_id",
}


def _rules_id(version: int) -> str:
    return f"v{version:09d}"


class CatalogService:
    """Writes validated documents and reads them back as domain objects (the network that
    sourcing works on). Locations, channels, carrier services and rules are small and cached
    by the store; products are read by ``BatchGetItem``."""

    def __init__(self, store: DocumentStore) -> None:
        self._store = store

    # --- documents (the API's wire form) ------------------------------------------------------

    def put(self, kind: str, item_id: str, doc: dict[str, Any]) -> dict[str, Any]:
        self._store.put(kind, item_id, doc)
        return doc

    def put_many(self, kind: str, docs: Sequence[tuple[str, dict[str, Any]]]) -> None:
        self._store.put_many(kind, docs)

    def doc(self, kind: str, item_id: str) -> dict[str, Any] | None:
        return self._store.get(kind, item_id)

    def docs(self, kind: str) -> list[dict[str, Any]]:
        key = _ID_FIELD.get(kind, "id")
        return sorted(self._store.list(kind), key=lambda d: str(d.get(key, "")))

    # --- the network, as domain objects ---------------------------------------------------------

    def channel(self, name: str) -> Channel | None:
        doc = self._store.get(Kind.CHANNEL, name)
        return channel_from_doc(doc) if doc else None

    def channels(self) -> list[Channel]:
        return [channel_from_doc(d) for d in self.docs(Kind.CHANNEL)]

    def location(self, location_id: str) -> Location | None:
        doc = self._store.get(Kind.LOCATION, location_id)
        return location_from_doc(doc) if doc else None

    def locations(self) -> list[Location]:
        return [location_from_doc(d) for d in self.docs(Kind.LOCATION)]

    def carrier_services(self) -> list[CarrierService]:
        return [carrier_service_from_doc(d) for d in self.docs(Kind.CARRIER)]

    def product(self, sku: str) -> Product | None:
        doc = self._store.get(Kind.PRODUCT, sku)
        return product_from_doc(doc) if doc else None

    def products(self, skus: Iterable[str]) -> dict[str, Product]:
        """The known products among ``skus`` (unknown ones are simply absent)."""
        return {
            sku: product_from_doc(doc)
            for sku, doc in self._store.get_many(Kind.PRODUCT, skus).items()
        }

    # --- sourcing rules: every version is kept; the highest is current ---------------------------

    def rules_doc(self) -> dict[str, Any] | None:
        versions = self._store.list(Kind.RULES)
        return max(versions, key=lambda d: int(d["version"])) if versions else None

    def rules(self) -> SourcingRules:
        """The current rules, or the defaults when none were ever stored."""
        doc = self.rules_doc()
        return rules_from_doc(doc) if doc else SourcingRules()

    def put_rules(self, values: dict[str, Any], *, attempts: int = 5) -> dict[str, Any]:
        """Store ``values`` as the next version. Two writers racing for a version number both
        succeed: the loser re-reads and takes the next one."""
        for _ in range(attempts):
            current = self.rules_doc()
            version = int(current["version"]) + 1 if current else 1
            doc = {**values, "version": version, "stored_at": time.time()}
            try:
                self._store.put(Kind.RULES, _rules_id(version), doc, only_new=True)
            except Exception as exc:
                if not _already_exists(exc):
                    raise
                self._store.invalidate(Kind.RULES)
                continue
            return doc
        raise Conflict("the sourcing rules are being changed by someone else; try again")


def _already_exists(exc: Exception) -> bool:
    code = getattr(exc, "response", {}).get("Error", {}).get("Code")
    return isinstance(exc, Conflict) or code == "ConditionalCheckFailedException"
