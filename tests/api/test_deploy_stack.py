"""The deploy proven on a CloudFormation engine: the template ``make package`` writes is turned
into plain CloudFormation offline (aws-sam-translator, as ``aws cloudformation deploy`` does
server-side) and created as a stack on moto's CloudFormation; what the stack made exists as
declared: tables with their indexes, queues with their DLQs and alarms, the roles, and the
event source mappings with ``ReportBatchItemFailures``.

Where moto's CloudFormation stops short, said here: it cannot import a REST API from an OpenAPI
body (so API Gateway and what names it are left out; cfn-lint checks them in
test_packaging.py), and it has no ``AWS::CloudWatch::Alarm`` (nor SES identities, SNS
subscriptions): each declared alarm is resolved against the created stack (its queue and
topic must be the stack's) and put as declared.
"""

from __future__ import annotations

import json
import re
from typing import Any

import boto3
import pytest
from moto import mock_aws
from samtranslator.translator.transform import transform

from tests.api.test_packaging import packaged  # noqa: F401 - the module-scoped fixture

REGION = "eu-central-1"
BUCKET = "dirigent-artifacts"
UNSUPPORTED = ("AWS::CloudWatch::Alarm", "AWS::SES::EmailIdentity", "AWS::SNS::Subscription")


class _NoManagedPolicies:
    """The translator looks up managed policy names only for ``Policies``; every function here
    has a role of its own."""

    def load(self) -> dict[str, str]:
        return {}


def _names(node: Any) -> set[str]:
    """Logical ids that ``node`` refers to (Ref, Fn::GetAtt, ${X} in Fn::Sub)."""
    found: set[str] = set()
    if isinstance(node, dict):
        found |= {node["Ref"]} if isinstance(node.get("Ref"), str) else set()
        found |= {node["Fn::GetAtt"][0]} if "Fn::GetAtt" in node else set()
        if "Fn::Sub" in node:
            sub = node["Fn::Sub"]
            text = sub if isinstance(sub, str) else sub[0]
            found |= {m.split(".")[0] for m in re.findall(r"\$\{([^}!]+)\}", text)}
        for value in node.values():
            found |= _names(value)
    elif isinstance(node, list):
        for value in node:
            found |= _names(value)
    return found


def _for_moto(cfn: dict[str, Any]) -> dict[str, Any]:
    """``cfn`` without API Gateway and what refers to it (see the module docstring)."""
    drop = {k for k, r in cfn["Resources"].items() if r["Type"].startswith("AWS::ApiGateway::")}
    while more := {
        k
        for k, r in cfn["Resources"].items()
        if k not in drop and (_names(r) | set(r.get("DependsOn", []))) & drop
    }:
        drop |= more
    assert drop <= {k for k in cfn["Resources"] if k.startswith(("RestAPI", "APIHandlerInvoke"))}
    return {
        **cfn,
        "Resources": {k: r for k, r in cfn["Resources"].items() if k not in drop},
        "Outputs": {k: o for k, o in cfn.get("Outputs", {}).items() if not _names(o) & drop},
    }


@pytest.fixture(scope="module")
def stack(packaged: Any) -> Any:  # noqa: F811 - the fixture imported above
    stage, prefix, _, sam, out = packaged
    for fn in _of_type(sam, "AWS::Serverless::Function").values():
        fn["Properties"]["CodeUri"] = f"s3://{BUCKET}/deployment.zip"  # cloudformation package
    cfn = transform(sam, {}, _NoManagedPolicies())
    assert not [r for r in cfn["Resources"].values() if r["Type"].startswith("AWS::Serverless")]
    with mock_aws():
        session = boto3.session.Session(region_name=REGION)
        s3 = session.client("s3")
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        s3.put_object(
            Bucket=BUCKET, Key="deployment.zip", Body=(out / "deployment.zip").read_bytes()
        )
        cf = session.client("cloudformation")
        name = f"dirigent-{stage}"
        cf.create_stack(
            StackName=name,
            TemplateBody=json.dumps(_for_moto(cfn)),
            Capabilities=["CAPABILITY_IAM"],
            Parameters=[{"ParameterKey": "AlarmEmail", "ParameterValue": "ops@example.com"}],
        )
        (status,) = [s["StackStatus"] for s in cf.describe_stacks(StackName=name)["Stacks"]]
        assert status == "CREATE_COMPLETE"
        summaries = cf.list_stack_resources(StackName=name)["StackResourceSummaries"]
        physical = {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in summaries}
        yield session, cfn, physical, prefix


def _of_type(template: dict[str, Any], kind: str) -> dict[str, Any]:
    return {k: r for k, r in template["Resources"].items() if r.get("Type") == kind}


def test_every_supported_resource_was_created(stack: Any) -> None:
    _, cfn, physical, _ = stack
    declared = {k for k, r in _for_moto(cfn)["Resources"].items() if r["Type"] not in UNSUPPORTED}
    assert declared <= set(physical)


def test_the_tables_exist_with_their_keys_and_indexes(stack: Any) -> None:
    session, cfn, physical, prefix = stack
    ddb = session.client("dynamodb")
    tables = _of_type(cfn, "AWS::DynamoDB::Table")
    assert len(tables) == 4
    for logical, table in tables.items():
        props = table["Properties"]
        made = ddb.describe_table(TableName=physical[logical])["Table"]
        assert made["TableName"] == props["TableName"]["Fn::Sub"].replace("${Prefix}", prefix)
        assert made["KeySchema"] == props["KeySchema"], logical
        declared = {i["IndexName"]: i["KeySchema"] for i in props.get("GlobalSecondaryIndexes", [])}
        assert {i["IndexName"]: i["KeySchema"] for i in made.get("GlobalSecondaryIndexes", [])} == (
            declared
        ), logical


def test_the_queues_exist_with_their_dlqs_and_timeouts(stack: Any) -> None:
    session, cfn, physical, _ = stack
    sqs = session.client("sqs")
    for logical, queue in _of_type(cfn, "AWS::SQS::Queue").items():
        attrs = sqs.get_queue_attributes(QueueUrl=physical[logical], AttributeNames=["All"])[
            "Attributes"
        ]
        props = queue["Properties"]
        if "VisibilityTimeout" in props:
            assert int(attrs["VisibilityTimeout"]) == props["VisibilityTimeout"], logical
        if "RedrivePolicy" in props:
            policy = json.loads(attrs["RedrivePolicy"])
            dlq = props["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
            dlq_arn = sqs.get_queue_attributes(QueueUrl=physical[dlq], AttributeNames=["QueueArn"])[
                "Attributes"
            ]["QueueArn"]
            assert policy["deadLetterTargetArn"] == dlq_arn, logical
            assert int(policy["maxReceiveCount"]) == props["RedrivePolicy"]["maxReceiveCount"]


def test_each_function_runs_under_its_own_role(stack: Any) -> None:
    session, cfn, physical, _ = stack
    iam, lam = session.client("iam"), session.client("lambda")
    functions = _of_type(cfn, "AWS::Lambda::Function")
    assert len(functions) == 12  # the API, 3 consumers, 8 schedules (amazon_poll, network_values)
    for logical, fn in functions.items():
        role = fn["Properties"]["Role"]["Fn::GetAtt"][0]
        made = iam.get_role(RoleName=physical[role])["Role"]
        config = lam.get_function_configuration(FunctionName=physical[logical])
        assert config["Role"] == made["Arn"], logical
        declared = {p["PolicyName"] for p in cfn["Resources"][role]["Properties"]["Policies"]}
        assert set(iam.list_role_policies(RoleName=physical[role])["PolicyNames"]) == declared


def test_the_event_source_mappings_report_partial_batch_failures(stack: Any) -> None:
    session, cfn, _, _ = stack
    lam, sqs = session.client("lambda"), session.client("sqs")
    mappings = lam.list_event_source_mappings()["EventSourceMappings"]
    declared = _of_type(cfn, "AWS::Lambda::EventSourceMapping")
    assert len(mappings) == len(declared) == 3
    for mapping in mappings:
        assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        config = lam.get_function_configuration(FunctionName=mapping["FunctionArn"])
        queue = mapping["EventSourceArn"].rsplit(":", 1)[1]
        url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
        visibility = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout"])
        assert int(visibility["Attributes"]["VisibilityTimeout"]) >= 6 * config["Timeout"]


def test_every_dlq_alarm_resolves_to_the_stacks_dlq_and_topic(stack: Any) -> None:
    session, cfn, physical, _ = stack
    sns = session.client("sns")
    cloudwatch = session.client("cloudwatch")
    topics = {t["TopicArn"] for t in sns.list_topics()["Topics"]}
    dlqs = {
        q["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
        for q in _of_type(cfn, "AWS::SQS::Queue").values()
        if "RedrivePolicy" in q["Properties"]
    }
    alarms = _of_type(cfn, "AWS::CloudWatch::Alarm")
    for alarm in alarms.values():
        props = alarm["Properties"]
        (dimension,) = props["Dimensions"]
        queue, attribute = dimension["Value"]["Fn::GetAtt"]
        assert queue in dlqs and attribute == "QueueName"
        queue_name = physical[queue].rsplit("/", 1)[1]
        (topic,) = [physical[action["Ref"]] for action in props["AlarmActions"]]
        assert topic in topics
        put = {
            k: v
            for k, v in props.items()
            if k not in ("AlarmName", "AlarmDescription", "Dimensions", "AlarmActions", "OKActions")
        }
        cloudwatch.put_metric_alarm(
            AlarmName=f"{queue_name}-not-empty",
            Dimensions=[{"Name": "QueueName", "Value": queue_name}],
            AlarmActions=[topic],
            **put,
        )
    assert {a["Dimensions"][0]["Value"] for a in cloudwatch.describe_alarms()["MetricAlarms"]} == {
        physical[q].rsplit("/", 1)[1] for q in dlqs
    }
