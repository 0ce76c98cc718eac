"""Rule simulations in the orders table.

- Sourcing inputs: ``pk = SIMIN#<yyyy-mm-dd>`` (the order's UTC day), ``sk = <order_id>``,
  ``d`` = zlib-compressed JSON of ``SimInput.as_doc()``, TTL ``expires_at`` (90 days). A period is
  one Query per day, never a Scan. The same item is the order's sale for the network-value
  forecast (``region`` and units per SKU, ``lines``, plain: the hourly job reads them without
  decompressing): one write per order after its commit serves both. An item without ``d`` is a
  sale the order-events consumer kept because the capture's write never came (see
  ``dynamo_network_value``): the simulation counts that order not replayable.
- Simulations: ``pk = SIM#<id>``, ``sk = SIM``; the job's ``step`` number guards every progress
  write (``step = :expected``), so a redelivered step changes nothing. ``SIM#LATEST`` names the
  newest simulation (for the dashboard).
"""

from __future__ import annotations

import json
import zlib
from datetime import datetime
from decimal import Decimal
from typing import Any

from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError

from chalicelib.adapters.dynamo_tx import conditional_write
from chalicelib.domain.network_value import region_of
from chalicelib.domain.simulation import SimInput

INPUT_TTL_SECONDS = 90 * 86400
SK = "SIM"
LATEST = "SIM#LATEST"
MAX_FAILURES = 3  # of one step, then the simulation is failed (the queue retries 5 times)
_JSON_FIELDS = ("current_rules", "candidate_rules", "tally", "cursor")


def input_key(day: str, order_id: str) -> dict[str, str]:
    """The key of an order's inputs (and sale) item; ``day`` is ``YYYY-MM-DD`` (UTC)."""
    return {"pk": f"SIMIN#{day}", "sk": order_id}


def sale_attributes(region: str, lines: dict[str, int]) -> dict[str, Any]:
    """The sale's attributes of an inputs item."""
    return {"region": region, "lines": {sku: int(q) for sku, q in lines.items() if q > 0}}


def sale_of(inp: SimInput) -> tuple[str, dict[str, int]]:
    """The demand region and units per SKU of an order's inputs."""
    units: dict[str, int] = {}
    for sku, quantity, _ in inp.lines:
        units[sku] = units.get(sku, 0) + quantity
    return region_of(inp.ship_to.country, inp.ship_to.postal_code), units


def pack(value: Any) -> bytes:
    return zlib.compress(json.dumps(value, separators=(",", ":"), default=_plain).encode(), 6)


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return str(value)


def unpack(blob: Any) -> Any:
    raw = blob.value if hasattr(blob, "value") else blob
    return json.loads(zlib.decompress(bytes(raw)))


class DynamoSimInputs:
    def __init__(self, table: Any) -> None:
        self._table = table

    def put(self, inp: SimInput) -> None:
        """The inputs with the order's sale (it replaces a sale the consumer kept first)."""
        self._table.put_item(
            Item={
                **input_key(inp.created_at.date().isoformat(), inp.order_id),
                "d": pack(inp.as_doc()),
                **sale_attributes(*sale_of(inp)),
                "expires_at": int(inp.created_at.timestamp()) + INPUT_TTL_SECONDS,
            }
        )

    def count(self, day: str) -> int:
        total, start = 0, None
        while True:
            kw: dict[str, Any] = {"ExclusiveStartKey": start} if start else {}
            resp = self._table.query(
                KeyConditionExpression=Key("pk").eq(f"SIMIN#{day}"), Select="COUNT", **kw
            )
            total += int(resp["Count"])
            start = resp.get("LastEvaluatedKey")
            if not start:
                return total

    def page(self, day: str, after: str | None, limit: int) -> list[tuple[str, SimInput | None]]:
        """Up to ``limit`` inputs of ``day`` after order id ``after``, in order id order; an
        undecodable record is ``(order_id, None)``."""
        cond = Key("pk").eq(f"SIMIN#{day}")
        if after:
            cond = cond & Key("sk").gt(after)
        out: list[tuple[str, SimInput | None]] = []
        start = None
        while len(out) < limit:
            kw: dict[str, Any] = {"ExclusiveStartKey": start} if start else {}
            resp = self._table.query(
                KeyConditionExpression=cond, Limit=limit - len(out), ConsistentRead=True, **kw
            )
            for item in resp["Items"]:
                try:
                    out.append((str(item["sk"]), SimInput.from_doc(unpack(item["d"]))))
                except (KeyError, TypeError, ValueError, zlib.error):
                    out.append((str(item["sk"]), None))
            start = resp.get("LastEvaluatedKey")
            if not start:
                break
        return out


class DynamoSimulations:
    def __init__(self, table: Any) -> None:
        self._table = table

    def create(self, sim: dict[str, Any]) -> None:
        item = _to_item(sim)
        self._table.put_item(
            Item={"pk": f"SIM#{sim['simulation_id']}", "sk": SK, **item},
            ConditionExpression=Attr("pk").not_exists(),
        )
        self._table.put_item(Item={"pk": LATEST, "sk": SK, "simulation_id": sim["simulation_id"]})

    def get(self, simulation_id: str) -> dict[str, Any] | None:
        item = self._table.get_item(
            Key={"pk": f"SIM#{simulation_id}", "sk": SK}, ConsistentRead=True
        ).get("Item")
        return _from_item(item) if item else None

    def latest(self) -> dict[str, Any] | None:
        item = self._table.get_item(Key={"pk": LATEST, "sk": SK}).get("Item")
        return self.get(str(item["simulation_id"])) if item else None

    def advance(self, simulation_id: str, expected_step: int, changes: dict[str, Any]) -> bool:
        """Write ``changes`` and ``step = expected_step + 1`` if the step is still
        ``expected_step``; False when another delivery did it first."""
        values = _to_item(changes)
        names = {f"#{k}": k for k in values}
        sets = [f"#{k} = :{k}" for k in values]
        return conditional_write(
            self._table.update_item,
            Key={"pk": f"SIM#{simulation_id}", "sk": SK},
            UpdateExpression="SET " + ", ".join([*sets, "#step = :next"]),
            ConditionExpression="#step = :expected",
            ExpressionAttributeNames={**names, "#step": "step"},
            ExpressionAttributeValues={
                **{f":{k}": v for k, v in values.items()},
                ":next": expected_step + 1,
                ":expected": expected_step,
            },
        )

    def mark_sent(self, simulation_id: str, step: int) -> None:
        """Record that the message of ``step`` is on the queue (only ever moves forward)."""
        conditional_write(
            self._table.update_item,
            Key={"pk": f"SIM#{simulation_id}", "sk": SK},
            UpdateExpression="SET sent = :s",
            ConditionExpression="attribute_not_exists(sent) OR sent < :s",
            ExpressionAttributeValues={":s": step},
        )

    def failed(self, simulation_id: str, step: int, reason: str) -> bool:
        """Count a failure of ``step``; at ``MAX_FAILURES`` the simulation is ``failed``
        (True). A step that moved on meanwhile counts nothing."""
        key = {"pk": f"SIM#{simulation_id}", "sk": SK}
        try:
            resp = self._table.update_item(
                Key=key,
                UpdateExpression="ADD failures :one SET #error = :reason",
                ConditionExpression="#step = :step",
                ExpressionAttributeNames={"#step": "step", "#error": "error"},
                ExpressionAttributeValues={":one": 1, ":step": step, ":reason": reason},
                ReturnValues="UPDATED_NEW",
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        if int(resp["Attributes"]["failures"]) < MAX_FAILURES:
            return False
        self._table.update_item(
            Key=key,
            UpdateExpression="SET #status = :failed",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={":failed": "failed"},
        )
        return True

    def set_activated(self, simulation_id: str, version: int) -> None:
        self._table.update_item(
            Key={"pk": f"SIM#{simulation_id}", "sk": SK},
            UpdateExpression="SET activated_version = :v",
            ExpressionAttributeValues={":v": version},
        )


def _to_item(sim: dict[str, Any]) -> dict[str, Any]:
    item: dict[str, Any] = {}
    for key, value in sim.items():
        if key in _JSON_FIELDS:
            item[key] = pack(value)
        elif isinstance(value, datetime):
            item[key] = value.isoformat()
        elif value is not None:
            item[key] = value
    return item


def _from_item(item: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in item.items():
        if key in ("pk", "sk"):
            continue
        if key in _JSON_FIELDS:
            out[key] = unpack(value)
        elif hasattr(value, "as_integer_ratio") and not isinstance(value, bool):
            out[key] = int(value)  # Decimal
        else:
            out[key] = value
    return out
