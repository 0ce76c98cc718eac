"""CPU per request of our own code: parse, sourcing, transaction build, response.

Run: ``.venv/bin/python bench/per_request.py [--runs 200] [--locations 100]`` (~1 minute;
``make bench`` runs it).

The real app (``app.py``, its wiring and DynamoDB/SQS/SES adapters, botocore's serialisation
included) answers a quote (``POST /delivery-options``), an order (``POST /orders``) at 5 lines x
100 locations, and a warehouse ``shipped`` event through ``on_warehouse_event``. The AWS calls
are answered in memory by moto in this process; the CPU spent inside moto (its botocore hook)
is measured and subtracted, so a figure is the CPU time of our code alone (every thread of it),
as a Lambda would spend it. The case generator is bench/sourcing.py's (catalogue, 100 jittered
locations, stock present at 60 % of them, carts from the demand points); stock is scaled up so
that the orders never run out. ``plan()`` for 5 x 100 is timed in the same run for comparison.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# bench/ off the path: the repository root goes first.
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
for _name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
    os.environ.pop(_name, None)
os.environ.update(
    AWS_DEFAULT_REGION="eu-central-1",
    AWS_ACCESS_KEY_ID="bench",
    AWS_SECRET_ACCESS_KEY="bench",
    POWERTOOLS_LOG_LEVEL="WARNING",
    POWERTOOLS_METRICS_DISABLED="true",
    POWERTOOLS_TRACE_DISABLED="true",
    DIRIGENT_STAGE="test",
    DIRIGENT_TOKEN_SECRET="bench-only-secret-of-at-least-32-bytes",
    RATE_LIMIT_BURST_PER_KEY="1000000",  # seeding 1000 locations is no client over its limit
)

import boto3  # noqa: E402 - after the environment
from moto import mock_aws  # noqa: E402
from moto.core.botocore_stubber import BotocoreStubber  # noqa: E402

from bench import sourcing as sourcing_bench  # noqa: E402
from chalicelib.domain.network import Location, Product, StockLevel  # noqa: E402
from chalicelib.domain.sourcing import SourcingRequest  # noqa: E402
from local.demo import network_documents  # noqa: E402
from tests.api.fulfilment_kit import WAREHOUSE_EVENTS, shipped, sqs_records  # noqa: E402
from tests.api.seed import auth, put, seed_channel  # noqa: E402
from tests.fixtures.network import load_network  # noqa: E402

N_LINES, N_LOCATIONS = 5, 100
NETWORK = [N_LOCATIONS]  # the locations of this run (``--locations``), for the labels
STOCK_SCALE = 1000  # the generator's small stock, times this: orders never run out
WARM_UP = 5  # first requests of each kind, not counted (cold start is bench/import.py's)
PROFILE: dict[str, Any] = {"on": False}


class MotoClock:
    """CPU time spent inside moto's botocore hook (the in-memory AWS), summed over threads (the
    order path's reads run in a few at once)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._spent = 0.0

    def spent(self) -> float:
        with self._lock:
            return self._spent

    @contextmanager
    def installed(self) -> Iterator[None]:
        original = BotocoreStubber.__call__
        clock = self

        def timed(stub: Any, event_name: str, request: Any, **kwargs: Any) -> Any:
            start = time.thread_time()
            try:
                return original(stub, event_name, request, **kwargs)
            finally:
                with clock._lock:
                    clock._spent += time.thread_time() - start

        BotocoreStubber.__call__ = timed  # type: ignore[method-assign]
        try:
            yield
        finally:
            BotocoreStubber.__call__ = original  # type: ignore[method-assign]


def own_cpu_ms(clock: MotoClock, call: Callable[[], Any]) -> tuple[float, Any]:
    """Process CPU ms of ``call()`` (every thread: nothing else runs meanwhile) minus what moto
    spent in it, and its result."""
    cpu, moto = time.process_time(), clock.spent()
    result = call()
    return ((time.process_time() - cpu) - (clock.spent() - moto)) * 1000, result


def location_docs(locs: list[Location]) -> list[dict[str, Any]]:
    """The API documents of the generator's locations: each a copy of its real base location
    with the generated id and coordinates."""
    real = {d["location_id"]: d for d in network_documents()["locations"]}
    docs = []
    for loc in locs:
        base = loc.location_id if loc.location_id in real else loc.location_id.rsplit("-", 1)[0]
        doc = {**real[base], "location_id": loc.location_id, "lat": loc.lat, "lon": loc.lon}
        docs.append(doc | {"name": f"{real[base]['name']} {loc.location_id}"})
    return docs


def seed(
    client: Any, admin_key: str, catalogue: dict[str, Product], locs: list[Location], rng: Any
) -> tuple[str, str]:
    """Master data through the API, stock straight into the table; the channel's key and a
    service key."""
    for doc in location_docs(locs):
        put(client, admin_key, f"/locations/{doc['location_id']}", doc)
    for service in network_documents()["carrier_services"]:
        put(client, admin_key, f"/carrier-services/{service['service_id']}", service)
    for product in catalogue.values():
        body = {"name": product.sku, "weight_g": product.weight_g, "prices": product.prices}
        put(client, admin_key, f"/products/{product.sku}", body)
    rows: list[StockLevel] = sourcing_bench.stock_for(locs, sorted(catalogue), rng)
    with boto3.resource("dynamodb").Table("dirigent-stock").batch_writer() as batch:
        for row in rows:
            on_hand = row.on_hand * STOCK_SCALE
            batch.put_item(
                Item={
                    "sku": row.sku,
                    "location_id": row.location_id,
                    "on_hand": on_hand,
                    "reserved": 0,
                    "safety_stock": 0,
                    "available": on_hand,
                    "reorder_point": 0,
                }
            )
    key = seed_channel(client, admin_key, "bench")
    service = client.http.post(
        "/api-keys", body=json.dumps({"role": "service"}), headers=auth(admin_key)
    )
    return key, json.loads(service.body)["api_key"]


def bodies(n: int, request: SourcingRequest, catalogue: dict[str, Product]) -> tuple[str, str]:
    """The quote and the order of one generated cart, as JSON."""
    to = request.ship_to
    ship_to = {"country": to.country, "postal_code": to.postal_code, "city": to.city}
    lines = [{"sku": line.sku, "quantity": line.quantity} for line in request.lines]
    quote = {"currency": "EUR", "ship_to": ship_to, "lines": lines}
    order = {
        **quote,
        "channel_order_id": f"cpu-{n}",
        "customer": {"email": f"c{n}@example.com", "name": "Bench"},
        "lines": [{**line, "unit_price": catalogue[line["sku"]].prices["EUR"]} for line in lines],
        "delivery": {"kind": "fastest"},
    }
    return json.dumps(quote), json.dumps(order)


def percentiles(times: list[float]) -> tuple[float, float]:
    times = sorted(times)
    return statistics.median(times), times[min(len(times) - 1, int(len(times) * 0.99))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=200, help="requests of each kind")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--locations", type=int, default=N_LOCATIONS, help="network size")
    parser.add_argument(
        "--profile", action="store_true", help="cProfile the orders: our functions, moto's out"
    )
    args = parser.parse_args()
    PROFILE["on"] = args.profile
    net, rng = load_network(), random.Random(args.seed)
    catalogue = sourcing_bench.products(rng)
    n_locations = NETWORK[0] = args.locations
    locs = sourcing_bench.locations(net, n_locations, rng)
    carts = [
        sourcing_bench.random_request(net, catalogue, locs, N_LINES, rng)
        for _ in range(args.runs + WARM_UP)
    ]
    for request in carts[:WARM_UP]:
        sourcing_bench.plan(request)
    plan_times = [sourcing_bench.cpu_ms(r) for r in carts[WARM_UP:]]
    results = {f"plan() {N_LINES} x {n_locations} (bench/sourcing.py)": plan_times}
    results.update(measure(catalogue, locs, rng, carts))
    print(f"== CPU per request of our own code (AWS answered in memory), {args.runs} runs ==")
    print(f"{'request':<44} {'p50 ms':>8} {'p99 ms':>8}")
    for label, times in results.items():
        p50, p99 = percentiles(times)
        print(f"{label:<44} {p50:>8.2f} {p99:>8.2f}")


def measure(
    catalogue: dict[str, Product], locs: list[Location], rng: Any, carts: list[SourcingRequest]
) -> dict[str, list[float]]:
    from chalice.test import Client

    from chalicelib import wiring
    from chalicelib.domain.access import Role
    from infrastructure.create import create_all
    from local import moto_patches

    moto_patches.apply()  # moto's transactions copy items, not tables: a faster bench
    clock = MotoClock()
    with mock_aws(), clock.installed():
        wiring.reset()
        create_all(boto3.session.Session())
        admin_key = wiring.keys().create(Role.ADMIN)["api_key"]
        from app import app

        with Client(app, stage_name="local") as client:
            key, _ = seed(client, admin_key, catalogue, locs, rng)
            cases = [bodies(n, r, catalogue) for n, r in enumerate(carts)]
            return run_requests(client, clock, key, cases)


def run_requests(
    client: Any, clock: MotoClock, key: str, cases: list[tuple[str, str]]
) -> dict[str, list[float]]:
    quotes, orders, events = [], [], []
    placed: list[dict[str, Any]] = []
    headers = auth(key)
    for quote, order in cases:
        ms, resp = own_cpu_ms(
            clock, lambda q=quote: client.http.post("/delivery-options", body=q, headers=headers)
        )
        assert resp.status_code == 200, resp.body
        quotes.append(ms)
        ms, resp = own_cpu_ms(
            clock, lambda o=order: profiled(client.http.post, "/orders", body=o, headers=headers)
        )
        assert resp.status_code == 201, resp.body
        orders.append(ms)
        placed.append(json.loads(resp.body))
    if PROFILE["on"]:
        print_profile()
    dispatch(client)
    for order in placed:
        current = json.loads(client.http.get(f"/orders/{order['order_id']}", headers=headers).body)
        shipment = current["shipments"][0]
        event = sqs_records(client, WAREHOUSE_EVENTS, [shipped(current, shipment)])
        ms, result = own_cpu_ms(
            clock, lambda e=event: client.lambda_.invoke("on_warehouse_event", e)
        )
        assert result.payload["batchItemFailures"] == [], result.payload
        events.append(ms)
    return {
        f"quote {N_LINES} x {NETWORK[0]}": quotes[WARM_UP:],
        f"order {N_LINES} x {NETWORK[0]}": orders[WARM_UP:],
        "warehouse event (shipped)": events[WARM_UP:],
    }


def profiled(call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``call`` under the orders' profiler when ``--profile`` is given."""
    if not PROFILE["on"]:
        return call(*args, **kwargs)
    import cProfile

    profiler = PROFILE.setdefault("profiler", cProfile.Profile())
    profiler.enable()
    try:
        return call(*args, **kwargs)
    finally:
        profiler.disable()


def print_profile() -> None:
    """The orders' functions by own time (moto's answers and the stdlib left out)."""
    import pstats

    stats = pstats.Stats(PROFILE["profiler"])
    print("== POST /orders profile: own time (moto, responses and werkzeug left out) ==")
    rows = [
        (tt, ct, calls, f"{Path(file).name}:{line}({name})")
        for (file, line, name), (_, calls, tt, ct, _) in stats.stats.items()  # type: ignore[attr-defined]
        if not any(part in file for part in ("/moto/", "/responses/", "/werkzeug/"))
    ]
    for tt, ct, calls, where in sorted(rows, reverse=True)[:20]:
        print(f"  {tt * 1000:8.1f} ms own {ct * 1000:8.1f} ms total {calls:7d} calls  {where}")
    print("== ... our functions by total time ==")
    ours = [
        (ct, tt, calls, f"{file.split('chalicelib/')[-1]}:{line}({name})")
        for (file, line, name), (_, calls, tt, ct, _) in stats.stats.items()  # type: ignore[attr-defined]
        if "chalicelib/" in file
    ]
    for ct, tt, calls, where in sorted(ours, reverse=True)[:30]:
        print(f"  {ct * 1000:8.1f} ms total {tt * 1000:8.1f} ms own {calls:7d} calls  {where}")


def dispatch(client: Any) -> None:
    """The order-events consumer: release every placed order to its locations."""
    from tests.api.fulfilment_kit import deliver, drain

    session = boto3.session.Session()
    while placed := drain(session, "dirigent-order-events"):
        for start in range(0, len(placed), 10):
            batch = placed[start : start + 10]
            assert deliver(client, "on_order_event", "dirigent-order-events", *batch) == []
    drain(session, "dirigent-fulfilment")


if __name__ == "__main__":
    main()
