"""A bounded ``make fuzz``: schemathesis over the local stack's ``/openapi.json``, as admin and as
a channel, a few examples per operation; no answer may be a server error."""

from __future__ import annotations

import re
from typing import Any

import pytest

from local.fuzz import schemathesis

pytestmark = pytest.mark.e2e

# The coverage phase alone takes minutes on two cores: ``make fuzz`` runs it, CI does not.
PHASES = "examples,fuzzing,stateful"
EXAMPLES = 3


@pytest.fixture(scope="module")
def channel_key(local_stack: Any) -> str:
    http, api = local_stack.http, local_stack.api_url
    body = {"kind": "webshop", "currencies": ["EUR"], "countries": ["DE"]}
    resp = http.put(f"{api}/channels/fuzzshop", json=body, headers=local_stack.auth())
    assert resp.status_code in (200, 201), resp.text
    resp = http.post(
        f"{api}/api-keys",
        json={"role": "channel", "channel": "fuzzshop"},
        headers=local_stack.auth(),
    )
    assert resp.status_code == 201, resp.text
    return str(resp.json()["api_key"])


@pytest.mark.parametrize("who", ["admin", "channel"])
def test_no_generated_request_draws_a_server_error(local_stack, channel_key, who, tmp_path):
    key = local_stack.admin_key if who == "admin" else channel_key
    report = tmp_path / "junit.xml"
    result = schemathesis(
        local_stack.api_url,
        key,
        max_examples=EXAMPLES,
        phases=PHASES,
        seed=14,
        report=report,
        extra=["--request-timeout", "30"],
    )
    output = result.stdout + result.stderr
    assert re.search(r"\d+ generated", output), output[-3000:]
    # Only the one check runs: any failure it reports is a 5xx (network errors are not).
    failures = re.findall(r"<failure[^>]*>", report.read_text()) if report.exists() else []
    assert "Server error" not in output and failures == [], output[-6000:]
    assert local_stack.http.get(f"{local_stack.api_url}/health").status_code == 200  # still up
