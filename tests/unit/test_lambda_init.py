"""A Lambda's init builds what its function's first event needs (chalicelib/wiring/warm.py):
the first event loads no module and makes no AWS call a warm one would not; priming botocore
sends nothing; outside Lambda nothing is built."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import app as app_module
from chalicelib import wiring
from chalicelib.wiring import warm

ROOT = Path(__file__).resolve().parents[2]

# A fresh interpreter as a Lambda: tables and a channel key exist, then the function initialises
# (``import app`` with ``_HANDLER`` set) and takes two quotes. It prints what each step loaded
# and which AWS operations reached moto.
FIRST_EVENT = r"""
import json, os, sys
from moto import mock_aws
from moto.core.botocore_stubber import BotocoreStubber
sent = []
_answer = BotocoreStubber.__call__
def _counted(stub, event_name, request, **kwargs):
    body = request.body or b""
    body = body if isinstance(body, bytes) else body.encode()
    if b"dirigent-primed-never-created" not in body:  # the prime answered it already
        sent.append(event_name.rpartition(".")[2])
    return _answer(stub, event_name, request, **kwargs)
BotocoreStubber.__call__ = _counted
with mock_aws():
    import boto3
    from chalicelib import wiring
    from chalicelib.domain.access import Role
    from chalicelib.domain.catalog import Kind
    from infrastructure.create import create_all
    create_all(boto3.session.Session())
    channel = {"channel": "web", "kind": "webshop", "currencies": ["EUR"], "countries": ["DE"]}
    wiring.catalog_service().put(Kind.CHANNEL, "web", channel)
    key = wiring.keys().create(Role.CHANNEL, "web")["api_key"]
    wiring.keys().resolve(key)
    wiring.reset()
    for name in [m for m in sys.modules if m.split(".")[0] in ("chalicelib", "app")]:
        del sys.modules[name]
    os.environ["_HANDLER"] = "app.app"
    sent.clear()
    from app import app
    from chalice.test import Client
    report = {"init_sent": list(sent)}
    cart = {"currency": "EUR", "lines": [{"sku": "NOPE-1", "quantity": 1}],
            "ship_to": {"country": "DE", "postal_code": "10115", "city": "Berlin"}}
    headers = {"authorization": "Bearer " + key, "content-type": "application/json"}
    with Client(app, stage_name="local") as client:
        for call in ("first", "second"):
            before, sent[:] = set(sys.modules), []
            status = client.http.post("/delivery-options", body=json.dumps(cart),
                                      headers=headers).status_code
            report[call] = {"status": status, "sent": list(sent),
                            "loaded": sorted(set(sys.modules) - before)}
print(json.dumps(report))
"""


@pytest.fixture(scope="module")
def first_event() -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if k not in ("_HANDLER", "AWS_ENDPOINT_URL")}
    out = subprocess.run(
        [sys.executable, "-c", FIRST_EVENT],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    report: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return report


def test_every_prepared_function_is_a_function_of_the_app() -> None:
    for name in warm.FUNCTIONS:
        assert name == "app" or callable(getattr(app_module, name, None)), name
    for plan in warm.FUNCTIONS.values():
        assert all(callable(getattr(wiring, factory, None)) for factory in plan.factories)


def test_the_init_reads_only_the_cached_catalog(first_event: dict[str, Any]) -> None:
    assert first_event["init_sent"] and set(first_event["init_sent"]) == {"Query"}


def test_the_first_quote_loads_nothing_and_calls_what_a_warm_one_does_plus_the_key(
    first_event: dict[str, Any],
) -> None:
    first, second = first_event["first"], first_event["second"]
    assert first["status"] == second["status"] == 422  # the unknown SKU, named
    assert first["loaded"] == []
    assert sorted(first["sent"]) == sorted([*second["sent"], "GetItem"])  # the key, once


def test_priming_sends_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """With the endpoint at a closed port, a request that left the process would fail."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    wiring.reset()
    try:
        warm.prime()
    finally:
        wiring.reset()


def test_outside_lambda_nothing_is_built() -> None:
    wiring.reset()
    assert warm.prepare(None) is None
    assert warm.prepare("app.amazon_poll") is None  # a function with no plan
    assert wiring.dynamodb.cache_info().currsize == 0
