"""A location's last stock report (``mark_feed``): one contract for the in-memory catalog and
DynamoDB (moto), and the DynamoDB catalog's cache."""

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.adapters.dynamo_catalog import DynamoCatalog
from chalicelib.adapters.memory import MemoryCatalog
from chalicelib.domain.catalog import Kind

NOW = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)
DOC = {"location_id": "dc-1", "name": "One"}


@pytest.fixture(params=["memory", "dynamo"])
def catalog(request):
    if request.param == "memory":
        return MemoryCatalog()
    aws = request.getfixturevalue("aws")
    table = aws.resource("dynamodb").Table("dirigent-catalog")
    return DynamoCatalog(table, ttl=60, cached_kinds=(Kind.LOCATION,))


def feed_at(catalog, location_id="dc-1"):
    return datetime.fromisoformat(catalog.get(Kind.LOCATION, location_id)["feed_at"])


def test_a_mark_is_written_at_most_once_a_minute_and_only_forward(catalog):
    catalog.put(Kind.LOCATION, "dc-1", DOC)
    assert catalog.mark_feed("dc-1", NOW) is True
    assert catalog.mark_feed("dc-1", NOW + timedelta(seconds=59)) is False
    assert catalog.mark_feed("dc-1", NOW - timedelta(minutes=5)) is False  # never backwards
    assert feed_at(catalog) == NOW
    assert catalog.mark_feed("dc-1", NOW + timedelta(seconds=61)) is True
    assert feed_at(catalog) == NOW + timedelta(seconds=61)


def test_an_unknown_location_is_not_created_by_a_mark(catalog):
    assert catalog.mark_feed("nowhere", NOW) is False
    assert catalog.get(Kind.LOCATION, "nowhere") is None
    assert catalog.list(Kind.LOCATION) == []


def test_putting_the_document_again_keeps_the_feed_time(catalog):
    catalog.put(Kind.LOCATION, "dc-1", DOC)
    catalog.mark_feed("dc-1", NOW)
    catalog.put(Kind.LOCATION, "dc-1", {**DOC, "name": "Renamed"})
    doc = catalog.get(Kind.LOCATION, "dc-1")
    assert doc["name"] == "Renamed"
    assert datetime.fromisoformat(doc["feed_at"]) == NOW
    assert [d["name"] for d in catalog.list(Kind.LOCATION)] == ["Renamed"]


def test_the_cache_of_the_marking_container_sees_the_mark_at_once(aws):
    table = aws.resource("dynamodb").Table("dirigent-catalog")
    catalog = DynamoCatalog(table, ttl=3600, cached_kinds=(Kind.LOCATION,))
    catalog.put(Kind.LOCATION, "dc-1", DOC)
    assert "feed_at" not in catalog.get(Kind.LOCATION, "dc-1")  # cached now, for an hour
    catalog.mark_feed("dc-1", NOW)
    assert feed_at(catalog) == NOW
    other = DynamoCatalog(table, ttl=3600, cached_kinds=(Kind.LOCATION,))
    assert feed_at(other) == NOW  # the stored item carries it
