"""Preorder counters in the orders table: ``PREORDER#<sku>`` / ``COUNT`` holds ``units``
accepted so far; ``PREORDER#<sku>`` / ``ORDER#<order_id>`` is one order's claim (``units``,
``claimed_at``). A claim and its count move in one transaction, conditional on the cap, so
concurrent orders never pass it and a replayed order never counts twice. A claim whose order was
never written, or was cancelled, is released the same way: claim deleted and count decremented
together, only if the claim is still the one listed and the order still does not exist or is
cancelled (a cancelled order stays cancelled). A live order cancelled in part has its claim cut
to what it still wants the same way, only if the order is still at the version read."""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.conditions import Key

from chalicelib.adapters.dynamo_batch import batch_get_items
from chalicelib.adapters.dynamo_orders import order_from_item
from chalicelib.adapters.dynamo_tx import TransactionFailed, serialize, transact_write
from chalicelib.domain.errors import StaleOrder
from chalicelib.domain.order.model import OrderStatus
from chalicelib.domain.preorders import PreorderClaim, Shrink, Sweepable, shrink_of
from chalicelib.domain.supply import CapReached

CLAIM = "ORDER#"
CANCELLED = OrderStatus.CANCELLED.value  # the order item's ``status`` (``dynamo_orders``)
BATCH_GET_MAX = 100


def _order_key(order_id: str) -> dict[str, str]:
    """The order's own item (``adapters/dynamo_orders.py``)."""
    return {"pk": f"ORDER#{order_id}", "sk": "ORDER"}


class DynamoPreorders:
    def __init__(self, table: Any, *, client: Any) -> None:
        self._table, self._client = table, client

    def claim(self, sku: str, order_id: str, quantity: int, cap: int, *, at: str) -> bool:
        """Count ``quantity`` units of ``order_id`` against ``cap`` (claimed ``at``): True when
        counted now, False when that order was counted before; ``CapReached`` when over it."""
        name = self._table.name
        item = {
            "pk": f"PREORDER#{sku}",
            "sk": f"{CLAIM}{order_id}",
            "units": quantity,
            "claimed_at": at,
        }
        ops = [
            {
                "Put": {
                    "TableName": name,
                    "Item": serialize(item),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
            {
                "Update": {
                    "TableName": name,
                    "Key": serialize({"pk": f"PREORDER#{sku}", "sk": "COUNT"}),
                    "UpdateExpression": "SET units = if_not_exists(units, :zero) + :q",
                    # no arithmetic in conditions: the most there may be before this claim
                    "ConditionExpression": "attribute_not_exists(units) OR units <= :room",
                    "ExpressionAttributeValues": serialize(
                        {":zero": 0, ":q": quantity, ":room": cap - quantity}
                    ),
                }
            },
        ]
        if quantity > cap:
            raise CapReached(sku)
        try:
            transact_write(self._client, ops)
        except TransactionFailed as exc:
            if 0 in exc.failed:
                return False
            if 1 in exc.failed:
                raise CapReached(sku) from None
            raise StaleOrder("preorder counter busy; try again") from exc
        return True

    def count(self, sku: str) -> int:
        item = self._table.get_item(
            Key={"pk": f"PREORDER#{sku}", "sk": "COUNT"}, ConsistentRead=True
        ).get("Item")
        return int(item["units"]) if item else 0

    def sweepable(self, sku: str, before: str) -> Sweepable:
        """The claims of ``sku`` made before ``before`` (or undated) whose order does not exist
        or was cancelled (their units are free again), and those above what their live order
        still wants (cancelled in part); the claims and their orders read once."""
        claims = [c for c in self._claims(sku) if c.claimed_at is None or c.claimed_at < before]
        work = Sweepable([], [])
        for i in range(0, len(claims), BATCH_GET_MAX):
            chunk = claims[i : i + BATCH_GET_MAX]
            live = {
                str(item["pk"]): order_from_item(item)
                for item in self._existing([_order_key(c.order_id) for c in chunk])
                if item.get("status") != CANCELLED
            }
            for claim in chunk:
                order = live.get(_order_key(claim.order_id)["pk"])
                if order is None:
                    work.orphans.append(claim)
                elif shrink := shrink_of(claim, order):
                    work.shrinks.append(shrink)
        return work

    def shrink(self, shrink: Shrink) -> bool:
        """Cut the claim to ``shrink.keep`` units and take the rest off the count, in one
        transaction; False (nothing changed) when the claim or its order changed meanwhile."""
        claim, name = shrink.claim, self._table.name
        pk, freed = f"PREORDER#{claim.sku}", claim.units - shrink.keep
        same, values = _same_claim(claim)
        ops = [
            {
                "Update": {
                    "TableName": name,
                    "Key": serialize({"pk": pk, "sk": f"{CLAIM}{claim.order_id}"}),
                    "UpdateExpression": "SET units = :keep",
                    "ConditionExpression": same,
                    "ExpressionAttributeValues": serialize({**values, ":keep": shrink.keep}),
                }
            },
            {
                "ConditionCheck": {
                    "TableName": name,
                    "Key": serialize(_order_key(claim.order_id)),
                    "ConditionExpression": "version = :v",
                    "ExpressionAttributeValues": serialize({":v": shrink.version}),
                }
            },
            self._uncount(pk, freed),
        ]
        return self._run(ops)

    def release(self, claim: PreorderClaim) -> bool:
        """Delete ``claim`` and take its units off the count, in one transaction; False (and
        nothing changed) when the claim is gone or was made again, or its order now exists and
        is not cancelled."""
        name = self._table.name
        pk = f"PREORDER#{claim.sku}"
        same, values = _same_claim(claim)
        ops = [
            {
                "Delete": {
                    "TableName": name,
                    "Key": serialize({"pk": pk, "sk": f"{CLAIM}{claim.order_id}"}),
                    "ConditionExpression": same,
                    "ExpressionAttributeValues": serialize(values),
                }
            },
            {
                "ConditionCheck": {
                    "TableName": name,
                    "Key": serialize(_order_key(claim.order_id)),
                    "ConditionExpression": "attribute_not_exists(pk) OR #s = :cancelled",
                    "ExpressionAttributeNames": {"#s": "status"},
                    "ExpressionAttributeValues": serialize({":cancelled": CANCELLED}),
                }
            },
            self._uncount(pk, claim.units),
        ]
        return self._run(ops)

    def _uncount(self, pk: str, units: int) -> dict[str, Any]:
        """The count's part of a release: ``units`` off it."""
        return {
            "Update": {
                "TableName": self._table.name,
                "Key": serialize({"pk": pk, "sk": "COUNT"}),
                "UpdateExpression": "SET units = units - :q",
                "ConditionExpression": "units >= :q",
                "ExpressionAttributeValues": serialize({":q": units}),
            }
        }

    def _run(self, ops: list[dict[str, Any]]) -> bool:
        try:
            transact_write(self._client, ops)
        except TransactionFailed as exc:
            if exc.failed:
                return False
            raise StaleOrder("preorder counter busy; try again") from exc
        return True

    def _claims(self, sku: str) -> list[PreorderClaim]:
        out: list[PreorderClaim] = []
        kw: dict[str, Any] = {
            "KeyConditionExpression": Key("pk").eq(f"PREORDER#{sku}")
            & Key("sk").begins_with(CLAIM),
            "ConsistentRead": True,
        }
        while True:
            page = self._table.query(**kw)
            for item in page.get("Items", []):
                at = item.get("claimed_at")
                out.append(
                    PreorderClaim(
                        sku, str(item["sk"]).removeprefix(CLAIM), int(item["units"]), at and str(at)
                    )
                )
            if "LastEvaluatedKey" not in page:
                return out
            kw["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _existing(self, keys: list[dict[str, str]]) -> list[dict[str, Any]]:
        """The items among ``keys`` that exist."""
        request = {self._table.name: {"Keys": keys, "ConsistentRead": True}}
        return batch_get_items(self._table.meta.client, request)[self._table.name]


def _same_claim(claim: PreorderClaim) -> tuple[str, dict[str, Any]]:
    """The condition (and its values) that the claim is still the one listed."""
    same = "attribute_exists(pk) AND units = :q AND "
    same += "claimed_at = :at" if claim.claimed_at else "attribute_not_exists(claimed_at)"
    values: dict[str, Any] = {":q": claim.units}
    if claim.claimed_at:
        values[":at"] = claim.claimed_at
    return same, values
