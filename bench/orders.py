"""Order capture against the local stack: throughput at 1, 8 and 32 concurrent clients beside
the stack's moto's own conditional-write rate (the ratio is the figure; both measured from this
process against the same moto process), AWS round trips per order counted with botocore event
hooks, and the cost per 1000 orders at on-demand prices.

Run: ``.venv/bin/python bench/orders.py [--api-workers N]`` (starts its own stack on free ports;
moto in its own process, the API in this one and N - 1 others; a few minutes).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import random
import statistics
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# bench/ off the path: the repository root goes first.
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
import requests  # noqa: E402

os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
logging.getLogger("werkzeug").setLevel(logging.WARNING)

from local.demo import network_documents  # noqa: E402 - after the path set-up
from local.stack import Stack, http_server  # noqa: E402

SKUS = [f"BENCH-{i:03d}" for i in range(60)]
PRICES = {  # USD, published on-demand prices
    "wcu": 0.625 / 1e6,
    "rcu": 0.125 / 1e6,
    "apigw": 3.50 / 1e6,
    "lambda_req": 0.20 / 1e6,
    "lambda_gbs": 0.0000166667,
    "sqs": 0.40 / 1e6,
}
LAMBDA_GB = 0.5
SQS_CALLS = {
    "SendMessage",
    "SendMessageBatch",
    "ReceiveMessage",
    "DeleteMessage",
    "DeleteMessageBatch",
}


def seed(stack: Stack) -> str:
    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {stack.admin_key}"
    net = network_documents()
    for loc in net["locations"]:
        s.put(f"{stack.api_url}/locations/{loc['location_id']}", json=loc).raise_for_status()
    for svc in net["carrier_services"]:
        s.put(f"{stack.api_url}/carrier-services/{svc['service_id']}", json=svc).raise_for_status()
    s.put(
        f"{stack.api_url}/channels/bench",
        json={
            "kind": "webshop",
            "currencies": ["EUR"],
            "countries": ["DE", "AT", "FR", "NL"],
        },
    ).raise_for_status()
    for sku in SKUS:
        s.put(
            f"{stack.api_url}/products/{sku}",
            json={"name": sku, "weight_g": 700, "prices": {"EUR": 2500}},
        ).raise_for_status()
    from chalicelib import wiring

    table = wiring.table("dirigent-stock")
    with table.batch_writer() as batch:
        for sku in SKUS:
            for loc in net["locations"]:
                batch.put_item(
                    Item={
                        "sku": sku,
                        "location_id": loc["location_id"],
                        "on_hand": 100_000,
                        "reserved": 0,
                        "safety_stock": 0,
                        "available": 100_000,
                        "reorder_point": 0,
                    }
                )
    resp = s.post(f"{stack.api_url}/api-keys", json={"role": "channel", "channel": "bench"})
    resp.raise_for_status()
    return resp.json()["api_key"]


def moto_conditional_writes(seconds: float = 3.0, threads: int = 8) -> float:
    """Conditional UpdateItems per second on the embedded moto (the local ceiling)."""
    from chalicelib import wiring

    client = wiring.client("dynamodb")
    stop = time.monotonic() + seconds
    done = Counter()

    def work(i: int) -> None:
        while time.monotonic() < stop:
            client.update_item(
                TableName="dirigent-stock",
                Key={"sku": {"S": SKUS[i % len(SKUS)]}, "location_id": {"S": "dc-kassel"}},
                UpdateExpression="SET reserved = reserved + :q, available = available - :q",
                ConditionExpression="available >= :q",
                ExpressionAttributeValues={":q": {"N": "1"}},
            )
            client.update_item(
                TableName="dirigent-stock",
                Key={"sku": {"S": SKUS[i % len(SKUS)]}, "location_id": {"S": "dc-kassel"}},
                UpdateExpression="SET reserved = reserved - :q, available = available + :q",
                ConditionExpression="reserved >= :q",
                ExpressionAttributeValues={":q": {"N": "1"}},
            )
            done[i] += 2

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(work, range(threads)))
    return sum(done.values()) / seconds


def order_body(n: int, rng: random.Random, demand: list[dict[str, Any]]) -> dict[str, Any]:
    city = rng.choices(demand, weights=[d["population"] for d in demand])[0]
    lines = rng.sample(SKUS, rng.randint(1, 3))
    return {
        "channel_order_id": f"bench-{n}-{rng.random()}",
        "currency": "EUR",
        "customer": {"email": f"c{n}@example.com", "name": "Bench"},
        "ship_to": {
            "country": city["country"],
            "postal_code": city["postal_code"],
            "lat": city["lat"],
            "lon": city["lon"],
        },
        "lines": [{"sku": s, "quantity": rng.randint(1, 2), "unit_price": 2500} for s in lines],
    }


def run_clients(
    url: str, key: str, clients: int, orders: int, *, phase: str = ""
) -> tuple[float, list[float], Counter]:
    demand = network_documents()["demand"]
    codes: Counter = Counter()
    latencies: list[float] = []
    lock = threading.Lock()
    per_client = max(1, orders // clients)

    def client(i: int) -> None:
        rng = random.Random(f"{phase}{clients}:{i}")
        with requests.Session() as s:
            s.headers["Authorization"] = f"Bearer {key}"
            for n in range(per_client):
                t0 = time.perf_counter()
                r = s.post(f"{url}/orders", json=order_body(i * 10_000 + n, rng, demand))
                with lock:
                    latencies.append(time.perf_counter() - t0)
                    codes[r.status_code] += 1

    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(client, range(clients)))
    return (per_client * clients) / (time.perf_counter() - start), latencies, codes


class CallCounter:
    """botocore ``before-parameter-build`` hook: AWS calls made on HTTP request threads vs the
    rest, and the capacity units they cost, including the writes DynamoDB makes to indexes."""

    def __init__(self) -> None:
        self.http: Counter = Counter()
        self.background: Counter = Counter()
        self.wcu: Counter = Counter()  # "http" / "background" -> write units
        self.rcu: Counter = Counter()
        self.lock = threading.Lock()

    def __call__(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        side = "http" if "process_request" in threading.current_thread().name else "background"
        with self.lock:
            (self.http if side == "http" else self.background)[model.name] += 1
            if model.name == "TransactWriteItems":
                for entry in params["TransactItems"]:
                    ((kind, op),) = entry.items()
                    self.wcu[side] += 2 * _units(op, 1024) + _index_writes(kind, op)
            elif model.name in ("PutItem", "UpdateItem", "DeleteItem"):
                self.wcu[side] += _units(params, 1024) + _index_writes(model.name[:-4], params)
            elif model.name == "BatchGetItem":
                for table in params["RequestItems"].values():
                    reads = len(table["Keys"]) * (1 if table.get("ConsistentRead") else 0.5)
                    self.rcu[side] += reads
            elif model.name in ("GetItem", "Query"):
                self.rcu[side] += 1

    def cost(self, sides: tuple[str, ...], orders: int, lambda_calls: int) -> dict[str, float]:
        """USD per order for the calls made on ``sides``."""
        calls = sum((self.http if s == "http" else self.background for s in sides), Counter())
        sqs = sum(v for k, v in calls.items() if k in SQS_CALLS)
        return {
            "dynamodb writes": sum(self.wcu[s] for s in sides) / orders * PRICES["wcu"],
            "dynamodb reads": sum(self.rcu[s] for s in sides) / orders * PRICES["rcu"],
            "api gateway": PRICES["apigw"],
            "lambda": lambda_calls
            * (PRICES["lambda_req"] + 0.15 * LAMBDA_GB * PRICES["lambda_gbs"]),
            "sqs": sqs / orders * PRICES["sqs"],
        }


def _units(op: dict[str, Any], size: int) -> int:
    """Write units of one item write: its size by DynamoDB's rules (attribute names plus values;
    binary counts its raw bytes), rounded up to ``size``. Updates are sized by their request, a
    fair proxy for the small stock and aggregate items they touch."""
    if "Item" in op:
        body = sum(len(name) + _value_size(value) for name, value in op["Item"].items())
    else:
        body = len(json.dumps({k: v for k, v in op.items() if k != "TableName"}, default=str))
    return max(1, math.ceil(body / size))


_TYPES = {"S", "N", "B", "BOOL", "NULL", "M", "L", "SS", "NS", "BS"}


def _value_size(value: Any) -> int:
    if isinstance(value, dict) and not (len(value) == 1 and set(value) <= _TYPES):
        return 3 + sum(len(k) + 1 + _value_size(v) for k, v in value.items())  # a Python map
    if not isinstance(value, dict):  # a resource-style (deserialised) value
        return len(value) if isinstance(value, (str, bytes)) else len(str(value))
    ((kind, inner),) = value.items()
    if kind in ("S", "B"):
        return len(inner.encode() if isinstance(inner, str) else inner)
    if kind == "N":
        return len(inner) // 2 + 1
    if kind == "M":
        return 3 + sum(len(k) + 1 + _value_size(v) for k, v in inner.items())
    if kind == "L":
        return 3 + sum(1 + _value_size(v) for v in inner)
    return 1


def _index_writes(kind: str, op: dict[str, Any]) -> int:
    """Write units DynamoDB spends on indexes: a new order enters its 4 keys-only listing
    indexes; a stock movement enters the sparse low-stock index when it sets ``low_flag`` (an
    estimate: once per item until the alert run clears it, counted here as every time); the
    by-location index holds keys only. ``bench/capacity.py`` sizes every index write exactly."""
    table = op.get("TableName", "")
    if (
        kind == "Put"
        and table.endswith("-orders")
        and "attribute_not_exists" in str(op.get("ConditionExpression", ""))
    ):
        return 4
    if kind == "Update" and table.endswith("-stock"):
        return 1 if "low_flag" in str(op.get("UpdateExpression", "")) else 0
    return 0


def drain(stack: Stack, timeout: float = 300) -> None:
    """Wait until the order-events queue is empty and nothing is in flight."""
    from chalicelib import wiring

    sqs = wiring.client("sqs")
    url = sqs.get_queue_url(QueueName="dirigent-order-events")["QueueUrl"]
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
        if all(attrs[n] == "0" for n in names):
            time.sleep(1)
            return
        time.sleep(0.5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--api-workers", type=int, default=2, help="processes serving the API")
    parser.add_argument("--orders-per-client", type=int, default=12)
    args = parser.parse_args()
    stack = Stack(
        port=0,
        moto_port=0,
        admin_key="bench-admin-key",
        demo=False,
        sim=False,
        api_workers=args.api_workers,
    )
    stack.start()
    try:
        key = seed(stack)
        from chalicelib import wiring

        print(
            f"moto in its own process, the API in {args.api_workers}; "
            f"moto conditional UpdateItem: {moto_conditional_writes():.0f}/s"
        )
        print(
            f"{'clients':>8} {'orders/s':>9} {'p50 ms':>7} {'p99 ms':>7} {'moto cw/s':>9}"
            f" {'ratio':>6}  status codes"
        )
        for clients in (1, 8, 32):
            # every row from an idle stack (the consumers done with the previous row's orders),
            # its reference measured on that same idle stack just before
            drain(stack)
            moto_rate = moto_conditional_writes(2.0)
            orders = args.orders_per_client * max(clients, 4)
            rate, lat, codes = run_clients(stack.api_url, key, clients, orders)
            lat.sort()
            p99 = lat[int(len(lat) * 0.99) - 1]
            print(
                f"{clients:>8} {rate:>9.1f} {statistics.median(lat) * 1000:>7.0f} "
                f"{p99 * 1000:>7.0f} {moto_rate:>9.0f} {rate / moto_rate:>6.2f}  {dict(codes)}"
            )
        print("(ratio = orders/s over moto's conditional writes/s measured just before the row)")

        drain(stack)  # let the order-events consumer finish the previous rounds
        counter = CallCounter()
        # Clients copy their session's hooks when built: register on the app's own clients.
        for c in (
            wiring.client("dynamodb"),
            wiring.client("sqs"),
            wiring.client("ses"),
            wiring.dynamodb().meta.client,
        ):
            c.meta.events.register("before-parameter-build.*.*", counter)
        n = 50
        # Counted in this process: an API server of its own, beside the stack's workers.
        counted = http_server(stack.app, port=0).server
        threading.Thread(target=counted.serve_forever, args=(0.1,), daemon=True).start()
        counted_url = f"http://127.0.0.1:{counted.server_address[1]}"
        run_clients(counted_url, key, 1, n, phase="count")
        counted.shutdown()
        counted.server_close()
        drain(stack)  # dispatch happens asynchronously
        http_calls = sum(counter.http.values()) / n
        print(
            f"\nAWS round trips per order on the HTTP path: {http_calls:.2f}  {dict(counter.http)}"
        )
        background = {k: round(v / n, 2) for k, v in counter.background.items()}
        print(f"asynchronous side, per order: {background}")
        for label, sides, lambdas in (
            ("capture (the HTTP path)", ("http",), 1),
            ("capture + dispatch (with the order-events consumer)", ("http", "background"), 2),
        ):
            per_order = counter.cost(sides, n, lambdas)
            wcu = sum(counter.wcu[s] for s in sides) / n
            rcu = sum(counter.rcu[s] for s in sides) / n
            print(f"{label}: {wcu:.1f} write units, {rcu:.1f} read units per order")
            print(
                "  cost per 1000 orders (USD, excluding SES): "
                + ", ".join(f"{k} {v * 1000:.4f}" for k, v in per_order.items())
                + f"  => {sum(per_order.values()) * 1000:.4f}"
            )
        print(
            "(estimated from request sizes, the webhook and availability consumers included;"
            " bench/capacity.py sizes every item and index write exactly: the target's figure)"
        )
        print("(SQS polling by idle consumers is not counted: Lambda's event source mapping polls)")
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
