"""The availability feed: CPU and read units of one 100-SKU request, beside a one-SKU quote.

Run: ``.venv/bin/python bench/availability.py [--runs 20]`` (~3 minutes; ``make bench`` runs it).

The real app answers ``GET /channels/bench/availability?skus=<100 SKUs>`` and, in the same run,
``POST /delivery-options`` for one unit of one SKU, on bench/per_request.py's network (30
jittered locations, stock at 60 % of them) with a 100-SKU catalogue. AWS is moto in this
process; its CPU is subtracted (bench/per_request.py's ``MotoClock``). Read units are counted
client-side by DynamoDB's rules from what each call read (``ReadMeter``): moto's own
``ConsumedCapacity`` ignores eventual consistency and the 4 KB rounding.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

N_SKUS, N_LOCATIONS, WARM_UP = 100, 30, 3  # moto walks the table on every Query: keep it small
UNIT_BYTES = 4096


def value_bytes(value: dict[str, Any]) -> int:
    """The stored size of one attribute value in DynamoDB's wire format (close enough)."""
    ((kind, raw),) = value.items()
    if kind == "S":
        return len(str(raw).encode())
    if kind == "N":
        return (len(str(raw).lstrip("-").replace(".", "")) + 1) // 2 + 1
    if kind == "B":
        return len(raw)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "L":
        return 3 + sum(1 + value_bytes(v) for v in raw)
    if kind == "M":
        return 3 + sum(len(k.encode()) + 1 + value_bytes(v) for k, v in raw.items())
    return sum(len(str(v).encode()) for v in raw)  # SS, NS, BS


def item_bytes(item: dict[str, Any]) -> int:
    return sum(len(name.encode()) + value_bytes(v) for name, v in item.items())


class ReadMeter:
    """Counts DynamoDB calls and their read units (DynamoDB's rules: 1 unit per 4 KB read
    consistently, half eventually; a Query rounds its total up, a BatchGetItem or GetItem
    each item, a missing item still costs the minimum) on the clients it is attached to."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.units = 0.0
        self.scans = 0
        self._local = threading.local()  # the params of each thread's call in flight
        self._lock = threading.Lock()  # the feed reads in 8 threads: += on a float loses counts

    @contextmanager
    def attached(self, *clients: Any) -> Iterator[ReadMeter]:
        unique = {id(c): c for c in clients}.values()
        for c in unique:
            c.meta.events.register("provide-client-params.dynamodb.*", self._before)
            c.meta.events.register("after-call.dynamodb.*", self._after)
        try:
            yield self
        finally:
            for c in unique:
                c.meta.events.unregister("provide-client-params.dynamodb.*", self._before)
                c.meta.events.unregister("after-call.dynamodb.*", self._after)

    def _before(self, params: dict[str, Any], **kwargs: Any) -> None:
        self._local.params = params

    def _after(self, parsed: dict[str, Any], event_name: str, **kwargs: Any) -> None:
        with self._lock:
            self._count(parsed, event_name.rsplit(".", 1)[-1])

    def _count(self, parsed: dict[str, Any], operation: str) -> None:
        params = getattr(self._local, "params", None) or {}
        self.calls[operation] += 1
        half = 1.0 if params.get("ConsistentRead") else 0.5
        if operation in ("Query", "Scan"):
            self.scans += operation == "Scan"
            size = sum(item_bytes(i) for i in parsed.get("Items", []))
            self.units += max(1, math.ceil(size / UNIT_BYTES)) * half
        elif operation == "GetItem":
            size = item_bytes(parsed.get("Item") or {})
            self.units += max(1, math.ceil(size / UNIT_BYTES)) * half
        elif operation == "BatchGetItem":
            for table, request in params.get("RequestItems", {}).items():
                rate = 1.0 if request.get("ConsistentRead") else 0.5
                items = parsed.get("Responses", {}).get(table, [])
                missing = max(0, len(request["Keys"]) - len(items))
                self.units += missing * rate
                self.units += sum(
                    max(1, math.ceil(item_bytes(i) / UNIT_BYTES)) * rate for i in items
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=20, help="requests of each kind")
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    # bench/per_request.py sets the environment and puts the repository first on the path.
    sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        os.environ.pop(name, None)
    from bench import per_request as request_bench, sourcing as sourcing_bench
    from chalicelib.domain.network import Product
    from tests.fixtures.network import load_network

    rng = random.Random(args.seed)
    catalogue = {
        f"AV-{i:03d}": Product(f"AV-{i:03d}", rng.randint(100, 4000), {"EUR": 2900})
        for i in range(N_SKUS)
    }
    locs = sourcing_bench.locations(load_network(), N_LOCATIONS, rng)
    feed, quote, meter = measure(request_bench, catalogue, locs, rng, args.runs)
    p50_feed, p99_feed = request_bench.percentiles(feed)
    p50_quote, p99_quote = request_bench.percentiles(quote)
    per_request = meter.units / len(feed)
    print(f"== availability feed: {N_SKUS} SKUs x {N_LOCATIONS} locations, {args.runs} runs ==")
    print(f"{'request':<40} {'p50 ms':>8} {'p99 ms':>8}")
    print(f"{f'availability, {N_SKUS} SKUs':<40} {p50_feed:>8.2f} {p99_feed:>8.2f}")
    print(f"{'quote, 1 SKU x 1 unit':<40} {p50_quote:>8.2f} {p99_quote:>8.2f}")
    print(f"p99 ratio availability / quote: {p99_feed / p99_quote:.1f}x")
    calls = {k: v / len(feed) for k, v in sorted(meter.calls.items())}
    print(f"read units per 100-SKU request: {per_request:.1f} (calls per request: {calls})")
    print(f"scans: {meter.scans}")


def measure(
    request_bench: Any, catalogue: dict[str, Any], locs: list[Any], rng: Any, runs: int
) -> tuple[list[float], list[float], ReadMeter]:
    import json

    import boto3
    from chalice.test import Client
    from moto import mock_aws

    from chalicelib import wiring
    from chalicelib.domain.access import Role
    from chalicelib.services import availability as service
    from chalicelib.wiring import aws as aws_wiring
    from infrastructure.create import create_all
    from tests.api.seed import auth

    service.READERS = 1  # thread CPU is measured: read in this thread (a pool overlaps waits)
    clock, meter = request_bench.MotoClock(), ReadMeter()
    with mock_aws(), clock.installed():
        wiring.reset()
        create_all(boto3.session.Session())
        admin_key = wiring.keys().create(Role.ADMIN)["api_key"]
        from app import app

        with Client(app, stage_name="local") as client:
            key, _ = request_bench.seed(client, admin_key, catalogue, locs, rng)
            headers = auth(key)
            path = "/channels/bench/availability?skus=" + ",".join(sorted(catalogue))
            sku = sorted(catalogue)[0]
            body = json.dumps(
                {
                    "currency": "EUR",
                    "ship_to": {"country": "DE", "postal_code": "10115"},
                    "lines": [{"sku": sku, "quantity": 1}],
                }
            )
            feed: list[float] = []
            quote: list[float] = []
            for n in range(runs + WARM_UP):
                ms, resp = request_bench.own_cpu_ms(
                    clock, lambda: client.http.post("/delivery-options", body=body, headers=headers)
                )
                assert resp.status_code == 200, resp.body
                quote.append(ms)
                clients = (aws_wiring.client("dynamodb"), aws_wiring.dynamodb().meta.client)
                if n >= WARM_UP:
                    with meter.attached(*clients):
                        ms, resp = request_bench.own_cpu_ms(
                            clock, lambda: client.http.get(path, headers=headers)
                        )
                else:
                    ms, resp = request_bench.own_cpu_ms(
                        clock, lambda: client.http.get(path, headers=headers)
                    )
                assert resp.status_code == 200, resp.body
                feed.append(ms)
            return feed[WARM_UP:], quote[WARM_UP:], meter


if __name__ == "__main__":
    main()
