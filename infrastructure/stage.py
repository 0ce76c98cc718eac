"""Stage settings for deploying, and the merge template that makes the packaged stack
least-privilege and partial-batch aware.

    python -m infrastructure.stage dev prefix                 # DIRIGENT_PREFIX of the stage
    python -m infrastructure.stage dev merge-template OUT     # resources.json + per-function IAM

Why a generated merge template: Chalice gives every function one shared role with SQS actions
on ``*``, and cannot set ``FunctionResponseTypes`` (aws/chalice#2029). ``chalice package
--merge-template`` deep-merges a template into its own, so this module writes resources.json
(the tables, queues and DLQs the local stack also creates) plus, for every handler the app
registers, a role of its own whose statements name the tables and queues by ``Fn::GetAtt``,
and an override of the function's ``Role`` and SQS event (``ReportBatchItemFailures``, and a
``DependsOn`` on its queue). The stage config turns off Chalice's own role
(``manage_iam_role: false``); its placeholder ``iam_role_arn`` is always replaced here. New
handlers are picked up from the app, so nothing here lists them by hand.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from infrastructure.create import load_template

ROOT = Path(__file__).resolve().parents[1]
CHALICE_CONFIG = ROOT / ".chalice" / "config.json"

_DYNAMODB = [
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:Query",
    "dynamodb:Scan",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:ConditionCheckItem",
    "dynamodb:DescribeTable",
]
_SEND = ["sqs:SendMessage", "sqs:GetQueueUrl", "sqs:GetQueueAttributes"]
_CONSUME = [
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibility",
    "sqs:GetQueueAttributes",
]
_DEPTH = ["sqs:GetQueueUrl", "sqs:GetQueueAttributes"]
_SES = ["ses:SendRawEmail"]
_EXPORTS = ["s3:PutObject", "s3:GetObject"]


def stage_prefix(stage: str) -> str:
    config = json.loads(CHALICE_CONFIG.read_text())
    env = config["stages"][stage].get("environment_variables", {})
    return str(env.get("DIRIGENT_PREFIX", "dirigent"))


def use_stage(parser: Any, stage: str, *table_variables: str) -> None:
    """Point this process's settings at ``stage``'s resources (for the command-line tools
    that work on a deployed stage's tables): ``parser.error`` for an unknown stage; the table
    variables named are dropped, so the stage's own tables are used whatever the shell set."""
    try:
        prefix = stage_prefix(stage)
    except KeyError:
        parser.error(f"unknown stage {stage!r}")
    os.environ.update(DIRIGENT_STAGE=stage, DIRIGENT_PREFIX=prefix)
    for name in table_variables:
        os.environ.pop(name, None)


def merge_template(stage: str) -> dict[str, Any]:
    """resources.json for ``stage`` plus a role and overrides per function of the app."""
    os.environ["DIRIGENT_PREFIX"] = stage_prefix(stage)  # queue names are read at import
    from chalice.app import ScheduledEventConfig, SQSEventConfig
    from chalice.utils import to_cfn_resource_name

    from app import app

    template = load_template()
    template["Parameters"]["Prefix"]["Default"] = stage_prefix(stage)
    resources = template["Resources"]
    queues = _queues_by_name(resources, stage_prefix(stage))
    dlqs = [_arn(q) for name, q in queues.items() if name.endswith("-dlq")]
    functions: dict[str, list[dict[str, Any]]] = {
        "APIHandler": [*_common(resources, queues), _allow(_DEPTH, *dlqs)]  # the dashboard
    }
    for source in app.event_sources:
        name = to_cfn_resource_name(source.name)
        if isinstance(source, SQSEventConfig):
            queue = queues[source.queue or ""]
            functions[name] = [*_common(resources, queues), _allow(_CONSUME, _arn(queue))]
            resources[name] = _function(name)
            # The mapping names its queue by an ARN string: wait for the queue explicitly.
            resources[name]["DependsOn"] = [queue]
            resources[name]["Properties"]["Events"] = {
                f"{name}SqsEventSource": {
                    "Properties": {"FunctionResponseTypes": ["ReportBatchItemFailures"]}
                }
            }
        elif isinstance(source, ScheduledEventConfig):
            functions[name] = _common(resources, queues)
    for name, statements in functions.items():
        resources.setdefault(name, _function(name))
        resources[f"{name}Role"] = _role(name, [*statements, *_secret_access(stage)])
    resources["RestAPI"] = {"Properties": {"MethodSettings": [STAGE_THROTTLE]}}
    return template


# The whole API's ceiling (requests a second, and the burst above it); the app adds limits per
# key and per source address (chalicelib/domain/throttle.py).
STAGE_THROTTLE = {
    "ResourcePath": "/*",
    "HttpMethod": "*",
    "ThrottlingRateLimit": 500,
    "ThrottlingBurstLimit": 1000,
}


def _queues_by_name(resources: dict[str, Any], prefix: str) -> dict[str, str]:
    """Queue name (as the app sees it) -> logical id."""
    return {
        res["Properties"]["QueueName"]["Fn::Sub"].replace("${Prefix}", prefix): logical
        for logical, res in resources.items()
        if res.get("Type") == "AWS::SQS::Queue"
    }


def _common(resources: dict[str, Any], queues: dict[str, str]) -> list[dict[str, Any]]:
    """What every handler may do: its logs, the tables and their indexes, sending to the
    work queues (and per-location ``<prefix>-fulfilment*`` queues), mail, exports."""
    tables = [k for k, r in resources.items() if r.get("Type") == "AWS::DynamoDB::Table"]
    work = [q for name, q in queues.items() if not name.endswith("-dlq")]
    sub = "arn:${AWS::Partition}"
    ses_identity = f"{sub}:ses:${{AWS::Region}}:${{AWS::AccountId}}:identity/"
    return [
        _allow(
            ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
            {"Fn::Sub": f"{sub}:logs:${{AWS::Region}}:${{AWS::AccountId}}:log-group:/aws/lambda/*"},
        ),
        _allow(
            _DYNAMODB,
            *[_arn(t) for t in tables],
            *[{"Fn::Sub": f"${{{t}.Arn}}/index/*"} for t in tables],
        ),
        _allow(
            _SEND,
            *[_arn(q) for q in work],
            {"Fn::Sub": f"{sub}:sqs:${{AWS::Region}}:${{AWS::AccountId}}:${{Prefix}}-fulfilment*"},
        ),
        _allow(
            _SES,
            {"Fn::Sub": ses_identity + "${MailSender}"},
            {"Fn::Sub": [ses_identity + "${Domain}", {"Domain": _mail_domain()}]},
        ),
        _allow(_EXPORTS, {"Fn::Sub": "${ExportsBucket.Arn}/*"}),
    ]


def _secret_access(stage: str) -> list[dict[str, Any]]:
    """Reading the token secret the stage names (DIRIGENT_TOKEN_SECRET_PARAM, see config.py)."""
    config = json.loads(CHALICE_CONFIG.read_text())
    env = config["stages"][stage].get("environment_variables", {})
    param = str(env.get("DIRIGENT_TOKEN_SECRET_PARAM", ""))
    account = "${AWS::Region}:${AWS::AccountId}"
    if param.startswith("secretsmanager:"):
        name = param.removeprefix("secretsmanager:")
        arn = f"arn:${{AWS::Partition}}:secretsmanager:{account}:secret:{name}-*"
        return [_allow(["secretsmanager:GetSecretValue"], {"Fn::Sub": arn})]
    if param:
        arn = f"arn:${{AWS::Partition}}:ssm:{account}:parameter/{param.lstrip('/')}"
        return [_allow(["ssm:GetParameter"], {"Fn::Sub": arn})]
    return []


def _mail_domain() -> dict[str, Any]:
    return {"Fn::Select": [1, {"Fn::Split": ["@", {"Ref": "MailSender"}]}]}


def _arn(logical: str) -> dict[str, Any]:
    return {"Fn::GetAtt": [logical, "Arn"]}


def _allow(actions: list[str], *resources: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": actions, "Resource": list(resources)}


def _function(name: str) -> dict[str, Any]:
    return {"Properties": {"Role": _arn(f"{name}Role")}}


def _role(name: str, statements: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "AssumeRolePolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "lambda.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            },
            "Policies": [
                {
                    "PolicyName": f"{name}Policy",
                    "PolicyDocument": {"Version": "2012-10-17", "Statement": statements},
                }
            ],
        },
    }


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[1] not in ("prefix", "merge-template"):
        print(__doc__, file=sys.stderr)
        return 2
    stage, command = argv[0], argv[1]
    if command == "prefix":
        print(stage_prefix(stage))
        return 0
    out = Path(argv[2])
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(merge_template(stage), indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
