"""Master data: channels, locations, products, carrier services and the versioned sourcing
rules, stored as JSON documents (the validated wire form) and read back as domain objects.

The API validates documents with pydantic (``chalicelib.api.models.common``) before they get here;
the ``*_from_doc`` decoders of ``chalicelib.domain.catalog`` turn stored documents into the
frozen dataclasses sourcing uses.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from chalicelib.domain.catalog import (
    Kind,
    carrier_service_from_doc,
    channel_from_doc,
    location_from_doc,
    product_from_doc,
    rules_from_doc,
)
from chalicelib.domain.channel import Channel
from chalicelib.domain.errors import Conflict
from chalicelib.domain.freshness import feed_view
from chalicelib.domain.network import (
    CarrierService,
    Location,
    Product,
)
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
    def mark_feed(self, location_id: str, at: datetime) -> bool: ...


_ID_FIELD: dict[str, str] = {  # the id field of each kind's documents
    Kind.CHANNEL: "channel",
    Kind.LOCATION: "location_id",
    Kind.PRODUCT: "sku",
    Kind.CARRIER: "service_id",
}


T = TypeVar("T")


def _rules_id(version: int) -> str:
    return f"v{version:09d}"


class CatalogService:
    """Writes validated documents and reads them back as domain objects (the network that
    sourcing works on). Locations, channels, carrier services and rules are small and cached
    by the store; products are read by ``BatchGetItem``."""

    def __init__(
        self, store: DocumentStore, *, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self._store = store
        self._clock = clock
        # per kind: id(document) -> (document, its domain object). The store hands out the same
        # document objects while its cache holds them, so a network of 1000 locations is not
        # decoded again on every call (that cost more than sourcing the order).
        self._decoded: dict[str, dict[int, tuple[dict[str, Any], Any]]] = {}

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

    def mark_feed(self, location_id: str, at: datetime) -> bool:
        """Record a stock report of the location (at most once a minute; False otherwise)."""
        return self._store.mark_feed(location_id, at)

    def location_doc(self, location_id: str) -> dict[str, Any] | None:
        """A location's document with its feed: ``feed_at``, ``feed_age_minutes``, status."""
        doc = self._store.get(Kind.LOCATION, location_id)
        return self._with_feed(doc, self._clock()) if doc else None

    def location_docs(self) -> list[dict[str, Any]]:
        now = self._clock()
        return [self._with_feed(doc, now) for doc in self.docs(Kind.LOCATION)]

    @staticmethod
    def _with_feed(doc: dict[str, Any], now: datetime) -> dict[str, Any]:
        return {**doc, **feed_view(location_from_doc(doc), now)}

    # --- the network, as domain objects ---------------------------------------------------------

    def refresh(self) -> None:
        self._store.invalidate()

    def channel(self, name: str) -> Channel | None:
        doc = self._store.get(Kind.CHANNEL, name)
        return channel_from_doc(doc) if doc else None

    def channels(self) -> list[Channel]:
        return [channel_from_doc(d) for d in self.docs(Kind.CHANNEL)]

    def location(self, location_id: str) -> Location | None:
        doc = self._store.get(Kind.LOCATION, location_id)
        return location_from_doc(doc) if doc else None

    def locations(self) -> list[Location]:
        return self._objects(Kind.LOCATION, location_from_doc)

    def carrier_services(self) -> list[CarrierService]:
        return self._objects(Kind.CARRIER, carrier_service_from_doc)

    def _objects(self, kind: str, decode: Callable[[dict[str, Any]], T]) -> list[T]:
        """``decode`` of every document of ``kind``, each document decoded once while the
        store keeps handing out that same object (a changed one is a new object)."""
        docs = self.docs(kind)
        memo = self._decoded.setdefault(kind, {})
        out: list[T] = []
        for doc in docs:
            hit = memo.get(id(doc))
            if hit is None or hit[0] is not doc:
                hit = memo[id(doc)] = (doc, decode(doc))
            out.append(hit[1])
        if len(memo) > 2 * len(docs):  # documents replaced since: forget the old ones
            self._decoded[kind] = {id(doc): memo[id(doc)] for doc in docs}
        return out

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
