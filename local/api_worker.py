"""Extra HTTP API processes of the local stack (``DIRIGENT_API_WORKERS`` > 1).

Each one imports the app and serves the stack's API port next to the main process
(``SO_REUSEPORT``: the kernel spreads connections over the listeners), so requests no longer
share one interpreter lock. Like Lambda containers, each keeps its own caches (the catalogue's
``CACHE_TTL_SECONDS``). ``ApiWorker`` is the parent's handle; the child prints ``ready`` once it
listens, ignores SIGINT (the stack stops it after its own threads), exits on SIGTERM and when
its parent goes away.
"""

from __future__ import annotations

import argparse
import os
import select
import signal
import subprocess
import sys
import threading
import time

from local.moto_server import ROOT, START_TIMEOUT_S


class ApiWorker:
    def __init__(self, *, port: int, moto_port: int) -> None:
        self._process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "local.api_worker", str(port), str(moto_port)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
        )

    def ready(self, timeout: float = START_TIMEOUT_S) -> None:
        out = self._process.stdout
        assert out is not None
        deadline = time.monotonic() + timeout
        if not select.select([out], [], [], max(0.0, deadline - time.monotonic()))[0]:
            raise OSError(f"an API worker did not start in {timeout:.0f}s")
        if os.read(out.fileno(), 64).strip() != b"ready":
            raise OSError(f"an API worker exited with {self._process.wait()}")

    def stop(self) -> None:
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        if self._process.stdout is not None:
            self._process.stdout.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.api_worker")
    parser.add_argument("port", type=int)
    parser.add_argument("moto_port", type=int)
    args = parser.parse_args(argv)
    stop = threading.Event()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    parent = os.getppid()
    from local.stack import configure_env, http_server

    configure_env(moto_port=args.moto_port)
    from app import app

    server = http_server(app, port=args.port).server
    threading.Thread(target=server.serve_forever, args=(0.1,), daemon=True).start()
    print("ready", flush=True)
    os.dup2(2, 1)  # nothing reads stdout any more
    while not stop.wait(0.5) and os.getppid() == parent:
        pass
    return 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # in-flight requests are the client's to retry, as on a Lambda shutdown
