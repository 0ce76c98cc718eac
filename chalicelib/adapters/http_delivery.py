"""The outside of webhook delivery and of confirmations to the platforms: DNS, an HTTP client
pinned to a checked address (``GuardedHttp`` checks it), and the webhooks queue."""

from __future__ import annotations

import http.client
import json
import socket
import ssl
from collections.abc import Callable, Sequence
from typing import Any, Protocol
from urllib.parse import urlsplit

from chalicelib.domain.confirmations import PlatformRefused
from chalicelib.domain.webhooks import BadWebhook, check_url, refused_address

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
    """One request, reading at most 64 KB of the answer; redirects are not followed."""

    def post(
        self, url: str, address: str, headers: dict[str, str], body: bytes, timeout: float
    ) -> int:
        return self.request("POST", url, address, headers, body, timeout)[0]

    def request(
        self,
        method: str,
        url: str,
        address: str,
        headers: dict[str, str],
        body: bytes | None,
        timeout: float,
    ) -> tuple[int, bytes]:
        """``(status, answer)``; raises OSError when no answer came."""
        status, data, _ = self.exchange(method, url, address, headers, body, timeout)
        return status, data

    def exchange(
        self,
        method: str,
        url: str,
        address: str,
        headers: dict[str, str],
        body: bytes | None,
        timeout: float,
    ) -> tuple[int, bytes, dict[str, str]]:
        """``(status, answer, headers with lower-cased names)`` from ``address``; raises
        OSError when no answer came."""
        parts = urlsplit(url)
        host = parts.hostname or ""
        secure = parts.scheme == "https"
        port = parts.port or (443 if secure else 80)
        kind = _PinnedHttps if secure else _PinnedHttp
        conn = kind(host, port, address, timeout)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        try:
            conn.request(method, path, body=body, headers=headers)
            answer = conn.getresponse()
            data = answer.read(MAX_ANSWER_BYTES)
            return int(answer.status), data, {k.lower(): v for k, v in answer.getheaders()}
        except (http.client.HTTPException, ssl.SSLError) as exc:
            raise OSError(str(exc)) from exc
        finally:
            conn.close()


def public_address(
    resolver: Callable[[str, int], list[str]], host: str, port: int, *, allow_loopback: bool
) -> str:
    """The address to connect to: every address ``host`` resolves to must be public
    (``RefusedAddress`` naming why not); OSError when it resolves to none."""
    addresses = resolver(host, port)
    if not addresses:
        raise OSError(f"{host} does not resolve")
    for address in addresses:
        if reason := refused_address(address, allow_loopback=allow_loopback):
            raise RefusedAddress(f"{host} resolves to a refused address: {reason}")
    return addresses[0]


class RefusedAddress(ValueError):
    """A host resolves to a private, loopback or link-local address."""


class Requests(Protocol):
    def request(
        self,
        method: str,
        url: str,
        address: str,
        headers: dict[str, str],
        body: bytes | None,
        timeout: float,
    ) -> tuple[int, bytes]: ...


class GuardedHttp:
    """The SSRF guard for calls to the sales platforms: the URL must be https (http too on the
    local stage) without credentials in it, every address its host resolves to public
    (loopback too locally), and the call connects to the address checked. A URL or address
    refused is ``PlatformRefused`` (the configuration must change); no address is OSError."""

    def __init__(
        self,
        resolver: Callable[[str, int], list[str]],
        transport: Requests,
        *,
        local: bool,
        timeout_s: float = 10.0,
    ) -> None:
        self._resolver, self._transport, self._local = resolver, transport, local
        self._timeout = timeout_s

    def request(
        self, method: str, url: str, headers: dict[str, str], body: bytes | None = None
    ) -> tuple[int, bytes]:
        try:
            host, port = check_url(url, local=self._local)
        except BadWebhook as exc:
            reasons = "; ".join(f.reason for f in exc.fields)
            raise PlatformRefused(f"the platform URL is not allowed: {reasons}") from None
        try:
            address = public_address(self._resolver, host, port, allow_loopback=self._local)
        except RefusedAddress as exc:
            raise PlatformRefused(str(exc)) from None
        return self._transport.request(method, url, address, headers, body, self._timeout)


class SqsWebhookQueue:
    """The webhooks queue: fan-out triggers and delivery attempts."""

    def __init__(self, client: Any, queue_name: str, *, urls: Callable[[str], str]) -> None:
        """``urls``: a queue's URL by name, resolved once per container (``SqsQueues.url``)."""
        self._client, self._name, self._urls = client, queue_name, urls

    def url(self) -> str:
        return self._urls(self._name)

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
