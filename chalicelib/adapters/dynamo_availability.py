"""The availability feed's items in the orders table, and its delayed re-checks on SQS.

- Change log: one item per SKU whose stock changed, ``pk = AVCHG#<yyyy-mm-ddThh>`` (the UTC
  hour), ``sk = <iso instant>#<sku>``, expiring (TTL ``expires_at``) after the retention.
  ``changed_since`` queries the hour partitions from its hour on, never scans.
- Push state: ``pk = AVPUSH#<channel>``, ``sk = <sku>``: the band last announced, when, its
  version, a pending re-check, and ``unsent`` until the push is confirmed (a claim whose push
  failed is sent again). Every change is a conditional write on the version read, so of two
  Lambdas that both saw a change only one announces it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from boto3.dynamodb.conditions import Key

from chalicelib.adapters.dynamo_tx import conditional_write
from chalicelib.domain.availability import CHANGE_RETENTION_DAYS, Band, PushState

_HOUR = "%Y-%m-%dT%H"


def hour_key(moment: datetime) -> str:
    return "AVCHG#" + moment.astimezone(UTC).strftime(_HOUR)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


class DynamoAvailability:
    def __init__(self, table: Any) -> None:
        self._table = table

    # --- change log --------------------------------------------------------------------------

    def log_changes(self, skus: Iterable[str], at: datetime) -> None:
        """One change-log item per SKU at ``at`` (BatchWriteItem, 25 per call)."""
        expires = int(at.timestamp()) + (CHANGE_RETENTION_DAYS + 1) * 86400
        with self._table.batch_writer() as batch:
            for sku in dict.fromkeys(skus):
                batch.put_item(
                    Item={
                        "pk": hour_key(at),
                        "sk": f"{_iso(at)}#{sku}",
                        "sku": sku,
                        "expires_at": expires,
                    }
                )

    def changes(
        self, since: datetime, until: datetime, limit: int, after: str | None
    ) -> tuple[list[tuple[str, str]], str | None]:
        """``(changed_at, sku)`` after ``since`` in time order, at most ``limit``; and where the
        next page starts (None: nothing more up to ``until``). ``after`` is such a start:
        ``<hour partition>|<last sort key>``."""
        hour = since.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        floor = _iso(since)
        if after:
            part, _, floor = after.partition("|")
            hour = datetime.strptime(part.removeprefix("AVCHG#"), _HOUR).replace(tzinfo=UTC)
        found: list[tuple[str, str]] = []
        while hour <= until:
            pk = hour_key(hour)
            start: dict[str, Any] | None = None
            while True:
                # a later hour is read whole: DynamoDB refuses an empty string in a key condition
                within = Key("pk").eq(pk)
                kwargs: dict[str, Any] = {
                    "KeyConditionExpression": within & Key("sk").gt(floor) if floor else within,
                    "Limit": limit - len(found),
                }
                if start:
                    kwargs["ExclusiveStartKey"] = start
                resp = self._table.query(**kwargs)
                for item in resp.get("Items", []):
                    at, _, sku = str(item["sk"]).rpartition("#")
                    found.append((at, sku))
                    floor = str(item["sk"])
                if len(found) >= limit:
                    return found, f"{pk}|{floor}"
                start = resp.get("LastEvaluatedKey")
                if not start:
                    break
            hour += timedelta(hours=1)
            floor = ""
        return found, None

    # --- push state --------------------------------------------------------------------------

    def push_state(self, channel: str, sku: str) -> PushState | None:
        item = self._table.get_item(
            Key={"pk": f"AVPUSH#{channel}", "sk": sku}, ConsistentRead=True
        ).get("Item")
        if not item:
            return None
        pending = item.get("pending_until")
        return PushState(
            band=Band(item["band"]),
            sent_at=float(item["sent_at"]),
            version=int(item["version"]),
            pending_until=float(pending) if pending is not None else None,
            unsent=bool(item.get("unsent")),
        )

    def claim_send(
        self, channel: str, sku: str, seen: PushState | None, band: Band, now: float
    ) -> int | None:
        """Record ``band`` as announced at ``now``, unconfirmed, if the state is still
        ``seen``: the new version, or None when another writer changed it first (it
        announces, not us)."""
        version = (seen.version if seen else 0) + 1
        ok = self._conditional(
            channel,
            sku,
            seen,
            "SET band = :b, sent_at = :t, version = :v, unsent = :u REMOVE pending_until",
            {":b": band.value, ":t": Decimal(str(now)), ":v": version, ":u": True},
        )
        return version if ok else None

    def confirm_sent(self, channel: str, sku: str, version: int) -> None:
        """The push of ``version`` went out (a newer claim keeps its own mark)."""
        conditional_write(
            self._table.update_item,
            Key={"pk": f"AVPUSH#{channel}", "sk": sku},
            UpdateExpression="REMOVE unsent",
            ConditionExpression="version = :v",
            ExpressionAttributeValues={":v": version},
        )

    def claim_defer(self, channel: str, sku: str, seen: PushState, until: float) -> bool:
        """Mark a re-check due at ``until`` if the state is still ``seen`` (so one is sent)."""
        return self._conditional(
            channel, sku, seen, "SET pending_until = :p", {":p": Decimal(str(until))}
        )

    def _conditional(
        self,
        channel: str,
        sku: str,
        seen: PushState | None,
        update: str,
        values: dict[str, Any],
    ) -> bool:
        if seen is None:
            condition = "attribute_not_exists(pk)"
        else:
            condition = "version = :seen AND "
            condition += "attribute_exists(unsent) AND " if seen.unsent else ""
            condition += (
                "attribute_not_exists(pending_until)"
                if seen.pending_until is None
                else "pending_until = :pend"
            )
            values = {**values, ":seen": seen.version}
            if seen.pending_until is not None:
                values[":pend"] = Decimal(str(seen.pending_until))
        return conditional_write(
            self._table.update_item,
            Key={"pk": f"AVPUSH#{channel}", "sk": sku},
            UpdateExpression=update,
            ConditionExpression=condition,
            ExpressionAttributeValues=values,
        )


class SqsRechecks:
    """Deferred re-checks: an ``availability_recheck`` message on the order-events queue,
    delivered when the coalescing window ends (SQS ``DelaySeconds``, at most 900)."""

    def __init__(self, client: Any, queue_url: Any) -> None:
        self._client, self._url = client, queue_url  # ``queue_url``: a str or a callable

    def schedule(self, channel: str, sku: str, delay_seconds: int) -> None:
        url = self._url() if callable(self._url) else self._url
        body = {"type": "availability_recheck", "channel": channel, "sku": sku}
        self._client.send_message(
            QueueUrl=url,
            MessageBody=json.dumps({"message_id": f"avrecheck:{channel}:{sku}", **body}),
            DelaySeconds=max(0, min(900, delay_seconds)),
        )
