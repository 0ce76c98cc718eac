"""Create the resources of ``resources.json`` (the template that also deploys) on any endpoint:
the local stack and the tests use this against moto, so local and AWS share one definition."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

TEMPLATE = Path(__file__).with_name("resources.json")
TABLE_KEYS = (
    "TableName",
    "AttributeDefinitions",
    "KeySchema",
    "GlobalSecondaryIndexes",
    "BillingMode",
)


def load_template() -> dict[str, Any]:
    return json.loads(TEMPLATE.read_text())


def _resolve(value: Any, params: dict[str, str], attrs: dict[str, dict[str, str]]) -> Any:
    """Resolve the few intrinsics the template uses: Fn::Sub of parameters, Ref (of a
    parameter or a created resource), Fn::GetAtt of a created resource."""
    if isinstance(value, dict):
        if "Fn::Sub" in value:
            text = value["Fn::Sub"]
            for name, param in params.items():
                text = text.replace("${" + name + "}", param)
            return text
        if "Ref" in value:
            return params[value["Ref"]]
        if "Fn::GetAtt" in value:
            logical, attribute = value["Fn::GetAtt"]
            return attrs[logical][attribute]
        return {k: _resolve(v, params, attrs) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, params, attrs) for v in value]
    return value


def create_all(
    session: Any,
    *,
    prefix: str = "dirigent",
    account_id: str = "123456789012",
    mail_sender: str = "orders@dirigent.example",
) -> dict[str, str]:
    """Create every table, queue, bucket, SES identity, alarm topic and alarm; return logical
    id -> physical name. Conditional resources (the alarm mail subscription) are left out."""
    tpl = load_template()
    params = {"Prefix": prefix, "MailSender": mail_sender, "AWS::AccountId": account_id}
    attrs: dict[str, dict[str, str]] = {}
    names: dict[str, str] = {}
    ddb, sqs = session.client("dynamodb"), session.client("sqs")
    s3, ses = session.client("s3"), session.client("ses")
    # In template order: what a resource refers to comes before it (DLQs before their queues,
    # the topic before the alarms).
    for logical, res in tpl["Resources"].items():
        if "Condition" in res:
            continue
        props = _resolve(res.get("Properties", {}), params, attrs)
        kind = res["Type"]
        if kind == "AWS::DynamoDB::Table":
            ddb.create_table(**{k: props[k] for k in TABLE_KEYS if k in props})
            if "TimeToLiveSpecification" in props:
                ddb.update_time_to_live(
                    TableName=props["TableName"],
                    TimeToLiveSpecification=props["TimeToLiveSpecification"],
                )
            names[logical] = props["TableName"]
        elif kind == "AWS::SQS::Queue":
            queue_attrs = {
                k: json.dumps(v) if isinstance(v, dict) else str(v)
                for k, v in props.items()
                if k not in ("QueueName", "SqsManagedSseEnabled")
            }
            url = sqs.create_queue(QueueName=props["QueueName"], Attributes=queue_attrs)["QueueUrl"]
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
                "QueueArn"
            ]
            attrs[logical] = {"Arn": arn, "QueueName": props["QueueName"]}
            names[logical] = props["QueueName"]
        elif kind == "AWS::S3::Bucket":
            bucket: dict[str, Any] = {"Bucket": props["BucketName"]}
            if session.region_name != "us-east-1":
                bucket["CreateBucketConfiguration"] = {"LocationConstraint": session.region_name}
            s3.create_bucket(**bucket)
            names[logical] = props["BucketName"]
        elif kind == "AWS::SES::EmailIdentity":
            ses.verify_email_identity(EmailAddress=props["EmailIdentity"])
            names[logical] = props["EmailIdentity"]
        elif kind == "AWS::SNS::Topic":
            topic = session.client("sns").create_topic(Name=props["TopicName"])
            params[logical] = topic["TopicArn"]  # what Ref of a topic gives
            names[logical] = props["TopicName"]
        elif kind == "AWS::CloudWatch::Alarm":
            session.client("cloudwatch").put_metric_alarm(**props)
            names[logical] = props["AlarmName"]
    return names
