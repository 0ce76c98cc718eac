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
import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from local.child import START_TIMEOUT_S, Child, Lifeline, run

if TYPE_CHECKING:
    from werkzeug.serving import BaseWSGIServer

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

        from local import moto_fast, moto_patches

        moto_patches.apply()
        moto_fast.apply()
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
    """``MotoServer`` in a child process (``python -m local.moto_server``), same interface; its
    life cycle: ``local/child.py``."""

    def __init__(
        self, *, port: int = 5000, lock: bool = True, mails_path: str | None = None
    ) -> None:
        self._args = ["--port", str(port)]
        self._args += [] if lock else ["--no-lock"]
        self._args += ["--mails-path", mails_path] if mails_path else []
        self._child: Child | None = None
        self._port = port

    @property
    def port(self) -> int:
        return self._port

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def launch(self) -> MotoProcess:
        """Start the child without waiting for it (``ready()`` waits)."""
        self._child = Child("local.moto_server", self._args, name="moto")
        return self

    def ready(self, timeout: float = START_TIMEOUT_S) -> MotoProcess:
        """Wait for the child's ``port N`` line; ``OSError`` with its reason if it failed."""
        assert self._child is not None
        word, _, rest = self._child.first_line(timeout).partition(" ")
        if word != "port":
            self.stop()
            raise OSError(rest or "moto failed to start")
        self._port = int(rest)
        return self

    def start(self) -> MotoProcess:
        return self.launch().ready()

    def stop(self) -> None:
        child, self._child = self._child, None
        if child is not None:
            child.stop()


def main(argv: list[str] | None = None) -> int:
    """The child of ``MotoProcess``: prints ``port N`` (or ``error <reason>``) on stdout."""
    parser = argparse.ArgumentParser(prog="python -m local.moto_server")
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument("--no-lock", action="store_true")
    parser.add_argument("--mails-path")
    args = parser.parse_args(argv)
    lifeline = Lifeline()
    level = os.environ.get("DIRIGENT_LOG_LEVEL", "WARNING").upper()
    logging.basicConfig(level=level, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("werkzeug").setLevel(max(logging.getLevelName(level), logging.WARNING))
    pages: dict[str, Callable[[], str]] = {}
    if args.mails_path:
        from local.mails import mails_page

        pages[args.mails_path] = mails_page
    try:
        server = MotoServer(port=args.port, lock=not args.no_lock, pages=pages).start()
    except OSError as exc:
        print(f"error {exc}", flush=True)
        return 1
    return lifeline.serve(f"port {server.port}")


if __name__ == "__main__":
    run(main)
