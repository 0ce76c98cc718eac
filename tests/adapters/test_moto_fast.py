"""``local.moto_fast``: moto answers every DynamoDB and SQS request exactly as without it.

Each scenario runs twice on fresh moto state, with moto's own code and with the shortcuts, and
the whole answers (parsed by botocore, as the app sees them; errors with their response) must
be equal; the values cover every AttributeValue type, nested and empty; the queries cover
partitions, an index (sparse), pages, both directions, key conditions and filters."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.core.serialize import JSONSerializer
from moto.dynamodb.models.table import Table
from moto.dynamodb.parsing import validators
from moto.dynamodb.parsing.expressions import UpdateExpressionParser
from moto.sqs.models import Queue, SQSBackend

from local import moto_fast

ITEM: dict[str, Any] = {
    "pk": {"S": "ORDER#1"},
    "sk": {"S": "ORDER"},
    "empty": {"S": ""},
    "unicode": {"S": "Zürich — 東京 ✓"},
    "int": {"N": "42"},
    "neg": {"N": "-0.000123"},
    "big": {"N": "123456789012345678901234567890"},
    "bin": {"B": b"\x00\xffbytes"},
    "yes": {"BOOL": True},
    "no": {"BOOL": False},
    "nothing": {"NULL": True},
    "ss": {"SS": ["a", "b"]},
    "ns": {"NS": ["1", "2.5"]},
    "bs": {"BS": [b"\x01", b"\x02"]},
    "m": {
        "M": {
            "deep": {"M": {"l": {"L": [{"N": "1"}, {"S": "x"}, {"M": {}}, {"L": []}]}}},
            "b": {"B": b"in a map"},
            "nul": {"NULL": True},
        }
    },
    "l": {"L": [{"BOOL": False}, {"SS": ["z"]}, {"L": [{"B": b"\x07"}]}]},
    "emptymap": {"M": {}},
    "emptylist": {"L": []},
}


def _table(c: Any) -> None:
    c.create_table(
        TableName="t",
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
            {"AttributeName": "g", "AttributeType": "S"},
            {"AttributeName": "i", "AttributeType": "N"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by-g",
                "KeySchema": [
                    {"AttributeName": "g", "KeyType": "HASH"},
                    {"AttributeName": "i", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            },
            {
                "IndexName": "g-only",
                "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            },
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    c.put_item(TableName="t", Item=ITEM)
    for i in range(3):
        c.put_item(TableName="t", Item={**ITEM, "sk": {"S": f"LINE#{i}"}, "i": {"N": str(i)}})
    # more partitions, put out of order; some in the index (equal index keys too), some not
    for n in (7, 2, 9, 4, 0, 5):
        for k in (3, 1, 2):
            item = {"pk": {"S": f"P#{n}"}, "sk": {"S": f"S#{k}"}, "v": {"N": str(n * k)}}
            if (n + k) % 3:
                item |= {"g": {"S": f"G{(n * k) % 2}"}, "i": {"N": str((n + k) % 4)}}
            c.put_item(TableName="t", Item=item)
    c.create_table(
        TableName="n",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "N"}],
        BillingMode="PAY_PER_REQUEST",
    )
    for v in ("1", "2.50", "10"):
        c.put_item(TableName="n", Item={"id": {"N": v}, "x": {"S": v}})


def _all_pages(c: Any, **query: Any) -> list[Any]:
    """Every page of a query, following LastEvaluatedKey."""
    pages = []
    while True:
        page = c.query(**query)
        page.pop("ResponseMetadata", None)
        pages.append(page)
        if "LastEvaluatedKey" not in page:
            return pages
        query["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _q(c: Any, key: str, values: dict[str, Any], **extra: Any) -> list[Any]:
    return _all_pages(
        c, TableName="t", KeyConditionExpression=key, ExpressionAttributeValues=values, **extra
    )


def _key(sk: str = "ORDER") -> dict[str, Any]:
    return {"pk": {"S": "ORDER#1"}, "sk": {"S": sk}}


SCENARIOS: dict[str, Callable[[Any], Any]] = {
    "get": lambda c: c.get_item(TableName="t", Key=_key()),
    "get missing": lambda c: c.get_item(TableName="t", Key=_key("NONE")),
    "get projected": lambda c: c.get_item(
        TableName="t",
        Key=_key(),
        ProjectionExpression="m.deep, l[2], #b",
        ExpressionAttributeNames={"#b": "bin"},
    ),
    "query paged": lambda c: c.query(
        TableName="t",
        KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": {"S": "ORDER#1"}},
        Limit=2,
    ),
    "query every page": lambda c: _q(c, "pk = :p", {":p": {"S": "P#7"}}, Limit=1),
    "query backwards": lambda c: _q(
        c, "pk = :p", {":p": {"S": "P#4"}}, Limit=2, ScanIndexForward=False
    ),
    "query range condition": lambda c: _q(
        c, "pk = :p AND sk > :s", {":p": {"S": "P#2"}, ":s": {"S": "S#1"}}
    ),
    "query begins_with and filter": lambda c: _q(
        c,
        "pk = :p AND begins_with(sk, :s)",
        {":p": {"S": "P#9"}, ":s": {"S": "S#"}, ":v": {"N": "10"}},
        FilterExpression="v > :v",
        Limit=2,
    ),
    "query missing partition": lambda c: _q(c, "pk = :p", {":p": {"S": "P#404"}}),
    "query projected": lambda c: _q(
        c, "pk = :p", {":p": {"S": "ORDER#1"}}, ProjectionExpression="sk, i", Limit=3
    ),
    "query number key": lambda c: [
        _all_pages(
            c,
            TableName="n",
            KeyConditionExpression="id = :i",
            ExpressionAttributeValues={":i": {"N": v}},
        )
        for v in ("1.0", "2.5", "10", "3")
    ],
    "query index every page": lambda c: _q(
        c, "g = :g", {":g": {"S": "G0"}}, IndexName="by-g", Limit=2
    ),
    "query index backwards with range": lambda c: _q(
        c,
        "g = :g AND i BETWEEN :a AND :b",
        {":g": {"S": "G1"}, ":a": {"N": "1"}, ":b": {"N": "3"}},
        IndexName="by-g",
        ScanIndexForward=False,
        Limit=1,
    ),
    "query hash-only index": lambda c: _q(
        c, "g = :g", {":g": {"S": "G0"}}, IndexName="g-only", Limit=3
    ),
    "query unknown index": lambda c: c.query(
        TableName="t",
        IndexName="nope",
        KeyConditionExpression="g = :g",
        ExpressionAttributeValues={":g": {"S": "G0"}},
    ),
    "scan": lambda c: c.scan(TableName="t"),
    "batch get": lambda c: c.batch_get_item(
        RequestItems={"t": {"Keys": [_key(), _key("LINE#1"), _key("NONE")]}}
    ),
    "transact get": lambda c: c.transact_get_items(
        TransactItems=[{"Get": {"TableName": "t", "Key": _key()}}]
    ),
    "update all new": lambda c: c.update_item(
        TableName="t",
        Key=_key(),
        UpdateExpression="SET #i = #i + :one, m.added = :v",
        ExpressionAttributeNames={"#i": "int"},
        ExpressionAttributeValues={":one": {"N": "1"}, ":v": {"BS": [b"\x09"]}},
        ReturnValues="ALL_NEW",
    ),
    "update updated old": lambda c: c.update_item(
        TableName="t",
        Key=_key(),
        UpdateExpression="REMOVE l",
        ReturnValues="UPDATED_OLD",
    ),
    "the same update again and again": lambda c: [
        {
            k: v
            for k, v in c.update_item(
                TableName="t",
                Key=_key(f"LINE#{i % 3}"),
                UpdateExpression="SET #i = #i + :q,"
                " m.added = list_append(if_not_exists(m.added, :e), :l) ADD ns :n REMOVE l[0]",
                ConditionExpression="#i >= :zero",
                ExpressionAttributeNames={"#i": "i"},
                ExpressionAttributeValues={
                    ":q": {"N": str(i)},
                    ":e": {"L": []},
                    ":l": {"L": [{"N": str(i)}]},
                    ":n": {"NS": [str(10 + i)]},
                    ":zero": {"N": "0"},
                },
                ReturnValues="ALL_NEW",
            ).items()
            if k != "ResponseMetadata"
        }
        for i in range(7)
    ],
    "a syntax error twice": lambda c: [
        _outcome(
            c,
            lambda c: c.update_item(
                TableName="t",
                Key=_key(),
                UpdateExpression="SET #i = = :v",
                ExpressionAttributeNames={"#i": "i"},
                ExpressionAttributeValues={":v": {"N": "1"}},
            ),
        )
        for _ in range(2)
    ],
    "put all old": lambda c: c.put_item(
        TableName="t", Item={**ITEM, "int": {"N": "7"}}, ReturnValues="ALL_OLD"
    ),
    "delete all old": lambda c: c.delete_item(TableName="t", Key=_key(), ReturnValues="ALL_OLD"),
    "condition failed with item": lambda c: c.put_item(
        TableName="t",
        Item=ITEM,
        ConditionExpression="attribute_not_exists(pk)",
        ReturnValuesOnConditionCheckFailure="ALL_OLD",
    ),
    "transaction cancelled with item": lambda c: c.transact_write_items(
        TransactItems=[
            {
                "Update": {
                    "TableName": "t",
                    "Key": _key(),
                    "UpdateExpression": "SET #i = :v",
                    "ConditionExpression": "#i = :other",
                    "ExpressionAttributeNames": {"#i": "int"},
                    "ExpressionAttributeValues": {":v": {"N": "1"}, ":other": {"N": "0"}},
                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                }
            }
        ]
    ),
    "describe": lambda c: c.describe_table(TableName="t")["Table"]["KeySchema"],
}


def _answer(scenario: Callable[[Any], Any]) -> Any:
    with mock_aws():
        c = boto3.client("dynamodb", region_name="eu-central-1")
        _table(c)
        return _outcome(c, scenario)


def _outcome(c: Any, scenario: Callable[[Any], Any]) -> Any:
    try:
        out = scenario(c)
    except ClientError as exc:
        out = {"error": exc.response}
    if isinstance(out, dict):
        out.pop("ResponseMetadata", None)
        if "error" in out:
            out["error"].pop("ResponseMetadata", None)
    return out


def _without_shortcuts(monkeypatch: pytest.MonkeyPatch) -> None:
    moto_fast.apply()
    for owner, name in (
        (JSONSerializer, "_serialize"),
        (Table, "query"),
        (SQSBackend, "get_queue_attributes"),
        (SQSBackend, "is_message_valid_based_on_retention_period"),
        (SQSBackend, "send_message"),
    ):
        monkeypatch.setattr(owner, name, getattr(owner, name).__wrapped__)
    monkeypatch.setattr(Queue, "attributes", property(Queue.attributes.fget.__wrapped__))
    make = UpdateExpressionParser.make.__func__.__wrapped__
    monkeypatch.setattr(UpdateExpressionParser, "make", classmethod(make))
    monkeypatch.setattr(validators, "deepcopy", validators.deepcopy.__wrapped__)


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_answers_are_the_same_with_and_without(name, monkeypatch):
    moto_fast.apply()
    with_shortcut = _answer(SCENARIOS[name])
    _without_shortcuts(monkeypatch)
    without = _answer(SCENARIOS[name])
    assert with_shortcut == without
    assert with_shortcut or name == "get missing"  # something to compare
    if name.startswith("query") and name not in ("query missing partition", "query unknown index"):
        assert _items(with_shortcut)


def _items(answer: Any) -> list[Any]:
    """Every item in a query's answer (a page, a list of pages, or lists of those)."""
    if isinstance(answer, list):
        return [item for part in answer for item in _items(part)]
    return list(answer.get("Items", []))


def _queues(c: Any) -> dict[str, str]:
    dlq = c.create_queue(QueueName="dlq")["QueueUrl"]
    arn = c.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]
    policy = f'{{"deadLetterTargetArn": "{arn["QueueArn"]}", "maxReceiveCount": "2"}}'
    url = c.create_queue(
        QueueName="q", Attributes={"RedrivePolicy": policy, "MessageRetentionPeriod": "120"}
    )["QueueUrl"]
    for i in range(25):
        c.send_message(QueueUrl=url, MessageBody=f"m{i}", DelaySeconds=5 if i % 7 == 0 else 0)
    fifo = c.create_queue(
        QueueName="f.fifo", Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"}
    )["QueueUrl"]
    plain_fifo = c.create_queue(QueueName="p.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    return {"q": url, "dlq": dlq, "fifo": fifo, "plain_fifo": plain_fifo}


def _fifo_sends(c: Any, urls: dict[str, str]) -> Any:
    out = []
    for body, group in (("a", "g1"), ("a", "g2"), ("b", "g1")):  # the second "a" is deduplicated
        out.append(c.send_message(QueueUrl=urls["fifo"], MessageBody=body, MessageGroupId=group))
    batch = c.send_message_batch(
        QueueUrl=urls["fifo"],
        Entries=[
            {"Id": str(i), "MessageBody": b, "MessageGroupId": "g3"} for i, b in enumerate("bc")
        ],
    )
    got = c.receive_message(QueueUrl=urls["fifo"], MaxNumberOfMessages=10)
    bodies = sorted(m["Body"] for m in got.get("Messages", []))
    return [sorted(o) for o in out], sorted(batch), bodies


def _receive_until_dlq(c: Any, urls: dict[str, str]) -> Any:
    seen = []
    for _ in range(4):  # received twice unacknowledged, a message goes to the DLQ
        got = c.receive_message(QueueUrl=urls["q"], MaxNumberOfMessages=10, VisibilityTimeout=0)
        seen.append(sorted(m["Body"] for m in got.get("Messages", [])))
    dlq = c.get_queue_attributes(QueueUrl=urls["dlq"], AttributeNames=["All"])["Attributes"]
    return seen, dlq["ApproximateNumberOfMessages"]


SQS_SCENARIOS: dict[str, Callable[[Any, dict[str, str]], Any]] = {
    "named attributes": lambda c, u: c.get_queue_attributes(
        QueueUrl=u["q"],
        AttributeNames=[
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesDelayed",
            "MessageRetentionPeriod",
            "RedrivePolicy",
            "FifoQueue",
        ],
    ),
    "all attributes": lambda c, u: {
        k: v
        for k, v in c.get_queue_attributes(QueueUrl=u["q"], AttributeNames=["All"])[
            "Attributes"
        ].items()
        if "Timestamp" not in k
    },
    "no attributes": lambda c, u: c.get_queue_attributes(QueueUrl=u["q"]),
    "invalid attribute": lambda c, u: c.get_queue_attributes(
        QueueUrl=u["q"], AttributeNames=["ApproximateNumberOfMessages", "Nope"]
    ),
    "missing queue": lambda c, u: c.get_queue_attributes(
        QueueUrl=u["q"] + "-gone", AttributeNames=["QueueArn"]
    ),
    "receive until the dead-letter queue": _receive_until_dlq,
    "fifo with content deduplication": _fifo_sends,
    "fifo without a deduplication id": lambda c, u: c.send_message(
        QueueUrl=u["plain_fifo"], MessageBody="x", MessageGroupId="g"
    ),
    "fifo without a group": lambda c, u: c.send_message(QueueUrl=u["fifo"], MessageBody="x"),
    "standard with a backlog": lambda c, u: (
        [
            sorted(c.send_message(QueueUrl=u["q"], MessageBody="more", DelaySeconds=d))
            for d in (0, 3)
        ]
        + [
            c.get_queue_attributes(QueueUrl=u["q"], AttributeNames=["All"])["Attributes"][
                "ApproximateNumberOfMessagesDelayed"
            ]
        ]
    ),
}


def _sqs_answer(scenario: Callable[[Any, dict[str, str]], Any]) -> Any:
    with mock_aws():
        c = boto3.client("sqs", region_name="eu-central-1")
        urls = _queues(c)
        return _outcome(c, lambda client: scenario(client, urls))


@pytest.mark.parametrize("name", sorted(SQS_SCENARIOS))
def test_sqs_answers_are_the_same_with_and_without(name, monkeypatch):
    moto_fast.apply()
    with_shortcut = _sqs_answer(SQS_SCENARIOS[name])
    _without_shortcuts(monkeypatch)
    assert with_shortcut == _sqs_answer(SQS_SCENARIOS[name])
    assert with_shortcut or name == "no attributes"


def test_an_expired_message_is_not_handed_out():
    moto_fast.apply()
    with mock_aws():
        c = boto3.client("sqs", region_name="eu-central-1")
        url = c.create_queue(QueueName="q", Attributes={"MessageRetentionPeriod": "60"})["QueueUrl"]
        c.send_message(QueueUrl=url, MessageBody="old")
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.sqs.models import sqs_backends

        queue = sqs_backends[DEFAULT_ACCOUNT_ID]["eu-central-1"].queues["q"]
        queue._messages[0].sent_timestamp -= 61_000
        assert c.receive_message(QueueUrl=url).get("Messages", []) == []


def test_a_value_that_is_not_plain_json_takes_the_generic_path():
    seen: list[Any] = []

    def b64(value: bytes) -> str:
        seen.append(value)
        return "x"

    assert moto_fast._plain({"M": {"b": {"B": b"1"}}}, b64) == {"M": {"b": {"B": "x"}}}
    for odd in ({"S": 1}, {"N": Decimal(1)}, {"S": "a", "N": "1"}, {"X": "?"}, {"SS": [1]}, "S"):
        with pytest.raises(moto_fast._NotPlain):
            moto_fast._plain(odd, b64)


def test_another_moto_release_is_left_alone():
    """The shortcuts stand in for moto 5.2.5's code: on any other release nothing installs."""
    import subprocess
    import sys
    from pathlib import Path

    script = (
        "import moto; moto.__version__ = '9.9.9'\n"
        "from local import moto_fast; moto_fast.apply()\n"
        "from moto.dynamodb.models.table import Table\n"
        "from moto.sqs.models import SQSBackend\n"
        "assert not hasattr(Table.query, '__wrapped__')\n"
        "assert not hasattr(SQSBackend.send_message, '__wrapped__')\n"
    )
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=root, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "moto 9.9.9 is not 5.2.5" in done.stderr
