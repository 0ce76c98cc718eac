"""Amazon's Selling Partner API (Orders API v0) over plain HTTP: a Login-with-Amazon access
token from the channel's refresh token (cached until it expires), ``getOrders`` and
``getOrderItems`` following ``NextToken``, and ``confirmShipment``.

Throttling (429) and Amazon's own trouble (500, 503) are retried with exponential back-off
and jitter, never sooner than ``Retry-After`` or one request at the operation's
``x-amzn-RateLimit-Limit`` rate, at most ``MAX_ATTEMPTS`` times and ``MAX_WAIT_S`` seconds in
all; then ``Throttled`` (the next scheduled poll resumes).
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol
from urllib.parse import quote, urlencode, urlsplit

from chalicelib.adapters.http_delivery import (
    HttpTransport as PinnedHttp,
    RefusedAddress,
    public_address,
    resolve,
)

DEFAULT_ENDPOINT = "https://sellingpartnerapi-eu.amazon.com"
DEFAULT_LWA_ENDPOINT = "https://api.amazon.com/auth/o2/token"
MAX_ATTEMPTS = 6
MAX_WAIT_S = 12.0  # a schedule's Lambda has 30 s
BASE_DELAY_S = 1.0
MAX_ANSWER_BYTES = 8 * 1024 * 1024
USER_AGENT = "Dirigent/1.0 (Language=Python)"
_RETRIED = frozenset({429, 500, 503})


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)  # names lower-cased

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


class Transport(Protocol):
    def request(
        self, method: str, url: str, headers: dict[str, str], body: bytes | None, timeout: float
    ) -> Answer: ...


class SpApiError(Exception):
    """Amazon refused a call, or answered what we cannot read: this poll stops here."""

    def __init__(self, message: str, *, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class Throttled(SpApiError):
    """Still throttled (or failing) after the bounded retries."""


class SpApi:
    def __init__(
        self,
        config: Mapping[str, Any],
        *,
        http: Transport,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        jitter: Callable[[], float] = random.random,
        timeout_s: float = 20.0,
    ) -> None:
        self._endpoint = str(config.get("endpoint") or DEFAULT_ENDPOINT).rstrip("/")
        self._lwa = str(config.get("lwa_endpoint") or DEFAULT_LWA_ENDPOINT)
        self._client_id = str(config.get("lwa_client_id") or "")
        self._client_secret = str(config.get("lwa_client_secret") or "")
        self._refresh_token = str(config.get("refresh_token") or "")
        self._marketplaces = ",".join(config.get("marketplace_ids") or ())
        self._http, self._sleep, self._clock, self._jitter = http, sleep, clock, jitter
        self._timeout = timeout_s
        self._token: tuple[str, float] | None = None  # (access token, valid until)

    # --- the operations ---------------------------------------------------------------------

    def get_orders(self, last_updated_after: str, next_token: str | None = None) -> dict[str, Any]:
        """One page of ``getOrders``: its ``payload`` (``Orders``, maybe ``NextToken``)."""
        query = {"MarketplaceIds": self._marketplaces, "LastUpdatedAfter": last_updated_after}
        if next_token:
            query["NextToken"] = next_token
        return _payload(self._call("GET", "/orders/v0/orders", query))

    def get_order_items(self, amazon_order_id: str) -> list[dict[str, Any]]:
        """Every ``OrderItem`` of the order, all pages."""
        path = f"/orders/v0/orders/{quote(amazon_order_id, safe='')}/orderItems"
        out: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            payload = _payload(self._call("GET", path, {"NextToken": token} if token else {}))
            out.extend(payload.get("OrderItems") or [])
            token = payload.get("NextToken") or None
            if not token:
                return out

    def confirm_shipment(self, amazon_order_id: str, body: dict[str, Any]) -> None:
        """``confirmShipment``: the package (carrier, tracking number, items) was shipped."""
        path = f"/orders/v0/orders/{quote(amazon_order_id, safe='')}/shipmentConfirmation"
        self._call("POST", path, {}, json.dumps(body, default=str).encode())

    # --- HTTP -------------------------------------------------------------------------------

    def _call(
        self, method: str, path: str, query: dict[str, str], body: bytes | None = None
    ) -> Answer:
        url = self._endpoint + path + (f"?{urlencode(query, quote_via=quote)}" if query else "")
        refreshed = False
        while True:
            headers = {
                "x-amz-access-token": self._access_token(),
                "user-agent": USER_AGENT,
                "accept": "application/json",
            }
            if body is not None:
                headers["content-type"] = "application/json"
            answer = self._retrying(method, url, headers, body)
            if answer.status == 403 and not refreshed:  # the token may have been revoked early
                self._token, refreshed = None, True
                continue
            if answer.status >= 400:
                raise SpApiError(f"{method} {path}: {_errors(answer)}", status=answer.status)
            return answer

    def _retrying(
        self, method: str, url: str, headers: dict[str, str], body: bytes | None
    ) -> Answer:
        waited = 0.0
        for attempt in range(MAX_ATTEMPTS):
            answer = self._send(method, url, headers, body)
            if answer.status not in _RETRIED:
                return answer
            delay = self._delay(attempt, answer)
            if attempt == MAX_ATTEMPTS - 1 or waited + delay > MAX_WAIT_S:
                break
            self._sleep(delay)
            waited += delay
        raise Throttled(
            f"{method} {urlsplit(url).path}: still {answer.status} after {attempt + 1} attempts",
            status=answer.status,
        )

    def _delay(self, attempt: int, answer: Answer) -> float:
        backoff = BASE_DELAY_S * 2**attempt * (0.5 + self._jitter() / 2)
        floor = 0.0
        if (after := _number(answer.header("retry-after"))) is not None:
            floor = after
        rate = _number(answer.header("x-amzn-ratelimit-limit"))
        if rate:
            floor = max(floor, 1 / rate)
        return max(backoff, floor)

    def _send(self, method: str, url: str, headers: dict[str, str], body: bytes | None) -> Answer:
        try:
            return self._http.request(method, url, headers, body, self._timeout)
        except OSError as exc:
            return Answer(503, str(exc).encode())  # retried like Amazon's own 503

    def _access_token(self) -> str:
        now = self._clock()
        if self._token and self._token[1] > now:
            return self._token[0]
        form = urlencode(
            {
                "grant_type": "refresh_token",
                "refresh_token": self._refresh_token,
                "client_id": self._client_id,
                "client_secret": self._client_secret,
            }
        ).encode()
        headers = {"content-type": "application/x-www-form-urlencoded", "user-agent": USER_AGENT}
        answer = self._retrying("POST", self._lwa, headers, form)
        doc = _json(answer) if answer.status == 200 else {}
        token = doc.get("access_token")
        if not isinstance(token, str) or not token:
            raise SpApiError(f"Login with Amazon refused the refresh token: {_errors(answer)}")
        expires_in = _number(str(doc.get("expires_in", 3600))) or 3600.0
        self._token = (token, now + max(expires_in - 60, 1))  # a minute's margin
        return token


def _number(raw: str | None) -> float | None:
    try:
        value = float(raw) if raw is not None else None
    except ValueError:
        return None
    return value if value is not None and value >= 0 else None


def _json(answer: Answer) -> dict[str, Any]:
    try:
        doc = json.loads(answer.body or b"{}", parse_float=Decimal)
    except ValueError as exc:
        raise SpApiError(f"the answer is not JSON: {exc}", status=answer.status) from exc
    if not isinstance(doc, dict):
        raise SpApiError("the answer is not a JSON object", status=answer.status)
    return doc


def _payload(answer: Answer) -> dict[str, Any]:
    payload = _json(answer).get("payload")
    if not isinstance(payload, dict):
        raise SpApiError("the answer has no payload object", status=answer.status)
    return payload


def _errors(answer: Answer) -> str:
    """Amazon's ``errors`` (code: message), or the status."""
    try:
        doc = json.loads(answer.body or b"{}")
    except ValueError:
        doc = {}
    errors = doc.get("errors") if isinstance(doc, dict) else None
    if isinstance(errors, list) and errors:
        return "; ".join(f"{e.get('code')}: {e.get('message')}" for e in errors[:3])
    if isinstance(doc, dict) and doc.get("error"):  # Login with Amazon's shape
        return f"{doc.get('error')}: {doc.get('error_description', '')}"
    return f"HTTP {answer.status}"


class HttpTransport:
    """Real HTTP: the host is resolved once and every address checked (no private, loopback
    or link-local one unless ``allow_loopback`` on the local stage), then the connection is
    pinned to the checked address; redirects are not followed."""

    def __init__(self, *, allow_loopback: bool = False) -> None:
        self._allow_loopback = allow_loopback

    def request(
        self, method: str, url: str, headers: dict[str, str], body: bytes | None, timeout: float
    ) -> Answer:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            address = public_address(resolve, host, port, allow_loopback=self._allow_loopback)
        except RefusedAddress as exc:
            raise SpApiError(str(exc)) from None
        return Answer(*_HTTP.exchange(method, url, address, headers, body, timeout))


_HTTP = PinnedHttp()
