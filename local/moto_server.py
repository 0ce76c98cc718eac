"""The embedded moto server of the local stack.

moto does not lock concurrent DynamoDB writes: under thread stress a conditional update on a
threaded moto server oversells (DESIGN.md, "Facts checked"). Real DynamoDB is atomic per item, so
``DynamoLock`` serialises every DynamoDB request; SQS long polls and everything else stay
concurrent. ``moto_patches.apply()`` makes a failed transaction roll back only the items it
touched, not deep copies of whole tables (which made transactions slow down as the stack filled).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import BaseWSGIServer, make_server

from local import moto_patches

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
