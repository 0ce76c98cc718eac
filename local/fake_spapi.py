"""A small local fake of Amazon: Login with Amazon's token endpoint and the Orders API v0
(``getOrders`` with ``LastUpdatedAfter`` and ``NextToken`` paging, ``getOrderItems``,
``confirmShipment``), answering in the published model's shapes, with an occasional 429.

``FakeSellingPartner`` is the fake itself; it is also a transport for
``chalicelib.adapters.sp_api.SpApi`` (``request``), so tests use it in process. ``serve`` puts
it behind HTTP on 127.0.0.1 for the local stack, whose demo ``marketplace`` channel polls it.
"""

from __future__ import annotations

import base64
import json
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from chalicelib.adapters.sp_api import Answer

TOKEN_PATH = "/auth/o2/token"  # noqa: S105 - a path, not a secret
ORDERS_PATH = "/orders/v0/orders"


def _errors(code: str, message: str) -> bytes:
    return json.dumps({"errors": [{"code": code, "message": message}]}).encode()


class FakeSellingPartner:
    """Orders kept in memory: ``put_order`` adds or changes one (its ``LastUpdateDate`` set
    to now). Every ``throttle_every``-th Orders API request answers 429."""

    def __init__(
        self,
        *,
        page_size: int = 2,
        throttle_every: int = 0,
        refresh_token: str | None = None,
        clock: Any = lambda: datetime.now(UTC),
    ) -> None:
        self.page_size, self.throttle_every = page_size, throttle_every
        self.refresh_token, self._clock = refresh_token, clock
        self.orders: dict[str, dict[str, Any]] = {}
        self.items: dict[str, list[dict[str, Any]]] = {}
        self.confirmations: list[tuple[str, dict[str, Any]]] = []
        self.requests: list[tuple[str, str]] = []
        self.tokens: set[str] = set()
        self._count = 0
        self._lock = threading.Lock()

    # --- the seller's side -----------------------------------------------------------------

    def put_order(self, order: dict[str, Any], items: list[dict[str, Any]] | None = None) -> None:
        with self._lock:
            stamp = self._clock().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            doc = {**order, "LastUpdateDate": stamp}
            doc.setdefault("PurchaseDate", stamp)
            self.orders[doc["AmazonOrderId"]] = doc
            if items is not None:
                self.items[doc["AmazonOrderId"]] = items

    # --- HTTP ------------------------------------------------------------------------------

    def request(
        self, method: str, url: str, headers: dict[str, str], body: bytes | None, timeout: float
    ) -> Answer:
        """The transport ``SpApi`` calls: one request, answered in process."""
        parts = urlsplit(url)
        names = {k.lower(): v for k, v in headers.items()}
        return self.handle(method, parts.path, parse_qs(parts.query), names, body or b"")

    def handle(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]],
        headers: dict[str, str],
        body: bytes,
    ) -> Answer:
        with self._lock:
            self.requests.append((method, path))
            if path == TOKEN_PATH and method == "POST":
                return self._token(parse_qs(body.decode()))
            if not path.startswith(ORDERS_PATH):
                return Answer(404, _errors("NotFound", "no such resource"))
            if headers.get("x-amz-access-token") not in self.tokens:
                return Answer(
                    403, _errors("Unauthorized", "Access to requested resource is denied.")
                )
            self._count += 1
            if self.throttle_every and self._count % self.throttle_every == 0:
                limit = {"x-amzn-ratelimit-limit": "2.0", "retry-after": "0"}
                return Answer(429, _errors("QuotaExceeded", "You exceeded your quota"), limit)
            rest = [unquote(p) for p in path[len(ORDERS_PATH) :].split("/") if p]
            if not rest and method == "GET":
                return self._get_orders(query)
            if len(rest) == 2 and rest[1] == "orderItems" and method == "GET":
                return self._get_order_items(rest[0], query)
            if len(rest) == 2 and rest[1] == "shipmentConfirmation" and method == "POST":
                if rest[0] not in self.orders:
                    return Answer(404, _errors("NotFound", "order not found"))
                self.confirmations.append((rest[0], json.loads(body or b"{}")))
                return Answer(204)
            return Answer(404, _errors("NotFound", "no such resource"))

    def _token(self, form: dict[str, list[str]]) -> Answer:
        grant = form.get("grant_type", [""])[0]
        given = form.get("refresh_token", [""])[0]
        if (
            grant != "refresh_token"
            or not given
            or (self.refresh_token is not None and given != self.refresh_token)
        ):
            doc = {
                "error": "invalid_grant",
                "error_description": "The request has an invalid grant parameter",
            }
            return Answer(400, json.dumps(doc).encode())
        token = f"Atza|fake-{len(self.tokens) + 1}"
        self.tokens.add(token)
        doc = {
            "access_token": token,
            "token_type": "bearer",
            "expires_in": 3600,
            "refresh_token": given,
        }
        return Answer(200, json.dumps(doc).encode())

    def _get_orders(self, query: dict[str, list[str]]) -> Answer:
        if not query.get("MarketplaceIds"):
            return Answer(400, _errors("InvalidInput", "MarketplaceIds is required"))
        after = query.get("LastUpdatedAfter", [""])[0]
        token = query.get("NextToken", [""])[0]
        start = 0
        if token:
            try:
                after, offset = base64.urlsafe_b64decode(token).decode().split("|")
                start = int(offset)
            except ValueError:
                return Answer(400, _errors("InvalidInput", "Invalid NextToken"))
        if not after:
            return Answer(
                400, _errors("InvalidInput", "CreatedAfter or LastUpdatedAfter is required")
            )
        matching = sorted(
            (o for o in self.orders.values() if o["LastUpdateDate"] >= after),
            key=lambda o: (o["LastUpdateDate"], o["AmazonOrderId"]),
        )
        page = matching[start : start + self.page_size]
        payload: dict[str, Any] = {"Orders": page}
        if start + self.page_size < len(matching):
            payload["NextToken"] = base64.urlsafe_b64encode(
                f"{after}|{start + self.page_size}".encode()
            ).decode()
        return Answer(200, json.dumps({"payload": payload}).encode())

    def _get_order_items(self, order_id: str, query: dict[str, list[str]]) -> Answer:
        if order_id not in self.orders:
            return Answer(404, _errors("InvalidInput", "Invalid AmazonOrderId"))
        items = self.items.get(order_id, [])
        start = int(query.get("NextToken", ["0"])[0] or 0)
        page = items[start : start + self.page_size]
        payload: dict[str, Any] = {"AmazonOrderId": order_id, "OrderItems": page}
        if start + self.page_size < len(items):
            payload["NextToken"] = str(start + self.page_size)
        return Answer(200, json.dumps({"payload": payload}).encode())


class _Handler(BaseHTTPRequestHandler):
    fake: FakeSellingPartner

    def _answer(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        answer = self.fake.handle(self.command, parts.path, parse_qs(parts.query), headers, body)
        self.send_response(answer.status)
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        self.wfile.write(answer.body)

    do_GET = do_POST = _answer

    def log_message(self, format: str, *args: Any) -> None:
        return


def serve(fake: FakeSellingPartner, *, port: int = 0) -> ThreadingHTTPServer:
    """The fake behind HTTP on 127.0.0.1 (``port`` 0: any free one), served by a daemon
    thread; ``shutdown()`` and ``server_close()`` stop it."""
    handler = type("Handler", (_Handler,), {"fake": fake})
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, args=(0.1,), daemon=True).start()
    return server


def demo_orders(
    products: list[dict[str, Any]],
) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """A few orders for the demo's ``marketplace`` channel in the model's shapes: two ready to
    ship to Germany and France, one still Pending, one with a SKU nobody mapped (it shows up
    as rejected) and one already Canceled."""

    def order(n: int, status: str, country: str, postal: str, city: str) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "AmazonOrderId": f"302-{n:07d}-{n * 7:07d}",
            "OrderStatus": status,
            "FulfillmentChannel": "MFN",
            "SalesChannel": "Amazon.de",
            "OrderType": "StandardOrder",
            "MarketplaceId": "A1PA6795UKMFR9",
            "PaymentMethod": "Other",
            "ShipmentServiceLevelCategory": "Standard",
            "IsPrime": False,
            "IsBusinessOrder": False,
            "BuyerInfo": {"BuyerEmail": f"buyer{n}@marketplace.amazon.de"},
        }
        if status != "Pending":  # a Pending order has no address yet
            doc["ShippingAddress"] = {
                "Name": f"Demo Buyer {n}",
                "AddressLine1": f"Demostrasse {n}",
                "City": city,
                "PostalCode": postal,
                "CountryCode": country,
            }
        return doc

    def item(n: int, sku: str, quantity: int, unit_price: int) -> dict[str, Any]:
        amount = f"{unit_price * quantity // 100}.{unit_price * quantity % 100:02d}"
        return {
            "ASIN": f"B0DEMO{n:04d}",
            "OrderItemId": f"{n:014d}",
            "SellerSKU": sku,
            "QuantityOrdered": quantity,
            "QuantityShipped": 0,
            "ItemPrice": {"CurrencyCode": "EUR", "Amount": amount},
        }

    p = {row["sku"]: row["prices"]["EUR"] for row in products}
    a, b, c = "SKU-0001", "SKU-0002", "SKU-0003"
    return [
        (
            order(1, "Unshipped", "DE", "10115", "Berlin"),
            [item(1, a, 1, p[a]), item(2, b, 2, p[b])],
        ),
        (order(2, "Unshipped", "FR", "69002", "Lyon"), [item(3, c, 1, p[c])]),
        (order(3, "Pending", "DE", "80331", "München"), [item(4, a, 1, p[a])]),
        (order(4, "Unshipped", "DE", "20095", "Hamburg"), [item(5, "AMZ-UNMAPPED-1", 1, 1999)]),
        (order(5, "Canceled", "NL", "1012 JS", "Amsterdam"), [item(6, b, 1, p[b])]),
    ]
