"""Webhook subscriptions, deliveries and announcement marks in the orders table.

``WEBHOOKS`` / ``SUB#<id>``: every subscription in one partition (the fan-out reads them with
one query). ``WHDELIV#<subscription>`` / ``<delivery_id>``: a delivery with its attempts;
delivery ids sort by the event's time, so a query backwards lists the newest first.
``WHMARK#<order_id>`` / ``MARK``: how many of the order's history entries were announced.
"""

from __future__ import annotations

import json
from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from chalicelib.domain.paging import Page
from chalicelib.domain.webhooks import Delivery, DeliveryStatus, Subscription

SUBSCRIPTIONS = "WEBHOOKS"


def _sub_key(subscription_id: str) -> dict[str, str]:
    return {"pk": SUBSCRIPTIONS, "sk": f"SUB#{subscription_id}"}


def _delivery_key(subscription_id: str, delivery_id: str) -> dict[str, str]:
    return {"pk": f"WHDELIV#{subscription_id}", "sk": delivery_id}


def _sub(item: dict[str, Any]) -> Subscription:
    return Subscription(
        subscription_id=item["subscription_id"],
        url=item["url"],
        events=list(item["events"]),
        secret=item["secret"],
        created_at=item["created_at"],
        updated_at=item["updated_at"],
    )


def _delivery_item(d: Delivery) -> dict[str, Any]:
    return {
        **_delivery_key(d.subscription_id, d.delivery_id),
        "doc": json.dumps(
            {
                "delivery_id": d.delivery_id,
                "subscription_id": d.subscription_id,
                "webhook_id": d.webhook_id,
                "event_type": d.event_type,
                "payload": d.payload,
                "created_at": d.created_at,
                "status": d.status.value,
                "attempts": d.attempts,
                "attempt_count": d.attempt_count,
                "next_retry_at": d.next_retry_at,
            },
            separators=(",", ":"),
        ),
    }


def delivery_from_doc(doc: dict[str, Any]) -> Delivery:
    return Delivery(**{**doc, "status": DeliveryStatus(doc["status"])})


class DynamoWebhooks:
    def __init__(self, table: Any) -> None:
        self._table = table

    def put_subscription(self, sub: Subscription) -> None:
        self._table.put_item(
            Item={
                **_sub_key(sub.subscription_id),
                "subscription_id": sub.subscription_id,
                "url": sub.url,
                "events": sub.events,
                "secret": sub.secret,
                "created_at": sub.created_at,
                "updated_at": sub.updated_at,
            }
        )

    def subscription(self, subscription_id: str) -> Subscription | None:
        item = self._table.get_item(Key=_sub_key(subscription_id), ConsistentRead=True).get("Item")
        return _sub(item) if item else None

    def subscriptions(self) -> list[Subscription]:
        out, start = [], None
        while True:
            kwargs: dict[str, Any] = {"KeyConditionExpression": Key("pk").eq(SUBSCRIPTIONS)}
            if start:
                kwargs["ExclusiveStartKey"] = start
            resp = self._table.query(**kwargs)
            out += [_sub(item) for item in resp.get("Items", [])]
            start = resp.get("LastEvaluatedKey")
            if not start:
                return out

    def add_delivery(self, delivery: Delivery) -> Delivery | None:
        try:
            self._table.put_item(
                Item=_delivery_item(delivery), ConditionExpression="attribute_not_exists(pk)"
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            return self.delivery(delivery.subscription_id, delivery.delivery_id) or delivery
        return None

    def delivery(self, subscription_id: str, delivery_id: str) -> Delivery | None:
        key = _delivery_key(subscription_id, delivery_id)
        item = self._table.get_item(Key=key, ConsistentRead=True).get("Item")
        return delivery_from_doc(json.loads(item["doc"])) if item else None

    def save_delivery(self, delivery: Delivery) -> None:
        self._table.put_item(Item=_delivery_item(delivery))

    def deliveries(self, subscription_id: str, limit: int, cursor: str | None) -> Page:
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": Key("pk").eq(f"WHDELIV#{subscription_id}"),
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if cursor:
            kwargs["ExclusiveStartKey"] = {"pk": f"WHDELIV#{subscription_id}", "sk": cursor}
        resp = self._table.query(**kwargs)
        items = [json.loads(item["doc"]) for item in resp.get("Items", [])]
        last = resp.get("LastEvaluatedKey")
        return Page(items, str(last["sk"]) if last else None)

    def announced(self, order_id: str) -> int:
        item = self._table.get_item(
            Key={"pk": f"WHMARK#{order_id}", "sk": "MARK"}, ConsistentRead=True
        ).get("Item")
        return int(item["announced"]) if item else 0

    def mark_announced(self, order_id: str, count: int) -> None:
        try:
            self._table.update_item(
                Key={"pk": f"WHMARK#{order_id}", "sk": "MARK"},
                UpdateExpression="SET announced = :n",
                ConditionExpression="attribute_not_exists(announced) OR announced < :n",
                ExpressionAttributeValues={":n": count},
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
