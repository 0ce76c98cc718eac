"""Customer mails: order confirmation, shipped (carrier and tracking number) and delayed.

Sent only from the asynchronous side (SQS handlers), never inside an HTTP request. Each mail
has a plain-text and an HTML part rendered from ``chalicelib/templates``; every value put into
the HTML is escaped.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from string import Template
from typing import Any, Protocol
from urllib.parse import quote

from chalicelib.domain.mail import Mail
from chalicelib.domain.order.model import Order, OrderShipment, OrderStatus

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"


class Mailer(Protocol):
    def send(self, mail: Mail) -> str:
        """Send one mail; raises ``domain.mail.MailRejected`` when it is refused for good."""
        ...


@dataclass
class Delay:
    """What a short pick changed for the customer."""

    resourced: list[tuple[str, int, str]] = field(default_factory=list)  # sku, qty, new date
    backordered: dict[str, int] = field(default_factory=dict)
    cancelled: dict[str, int] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.resourced or self.backordered or self.cancelled)


class Notifier:
    def __init__(
        self,
        *,
        mailer: Mailer,
        token_for: Callable[[str], str],
        track_url: str,
        service_to: str = "",
    ) -> None:
        """``token_for(order_id)`` gives the customer's tracking token for the mail's link;
        ``track_url`` is the public base of ``GET /track/{order_id}``; ``service_to`` is
        customer service's mailbox (no service mails without it)."""
        self._mailer, self._token_for, self._track_url = mailer, token_for, track_url
        self._service_to = service_to

    def cancel_failed(self, order: Order, shipment: OrderShipment, reason: str) -> None:
        """Tell customer service that a cancel did not happen (refused, or shipped anyway)."""
        if not self._service_to:
            return
        values = {
            "order_id": order.order_id,
            "channel": order.channel,
            "channel_order_id": order.channel_order_id,
            "shipment_id": shipment.shipment_id,
            "location_id": shipment.location_id,
            "reason": reason,
        }
        self._mailer.send(
            Mail(
                to=(self._service_to,),
                subject=f"Cancel not done: order {order.channel_order_id} ({order.channel})",
                text=_template("cancel_failed.txt").substitute(
                    {k: _text(v) for k, v in values.items()}
                ),
                html=_template("cancel_failed.html").substitute(
                    {k: _html(v) for k, v in values.items()}
                ),
            )
        )

    def confirmation(self, order: Order) -> None:
        backordered = ", ".join(f"{q} x {sku}" for sku, q in sorted(order.backorders.items()))
        self._send(
            order,
            "confirmation",
            f"Your order {order.channel_order_id} is confirmed",
            items=_items({line.sku: line.quantity for line in order.lines}),
            promised_date=order.delivery.get("promised_date") or "as soon as stock arrives",
            backorder_note=f"Waiting for stock: {backordered}." if backordered else "",
        )

    def shipped(self, order: Order, shipment: OrderShipment) -> None:
        self._send(
            order,
            "shipped",
            f"Your order {order.channel_order_id} has shipped",
            items=_items(shipment.lines),
            location_id=shipment.location_id,
            carrier=shipment.carrier or "our carrier",
            tracking_number=shipment.tracking_number or "-",
            promised_date=shipment.promised_date,
        )

    def delayed(self, order: Order, delay: Delay) -> None:
        changes = [f"{q} x {sku}: now expected on {when}" for sku, q, when in delay.resourced]
        changes += [f"{q} x {sku}: waiting for stock" for sku, q in delay.backordered.items()]
        changes += [f"{q} x {sku}: cancelled, not charged" for sku, q in delay.cancelled.items()]
        self._send(
            order,
            "delayed",
            f"News about your order {order.channel_order_id}",
            changes=changes,
        )

    def promise_moved(self, order: Order, moved: list[tuple[str, str, str]]) -> None:
        """Backordered units' promise moved later (``(sku, was, now)``; now "": unknown)."""
        changes = [
            f"{order.backorders.get(sku, 0)} x {sku}: now expected on {now or 'a date to come'}"
            f" (was {was})"
            for sku, was, now in moved
        ]
        self._send(
            order,
            "promise_moved",
            f"New date for your order {order.channel_order_id}",
            changes=changes,
        )

    def return_received(self, order: Order, rma: Any, receipt: Any) -> None:
        """Units of a return arrived (``domain.returns.policy``): what, and the refund."""
        refund = receipt.refund
        shipping = (
            f" (shipping {_money(refund.shipping, refund.currency)})" if refund.shipping else ""
        )
        self._send(
            order,
            "return_received",
            f"We received your return {rma.rma_id}",
            rma_id=rma.rma_id,
            items=_items(refund.lines),
            refund=f"{_money(refund.total, refund.currency)}{shipping}",
            status=rma.status.value.replace("_", " "),
        )

    def _send(self, order: Order, template: str, subject: str, **values: object) -> None:
        email = order.customer.get("email")
        if not email or (order.status == OrderStatus.CANCELLED and template != "delayed"):
            return
        token = self._token_for(order.order_id)
        common = {
            "name": order.customer.get("name", ""),
            "channel_order_id": order.channel_order_id,
            "order_id": order.order_id,
            "track_url": f"{self._track_url}/{order.order_id}?token={quote(token)}",
        }
        text_values = {**common, **{k: _text(v) for k, v in values.items()}}
        html_values = {k: html.escape(str(v)) for k, v in common.items()}
        html_values.update({k: _html(v) for k, v in values.items()})
        self._mailer.send(
            Mail(
                to=(str(email),),
                subject=subject,
                text=_template(f"{template}.txt").substitute(text_values),
                html=_template(f"{template}.html").substitute(html_values),
            )
        )


def _money(minor: int, currency: str) -> str:
    return f"{minor / 100:.2f} {currency}"


def _items(lines: dict[str, int]) -> list[str]:
    return [f"{quantity} x {sku}" for sku, quantity in sorted(lines.items())]


def _text(value: object) -> str:
    if isinstance(value, list):
        return "\n".join(f"- {v}" for v in value)
    return str(value)


def _html(value: object) -> str:
    if isinstance(value, list):
        return "".join(f"<li>{html.escape(str(v))}</li>" for v in value)
    return html.escape(str(value))


@cache
def _template(name: str) -> Template:
    return Template((TEMPLATES / name).read_text(encoding="utf-8"))
