"""More of what the connectors keep in the orders table: a polled channel's state and the
tombstones of orders cancelled before we saw them.

Poll state is ``pk`` = ``POLL#<channel>``, ``sk`` = ``POLL``, a JSON ``doc``: the
``watermark`` (the ``LastUpdatedAfter`` of the next poll), when it last ran, and the paging a
run left unfinished. A tombstone is ``pk`` =
``TOMBSTONE#<platform>#<channel>#<platform order id>``; ``expires_at`` (the table's TTL) drops it
after ``TOMBSTONE_TTL_SECONDS``, long after any platform stops retrying the create.
"""

from __future__ import annotations

import json
from typing import Any

TOMBSTONE_TTL_SECONDS = 90 * 24 * 3600


class DynamoPollState:
    def __init__(self, table: Any) -> None:
        self._table = table

    def get(self, channel: str) -> dict[str, Any] | None:
        item = self._table.get_item(
            Key={"pk": f"POLL#{channel}", "sk": "POLL"}, ConsistentRead=True
        ).get("Item")
        return json.loads(item["doc"]) if item else None

    def save(self, channel: str, doc: dict[str, Any]) -> None:
        self._table.put_item(
            Item={
                "pk": f"POLL#{channel}",
                "sk": "POLL",
                "doc": json.dumps(doc, separators=(",", ":"), default=str),
            }
        )


class DynamoTombstones:
    def __init__(self, table: Any) -> None:
        self._table = table

    def bury(self, key: str, now: float) -> None:
        self._table.put_item(
            Item={
                "pk": f"TOMBSTONE#{key}",
                "sk": "TOMBSTONE",
                "buried_at": int(now),
                "expires_at": int(now) + TOMBSTONE_TTL_SECONDS,
            }
        )

    def buried(self, key: str, now: float) -> bool:
        item = self._table.get_item(
            Key={"pk": f"TOMBSTONE#{key}", "sk": "TOMBSTONE"}, ConsistentRead=True
        ).get("Item")
        return bool(item) and int(item["expires_at"]) > now  # TTL deletes late: filter
