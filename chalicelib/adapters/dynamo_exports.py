"""What exports read and write: RMAs by day from the orders table, finished files in S3.

RMAs are listed by the orders table's ``gsi2`` under ``RDAY#<date>`` (keys only) and fetched
100 at a time with BatchGetItem, a page at a time, never with a scan.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from typing import IO, Any

from boto3.dynamodb.conditions import Key

from chalicelib.adapters.dynamo_catalog import batch_get

PAGE = 100


class DynamoReturnListing:
    def __init__(self, table: Any) -> None:
        self._table = table

    def rma_pages(self, day: date) -> Iterator[list[dict[str, Any]]]:
        """The RMA documents created on ``day``, a page (<= 100) at a time, oldest first."""
        kwargs: dict[str, Any] = {
            "IndexName": "gsi2",
            "KeyConditionExpression": Key("gsi2pk").eq(f"RDAY#{day.isoformat()}"),
            "Limit": PAGE,
        }
        while True:
            resp = self._table.query(**kwargs)
            keys = [{"pk": k["pk"], "sk": k["sk"]} for k in resp["Items"]]
            if keys:
                found = {i["pk"]: i for i in batch_get(self._table, keys)}
                yield [json.loads(found[k["pk"]]["doc"]) for k in keys if k["pk"] in found]
            if "LastEvaluatedKey" not in resp:
                return
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]


class S3Files:
    """Export files in the exports bucket, handed out by pre-signed links."""

    def __init__(self, client: Any, bucket: str) -> None:
        self._s3, self._bucket = client, bucket

    def put(self, key: str, body: IO[bytes], *, filename: str) -> None:
        self._s3.upload_fileobj(
            body,
            self._bucket,
            key,
            ExtraArgs={
                "ContentType": "text/csv; charset=utf-8",
                "ContentDisposition": f'attachment; filename="{filename}"',
            },
        )

    def link(self, key: str, *, seconds: int) -> str:
        return str(
            self._s3.generate_presigned_url(
                "get_object", Params={"Bucket": self._bucket, "Key": key}, ExpiresIn=seconds
            )
        )
