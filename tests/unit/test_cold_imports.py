"""``import app`` is what every cold Lambda pays, so it loads no AWS SDK, no consumer and no
route-only dependency: those load when the route, consumer or schedule that needs them runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Each entry names a module (or a package: its submodules count too) that ``import app`` must
# not load; the comment says who loads it instead.
NOT_AT_IMPORT = [
    "boto3",  # wiring, with the first client
    "botocore.client",
    "botocore.exceptions",  # an adapter, or http's error mapping once an AWS call was made
    "s3transfer",
    "jinja2",  # the mail templates, with the first mail
    "aws_lambda_powertools.utilities.batch",  # consumers.batch
    "aws_lambda_powertools.utilities.idempotency",
    "chalicelib.adapters",
    "chalicelib.consumers.batch",
    "chalicelib.consumers.order_events",
    "chalicelib.consumers.warehouse_events",
    "chalicelib.services.importer",  # POST /imports
    "chalicelib.services.ordering",  # the first quote or order
    "chalicelib.services.returns",
    "chalicelib.services.alerts",
    "chalicelib.services.reports",
    "chalicelib.domain.sourcing",  # the first quote, order or checkout reservation
    "holidays",  # the first date computation
    "email_validator",  # the first model with an e-mail address validates
    "babel",  # the first customer mail, or a channel's locale validates
    # pydantic models: each view imports its own on its first call, GET /openapi.json all
    *[
        f"chalicelib.api.models.{name}"
        for name in (
            "alerts",
            "availability",
            "carriers",
            "common",
            "connectors",
            "dashboard",
            "exports",
            "feeds",
            "orders",
            "products",
            "purchase_orders",
            "reports",
            "reservations",
            "returns",
            "rules",
            "stock",
            "system",
            "tracking",
            "webhooks",
        )
    ],
    "chalicelib.domain.order.changes",  # POST /orders/{order_id}/holds/{kind}/release
]


@pytest.fixture(scope="module")
def loaded() -> set[str]:
    """The modules a fresh interpreter holds after ``import app``."""
    env = {**os.environ, "DIRIGENT_STAGE": "test", "AWS_DEFAULT_REGION": "eu-central-1"}
    out = subprocess.run(
        [sys.executable, "-c", "import app, json, sys; print(json.dumps(sorted(sys.modules)))"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize("module", NOT_AT_IMPORT)
def test_import_app_does_not_load(loaded: set[str], module: str) -> None:
    eager = sorted(m for m in loaded if m == module or m.startswith(module + "."))
    assert not eager, f"import app loads {eager[:5]}: import it where it is used"


def test_import_app_registers_the_routes_and_handlers(loaded: set[str]) -> None:
    assert {"app", "chalicelib.api.orders", "chalicelib.consumers.schedules"} <= loaded


def test_every_model_an_endpoint_names_resolves() -> None:
    """Endpoints name their models lazily (``"orders:OrderView"``): each name must import."""
    from pydantic import BaseModel, TypeAdapter

    import app  # noqa: F401 - registers the endpoints
    from chalicelib.api.http import OPERATIONS
    from chalicelib.api.openapi import resolve

    named = [(op.path, m) for op in OPERATIONS for m in (op.request, op.response) if m]
    assert any(isinstance(m, str) for _, m in named)
    for path, model in named:
        found = resolve(model)
        assert isinstance(found, TypeAdapter) or issubclass(found, BaseModel), (path, model)
