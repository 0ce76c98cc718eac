"""Rate limits at the edge: guessing keys or tracking tokens is slowed to a trickle (429 with
``Retry-After``), and one API key can't run away with the API."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import pytest

from chalicelib import wiring
from chalicelib.domain.throttle import Buckets
from tests.api.seed import auth
from tests.fixtures.templates import merge_template


def test_guessing_api_keys_is_answered_429_after_a_few_tries(client, admin_key):
    """Reproduction: 300 random keys drew no 429."""
    statuses = [
        client.http.get("/orders", headers=auth(f"dg_{secrets.token_hex(6)}_x")).status_code
        for _ in range(300)
    ]
    assert set(statuses[:30]) == {401}
    assert statuses[-1] == 429 and statuses.count(429) >= 250
    resp = client.http.get("/orders", headers=auth(admin_key))
    assert resp.status_code == 429  # from this address, for a while, whatever the key
    assert int(resp.headers["Retry-After"]) >= 1
    assert json.loads(resp.body)["error"]["code"] == "too_many_requests"


def test_guessing_tracking_tokens_is_answered_429(client, admin_key):
    """Reproduction: 1,000 random tokens drew no 429."""
    statuses = [
        client.http.get(f"/track/o_0123456789abcdef?token={secrets.token_hex(16)}").status_code
        for _ in range(100)
    ]
    assert set(statuses[:30]) == {404} and statuses[-1] == 429


def test_one_key_over_its_rate_is_answered_429(client, admin_key, monkeypatch):
    monkeypatch.setenv("RATE_LIMIT_PER_KEY", "0.01")
    monkeypatch.setenv("RATE_LIMIT_BURST_PER_KEY", "5")
    wiring.reset()
    statuses = [client.http.get("/orders", headers=auth(admin_key)).status_code for _ in range(7)]
    assert statuses == [200] * 5 + [429] * 2


def test_a_bucket_refills_at_its_rate_and_keys_are_apart():
    now = [0.0]
    buckets = Buckets(2.0, 3, clock=lambda: now[0])
    assert [buckets.take("a") for _ in range(3)] == [0, 0, 0]
    assert buckets.take("a") == pytest.approx(0.5) and buckets.take("b") == 0
    now[0] = 0.5
    assert buckets.wait("a") == 0 and buckets.take("a") == 0 and buckets.wait("a") > 0
    now[0] = 100.0
    assert [buckets.take("a") for _ in range(4)][:3] == [0, 0, 0]  # never above the burst


def test_the_deploy_throttles_the_whole_stage(tmp_path: Path) -> None:
    api: Any = merge_template("dev", tmp_path)["Resources"]["RestAPI"]
    (settings,) = api["Properties"]["MethodSettings"]
    assert settings["ThrottlingRateLimit"] > 0 and settings["ThrottlingBurstLimit"] > 0
