"""Every route, every kind of garbage: a 4xx that names the field, never a 5xx."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from pydantic import TypeAdapter

import app  # noqa: F401 - registers every route
from chalicelib.api.http import OPERATIONS
from chalicelib.api.openapi import resolve
from tests.api.fulfilment_kit import make_shop

WRITES = sorted(
    {(op.method, op.path) for op in OPERATIONS if op.method in ("POST", "PUT", "PATCH")}
)
READS = sorted({(op.method, op.path) for op in OPERATIONS if op.method == "GET"})
GARBAGE = {
    "malformed": "{not json",
    "array": "[]",
    "string": '"text"',
    "unknown fields": json.dumps({"nope": 1, "quantity": -5}),
    "wrong types": json.dumps({"sku": 5, "quantity": "many", "lines": "all"}),
    "oversized": json.dumps({"pad": "x" * 1_100_000}),
}


def fill(path: str) -> str:
    return re.sub(r"{\w+}", "does-not-exist", path)


@pytest.mark.parametrize(("method", "path"), WRITES)
def test_writes_answer_garbage_with_a_4xx_naming_the_field(client, admin_key, method, path):
    headers = {"Authorization": f"Bearer {admin_key}", "Content-Type": "application/json"}
    for name, body in GARBAGE.items():
        resp = client.http.request(method, fill(path), body=body, headers=headers)
        assert 400 <= resp.status_code < 500, (method, path, name, resp.status_code, resp.body)
        error = json.loads(resp.body)["error"]
        assert error["code"] and error["message"], (path, name)
        if resp.status_code in (400, 413, 422):
            assert error["fields"] and error["fields"][0]["path"], (path, name, error)


@pytest.mark.parametrize(("method", "path"), READS)
def test_reads_answer_odd_queries_with_a_2xx_or_4xx(client, admin_key, method, path):
    headers = {"Authorization": f"Bearer {admin_key}"}
    for query in ("", "?limit=-1&from=yesterday&to=2026-13-45&cursor=%%%&format=pdf&token=x"):
        resp = client.http.request(method, fill(path) + query, headers=headers)
        assert resp.status_code < 500, (path, query, resp.status_code, resp.body)


# --- the class of inputs: random JSON on every write route, as admin, channel and anonymous ---

WRITE_OPS = [op for op in OPERATIONS if op.method in ("POST", "PUT", "PATCH", "DELETE")]
PATH_VALUES = ["does-not-exist", "x" * 200, "a b", "ü", "..", "-x", "SKU-1", "dc-kassel", "webshop"]


def _field_names() -> list[str]:
    """Every property name of every request model, so random bodies reach past 'unknown
    field' into the fields' own validation."""
    names: set[str] = set()

    def walk(schema: object) -> None:
        if isinstance(schema, dict):
            names.update(schema.get("properties", {}))
            for value in schema.values():
                walk(value)
        elif isinstance(schema, list):
            for value in schema:
                walk(value)

    for op in WRITE_OPS:
        if op.request is not None:
            model = resolve(op.request)  # endpoints may name their model lazily
            schema = (
                model.json_schema() if isinstance(model, TypeAdapter) else model.model_json_schema()
            )
            walk(schema)
    return sorted(names)


FIELDS = _field_names()
ODD_TEXT = st.sampled_from(
    ["", " ", "\u0000", "\u202e", "\ufeff=1", "\uff1dcmd", "x" * 300, "😀" * 70, "DE", "EUR", "1"]
)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**40), max_value=10**40)
    | st.sampled_from([0, -1, 1, 10**12, 10**38, -(10**38), 2**63])
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
    | ODD_TEXT
)
JSON = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=8), children, max_size=6)
    ),
    max_leaves=25,
)
RAW = st.sampled_from(
    [
        "1e400",
        "-1e400",
        "NaN",
        '{"quantity": Infinity}',
        "1" * 5000,
        '"\\ud800"',
        '{"name": "\\udfff", "sku": "\\ud83d"}',
        "\ufeff{}",
        "\x00",
    ]
) | st.integers(min_value=1, max_value=20_000).map(lambda n: "[" * n + "]" * n)
BODIES = JSON.map(json.dumps) | RAW


def _post_random(client, key, data) -> None:
    op = data.draw(st.sampled_from(WRITE_OPS), label="route")
    path = re.sub(r"{\w+}", lambda _: data.draw(st.sampled_from(PATH_VALUES)), op.path)
    body = data.draw(BODIES, label="body")
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    resp = client.http.request(op.method, path, body=body, headers=headers)
    assert resp.status_code < 500, (op.method, path, body[:300], resp.body[:500])
    if resp.status_code >= 400:
        assert json.loads(resp.body)["error"]["code"], resp.body


FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture
def fuzz_keys(client, admin_key, aws):
    shop = make_shop(client, admin_key, aws)
    return {"admin": admin_key, "channel": shop["key"], "anonymous": ""}


@pytest.mark.parametrize("who", ["admin", "channel", "anonymous"])
@FUZZ
@given(data=st.data())
def test_random_json_on_every_write_route_never_draws_a_5xx(client, fuzz_keys, who, data):
    _post_random(client, fuzz_keys[who], data)


# --- the reproductions of issue #14 --------------------------------------------------------


def test_lone_surrogates_are_a_400_not_a_failed_write(client, admin_key):
    body = '{"kind": "webshop", "currencies": ["EUR"], "countries": ["DE"], "name": "\\ud800"}'
    resp = client.http.put(
        "/channels/webshop",
        body=body,
        headers={"Authorization": f"Bearer {admin_key}", "Content-Type": "application/json"},
    )
    assert resp.status_code == 400, resp.body
    assert json.loads(resp.body)["error"]["fields"][0]["path"] == "body"


def test_an_unknown_method_is_a_405_with_allow(client, admin_key):
    for method in ("TRACE", "PATCH"):
        resp = client.http.request(
            method, "/health", headers={"Authorization": f"Bearer {admin_key}"}
        )
        assert resp.status_code == 405, (method, resp.body)
        assert "GET" in resp.headers["Allow"]
