"""The moto server of the local stack: ``MotoServer`` in a thread, ``MotoProcess`` (what the
stack runs) in a process of its own, so moto's CPU does not share the API's interpreter lock.

moto does not lock concurrent DynamoDB writes: under thread stress a conditional update on a
threaded moto server oversells (DESIGN.md, "Facts checked"). Real DynamoDB is atomic per item, so
``DynamoLock`` serialises every DynamoDB request; SQS long polls and everything else stay
concurrent. ``moto_patches.apply()`` makes a failed transaction roll back only the items it
touched, not deep copies of whole tables (which made transactions slow down as the stack filled).
"""

from __future__ import annotations

import argparse
import logging
import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from werkzeug.serving import BaseWSGIServer

ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT_S = 60
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class DynamoLock:
    """WSGI middleware: one lock around every request whose ``X-Amz-Target`` is DynamoDB's."""

    def __init__(self, app: WsgiApp, *, enabled: bool = True) -> None:
        self._app = app
        self._lock = threading.Lock()
        self.enabled = enabled

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if not (self.enabled and target.startswith("DynamoDB_")):
            return self._app(environ, start_response)
        with self._lock:
            # Drain the body inside the lock: a lazy iterable would run after it is released.
            result = self._app(environ, start_response)
            try:
                return [b"".join(result)]
            finally:
                close = getattr(result, "close", None)
                if close:
                    close()


class LocalPages:
    """Serves ``/_local/*`` pages (sent mails) next to moto; everything else goes to moto."""

    def __init__(self, app: WsgiApp, pages: dict[str, Callable[[], str]]) -> None:
        self._app = app
        self._pages = pages

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        page = self._pages.get(environ.get("PATH_INFO", ""))
        if page is None:
            return self._app(environ, start_response)
        body = page().encode()
        start_response(
            "200 OK",
            [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(body)))],
        )
        return [body]


class MotoServer:
    """moto's whole backend on ``host:port`` in a daemon thread (like ThreadedMotoServer, plus
    the DynamoDB lock and the local pages). ``port=0`` picks a free port."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 5000,
        lock: bool = True,
        pages: dict[str, Callable[[], str]] | None = None,
    ) -> None:
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from werkzeug.serving import make_server

        from local import moto_patches

        moto_patches.apply()
        moto_app = DomainDispatcherApplication(create_backend_app)
        self.lock = DynamoLock(moto_app, enabled=lock)
        self._server: BaseWSGIServer = make_server(
            host,
            port,
            LocalPages(self.lock, pages or {}),
            threaded=True,
            request_handler=MotoRequestHandler,
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.1,), name="moto", daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> MotoServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


class MotoProcess:
    """``MotoServer`` in a child process (``python -m local.moto_server``), same interface.

    The child ignores SIGINT (Ctrl-C reaches the whole process group: the stack stops its own
    threads first, then this), exits on SIGTERM, and exits by itself if its parent goes away.
    """

    def __init__(
        self, *, port: int = 5000, lock: bool = True, mails_path: str | None = None
    ) -> None:
        self._args = ["--port", str(port)]
        self._args += [] if lock else ["--no-lock"]
        self._args += ["--mails-path", mails_path] if mails_path else []
        self._process: subprocess.Popen[bytes] | None = None
        self._port = port

    @property
    def port(self) -> int:
        return self._port

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def launch(self) -> MotoProcess:
        """Start the child without waiting for it (``ready()`` waits)."""
        self._process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "local.moto_server", *self._args],
            cwd=ROOT,
            stdout=subprocess.PIPE,
        )
        return self

    def ready(self, timeout: float = START_TIMEOUT_S) -> MotoProcess:
        """Wait for the child's ``port N`` line; ``OSError`` with its reason if it failed."""
        assert self._process is not None and self._process.stdout is not None
        out, deadline, line = self._process.stdout, time.monotonic() + timeout, b""
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([out], [], [], left)[0]:
                self.stop()
                raise OSError(f"moto did not start in {timeout:.0f}s")
            chunk = os.read(out.fileno(), 256)
            if not chunk:
                break
            line += chunk
        word, _, rest = line.decode(errors="replace").strip().partition(" ")
        if word != "port":
            self.stop()
            raise OSError(rest or f"moto exited with {self._process.poll()}")
        self._port = int(rest)
        return self

    def start(self) -> MotoProcess:
        return self.launch().ready()

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


def main(argv: list[str] | None = None) -> int:
    """The child of ``MotoProcess``: prints ``port N`` (or ``error <reason>``) on stdout."""
    parser = argparse.ArgumentParser(prog="python -m local.moto_server")
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument("--no-lock", action="store_true")
    parser.add_argument("--mails-path")
    args = parser.parse_args(argv)
    level = os.environ.get("DIRIGENT_LOG_LEVEL", "WARNING").upper()
    logging.basicConfig(level=level, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("werkzeug").setLevel(max(logging.getLevelName(level), logging.WARNING))
    stop = threading.Event()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    parent = os.getppid()
    pages: dict[str, Callable[[], str]] = {}
    if args.mails_path:
        from local.mails import mails_page

        pages[args.mails_path] = mails_page
    try:
        server = MotoServer(port=args.port, lock=not args.no_lock, pages=pages).start()
    except OSError as exc:
        print(f"error {exc}", flush=True)
        return 1
    print(f"port {server.port}", flush=True)
    os.dup2(2, 1)  # nothing reads stdout any more
    while not stop.wait(0.5) and os.getppid() == parent:
        pass
    return 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # moto's state needs no teardown
