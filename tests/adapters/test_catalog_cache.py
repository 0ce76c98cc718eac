"""The catalog's in-memory cache of small kinds: writes invalidate it at once, and a read that
overlapped a write is never cached (it may hold the state from before the write)."""

from __future__ import annotations

from typing import Any

from chalicelib.adapters.dynamo_catalog import DynamoCatalog


class _Overlapping:
    """The table, with a write landing while the first query is on its way back."""

    def __init__(self, table: Any) -> None:
        self._table, self.catalog, self.queries = table, None, 0

    def query(self, **kwargs: Any) -> Any:
        page = self._table.query(**kwargs)  # read first: the state before the write
        self.queries += 1
        if self.queries == 1 and self.catalog is not None:
            self.catalog.put("location", "dc-new", {"location_id": "dc-new"})
        return page

    def __getattr__(self, name: str) -> Any:
        return getattr(self._table, name)


def test_a_read_that_overlapped_a_write_is_not_cached(aws):
    table = aws.resource("dynamodb").Table("dirigent-catalog")
    proxy = _Overlapping(table)
    catalog = DynamoCatalog(proxy, ttl=3600, cached_kinds=["location"])
    proxy.catalog = catalog
    assert catalog.get("location", "dc-new") is None  # read before the write landed
    assert catalog.get("location", "dc-new") == {"location_id": "dc-new"}  # not the stale read
    assert catalog.get("location", "dc-new") == {"location_id": "dc-new"}
    assert proxy.queries == 2  # the fresh read is cached


def test_cached_kinds_are_read_consistently(aws):
    table = aws.resource("dynamodb").Table("dirigent-catalog")
    seen: list[Any] = []

    class Spy(_Overlapping):
        def query(self, **kwargs: Any) -> Any:
            seen.append(kwargs.get("ConsistentRead"))
            return table.query(**kwargs)

    DynamoCatalog(Spy(table), cached_kinds=["location"]).list("location")
    assert seen == [True]


def test_locations_are_decoded_once_while_cached_and_again_when_changed(aws, monkeypatch):
    """A network of 1000 locations was decoded on every call, several times per order."""
    from datetime import UTC, datetime

    from chalicelib.domain.catalog import Kind
    from chalicelib.services import catalog as catalog_module
    from chalicelib.services.catalog import CatalogService
    from local.demo import network_documents

    table = aws.resource("dynamodb").Table("dirigent-catalog")
    store = DynamoCatalog(table, ttl=3600, cached_kinds=[Kind.LOCATION])
    service = CatalogService(store)
    for doc in network_documents()["locations"][:3]:
        service.put(Kind.LOCATION, doc["location_id"], doc)
    decoded: list[str] = []
    real = catalog_module.location_from_doc

    def counting(doc: dict[str, Any]) -> Any:
        decoded.append(doc["location_id"])
        return real(doc)

    monkeypatch.setattr(catalog_module, "location_from_doc", counting)
    first = service.locations()
    again = service.locations()
    assert len(decoded) == 3 and [a is b for a, b in zip(first, again, strict=True)] == [True] * 3
    assert store.mark_feed(first[0].location_id, datetime.now(UTC))  # one document replaced
    marked = service.locations()
    assert decoded[3:] == [first[0].location_id] and marked[0].feed_at is not None
    assert marked[1:] == again[1:] and marked[1] is again[1]
    moved = {**network_documents()["locations"][1], "processing_days": 3}
    service.put(Kind.LOCATION, moved["location_id"], moved)  # a write: every document read anew
    assert {loc.location_id: loc.processing_days for loc in service.locations()}[
        moved["location_id"]
    ] == 3
