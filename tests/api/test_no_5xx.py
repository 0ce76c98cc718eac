"""Every route, every kind of garbage: a 4xx that names the field, never a 5xx."""

from __future__ import annotations

import json
import re

import pytest

import app  # noqa: F401 - registers every route
from chalicelib.api.http import OPERATIONS

WRITES = sorted({(op.method, op.path) for op in OPERATIONS if op.method in ("POST", "PUT")})
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
