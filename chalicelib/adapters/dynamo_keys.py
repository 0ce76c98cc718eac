"""API keys in the catalog table: ``pk`` = ``APIKEY``, ``sk`` = the key's SHA-256, the record as
a JSON ``doc`` (the layout ``DynamoCatalog`` writes), and ``last_used_at`` and ``revoked_at`` as
attributes of their own, so that marking a use or a revocation never rewrites the record.
Reads are strongly consistent: a revocation is seen by the next read in any container."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from boto3.dynamodb.conditions import Key

from chalicelib.adapters.dynamo_tx import conditional_write
from chalicelib.domain.catalog import Kind
from chalicelib.domain.errors import Conflict

_STAMPS = ("last_used_at", "revoked_at")


class DynamoKeys:
    def __init__(self, table: Any) -> None:
        self._table = table

    def create(self, digest: str, record: dict[str, Any]) -> None:
        doc = json.dumps(record, separators=(",", ":"))
        if not conditional_write(
            self._table.put_item,
            Item={"pk": Kind.API_KEY, "sk": digest, "doc": doc},
            ConditionExpression="attribute_not_exists(pk)",
        ):
            raise Conflict("that API key exists already")

    def get(self, digest: str) -> dict[str, Any] | None:
        item = self._table.get_item(
            Key={"pk": Kind.API_KEY, "sk": digest}, ConsistentRead=True
        ).get("Item")
        return _record(item) if item else None

    def all(self) -> dict[str, dict[str, Any]]:
        """Every key's record by digest."""
        out: dict[str, dict[str, Any]] = {}
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": Key("pk").eq(Kind.API_KEY),
            "ConsistentRead": True,
        }
        while True:
            page = self._table.query(**kwargs)
            for item in page["Items"]:
                out[item["sk"]] = _record(item)
            if "LastEvaluatedKey" not in page:
                return out
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def touch(self, digest: str, at: float) -> None:
        self._stamp(digest, "SET last_used_at = :t", at)

    def revoke(self, digest: str, at: float) -> None:
        """Idempotent: the first revocation's time stays."""
        self._stamp(digest, "SET revoked_at = if_not_exists(revoked_at, :t)", at)

    def _stamp(self, digest: str, expression: str, at: float) -> None:
        conditional_write(  # False for a key deleted meanwhile: nothing to stamp
            self._table.update_item,
            Key={"pk": Kind.API_KEY, "sk": digest},
            UpdateExpression=expression,
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues={":t": Decimal(str(round(at, 3)))},
        )


def _record(item: dict[str, Any]) -> dict[str, Any]:
    record: dict[str, Any] = json.loads(item["doc"])
    for name in _STAMPS:
        if name in item:
            record[name] = float(item[name])
    return record
