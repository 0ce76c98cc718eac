"""``python -m local``: the whole system on an embedded moto server (``make run``).
``python -m local tick``: fire every schedule of the running stack once (``make tick``).

Ports: DIRIGENT_PORT (API, default 8000) and DIRIGENT_MOTO_PORT (moto, default 5000).
DIRIGENT_API_WORKERS (default 1): processes serving the API, each with its own caches.
DIRIGENT_ADMIN_KEY fixes the admin key (else one is made and printed). DIRIGENT_LOG_LEVEL
(default WARNING) sets how much the app and the stack log. DIRIGENT_STATE_FILE: where to write
the URLs and keys as JSON once the stack is up (the e2e tests read it).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import socket
import sys
import threading
import warnings
from pathlib import Path
from typing import Any


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local", description=__doc__)
    parser.add_argument("command", nargs="?", choices=["run", "tick"], default="run")
    parser.add_argument("--no-demo", action="store_true", help="start without demo data")
    parser.add_argument("--no-sim", action="store_true", help="no simulated warehouse")
    parser.add_argument("--port", type=int, default=int(os.environ.get("DIRIGENT_PORT", "8000")))
    parser.add_argument(
        "--moto-port", type=int, default=int(os.environ.get("DIRIGENT_MOTO_PORT", "5000"))
    )
    parser.add_argument(
        "--api-workers",
        type=int,
        default=int(os.environ.get("DIRIGENT_API_WORKERS", "1")),
        help="processes serving the API (each keeps its own caches, like Lambda containers)",
    )
    args = parser.parse_args(argv)
    # Metrics are off locally; Powertools still warns on every empty flush.
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    level = os.environ.get("DIRIGENT_LOG_LEVEL", "WARNING").upper()
    logging.basicConfig(level=level, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("werkzeug").setLevel(max(logging.getLevelName(level), logging.WARNING))
    if args.command == "tick":
        return tick(args.moto_port)
    return run(
        port=args.port,
        moto_port=args.moto_port,
        demo=not args.no_demo,
        sim=not args.no_sim,
        api_workers=max(1, args.api_workers),
    )


def run(*, port: int, moto_port: int, demo: bool, sim: bool = True, api_workers: int = 1) -> int:
    from chalicelib.domain.access import new_key
    from local.stack import Stack

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    admin_key = os.environ.get("DIRIGENT_ADMIN_KEY") or new_key()[1]
    stack = Stack(
        port=port,
        moto_port=moto_port,
        admin_key=admin_key,
        demo=demo,
        sim=sim,
        stop_event=stop,
        api_workers=api_workers,
    )
    state_file = os.environ.get("DIRIGENT_STATE_FILE")
    try:
        stack.start()
        print(banner(stack.state()), flush=True)
        if state_file:
            Path(state_file + ".tmp").write_text(json.dumps(stack.state()))
            os.replace(state_file + ".tmp", state_file)
        while not stop.wait(0.2):
            pass
        print("stopping…", flush=True)
    except OSError as exc:
        print(
            f"cannot start the local stack: {exc} (free the port or set DIRIGENT_PORT / "
            "DIRIGENT_MOTO_PORT)",
            file=sys.stderr,
        )
        return 1
    finally:
        stack.stop()
    return 0


def banner(state: dict[str, Any]) -> str:
    api = state["api_url"]
    keys = {"admin": state["admin_key"], **state["keys"]}
    width = max(len(name) for name in keys)
    key_lines = [f"{name:<{width}}  {key}" for name, key in keys.items()]
    rows = [
        ("API", f"{api}   (OpenAPI: {api}/openapi.json)"),
        *([("dashboard", f"{api}/dashboard")] if state.get("dashboard") else []),
        *[("keys" if i == 0 else "", line) for i, line in enumerate(key_lines)],
        ("moto", f"{state['moto_url']}   (AWS_ENDPOINT_URL for boto3 / the aws CLI)"),
        ("sent mails", state["mails_url"]),
        *(
            [("webhooks", f"{state['receiver_url']}/hooks/<any>  (read: GET …/received)")]
            if state.get("receiver_url")
            else []
        ),
        *[("queue", f"{queue} -> {name}") for name, queue in state["queues"].items()],
        *[("schedule", f"{name} {expr}") for name, expr in state["schedules"].items()],
        ("make tick", "fires every schedule once"),
    ]
    lines = ["", "Dirigent local stack is up (Ctrl-C stops it)"]
    lines += [f"  {label:<11} {value}" for label, value in rows]
    return "\n".join([*lines, ""])


def tick(moto_port: int) -> int:
    """Fire every schedule handler once, in this process, against the running stack's moto."""
    try:
        socket.create_connection(("127.0.0.1", moto_port), timeout=2).close()
    except OSError:
        print(
            f"no local stack on 127.0.0.1:{moto_port}: start it with `make run` "
            "(or set DIRIGENT_MOTO_PORT / --moto-port)",
            file=sys.stderr,
        )
        return 1
    from local.stack import REGION, configure_env

    configure_env(moto_port=moto_port)
    from app import app
    from local.scheduler import fire_all

    fired = fire_all(app, region=REGION)
    for schedule, ok, seconds in fired:
        outcome = "ok" if ok else "FAILED"
        print(f"fired {schedule.name} ({schedule.expression}): {outcome} in {seconds:.2f}s")
    if not fired:
        print("no schedules in app.py: nothing fired")
    return 0 if all(ok for _, ok, _ in fired) else 1


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # Everything is stopped; skip the interpreter's slow teardown of moto's state (~2 s).
    os._exit(code)
