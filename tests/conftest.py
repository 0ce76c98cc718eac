"""Shared fixtures: AWS faked in-process by moto, resources created from infrastructure/."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

for _name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
    os.environ.pop(_name, None)
os.environ.update(
    AWS_DEFAULT_REGION="eu-central-1",
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    POWERTOOLS_METRICS_NAMESPACE="Dirigent",
    POWERTOOLS_LOG_LEVEL="WARNING",
    POWERTOOLS_TRACE_DISABLED="true",
    DIRIGENT_STAGE="test",
    DIRIGENT_TOKEN_SECRET="tests-only-secret-of-at-least-32-bytes",
)

# moto's answers are unchanged (tests/adapters/test_moto_fast.py), only sooner; the local
# server installs it too, so every test worker runs the same moto whichever test came first.
from local import moto_fast  # noqa: E402

moto_fast.apply()


@pytest.fixture
def aws() -> Iterator[Any]:
    """A fresh moto account with every resource of infrastructure/resources.json."""
    from moto import mock_aws

    from chalicelib import wiring
    from infrastructure.create import create_all

    with mock_aws():
        wiring.reset()
        create_all(boto3.session.Session())
        yield boto3.session.Session()
        wiring.reset()


@pytest.fixture
def admin_key(aws: Any) -> str:
    from chalicelib import wiring
    from chalicelib.domain.access import Role

    return wiring.keys().create(Role.ADMIN)["api_key"]


@pytest.fixture
def client(aws: Any) -> Iterator[Any]:
    from chalice.test import Client

    from app import app

    with Client(app, stage_name="local") as test_client:
        yield test_client


@pytest.fixture
def stressed() -> Iterator[None]:
    """Switch threads as often as possible: races that hide at the default interval show."""
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(previous)
