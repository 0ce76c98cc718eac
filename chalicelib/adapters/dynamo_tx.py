"""TransactWriteItems with readable failures: which item's condition failed, and why."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

MAX_TRANSACT_ITEMS = 100
_ser = TypeSerializer()
_de = TypeDeserializer()


def serialize(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _ser.serialize(v) for k, v in item.items() if v is not None}


def deserialize(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _de.deserialize(v) for k, v in item.items()}


class TransactionFailed(Exception):
    """A TransactWriteItems was cancelled. ``failed`` holds the indexes of the items whose
    condition failed; ``reasons`` the code per item ("None" where it did not fail)."""

    def __init__(self, reasons: list[str]) -> None:
        self.reasons = reasons
        self.failed = [i for i, code in enumerate(reasons) if code == "ConditionalCheckFailed"]
        super().__init__(f"transaction cancelled: {reasons}")

    @property
    def conflict(self) -> bool:
        """True when some other writer holds an item right now: worth a retry."""
        return any(code in ("TransactionConflict",) for code in self.reasons)


def conditional_write(write: Callable[..., Any], **params: Any) -> bool:
    """One conditional write (``table.put_item``, ``update_item``, ``delete_item``, or the
    client's): False when its condition failed, any other error raised."""
    try:
        write(**params)
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise
    return True


def transact_write(client: Any, items: Sequence[dict[str, Any]]) -> None:
    """Run the items (low-level client format) as one transaction, or raise TransactionFailed."""
    if not items:
        return
    if len(items) > MAX_TRANSACT_ITEMS:
        raise ValueError(f"a transaction holds at most {MAX_TRANSACT_ITEMS} items")
    try:
        client.transact_write_items(TransactItems=list(items))
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "TransactionCanceledException":
            raise
        reasons = [r.get("Code", "None") for r in exc.response.get("CancellationReasons", [])]
        raise TransactionFailed(reasons) from exc


def put_new(table: str, item: dict[str, Any], *, key: str = "pk") -> dict[str, Any]:
    """A Put that fails if an item with the same key exists."""
    return {
        "Put": {
            "TableName": table,
            "Item": serialize(item),
            "ConditionExpression": f"attribute_not_exists({key})",
        }
    }
