"""``python -m local.fuzz`` (``make fuzz``): schemathesis over ``/openapi.json`` of a local stack,
every phase (examples, coverage, fuzzing, stateful where the document has links), once as admin
and once as a channel, with the one check that matters here: no response is a server error.

Without ``--state`` it starts its own stack (``python -m local``, demo data, no simulated
warehouse, free ports) and stops it afterwards; ``--state FILE`` fuzzes a running one instead
(start it with ``DIRIGENT_STATE_FILE=FILE make run``). Exit status 0 means 0 server errors.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[1]
PHASES = "examples,coverage,fuzzing,stateful"
START_TIMEOUT_S = 180


def schemathesis(
    api_url: str,
    key: str,
    *,
    max_examples: int,
    phases: str = PHASES,
    seed: int | None = None,
    report: Path | None = None,
    extra: Sequence[str] = (),
) -> subprocess.CompletedProcess[str]:
    """One schemathesis run as the holder of ``key``; its output is in the result."""
    args = [
        str(Path(sys.executable).with_name("schemathesis")),
        "run",
        f"{api_url}/openapi.json",
        "--url",
        api_url,
        "--checks",
        "not_a_server_error",
        "--phases",
        phases,
        "--max-examples",
        str(max_examples),
        "--header",
        f"Authorization: Bearer {key}",
        "--no-shrink",
        "--warnings",
        "off",
        *(["--seed", str(seed)] if seed is not None else []),
        *(["--report", "junit", "--report-junit-path", str(report)] if report else []),
        *extra,
    ]
    env = {**os.environ, "NO_COLOR": "1", "SCHEMATHESIS_TELEMETRY": "false"}
    run = subprocess.run  # our own executable with our own arguments
    return run(args, cwd=ROOT, env=env, capture_output=True, text=True, check=False)


def callers(state: dict[str, Any]) -> dict[str, str]:
    """The keys to fuzz with: admin, and the first channel's."""
    channels = {name: key for name, key in state["keys"].items() if name != "service"}
    found = {"admin": state["admin_key"]}
    if channels:
        name = sorted(channels)[0]
        found[f"channel {name}"] = channels[name]
    return found


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def own_stack(workdir: Path) -> Iterator[dict[str, Any]]:
    """``python -m local`` with demo data on free ports; its state once ``/health`` answers."""
    state_file = workdir / "stack.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DIRIGENT_"))}
    env.update(
        DIRIGENT_PORT=str(_free_port()),
        DIRIGENT_MOTO_PORT=str(_free_port()),
        DIRIGENT_STATE_FILE=str(state_file),
        PYTHONUNBUFFERED="1",
    )
    with (workdir / "stack.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "local", "--no-sim"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the local stack did not come up; see {workdir}/stack.log")
            if state_file.exists():
                state = json.loads(state_file.read_text())
                with suppress(requests.RequestException):
                    if requests.get(f"{state['api_url']}/health", timeout=5).ok:
                        break
            time.sleep(0.3)
        yield state
    finally:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def fuzz(state: dict[str, Any], *, max_examples: int, seed: int | None, phases: str) -> int:
    failed = 0
    for who, key in callers(state).items():
        print(f"== schemathesis as {who}", flush=True)
        result = schemathesis(
            state["api_url"], key, max_examples=max_examples, seed=seed, phases=phases
        )
        print(result.stdout[-20000:], result.stderr[-4000:], sep="\n", flush=True)
        failed += result.returncode != 0
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.fuzz", description=__doc__)
    parser.add_argument("--state", type=Path, help="state file of a running stack")
    parser.add_argument("--max-examples", type=int, default=50, help="per operation and phase")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--phases", default=PHASES)
    args = parser.parse_args(argv)
    run = {"max_examples": args.max_examples, "seed": args.seed, "phases": args.phases}
    if args.state:
        return fuzz(json.loads(args.state.read_text()), **run)
    with tempfile.TemporaryDirectory(prefix="dirigent-fuzz-") as tmp, own_stack(Path(tmp)) as state:
        return fuzz(state, **run)


if __name__ == "__main__":
    sys.exit(main())
