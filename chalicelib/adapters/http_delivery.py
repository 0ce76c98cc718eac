"""The outside of webhook delivery: DNS, an HTTP client pinned to a checked address, and the
webhooks queue."""

from __future__ import annotations

import http.client
import json
import socket
import ssl
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

MAX_ANSWER_BYTES = 65536
SEND_BATCH_MAX = 10


def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (an address resolves to itself)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


class _PinnedHttps(http.client.HTTPSConnection):
    """Connects to ``address`` while the TLS name and Host stay the URL's: what was checked
    is what is reached (no second DNS lookup to rebind)."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


class _PinnedHttp(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class HttpTransport:
    """POST and read at most 64 KB of the answer; redirects are not followed."""

    def post(
        self, url: str, address: str, headers: dict[str, str], body: bytes, timeout: float
    ) -> int:
        parts = urlsplit(url)
        host = parts.hostname or ""
        secure = parts.scheme == "https"
        port = parts.port or (443 if secure else 80)
        kind = _PinnedHttps if secure else _PinnedHttp
        conn = kind(host, port, address, timeout)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        try:
            conn.request("POST", path, body=body, headers=headers)
            answer = conn.getresponse()
            answer.read(MAX_ANSWER_BYTES)
            return int(answer.status)
        except (http.client.HTTPException, ssl.SSLError) as exc:
            raise OSError(str(exc)) from exc
        finally:
            conn.close()


class SqsWebhookQueue:
    """The webhooks queue: fan-out triggers and delivery attempts."""

    def __init__(self, client: Any, queue_name: str) -> None:
        self._client, self._name = client, queue_name
        self._url: str | None = None

    def url(self) -> str:
        if self._url is None:
            self._url = str(self._client.get_queue_url(QueueName=self._name)["QueueUrl"])
        return self._url

    def send_many(self, bodies: Sequence[dict[str, Any]]) -> None:
        for start in range(0, len(bodies), SEND_BATCH_MAX):
            chunk = bodies[start : start + SEND_BATCH_MAX]
            resp = self._client.send_message_batch(
                QueueUrl=self.url(),
                Entries=[
                    {"Id": str(i), "MessageBody": json.dumps(b, separators=(",", ":"))}
                    for i, b in enumerate(chunk)
                ],
            )
            if resp.get("Failed"):
                raise RuntimeError(f"SQS refused {len(resp['Failed'])} webhook messages")

    def retry_after(self, receipt_handle: str, seconds: int) -> None:
        try:
            self._client.change_message_visibility(
                QueueUrl=self.url(), ReceiptHandle=receipt_handle, VisibilityTimeout=seconds
            )
        except Exception:  # noqa: BLE001 - then it comes back after the queue's own timeout
            return

    def order_changed(self, order_id: str) -> None:
        self.send_many([{"kind": "order_changed", "order_id": order_id}])

    def rma_changed(self, rma_id: str) -> None:
        self.send_many([{"kind": "rma_changed", "rma_id": rma_id}])
