"""The child processes of the local stack (moto, extra API workers): both ends of one protocol.

The parent runs ``python -m <module> <args>`` and waits for the child's first stdout line (what
it announces when it serves, or ``error <reason>``). The child ignores SIGINT (Ctrl-C reaches
the whole process group: the stack stops its own threads first, then its children), exits on
SIGTERM, and exits by itself when its parent goes away.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT_S = 60


class Child:
    """The parent's handle on one child process."""

    def __init__(self, module: str, args: list[str], *, name: str) -> None:
        self.name = name
        self._process: subprocess.Popen[bytes] | None = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", module, *args], cwd=ROOT, stdout=subprocess.PIPE
        )

    def first_line(self, timeout: float = START_TIMEOUT_S) -> str:
        """The child's first stdout line; ``OSError`` (and the child stopped) if it does not
        come within ``timeout`` seconds or the child exits first."""
        assert self._process is not None and self._process.stdout is not None
        out, deadline, line = self._process.stdout, time.monotonic() + timeout, b""
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([out], [], [], left)[0]:
                self.stop()
                raise OSError(f"{self.name} did not start in {timeout:.0f}s")
            chunk = os.read(out.fileno(), 256)
            if not chunk:
                code = self._process.wait()
                self.stop()
                raise OSError(f"{self.name} exited with {code}")
            line += chunk
        return line.decode(errors="replace").strip()

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 5 s; idempotent."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process.stdout is not None:
            process.stdout.close()


class Lifeline:
    """The child's side; create it first thing, so a SIGTERM during start-up counts."""

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._parent = os.getppid()
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, lambda *_: self._stop.set())

    def serve(self, announcement: str) -> int:
        """Tell the parent ``announcement``, then wait for SIGTERM or the parent's end."""
        print(announcement, flush=True)
        os.dup2(2, 1)  # nothing reads stdout any more
        while not self._stop.wait(0.5) and os.getppid() == self._parent:
            pass
        return 0


def run(main: Callable[[], int]) -> NoReturn:
    """Run a child's ``main`` and exit without teardown: in-flight requests are the client's
    to retry (as on a Lambda shutdown), moto's state needs none."""
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
