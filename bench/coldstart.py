"""Cold start: what a fresh Lambda pays before and during its first request.

Run: ``.venv/bin/python bench/coldstart.py [--runs 5]`` (``make bench`` runs it).

1. ``import boto3`` (the reference) and ``import app``, each in a fresh interpreter, median of
   ``--runs``; printed with their ratio (target: ``import app`` <= 1.5x ``import boto3``).
2. For each handler (a quote, an order, a warehouse-event batch, a schedule), in a fresh
   interpreter with Lambda's ``_HANDLER`` and ``AWS_LAMBDA_FUNCTION_NAME`` set as on AWS:
   ``import app`` (the function's init, which builds what it needs: chalicelib/wiring/warm.py),
   then its first call and a warm call. AWS is answered by moto in-process (``mock_aws``) on
   empty tables, so the calls take their short paths (unknown SKU, unsigned event): the first
   call's extra cost is what it loads and builds, which is what this measures. As in
   bench/per_request.py, call figures are thread CPU time with what moto spends answering
   subtracted (our code alone, as a Lambda would spend it), and the modules the first call
   loads are counted. The init is wall time, after boto3 and moto are imported.

Our modules are compiled to bytecode first, as ``make package`` ships them (boto3's are too).

``python -X importtime -c "import app"`` shows what ``import app`` pulls in.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

IMPORT = "import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"

HANDLER = r"""
import json, os, sys, time
sys.path.insert(0, {root!r})
os.environ.update(AWS_DEFAULT_REGION="eu-central-1", AWS_ACCESS_KEY_ID="bench",
                  AWS_SECRET_ACCESS_KEY="bench", POWERTOOLS_LOG_LEVEL="ERROR",
                  POWERTOOLS_METRICS_DISABLED="true", AWS_LAMBDA_FUNCTION_NAME={function!r},
                  _HANDLER={handler!r})
for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
    os.environ.pop(name, None)
import boto3
from moto import mock_aws
from moto.core.botocore_stubber import BotocoreStubber
from chalice.test import Client
in_moto = [0.0]
_answer = BotocoreStubber.__call__
def _timed(stub, *args, **kwargs):
    started = time.thread_time()
    try:
        return _answer(stub, *args, **kwargs)
    finally:
        in_moto[0] += time.thread_time() - started
BotocoreStubber.__call__ = _timed
with mock_aws():
    from chalicelib import wiring
    from chalicelib.domain.access import Role
    from chalicelib.domain.catalog import Kind
    from infrastructure.create import create_all
    create_all(boto3.session.Session())
    channel = {{"channel": "web", "kind": "webshop", "currencies": ["EUR"], "countries": ["DE"]}}
    wiring.catalog_service().put(Kind.CHANNEL, "web", channel)
    key = wiring.keys().create(Role.CHANNEL, "web")["api_key"]
    if {kind!r} == "schedule":
        key = wiring.keys().create(Role.ADMIN)["api_key"]
    wiring.keys().resolve(key)  # a key in use, as a channel's is: its last use is recent
    wiring.reset()  # the Lambda starts with no client, service or module of ours loaded
    for name in [m for m in sys.modules if m.split(".")[0] in ("chalicelib", "app")]:
        del sys.modules[name]
    started = time.perf_counter()
    from app import app
    imported = time.perf_counter() - started
    headers = {{"authorization": "Bearer " + key, "content-type": "application/json"}}
    ship_to = {{"country": "DE", "postal_code": "10115", "city": "Berlin", "lat": 52.52,
               "lon": 13.41}}
    cart = {{"currency": "EUR", "ship_to": ship_to, "lines": [{{"sku": "NOPE-1", "quantity": 1}}]}}
    orders = iter(range(10))
    with Client(app, stage_name="local") as client:
        def call():
            kind = {kind!r}
            if kind == "quote":
                client.http.post("/delivery-options", body=json.dumps(cart), headers=headers)
            elif kind == "order":
                lines = [{{"sku": "NOPE-1", "quantity": 1, "unit_price": 2999}}]
                order = {{**cart, "lines": lines, "channel_order_id": f"CS-{{next(orders)}}",
                         "customer": {{"email": "ada@example.com", "name": "Ada"}}}}
                client.http.post("/orders", body=json.dumps(order), headers=headers)
            elif kind == "sqs":
                event = client.events.generate_sqs_event(
                    queue_name="dirigent-warehouse-events",
                    message_bodies=[json.dumps({{"type": "shipped", "order_id": "x"}})])
                client.lambda_.invoke({function!r}, event)
            else:
                event = client.events.generate_cw_event(
                    source="aws.events", detail_type="Scheduled Event", detail={{}}, resources=[])
                client.lambda_.invoke({function!r}, event)
        times, modules = [], len(sys.modules)
        for _ in range(4):
            started, moto = time.thread_time(), in_moto[0]
            call()
            times.append(time.thread_time() - started - (in_moto[0] - moto))
            if len(times) == 1:
                modules = len(sys.modules) - modules
print(json.dumps({{"import": imported, "first": times[0], "warm": min(times[1:]),
                  "modules": modules}}))
"""

HANDLERS = [  # label, Chalice's function name, Lambda's _HANDLER, what is called
    ("quote (POST /delivery-options)", "api_handler", "app.app", "quote"),
    ("order (POST /orders)", "api_handler", "app.app", "order"),
    ("warehouse-event batch", "on_warehouse_event", "app.on_warehouse_event", "sqs"),
    ("schedule (low_stock_alerts)", "low_stock_alerts", "app.low_stock_alerts", "schedule"),
]


def fresh(code: str) -> str:
    """Run ``code`` in a new interpreter from the repository root; its stdout."""
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return out.stdout.strip().splitlines()[-1]


def median_import(module: str, runs: int) -> float:
    return statistics.median(float(fresh(IMPORT.format(module=module))) for _ in range(runs))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    # As deployed (make package ships bytecode): our modules load from .pyc, as boto3's do.
    subprocess.run([sys.executable, "-m", "compileall", "-q", "app.py", "chalicelib"], check=True)
    boto = median_import("boto3", runs)
    app = median_import("app", runs)
    print(f"cold start, median of {runs} fresh interpreters")
    print(f"  import boto3  {boto * 1000:7.1f} ms (reference)")
    print(f"  import app    {app * 1000:7.1f} ms  = {app / boto:.2f}x import boto3 (target 1.5x)")
    print("per function: its init; its first call vs a warm one, our CPU (moto's subtracted)")
    for label, function, handler, kind in HANDLERS:
        code = HANDLER.format(root=str(ROOT), function=function, handler=handler, kind=kind)
        figures = [json.loads(fresh(code)) for _ in range(max(1, runs // 2))]
        first = statistics.median(f["first"] for f in figures)
        warm = statistics.median(f["warm"] for f in figures)
        modules = statistics.median(f["modules"] for f in figures)
        init = statistics.median(f["import"] for f in figures)
        print(
            f"  {label:32} init {init * 1000:6.1f} ms ({init / boto:.2f}x import boto3)"
            f"  first {first * 1000:6.1f} ms  warm {warm * 1000:5.1f} ms"
            f"  = {first / warm:4.1f}x (target 2x), {modules:.0f} modules loaded by the first"
        )


if __name__ == "__main__":
    os.chdir(ROOT)
    main()
