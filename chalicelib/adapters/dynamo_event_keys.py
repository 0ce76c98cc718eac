"""The warehouse-event key version of each location, in the catalog table: ``pk`` =
``EVENTKEY``, ``sk`` = the location id, ``key_version`` a number. A rotation is an atomic
``ADD``, so versions only grow (two rotations at once get two versions, an old key is never
revived); reads are strongly consistent, so a rotation holds in every container at once."""

from __future__ import annotations

from typing import Any

EVENT_KEY_PK = "EVENTKEY"


class DynamoEventKeyVersions:
    def __init__(self, table: Any) -> None:
        self._table = table

    def current(self, location_id: str) -> int:
        """0 for a location whose key was never rotated."""
        item = self._table.get_item(
            Key={"pk": EVENT_KEY_PK, "sk": location_id},
            ConsistentRead=True,
            ProjectionExpression="key_version",
        ).get("Item")
        return int(item["key_version"]) if item else 0

    def bump(self, location_id: str, at: str) -> int:
        resp = self._table.update_item(
            Key={"pk": EVENT_KEY_PK, "sk": location_id},
            UpdateExpression="ADD key_version :one SET rotated_at = :at",
            ExpressionAttributeValues={":one": 1, ":at": at},
            ReturnValues="UPDATED_NEW",
        )
        return int(resp["Attributes"]["key_version"])
