"""Webhook subscriptions, deliveries and announcement marks in the orders table.

``WEBHOOKS`` / ``SUB#<id>``: every subscription in one partition (the fan-out reads them with
one query). ``WHDELIV#<subscription>`` / ``<delivery_id>``: a delivery with its attempts;
delivery ids sort by the event's time, so a query backwards lists the newest first; each
expires (the table's TTL ``expires_at``) ``RECORD_DAYS`` after it was created.
``WHMARK#<order_id>`` / ``MARK``: how many of the order's history entries were announced.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from boto3.dynamodb.conditions import Key

from chalicelib.adapters.dynamo_tx import conditional_write
from chalicelib.domain.confirmations import (
    Confirmation,
    confirmation_doc,
    confirmation_from_doc,
)
from chalicelib.domain.paging import Page
from chalicelib.domain.webhooks import Delivery, DeliveryStatus, Subscription

SUBSCRIPTIONS = "WEBHOOKS"
RECORD_DAYS = 30  # deliveries (and confirmations) are kept this long, then the TTL drops them


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


def expires_at(created_at: str, days: int = RECORD_DAYS) -> int:
    """The table's TTL (epoch seconds): ``days`` after ``created_at``."""
    at = datetime.fromisoformat(created_at.replace("Z", "+00:00"))
    return int((at + timedelta(days=days)).timestamp())


def _delivery_item(d: Delivery) -> dict[str, Any]:
    return {
        **_delivery_key(d.subscription_id, d.delivery_id),
        "expires_at": expires_at(d.created_at),
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
        if conditional_write(
            self._table.put_item,
            Item=_delivery_item(delivery),
            ConditionExpression="attribute_not_exists(pk)",
        ):
            return None
        return self.delivery(delivery.subscription_id, delivery.delivery_id) or delivery

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
        return _mark(self._table, f"WHMARK#{order_id}")

    def mark_announced(self, order_id: str, count: int) -> None:
        _raise_mark(self._table, f"WHMARK#{order_id}", count)


def _mark(table: Any, pk: str) -> int:
    item = table.get_item(Key={"pk": pk, "sk": "MARK"}, ConsistentRead=True).get("Item")
    return int(item["announced"]) if item else 0


def _raise_mark(table: Any, pk: str, count: int) -> None:
    conditional_write(
        table.update_item,
        Key={"pk": pk, "sk": "MARK"},
        UpdateExpression="SET announced = :n",
        ConditionExpression="attribute_not_exists(announced) OR announced < :n",
        ExpressionAttributeValues={":n": count},
    )


class DynamoConfirmations:
    """``CONFIRM#<channel>`` / ``<confirmation_id>``: a confirmation back to the channel's
    platform with its attempts (newest first backwards, TTL as deliveries);
    ``CONFMARK#<order_id>`` / ``MARK``: how many history entries were looked at."""

    def __init__(self, table: Any) -> None:
        self._table = table

    def _item(self, c: Confirmation) -> dict[str, Any]:
        return {
            "pk": f"CONFIRM#{c.channel}",
            "sk": c.confirmation_id,
            "expires_at": expires_at(c.created_at),
            "doc": json.dumps(confirmation_doc(c), separators=(",", ":")),
        }

    def add_confirmation(self, c: Confirmation) -> Confirmation | None:
        if conditional_write(
            self._table.put_item, Item=self._item(c), ConditionExpression="attribute_not_exists(pk)"
        ):
            return None
        return self.confirmation(c.channel, c.confirmation_id) or c

    def confirmation(self, channel: str, confirmation_id: str) -> Confirmation | None:
        key = {"pk": f"CONFIRM#{channel}", "sk": confirmation_id}
        item = self._table.get_item(Key=key, ConsistentRead=True).get("Item")
        return confirmation_from_doc(json.loads(item["doc"])) if item else None

    def save_confirmation(self, c: Confirmation) -> None:
        self._table.put_item(Item=self._item(c))

    def confirmations(self, channel: str, limit: int, cursor: str | None) -> Page:
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": Key("pk").eq(f"CONFIRM#{channel}"),
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if cursor:
            kwargs["ExclusiveStartKey"] = {"pk": f"CONFIRM#{channel}", "sk": cursor}
        resp = self._table.query(**kwargs)
        items = [json.loads(item["doc"]) for item in resp.get("Items", [])]
        last = resp.get("LastEvaluatedKey")
        return Page(items, str(last["sk"]) if last else None)

    def confirmed(self, order_id: str) -> int:
        return _mark(self._table, f"CONFMARK#{order_id}")

    def mark_confirmed(self, order_id: str, count: int) -> None:
        _raise_mark(self._table, f"CONFMARK#{order_id}", count)
