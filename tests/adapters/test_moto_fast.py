"""``local.moto_fast``: moto answers every DynamoDB request exactly as it does without it.

Each scenario runs twice on fresh moto state, with moto's generic serializer and with the
shortcut, and the whole answers (parsed by botocore, as the app sees them; errors with their
response) must be equal; the values cover every AttributeValue type, nested and empty."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.core.serialize import JSONSerializer

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
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    c.put_item(TableName="t", Item=ITEM)
    for i in range(3):
        c.put_item(TableName="t", Item={**ITEM, "sk": {"S": f"LINE#{i}"}, "i": {"N": str(i)}})


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
        try:
            out = scenario(c)
        except ClientError as exc:
            out = {"error": exc.response}
        if isinstance(out, dict):
            out.pop("ResponseMetadata", None)
            if "error" in out:
                out["error"].pop("ResponseMetadata", None)
        return out


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_answers_are_the_same_with_and_without(name, monkeypatch):
    moto_fast.apply()
    fast = JSONSerializer._serialize
    generic = fast.__wrapped__  # type: ignore[attr-defined]
    with_shortcut = _answer(SCENARIOS[name])
    monkeypatch.setattr(JSONSerializer, "_serialize", generic)
    without = _answer(SCENARIOS[name])
    assert with_shortcut == without
    assert with_shortcut or name == "get missing"  # something to compare


def test_a_value_that_is_not_plain_json_takes_the_generic_path():
    seen: list[Any] = []

    def b64(value: bytes) -> str:
        seen.append(value)
        return "x"

    assert moto_fast._plain({"M": {"b": {"B": b"1"}}}, b64) == {"M": {"b": {"B": "x"}}}
    for odd in ({"S": 1}, {"N": Decimal(1)}, {"S": "a", "N": "1"}, {"X": "?"}, {"SS": [1]}, "S"):
        with pytest.raises(moto_fast._NotPlain):
            moto_fast._plain(odd, b64)
