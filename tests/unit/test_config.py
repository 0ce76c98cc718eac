"""The token secret: refused on every stage but local when missing, short or the default; read
from SSM Parameter Store or Secrets Manager when the stage names one; never in an error."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters

from chalicelib import config
from tests.fixtures.templates import merge_template

GOOD = "k3Jx9-QpLr2mVt7wZb4nYc8dHf6gSa1e"  # 32 bytes


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    for name in ("DIRIGENT_TOKEN_SECRET", "DIRIGENT_TOKEN_SECRET_PARAM"):
        monkeypatch.delenv(name, raising=False)
    config.settings.cache_clear()
    parameters.clear_caches()
    yield monkeypatch
    config.settings.cache_clear()
    parameters.clear_caches()


def stage(env: pytest.MonkeyPatch, name: str, **values: str) -> None:
    env.setenv("DIRIGENT_STAGE", name)
    for key, value in values.items():
        env.setenv(key, value)
    config.settings.cache_clear()


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (None, "is not set"),
        ("", "is not set"),
        ("local-only-not-secret", "is the public default"),
        ("x" * 31, "shorter than 32 bytes"),
    ],
)
@pytest.mark.parametrize("name", ["dev", "prod", "test"])
def test_every_stage_but_local_refuses_a_weak_secret_without_showing_it(
    env: pytest.MonkeyPatch, name: str, value: str | None, reason: str
) -> None:
    stage(env, name, **({"DIRIGENT_TOKEN_SECRET": value} if value is not None else {}))
    with pytest.raises(RuntimeError, match=reason) as refused:
        config.token_secret()
    assert name in str(refused.value)
    if value:
        assert value not in str(refused.value)
    with pytest.raises(RuntimeError):
        _ = config.settings().token_secret


def test_the_first_order_service_of_a_misconfigured_stage_fails_to_build(
    env: pytest.MonkeyPatch,
) -> None:
    from chalicelib import wiring

    stage(env, "dev")
    wiring.reset()
    try:
        with pytest.raises(RuntimeError, match="refusing to run stage 'dev'"):
            wiring.ordering()
    finally:
        wiring.reset()


def test_a_long_secret_is_taken_and_is_not_in_the_settings_repr(env: pytest.MonkeyPatch) -> None:
    stage(env, "prod", DIRIGENT_TOKEN_SECRET=GOOD)
    assert config.token_secret() == GOOD.encode()
    assert config.settings().token_secret == GOOD
    assert GOOD not in repr(config.settings())


def test_local_works_without_a_secret(env: pytest.MonkeyPatch) -> None:
    stage(env, "local")
    assert config.token_secret() == b"local-only-not-secret"
    stage(env, "local", DIRIGENT_TOKEN_SECRET="short")
    assert config.token_secret() == b"short"


def test_on_aws_the_secret_comes_from_parameter_store_or_secrets_manager(
    env: pytest.MonkeyPatch,
) -> None:
    from moto import mock_aws

    with mock_aws():
        boto3.client("ssm").put_parameter(
            Name="/dirigent/dev/token-secret", Value=GOOD, Type="SecureString"
        )
        boto3.client("secretsmanager").create_secret(Name="dirigent/prod/token", SecretString=GOOD)
        stage(
            env,
            "dev",
            DIRIGENT_TOKEN_SECRET_PARAM="/dirigent/dev/token-secret",
            DIRIGENT_TOKEN_SECRET="ignored-when-a-parameter-is-named-0000",
        )
        assert config.token_secret() == GOOD.encode()
        stage(env, "prod", DIRIGENT_TOKEN_SECRET_PARAM="secretsmanager:dirigent/prod/token")
        assert config.token_secret() == GOOD.encode()

        boto3.client("ssm").put_parameter(Name="/dirigent/test/weak", Value="x" * 8, Type="String")
        stage(env, "test", DIRIGENT_TOKEN_SECRET_PARAM="/dirigent/test/weak")
        with pytest.raises(RuntimeError, match=r"parameter /dirigent/test/weak.*shorter"):
            config.token_secret()
        stage(env, "test", DIRIGENT_TOKEN_SECRET_PARAM="/dirigent/test/missing")
        with pytest.raises(RuntimeError, match="cannot read the token secret"):
            config.token_secret()


def test_the_deploy_grants_reading_the_stages_parameter(tmp_path: Path) -> None:
    role = merge_template("dev", tmp_path)["Resources"]["APIHandlerRole"]
    statements = role["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    reads = [s for s in statements if s["Action"] == ["ssm:GetParameter"]]
    assert reads and reads[0]["Resource"][0]["Fn::Sub"].endswith(
        ":parameter/dirigent/dev/token-secret"
    )
