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
