"""The deploy template: ``make package`` (chalice package + the generated merge template) gives
a valid CloudFormation/SAM template with partial-batch SQS, DLQs, PITR and least privilege.

The project is packaged from a copy with an empty requirements.txt: the template does not
depend on the wheels, and packaging them would download manylinux wheels on every run.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHALICE = Path(sys.executable).with_name("chalice")


def _run(args: list[str], *, cwd: Path, env: dict[str, str]) -> None:
    result = subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="module", params=["dev", "prod"])
def packaged(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """What ``make package STAGE=<stage>`` runs, into a temporary directory."""
    stage = request.param
    tmp = tmp_path_factory.mktemp(f"package-{stage}")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DIRIGENT_"))}
    env["AWS_DEFAULT_REGION"] = "eu-central-1"
    merge = tmp / "merge.json"
    _run(
        [sys.executable, "-m", "infrastructure.stage", stage, "merge-template", str(merge)],
        cwd=ROOT,
        env=env,
    )
    prefix = subprocess.run(
        [sys.executable, "-m", "infrastructure.stage", stage, "prefix"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    project = tmp / "project"
    ignore = shutil.ignore_patterns("__pycache__", "deployments", "venv")
    shutil.copytree(ROOT / "chalicelib", project / "chalicelib", ignore=ignore)
    shutil.copytree(ROOT / ".chalice", project / ".chalice", ignore=ignore)
    shutil.copy(ROOT / "app.py", project / "app.py")
    (project / "requirements.txt").write_text("")
    _run(
        [
            str(CHALICE),
            "package",
            "--stage",
            stage,
            "--merge-template",
            str(merge),
            str(tmp / "out"),
        ],
        cwd=project,
        env={**env, "DIRIGENT_PREFIX": prefix},
    )
    _run(
        [sys.executable, "-m", "infrastructure.bytecode", str(tmp / "out" / "deployment.zip")],
        cwd=ROOT,
        env=env,
    )
    text = (tmp / "out" / "sam.json").read_text()
    return stage, prefix, text, json.loads(text), tmp / "out"


def _of_type(template: dict[str, Any], kind: str) -> dict[str, Any]:
    return {k: r for k, r in template["Resources"].items() if r.get("Type") == kind}


def test_the_package_ships_bytecode_for_every_module(packaged: Any) -> None:
    *_, out = packaged
    with zipfile.ZipFile(out / "deployment.zip") as z:
        names = set(z.namelist())
    modules = {n for n in names if n.endswith(".py")}
    assert {"app.py", "chalicelib/wiring/warm.py"} <= modules
    tag = sys.implementation.cache_tag
    for module in modules:
        folder, _, name = module.rpartition("/")
        cached = f"{folder}/__pycache__/{name[:-3]}.{tag}.pyc".lstrip("/")
        assert cached in names, module


def test_cfn_lint_finds_nothing(packaged: Any) -> None:
    from cfnlint.api import lint

    _, _, text, _, _ = packaged
    # Errors and warnings, as the cfn-lint CLI reports by default (I-rules are suggestions).
    matches = [m for m in lint(text, regions=["eu-central-1"]) if m.rule.id[0] in "EW"]
    assert [f"{m.rule.id} {m.message}" for m in matches] == []


def test_every_sqs_event_reports_partial_batch_failures(packaged: Any) -> None:
    _, prefix, _, template, _ = packaged
    queue_names = {
        r["Properties"]["QueueName"]["Fn::Sub"].replace("${Prefix}", prefix)
        for r in _of_type(template, "AWS::SQS::Queue").values()
    }
    events = [
        (name, event)
        for name, fn in _of_type(template, "AWS::Serverless::Function").items()
        for event in fn["Properties"].get("Events", {}).values()
        if event["Type"] == "SQS"
    ]
    assert events, "the app consumes at least the warehouse events"
    for name, event in events:
        props = event["Properties"]
        assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"], name
        assert props["Queue"]["Fn::Sub"].rsplit(":", 1)[1] in queue_names, name


def test_every_work_queue_has_a_dlq(packaged: Any) -> None:
    _, _, _, template, _ = packaged
    queues = _of_type(template, "AWS::SQS::Queue")
    targets = {
        q["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
        for q in queues.values()
        if "RedrivePolicy" in q["Properties"]
    }
    assert targets <= queues.keys()
    for name, queue in queues.items():
        if name not in targets:
            assert queue["Properties"]["RedrivePolicy"]["maxReceiveCount"] >= 1, name


def test_tables_are_on_demand_with_point_in_time_recovery(packaged: Any) -> None:
    _, _, _, template, _ = packaged
    tables = _of_type(template, "AWS::DynamoDB::Table")
    assert len(tables) == 4
    for name, table in tables.items():
        props = table["Properties"]
        assert props["BillingMode"] == "PAY_PER_REQUEST", name
        assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"], name
        assert table["DeletionPolicy"] == "Retain", name


def _statements(template: dict[str, Any], function: str) -> list[dict[str, Any]]:
    fn = template["Resources"][function]
    role = fn["Properties"]["Role"]["Fn::GetAtt"][0]
    policies = template["Resources"][role]["Properties"]["Policies"]
    return [s for p in policies for s in p["PolicyDocument"]["Statement"]]


def test_every_function_has_a_least_privilege_role_of_its_own(packaged: Any) -> None:
    _, _, _, template, _ = packaged
    functions = _of_type(template, "AWS::Serverless::Function")
    roles = [fn["Properties"]["Role"]["Fn::GetAtt"][0] for fn in functions.values()]
    assert len(set(roles)) == len(functions)
    assert set(_of_type(template, "AWS::IAM::Role")) == set(roles)
    for name in functions:
        for statement in _statements(template, name):
            actions = statement["Action"]
            assert all(a != "*" and not a.endswith(":*") for a in actions), (name, actions)
            assert "*" not in statement["Resource"], (name, statement)


def test_only_consumers_may_receive_and_only_from_their_queue(packaged: Any) -> None:
    _, _, _, template, _ = packaged
    for name, fn in _of_type(template, "AWS::Serverless::Function").items():
        receive = [
            s["Resource"]
            for s in _statements(template, name)
            if "sqs:ReceiveMessage" in s["Action"]
        ]
        sqs_events = [e for e in fn["Properties"].get("Events", {}).values() if e["Type"] == "SQS"]
        if not sqs_events:
            assert receive == [], name
            continue
        queue = fn["DependsOn"][0]
        assert receive == [[{"Fn::GetAtt": [queue, "Arn"]}]], name


def test_names_follow_the_stage_prefix(packaged: Any) -> None:
    stage, prefix, _, template, _ = packaged
    assert prefix == f"dirigent-{stage}"
    assert template["Parameters"]["Prefix"]["Default"] == prefix
    for fn in _of_type(template, "AWS::Serverless::Function").values():
        env = fn["Properties"]["Environment"]["Variables"]
        assert env["DIRIGENT_PREFIX"] == prefix


def _consumed_queues(template: dict[str, Any]) -> dict[str, str]:
    """SQS-triggered function -> the logical id of its queue."""
    return {
        name: fn["DependsOn"][0]
        for name, fn in _of_type(template, "AWS::Serverless::Function").items()
        if any(e["Type"] == "SQS" for e in fn["Properties"].get("Events", {}).values())
    }


def test_visibility_timeout_is_at_least_six_times_the_function_timeout(packaged: Any) -> None:
    """AWS's advice for SQS event sources: 6x the function's timeout (was 2x)."""
    _, _, _, template, _ = packaged
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    consumed = _consumed_queues(template)
    assert consumed
    for name, queue in consumed.items():
        timeout = template["Resources"][name]["Properties"]["Timeout"]
        assert timeout == config["lambda_timeout"], name
        visibility = template["Resources"][queue]["Properties"]["VisibilityTimeout"]
        assert visibility >= 6 * timeout, (name, queue, visibility, timeout)


def test_every_dlq_has_an_alarm_on_visible_messages_for_the_operator(packaged: Any) -> None:
    _, _, _, template, _ = packaged
    queues = _of_type(template, "AWS::SQS::Queue")
    dlqs = {
        q["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
        for q in queues.values()
        if "RedrivePolicy" in q["Properties"]
    }
    alarmed = {}
    for name, alarm in _of_type(template, "AWS::CloudWatch::Alarm").items():
        props = alarm["Properties"]
        (dimension,) = props["Dimensions"]
        assert (props["MetricName"], props["ComparisonOperator"], props["Threshold"]) == (
            "ApproximateNumberOfMessagesVisible",
            "GreaterThanThreshold",
            0,
        ), name
        assert props["AlarmActions"] == [{"Ref": "AlarmTopic"}], name
        alarmed[dimension["Value"]["Fn::GetAtt"][0]] = name
    assert set(alarmed) == dlqs and len(dlqs) == 4
    assert template["Resources"]["AlarmTopic"]["Type"] == "AWS::SNS::Topic"
    assert template["Resources"]["AlarmEmailSubscription"]["Condition"] == "HasAlarmEmail"
