"""DynamoDB capacity and SQS requests of the whole life of one order — capture, dispatch, picked,
shipped, delivered — and the cost per 1000 orders at on-demand prices.

moto's ``ConsumedCapacity`` is not reliable, so units are computed from the requests by
DynamoDB's published rules, with the item sizes read from moto before and after each write:
1 write unit per started KB of the larger of the old and new item, transactional writes 2x;
an index write per GSI whose entry appears, goes (1 each) or moves (2), sized by its projection,
a KEYS_ONLY index untouched when its keys did not change; reads 1 unit per started 4 KB strongly
consistent, 0.5 eventually consistent, transactional 2x (a Query sums what it returns).

Also prints the write units per item kind (table and key prefix) of each step. Scheduled jobs
(the low-stock alert run, network values) are per hour, not per order: not counted.

Run: ``.venv/bin/python bench/capacity.py`` (in-process moto and Chalice's test client; ~20 s).
"""

from __future__ import annotations

import json
import math
import os
import sys
import threading
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

# bench/ itself off the path: bench/ scripts import the repository as a package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")

import tests.conftest  # noqa: E402,F401 - the test environment (fake credentials, stage)

REGION = "eu-central-1"
# USD, on-demand, us-east-1 (eu-central-1 is ~20 % dearer), prices since November 2024.
PRICES = {"write unit": 0.625 / 1e6, "read unit": 0.125 / 1e6, "sqs request": 0.40 / 1e6}
ORDERS = 20
STEPS = ("capture", "dispatch", "picked", "shipped", "delivered")
WRITES = {"PutItem": "Put", "UpdateItem": "Update", "DeleteItem": "Delete"}


class Meter:
    """botocore hooks: before a DynamoDB write the sizes of the items it touches, after it the
    units; SQS requests counted (a batch of up to 10 is one request)."""

    def __init__(self, backend: Any) -> None:
        self.backend = backend
        self.step = "setup"
        self.units: dict[str, Counter] = defaultdict(Counter)
        self.calls: dict[str, Counter] = defaultdict(Counter)
        self.items: dict[str, Counter] = defaultdict(Counter)  # step -> table:key prefix -> WCU
        self._pending = threading.local()

    def register(self, events: Any) -> None:
        events.register("before-call.dynamodb.*", self.before)
        events.register("after-call.dynamodb.*", self.after)
        events.register("before-call.sqs.*", self.sqs)

    # --- hooks -----------------------------------------------------------------------------

    def sqs(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        if model.name not in ("GetQueueUrl", "GetQueueAttributes"):
            self.units[self.step]["sqs requests"] += 1
        self.calls[self.step][f"sqs.{model.name}"] += 1

    def before(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        body = params.get("body") or b"{}"  # the request as serialized: low-level values
        writes = self._writes(model.name, json.loads(body))
        self._pending.writes = [(t, k, w, self._item(t, k)) for t, k, w in writes]

    def after(self, model: Any, parsed: dict[str, Any], http_response: Any, **_: Any) -> None:
        self.calls[self.step][model.name] += 1
        writes, self._pending.writes = getattr(self._pending, "writes", []), []
        if http_response.status_code >= 300:
            return  # a refused write costs units too, but the bench's path has none
        for table, key, factor, old in writes:
            new = self._item(table, key)
            base = max(_size(old), _size(new))
            units = factor * max(1, math.ceil(base / 1024))
            index_units = self._index_units(table, old, new)
            self.units[self.step]["write units"] += units
            self.units[self.step]["index write units"] += index_units
            what = f"{table}:{next(iter(key.values()), {}).get('S', '?').split('#')[0]}"
            self.items[self.step][what] += units + index_units
        self.units[self.step]["read units"] += _read_units(model.name, parsed)

    # --- sizes -----------------------------------------------------------------------------

    def _writes(self, op: str, params: dict[str, Any]) -> list[tuple[str, dict, int]]:
        if op in WRITES:
            return [(params["TableName"], params.get("Item") or params["Key"], 1)]
        if op == "TransactWriteItems":
            out = []
            for entry in params["TransactItems"]:
                ((kind, body),) = entry.items()
                if kind != "ConditionCheck":
                    out.append((body["TableName"], body.get("Item") or body["Key"], 2))
            return out
        if op == "BatchWriteItem":
            return [
                (name, (r.get("PutRequest") or {}).get("Item") or r["DeleteRequest"]["Key"], 1)
                for name, reqs in params["RequestItems"].items()
                for r in reqs
            ]
        return []

    def _item(self, table_name: str, key: dict[str, Any]) -> Any:
        from moto.dynamodb.models.dynamo_type import DynamoType

        table = self.backend.get_table(table_name)
        hash_key = DynamoType(key[table.hash_key_attr])
        range_key = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
        item = table.get_item(hash_key, range_key)
        return None if item is None else {k: v for k, v in item.attrs.items()}

    def _index_units(self, table_name: str, old: Any, new: Any) -> int:
        units = 0
        for index in self.backend.get_table(table_name).global_indexes:
            before, after = _index_entry(index, old), _index_entry(index, new)
            if before is None and after is None:
                continue
            if before is None or after is None:
                units += _kb(before or after)
            elif before["keys"] != after["keys"]:
                units += _kb(before) + _kb(after)
            elif before["projected"] != after["projected"]:
                units += _kb(after)
        return units


def _size(attrs: dict[str, Any] | None) -> int:
    if not attrs:
        return 0
    return sum(len(name.encode()) + value.size() for name, value in attrs.items())


def _kb(entry: dict[str, Any]) -> int:
    return max(1, math.ceil(entry["size"] / 1024))


def _index_entry(index: Any, attrs: dict[str, Any] | None) -> dict[str, Any] | None:
    """What ``index`` holds of the item ``attrs``: None when a key attribute is missing."""
    if not attrs or any(name not in attrs for name in index.schema_key_attrs):
        return None
    keys = {n: attrs[n] for n in [*index.schema_key_attrs, *index.table_key_attrs] if n in attrs}
    kind = index.projection.get("ProjectionType", "ALL")
    if kind == "ALL":
        projected = attrs
    elif kind == "INCLUDE":
        wanted = set(index.projection.get("NonKeyAttributes", []))
        projected = {**keys, **{k: v for k, v in attrs.items() if k in wanted}}
    else:
        projected = keys
    return {"keys": keys, "projected": projected, "size": _size(projected)}


def _read_units(op: str, parsed: dict[str, Any]) -> float:
    """Read units from the response: items returned, 4 KB each started."""
    if op == "GetItem":
        item = parsed.get("Item")
        return _rcu([item] if item else [None], consistent=True)  # the adapters read strongly
    if op == "BatchGetItem":
        return sum(_rcu([i], consistent=False) for i in _batch_items(parsed))
    if op == "TransactGetItems":
        return 2 * sum(_rcu([r.get("Item")], consistent=True) for r in parsed["Responses"])
    if op in ("Query", "Scan"):
        return _rcu(parsed.get("Items", []) or [None], consistent=True, summed=True)
    return 0.0


def _batch_items(parsed: dict[str, Any]) -> list[Any]:
    return [item for items in parsed.get("Responses", {}).values() for item in items]


def _rcu(items: list[Any], *, consistent: bool, summed: bool = False) -> float:
    sizes = [_wire_size(i) for i in items]
    blocks = (
        max(1, math.ceil(sum(sizes) / 4096))
        if summed
        else sum(max(1, math.ceil(s / 4096)) for s in sizes)
    )
    return blocks * (1.0 if consistent else 0.5)


def _wire_size(value: Any) -> int:
    """The size of a low-level item or attribute value by DynamoDB's rules."""
    if value is None:
        return 0
    if isinstance(value, dict) and not _is_value(value):
        return sum(len(k.encode()) + _wire_size(v) for k, v in value.items())
    ((kind, inner),) = value.items()
    if kind == "S":
        return len(inner.encode())
    if kind == "B":
        return len(inner)
    if kind == "N":
        return len(inner.lstrip("-").replace(".", "")) // 2 + 1
    if kind == "M":
        return 3 + sum(len(k.encode()) + 1 + _wire_size(v) for k, v in inner.items())
    if kind == "L":
        return 3 + sum(1 + _wire_size(v) for v in inner)
    if kind in ("SS", "NS", "BS"):
        return sum(len(str(v)) for v in inner)
    return 1


def _is_value(value: dict[str, Any]) -> bool:
    return len(value) == 1 and next(iter(value)) in {
        "S",
        "N",
        "B",
        "M",
        "L",
        "BOOL",
        "NULL",
        "SS",
        "NS",
        "BS",
    }


def run(
    orders: int = ORDERS,
) -> tuple[dict[str, Counter], dict[str, Counter], dict[str, Counter]]:
    import boto3
    from chalice.test import Client
    from moto import mock_aws
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    from chalicelib import wiring
    from chalicelib.domain.access import Role
    from infrastructure.create import create_all
    from tests.api import fulfilment_kit as kit
    from tests.api.seed import set_stock

    with mock_aws():
        wiring.reset()
        create_all(boto3.session.Session())
        meter = Meter(dynamodb_backends[DEFAULT_ACCOUNT_ID][REGION])
        meter.register(wiring.session().events)  # before any client is built: they copy it
        from app import app

        with Client(app, stage_name="local") as client:
            admin = wiring.keys().create(Role.ADMIN)["api_key"]
            shop = kit.make_shop(client, admin, boto3.session.Session())
            for sku in ("SKU-1", "SKU-2"):
                set_stock(boto3.session.Session(), sku, "dc-kassel", 10 * orders)
            aws = boto3.session.Session()
            for n in range(orders):
                meter.step = "capture"
                order = kit.place(client, shop["key"], f"cap-{n}", [("SKU-1", 1), ("SKU-2", 1)])
                meter.step = "dispatch"
                placed = kit.drain(aws, "dirigent-order-events")
                assert kit.deliver(client, "on_order_event", "dirigent-order-events", *placed) == []
                kit.drain(aws, "dirigent-fulfilment")
                for shipment in order["shipments"]:
                    for step, body in (
                        ("picked", kit.event("picked", order, shipment)),
                        ("shipped", kit.shipped(order, shipment)),
                        (
                            "delivered",
                            kit.event("delivered", order, shipment, occurred_at=kit.at(minutes=60)),
                        ),
                    ):
                        meter.step = step
                        failed = kit.deliver(
                            client, "on_warehouse_event", kit.WAREHOUSE_EVENTS, body
                        )
                        assert failed == [], (step, failed)
            meter.step = "done"
        wiring.reset()
    return meter.units, meter.calls, meter.items


def cost(units: Counter) -> float:
    """USD for ``units`` at the prices above."""
    return (
        (units["write units"] + units["index write units"]) * PRICES["write unit"]
        + units["read units"] * PRICES["read unit"]
        + units["sqs requests"] * PRICES["sqs request"]
    )


def main() -> None:
    units, calls, items = run()
    n = ORDERS
    print(f"capacity per order over {n} orders of 2 lines (one shipment), DynamoDB's rules:")
    print(f"{'step':>10} {'WCU':>6} {'GSI WCU':>8} {'RCU':>6} {'SQS req':>8} {'$/1000':>8}  calls")
    total: Counter = Counter()
    for step in STEPS:
        u = units[step]
        total.update(u)
        per = {k: v / n for k, v in u.items()}
        call_list = {k: round(v / n, 2) for k, v in sorted(calls[step].items())}
        print(
            f"{step:>10} {per.get('write units', 0):>6.1f} {per.get('index write units', 0):>8.1f}"
            f" {per.get('read units', 0):>6.1f} {per.get('sqs requests', 0):>8.1f}"
            f" {cost(u) / n * 1000:>8.4f}  {json.dumps(call_list)}"
        )
    print("write units (table and GSI) per item kind, per order:")
    for step in STEPS:
        kinds = ", ".join(f"{k} {v / n:.1f}" for k, v in items[step].most_common())
        print(f"{step:>10}  {kinds}")
    capture_dispatch = Counter(units["capture"]) + Counter(units["dispatch"])
    print(
        f"cost per 1000 orders (USD, DynamoDB + SQS, on-demand us-east-1: $0.625/M write units, "
        f"$0.125/M read units, $0.40/M SQS requests):\n"
        f"  capture {cost(units['capture']) / n * 1000:.4f}, "
        f"capture + dispatch {cost(capture_dispatch) / n * 1000:.4f} (target <= 0.02), "
        f"whole life {cost(total) / n * 1000:.4f}"
    )


if __name__ == "__main__":
    main()
