"""Confirmations as the platforms' own API calls: Shopify's REST Admin API (the
fulfillment-orders flow, a corrected tracking number, cancel, refund, cancelled line items),
WooCommerce's REST API v3 (order status and customer notes, refunds) and Amazon's SP-API
``confirmShipment``.

Every call goes through an ``Http`` that guards the address (``http_delivery.GuardedHttp``).
A non-2xx answer becomes ``PlatformRefused`` (a 4xx a retry cannot fix) or
``PlatformUnavailable`` (429, 5xx), carrying the platform's message.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any, Protocol
from urllib.parse import quote

from chalicelib.domain.confirmations import (
    Confirmation,
    ConfirmationKind,
    PlatformRefused,
    PlatformUnavailable,
    channel_skus,
    decimal_amount,
    failure,
)

DEFAULT_SHOPIFY_VERSION = "2024-10"
USER_AGENT = "Dirigent-Connectors/1"
OPEN_FULFILLMENT_ORDERS = ("open", "in_progress")


class Http(Protocol):
    def request(
        self, method: str, url: str, headers: dict[str, str], body: bytes | None = None
    ) -> tuple[int, bytes]: ...


def _call(
    http: Http, method: str, url: str, headers: dict[str, str], doc: Any = None
) -> dict[str, Any]:
    body = None if doc is None else json.dumps(doc, separators=(",", ":")).encode()
    heads = {"accept": "application/json", "user-agent": USER_AGENT, **headers}
    if body is not None:
        heads["content-type"] = "application/json"
    status, answer = http.request(method, url, heads, body)
    if not 200 <= status < 300:
        raise failure(status, answer.decode("utf-8", "replace"))
    try:
        parsed = json.loads(answer) if answer.strip() else {}
    except ValueError:
        parsed = {}
    return parsed if isinstance(parsed, dict) else {}


def _lines_wanted(c: Confirmation) -> dict[str, int]:
    return {sku: int(q) for sku, q in (c.data.get("lines") or {}).items() if int(q) > 0}


class ShopifyOut:
    """``X-Shopify-Access-Token`` on ``{api_base_url or https://shop_domain}/admin/api/{v}``."""

    def __init__(self, config: dict[str, Any], http: Http) -> None:
        base = config.get("api_base_url") or f"https://{config.get('shop_domain', '')}"
        version = config.get("api_version") or DEFAULT_SHOPIFY_VERSION
        self._root = f"{str(base).rstrip('/')}/admin/api/{version}"
        self._headers = {"X-Shopify-Access-Token": str(config.get("admin_access_token", ""))}
        self._config, self._http = config, http

    def unsupported(self, kind: ConfirmationKind) -> str | None:
        return None

    def send(self, c: Confirmation) -> dict[str, Any]:
        order = quote(c.channel_order_id, safe="")
        if c.kind == ConfirmationKind.CANCEL:
            self._do("POST", f"/orders/{order}/cancel.json", {})
            return {"cancelled": True}
        if c.kind == ConfirmationKind.REFUND:
            return self._refund(order, c)
        if c.kind == ConfirmationKind.LINES_CANCELLED:
            return self._cancel_lines(order, c)
        if c.kind == ConfirmationKind.TRACKING:
            return self._retrack(order, c)
        return self._fulfil(order, c)

    def _do(self, method: str, path: str, doc: Any = None) -> dict[str, Any]:
        return _call(self._http, method, self._root + path, self._headers, doc)

    def _fulfil(self, order: str, c: Confirmation) -> dict[str, Any]:
        """Fulfil the shipment's units from the order's open fulfillment orders; nothing left
        to fulfil for its SKUs means Shopify has it already (a retry after a lost answer)."""
        ours_of = {
            str(li.get("id")): ours
            for ours, items in self._line_items(order, c).items()
            for li in items
        }
        orders = self._do("GET", f"/orders/{order}/fulfillment_orders.json")
        wanted = _lines_wanted(c)
        by_fo: dict[Any, list[dict[str, Any]]] = {}
        for fo in orders.get("fulfillment_orders") or []:
            if fo.get("status") not in OPEN_FULFILLMENT_ORDERS:
                continue
            for item in fo.get("line_items") or []:
                ours = ours_of.get(str(item.get("line_item_id")), "")
                take = min(wanted.get(ours, 0), int(item.get("fulfillable_quantity") or 0))
                if take > 0:
                    wanted[ours] -= take
                    by_fo.setdefault(fo["id"], []).append({"id": item["id"], "quantity": take})
        if not by_fo:
            return {"fulfillment_id": None, "note": "nothing left to fulfil on Shopify"}
        tracking = {"number": c.data.get("tracking_number"), "company": c.data.get("carrier")}
        body = {
            "fulfillment": {
                "line_items_by_fulfillment_order": [
                    {"fulfillment_order_id": fo_id, "fulfillment_order_line_items": items}
                    for fo_id, items in by_fo.items()
                ],
                "tracking_info": {k: v for k, v in tracking.items() if v},
                "notify_customer": True,
            }
        }
        made = self._do("POST", "/fulfillments.json", body)
        return {"fulfillment_id": (made.get("fulfillment") or {}).get("id")}

    def _retrack(self, order: str, c: Confirmation) -> dict[str, Any]:
        """Give the fulfillment that carries the previous tracking number the new one. One that
        carries the new number already answers (a retry after a lost answer, or a shipment
        confirmed after the correction); none with either waits for the shipment's own
        confirmation (retried: the platform may not have the fulfillment yet)."""
        number, previous = c.data.get("tracking_number"), c.data.get("previous")
        found = self._do("GET", f"/orders/{order}/fulfillments.json")
        fulfillments = found.get("fulfillments") or []

        def numbers(f: dict[str, Any]) -> list[Any]:
            return [f.get("tracking_number"), *(f.get("tracking_numbers") or [])]

        if done := next((f for f in fulfillments if number in numbers(f)), None):
            return {"fulfillment_id": done.get("id"), "note": "the number is on Shopify already"}
        old = next((f for f in fulfillments if previous and previous in numbers(f)), None)
        if old is None:
            raise PlatformUnavailable(
                f"no fulfillment of Shopify order {c.channel_order_id} carries {previous} yet"
            )
        tracking = {"number": number, "company": c.data.get("carrier")}
        body = {
            "fulfillment": {
                "tracking_info": {k: v for k, v in tracking.items() if v},
                "notify_customer": True,
            }
        }
        self._do("POST", f"/fulfillments/{old['id']}/update_tracking.json", body)
        return {"fulfillment_id": old["id"]}

    def _line_items(self, order: str, c: Confirmation) -> dict[str, list[dict[str, Any]]]:
        """Our SKUs of ``c`` -> the order's line items that are them."""
        found = self._do("GET", f"/orders/{order}.json?fields=id,line_items")
        items = (found.get("order") or {}).get("line_items") or []
        out = {
            ours: [
                li for li in items if str(li.get("sku") or "") in channel_skus(self._config, ours)
            ]
            for ours in _lines_wanted(c)
        }
        if missing := sorted(sku for sku, hit in out.items() if not hit):
            raise PlatformRefused(
                f"Shopify order {c.channel_order_id} has no line item for {', '.join(missing)}"
            )
        return out

    def _cancel_lines(self, order: str, c: Confirmation) -> dict[str, Any]:
        """Cancel units of a going order: a refund of those line items with ``restock_type``
        cancel, for what Shopify calculates (``refunds/calculate``: its taxes and discounts).
        The note carries the confirmation id, so a retry after a lost answer finds its refund
        instead of refunding twice."""
        marker = f"[dirigent {c.confirmation_id}]"
        done = self._do("GET", f"/orders/{order}/refunds.json")
        for refund in done.get("refunds") or []:
            if marker in str(refund.get("note") or ""):
                return {"refund_id": refund.get("id"), "note": "refunded before"}
        lines = []
        for ours, items in self._line_items(order, c).items():
            left = _lines_wanted(c)[ours]
            for li in items:
                take = min(left, int(li.get("quantity") or 0))
                if take > 0:
                    lines.append(
                        {"line_item_id": li["id"], "quantity": take, "restock_type": "cancel"}
                    )
                    left -= take
        currency = str(c.data.get("currency") or "")
        calc = {"refund": {"currency": currency, "refund_line_items": lines}}
        suggested = self._do("POST", f"/orders/{order}/refunds/calculate.json", calc)
        transactions = [
            {
                "parent_id": t.get("parent_id"),
                "amount": t.get("amount"),
                "kind": "refund",
                "gateway": t.get("gateway"),
            }
            for t in (suggested.get("refund") or {}).get("transactions") or []
            if t.get("kind") == "suggested_refund"
        ]
        reason = str(c.data.get("reason") or "units cancelled")
        body = {
            "refund": {
                "currency": currency,
                "notify": True,
                "note": f"{reason} {marker}",
                "refund_line_items": lines,
                "transactions": transactions,
            }
        }
        made = self._do("POST", f"/orders/{order}/refunds.json", body)
        return {"refund_id": (made.get("refund") or {}).get("id")}

    def _refund(self, order: str, c: Confirmation) -> dict[str, Any]:
        """Refund the recorded amount against the order's last successful capture or sale
        (a plain amount: no line items, so no ``calculate`` first and no restock)."""
        found = self._do("GET", f"/orders/{order}/transactions.json")
        parents = [
            t
            for t in found.get("transactions") or []
            if t.get("kind") in ("capture", "sale") and t.get("status") == "success"
        ]
        if not parents:
            raise PlatformRefused(
                f"Shopify order {c.channel_order_id} has no successful capture or sale to "
                "refund against: refund it in Shopify"
            )
        parent = parents[-1]
        currency = str(c.data.get("currency") or "")
        body = {
            "refund": {
                "currency": currency,
                "notify": True,
                "note": f"Return {c.data.get('rma_id')}",
                "transactions": [
                    {
                        "parent_id": parent["id"],
                        "amount": decimal_amount(int(c.data["amount"]), currency),
                        "kind": "refund",
                        "gateway": parent.get("gateway"),
                    }
                ],
            }
        }
        made = self._do("POST", f"/orders/{order}/refunds.json", body)
        return {"refund_id": (made.get("refund") or {}).get("id")}


class WooCommerceOut:
    """Basic auth ``consumer_key:consumer_secret`` (over https) on
    ``{store_url}/wp-json/wc/v3``."""

    def __init__(self, config: dict[str, Any], http: Http) -> None:
        self._root = f"{str(config.get('store_url', '')).rstrip('/')}/wp-json/wc/v3"
        pair = f"{config.get('consumer_key', '')}:{config.get('consumer_secret', '')}"
        self._headers = {"Authorization": "Basic " + base64.b64encode(pair.encode()).decode()}
        self._http = http

    def unsupported(self, kind: ConfirmationKind) -> str | None:
        return None

    def _do(self, method: str, path: str, doc: Any) -> dict[str, Any]:
        return _call(self._http, method, self._root + path, self._headers, doc)

    def send(self, c: Confirmation) -> dict[str, Any]:
        order = quote(c.channel_order_id, safe="")
        if c.kind == ConfirmationKind.CANCEL:
            self._do("PUT", f"/orders/{order}", {"status": "cancelled"})
            return {"status": "cancelled"}
        if c.kind in (ConfirmationKind.REFUND, ConfirmationKind.LINES_CANCELLED):
            amount = decimal_amount(int(c.data["amount"]), str(c.data.get("currency") or ""))
            if c.kind == ConfirmationKind.REFUND:
                reason = f"Return {c.data.get('rma_id')}"
            else:  # WooCommerce records the refund and its reason as an order note
                units = ", ".join(f"{q} x {sku}" for sku, q in _lines_wanted(c).items())
                reason = f"Cancelled: {units}. {c.data.get('reason') or ''}".strip()
            body = {"amount": amount, "reason": reason, "api_refund": False}
            made = self._do("POST", f"/orders/{order}/refunds", body)
            return {"refund_id": made.get("id")}
        words = " ".join(str(c.data[k]) for k in ("carrier", "tracking_number") if c.data.get(k))
        if c.kind == ConfirmationKind.TRACKING:
            text = f"Tracking corrected: shipped with {words} (not {c.data.get('previous')})"
            made = self._do("POST", f"/orders/{order}/notes", {"note": text, "customer_note": True})
            return {"note_id": made.get("id")}
        # The status first: it is idempotent, so a retry after it repeats nothing visible.
        out: dict[str, Any] = {}
        if c.data.get("complete"):
            self._do("PUT", f"/orders/{order}", {"status": "completed"})
            out["status"] = "completed"
        note = {"note": f"Shipped with {words}".strip(), "customer_note": True}
        made = self._do("POST", f"/orders/{order}/notes", note)
        return {**out, "note_id": made.get("id")}


class SpApiShipments(Protocol):
    def get_order_items(self, amazon_order_id: str) -> list[dict[str, Any]]: ...
    def confirm_shipment(self, amazon_order_id: str, body: dict[str, Any]) -> None: ...


class AmazonOut:
    """``confirmShipment`` (ordersV0) through the SP-API client; the package's items are the
    order's ``OrderItemId`` s found by ``SellerSKU``. SP-API's orders API has no cancel or
    refund call (those go through feeds): they are recorded as skipped."""

    def __init__(self, config: dict[str, Any], sp_api: Callable[[], SpApiShipments]) -> None:
        self._config, self._sp_api = config, sp_api

    def unsupported(self, kind: ConfirmationKind) -> str | None:
        if kind == ConfirmationKind.SHIPMENT:
            return None
        return f"SP-API's orders API has no {kind.value} call: do it in Seller Central"

    def send(self, c: Confirmation) -> dict[str, Any]:
        try:
            api = self._sp_api()
            items = api.get_order_items(c.channel_order_id)
            body = self._body(c, items)
            api.confirm_shipment(c.channel_order_id, body)
        except (PlatformRefused, PlatformUnavailable, OSError):
            raise
        except Exception as exc:  # SpApiError and kin: judged by their status
            status = int(getattr(exc, "status", 0) or 0)
            if status and status < 500 and status != 429 and type(exc).__name__ != "Throttled":
                raise PlatformRefused(f"SP-API answered {status}: {exc}") from exc
            raise PlatformUnavailable(f"SP-API: {type(exc).__name__}: {exc}") from exc
        return {"package_reference_id": body["packageDetail"]["packageReferenceId"]}

    def _body(self, c: Confirmation, items: list[dict[str, Any]]) -> dict[str, Any]:
        order_items = []
        for ours, quantity in sorted(_lines_wanted(c).items()):
            skus = channel_skus(self._config, ours)
            match = next((i for i in items if i.get("SellerSKU") in skus), None)
            if match is None:
                raise PlatformRefused(
                    f"Amazon order {c.channel_order_id} has no item with SellerSKU "
                    f"{' or '.join(skus)}"
                )
            order_items.append({"orderItemId": match["OrderItemId"], "quantity": quantity})
        marketplaces = self._config.get("marketplace_ids") or [""]
        return {
            "marketplaceId": marketplaces[0],
            "packageDetail": {
                "packageReferenceId": c.data["shipment_id"],
                "carrierCode": c.data.get("carrier") or "Other",
                "trackingNumber": c.data.get("tracking_number") or "",
                "shipDate": c.data.get("ship_date"),
                "orderItems": order_items,
            },
        }
