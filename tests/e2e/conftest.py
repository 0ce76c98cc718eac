"""The local stack as a subprocess, started as the README starts it (``make run`` runs
``python -m local``), on free ports. Use the ``local_stack`` fixture in e2e tests:

    def test_something(local_stack):
        resp = local_stack.http.get(f"{local_stack.api_url}/health")
        sqs = local_stack.client("sqs")              # boto3 pointed at the stack's moto
        local_stack.run("tick")                      # python -m local tick against this stack

``local_stack`` is shared by a module and started without demo data; ``start_stack(...)`` gives
a stack of your own (e.g. ``demo=True``). Stopping sends SIGINT to the whole process group, as
Ctrl-C does, and asserts that it exits in time and leaves no process behind.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 120  # two shared cores: imports and resource creation can be slow
STOP_TIMEOUT_S = 10


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LocalStack:
    process: subprocess.Popen[bytes]
    env: dict[str, str]
    log: Path
    state: dict[str, Any] = field(default_factory=dict)
    http: requests.Session = field(default_factory=requests.Session)

    @property
    def api_url(self) -> str:
        return str(self.state["api_url"])

    @property
    def moto_url(self) -> str:
        return str(self.state["moto_url"])

    @property
    def admin_key(self) -> str:
        return str(self.state["admin_key"])

    @property
    def keys(self) -> dict[str, str]:
        """Demo keys by name (empty without demo data)."""
        return dict(self.state["keys"])

    def auth(self, key: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {key or self.admin_key}"}

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.moto_url,
            region_name=self.state["region"],
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )

    def run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """``python -m local <args>`` against this stack (same ports and environment)."""
        return subprocess.run(
            [sys.executable, "-m", "local", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> float:
        """SIGINT to the process group (Ctrl-C); returns the seconds it took to exit. Fails if
        it does not exit in STOP_TIMEOUT_S or leaves a process behind."""
        started = time.monotonic()
        pgid = self.process.pid
        with suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGINT)
        try:
            self.process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(pgid, signal.SIGKILL)
            self.process.wait()
            pytest.fail(f"the stack ignored SIGINT for {STOP_TIMEOUT_S}s:\n{self.log_tail()}")
        left = processes_in_group(pgid)
        assert left == [], f"processes left behind: {left}"
        return time.monotonic() - started


def processes_in_group(pgid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # Fields after the ")" closing the command name: state, ppid, pgrp, ...
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[2]) == pgid and fields[0] != "Z":
            found.append(int(entry.name))
    return found


def _stack_env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DIRIGENT_"))}
    env.update(
        DIRIGENT_PORT=str(free_port()),
        DIRIGENT_MOTO_PORT=str(free_port()),
        DIRIGENT_ADMIN_KEY=f"dg_e2e_{secrets.token_urlsafe(24)}",
        DIRIGENT_STATE_FILE=str(tmp / "stack.json"),
        PYTHONUNBUFFERED="1",
    )
    return env


@contextmanager
def start_stack(
    tmp: Path, *, demo: bool = False, sim: bool = True, env: dict[str, str] | None = None
) -> Iterator[LocalStack]:
    """Start ``python -m local`` and yield once it is up; stop it (SIGINT) afterwards. ``env``:
    more variables for the stack (e.g. ``DIRIGENT_CLOCK_FILE``, which ``_stack_env`` drops)."""
    env = {**_stack_env(tmp), **(env or {})}
    log = tmp / "stack.log"
    args = ([] if demo else ["--no-demo"]) + ([] if sim else ["--no-sim"])
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "local", *args],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    stack = LocalStack(process=process, env=env, log=log)
    try:
        _wait_until_up(stack, Path(env["DIRIGENT_STATE_FILE"]))
        yield stack
    finally:
        if process.poll() is None:
            stack.stop()


def _wait_until_up(stack: LocalStack, state_file: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if stack.process.poll() is not None:
            pytest.fail(f"the stack exited with {stack.process.returncode}:\n{stack.log_tail()}")
        if state_file.exists():
            stack.state = json.loads(state_file.read_text())
            if stack.http.get(f"{stack.api_url}/health", timeout=5).status_code == 200:
                return
        time.sleep(0.2)
    pytest.fail(f"the stack did not come up in {START_TIMEOUT_S}s:\n{stack.log_tail()}")


@pytest.fixture(scope="module")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """A running local stack without demo data, shared by the tests of a module."""
    with start_stack(tmp_path_factory.mktemp("stack")) as stack:
        yield stack
