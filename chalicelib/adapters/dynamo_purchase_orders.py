"""Purchase orders in the orders table.

``PO#<po_id>`` / ``PO`` holds the PO document as JSON and a ``version`` (optimistic
concurrency); ``gsi1`` lists POs per destination under ``POLOC#<location_id>`` sorted by
``<status>#<expected_date>#<po_id>`` (a partition prefix of its own: the channel listings'
``CH#`` never see them). Each open line's free quantity is mirrored, in the same transaction,
as ``POSUPPLY#<sku>`` / ``<po_id>#<line_id>``: promising reads one partition per SKU.
"""

from __future__ import annotations

import base64
import json
from datetime import date
from typing import Any

from boto3.dynamodb.conditions import Key

from chalicelib.adapters.dynamo_catalog import batch_get
from chalicelib.adapters.dynamo_tx import TransactionFailed, serialize, transact_write
from chalicelib.domain.errors import FieldError, InvalidInput, StaleOrder
from chalicelib.domain.paging import Page
from chalicelib.domain.supply import PoStatus, PurchaseOrder, Supply, po_from_doc, po_to_doc


def _key(po_id: str) -> dict[str, str]:
    return {"pk": f"PO#{po_id}", "sk": "PO"}


def _supply_key(sku: str, po_id: str, line_id: str) -> dict[str, str]:
    return {"pk": f"POSUPPLY#{sku}", "sk": f"{po_id}#{line_id}"}


class DynamoPurchaseOrders:
    def __init__(self, table: Any, *, client: Any) -> None:
        self._table, self._client = table, client

    def get(self, po_id: str) -> PurchaseOrder | None:
        item = self._table.get_item(Key=_key(po_id), ConsistentRead=True).get("Item")
        if not item:
            return None
        po = po_from_doc(json.loads(item["doc"]))
        po.version = int(item["version"])
        return po

    def save(self, po: PurchaseOrder, before: PurchaseOrder | None) -> None:
        """Write ``po`` as read at ``po.version`` (0: new) with its supply rows; StaleOrder
        when someone else wrote it meanwhile. Bumps ``po.version``."""
        expected = po.version
        name = self._table.name
        item = {
            **_key(po.po_id),
            "doc": json.dumps({**po_to_doc(po), "version": expected + 1}, separators=(",", ":")),
            "version": expected + 1,
            "gsi1pk": f"POLOC#{po.location_id}",
            "gsi1sk": f"{po.status.value}#{po.expected_date}#{po.po_id}",
        }
        put: dict[str, Any] = {"TableName": name, "Item": serialize(item)}
        if expected == 0:
            put["ConditionExpression"] = "attribute_not_exists(pk)"
        else:
            put["ConditionExpression"] = "version = :v"
            put["ExpressionAttributeValues"] = serialize({":v": expected})
        ops: list[dict[str, Any]] = [{"Put": put}]
        live = set()
        for ln in po.lines:
            if po.status != PoStatus.OPEN or ln.open <= 0:
                continue
            live.add((ln.sku, ln.line_id))
            row = {
                **_supply_key(ln.sku, po.po_id, ln.line_id),
                "location_id": po.location_id,
                "expected_date": po.expected_date,
                "quantity": ln.open,
                "po_id": po.po_id,
            }
            ops.append({"Put": {"TableName": name, "Item": serialize(row)}})
        for ln in before.lines if before else ():
            if (ln.sku, ln.line_id) not in live:
                key = _supply_key(ln.sku, po.po_id, ln.line_id)
                ops.append({"Delete": {"TableName": name, "Key": serialize(key)}})
        if len(ops) > 100:
            raise InvalidInput("too many lines", fields=[FieldError("lines", "at most 90")])
        try:
            transact_write(self._client, ops)
        except TransactionFailed as exc:
            raise StaleOrder(f"purchase order {po.po_id} changed meanwhile; read it again") from exc
        po.version = expected + 1

    def supply(self, sku: str) -> list[Supply]:
        """The free PO quantity of ``sku``, every open line."""
        out: list[Supply] = []
        kwargs: dict[str, Any] = {"KeyConditionExpression": Key("pk").eq(f"POSUPPLY#{sku}")}
        while True:
            page = self._table.query(**kwargs)
            out += [
                Supply(
                    sku=sku,
                    location_id=row["location_id"],
                    quantity=int(row["quantity"]),
                    expected=date.fromisoformat(row["expected_date"]),
                    po_id=row["po_id"],
                )
                for row in page["Items"]
            ]
            if "LastEvaluatedKey" not in page:
                return out
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def list(self, location_id: str, status: str | None, limit: int, cursor: str | None) -> Page:
        condition = Key("gsi1pk").eq(f"POLOC#{location_id}")
        if status:
            condition = condition & Key("gsi1sk").begins_with(f"{status}#")
        kwargs: dict[str, Any] = {
            "IndexName": "gsi1",
            "KeyConditionExpression": condition,
            "Limit": limit,
        }
        if cursor:
            kwargs["ExclusiveStartKey"] = _decode(cursor, location_id)
        page = self._table.query(**kwargs)
        keys = [{"pk": row["pk"], "sk": row["sk"]} for row in page["Items"]]
        found = {row["pk"]: row for row in batch_get(self._table, keys)} if keys else {}
        items = [  # the index holds keys only; in the index's order
            {**json.loads(found[k["pk"]]["doc"]), "version": int(found[k["pk"]]["version"])}
            for k in keys
            if k["pk"] in found
        ]
        last = page.get("LastEvaluatedKey")
        return Page(items=items, cursor=_encode(last) if last else None)


def _encode(key: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(key, default=str).encode()).decode()


def _decode(cursor: str, location_id: str) -> dict[str, Any]:
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        if not isinstance(key, dict) or key.get("gsi1pk") != f"POLOC#{location_id}":
            raise ValueError(cursor)
        return key
    except ValueError:
        raise InvalidInput(
            "bad cursor", fields=[FieldError("cursor", "not a cursor of this listing")]
        ) from None
