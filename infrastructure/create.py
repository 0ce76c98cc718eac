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


def _resolve(value: Any, params: dict[str, str], arns: dict[str, str]) -> Any:
    """Resolve the few intrinsics the template uses: Fn::Sub of parameters, Ref, Fn::GetAtt Arn."""
    if isinstance(value, dict):
        if "Fn::Sub" in value:
            text = value["Fn::Sub"]
            for name, param in params.items():
                text = text.replace("${" + name + "}", param)
            return text
        if "Ref" in value:
            return params[value["Ref"]]
        if "Fn::GetAtt" in value:
            return arns[value["Fn::GetAtt"][0]]
        return {k: _resolve(v, params, arns) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, params, arns) for v in value]
    return value


def create_all(
    session: Any,
    *,
    prefix: str = "dirigent",
    account_id: str = "123456789012",
    mail_sender: str = "orders@dirigent.example",
) -> dict[str, str]:
    """Create every table, queue, bucket and SES identity; return logical id -> physical name."""
    tpl = load_template()
    params = {"Prefix": prefix, "MailSender": mail_sender, "AWS::AccountId": account_id}
    arns: dict[str, str] = {}
    names: dict[str, str] = {}
    ddb, sqs = session.client("dynamodb"), session.client("sqs")
    s3, ses = session.client("s3"), session.client("ses")
    # Queues first, DLQs before the queues that redrive to them (template order guarantees it).
    for logical, res in tpl["Resources"].items():
        props = _resolve(res.get("Properties", {}), params, arns)
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
            attrs = {
                k: json.dumps(v) if isinstance(v, dict) else str(v)
                for k, v in props.items()
                if k not in ("QueueName", "SqsManagedSseEnabled")
            }
            url = sqs.create_queue(QueueName=props["QueueName"], Attributes=attrs)["QueueUrl"]
            arns[logical] = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
                "Attributes"
            ]["QueueArn"]
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
    return names
