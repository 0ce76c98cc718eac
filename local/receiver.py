"""A webhook receiver for the local stack that records what it got.

Subscribe it (``PUT /webhook-subscriptions/{id}`` with ``url`` = ``<receiver>/hooks/<name>``:
the local stage allows http and loopback); every POST is answered 204 and kept, newest last,
with its path, headers and body. ``GET <receiver>/received`` lists them (``?type=order.placed``
keeps one event type), ``DELETE <receiver>/received`` forgets them. It never checks the
signature: read the headers and verify with the subscription's secret
(``standardwebhooks.Webhook(secret).verify(body, headers)``).
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

MAX_KEPT = 1000
MAX_BODY = 1 << 20


class Receiver(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int = 0) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.received: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def record(self, entry: dict[str, Any]) -> None:
        with self.lock:
            self.received = [*self.received, entry][-MAX_KEPT:]


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_POST(self) -> None:
        length = min(int(self.headers.get("Content-Length") or 0), MAX_BODY)
        raw = self.rfile.read(length).decode("utf-8", "replace")
        try:
            payload: Any = json.loads(raw)
        except ValueError:
            payload = None
        self.server.record(
            {
                "path": self.path,
                "received_at": datetime.now(UTC).isoformat(),
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body": raw,
                "payload": payload,
            }
        )
        self.send_response(204)
        self.end_headers()

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if parts.path.rstrip("/") != "/received":
            self._answer(404, {"error": "GET /received lists what came in"})
            return
        wanted = parse_qs(parts.query).get("type")
        with self.server.lock:
            got = list(self.server.received)
        if wanted:
            got = [
                r
                for r in got
                if isinstance(r["payload"], dict) and r["payload"].get("type") in wanted
            ]
        self._answer(200, {"received": got})

    def do_DELETE(self) -> None:
        with self.server.lock:
            self.server.received = []
        self._answer(200, {"received": []})

    def _answer(self, status: int, doc: dict[str, Any]) -> None:
        body = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def serve(port: int = 0) -> Receiver:
    """Start the receiver in a daemon thread; ``shutdown()`` and ``server_close()`` stop it."""
    server = Receiver(port)
    threading.Thread(target=server.serve_forever, args=(0.1,), name="receiver", daemon=True).start()
    return server
