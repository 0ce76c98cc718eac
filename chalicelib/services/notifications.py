"""Customer mails: order confirmation, shipped (carrier and tracking number), delayed, a
backorder's promise moved and a return received; and customer service's cancel-failed mail.

Sent only from the asynchronous side (SQS handlers), never inside an HTTP request. Each mail
has a plain-text and an HTML part rendered from ``chalicelib/templates`` in the channel's
language and locale (``services.mail_i18n``), signed with its display name and sent from its
sender; every value put into the HTML is escaped. A channel with ``customer_mail`` off gets
none: the skip is logged, it is no error.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import quote

from aws_lambda_powertools import Logger

from chalicelib.domain.channel import Channel
from chalicelib.domain.mail import Mail
from chalicelib.domain.order.model import Order, OrderShipment, OrderStatus
from chalicelib.services.mail_i18n import Part, Phrase, Wording, template

logger = Logger(service="dirigent")


class Mailer(Protocol):
    def send(self, mail: Mail) -> str:
        """Send one mail; raises ``domain.mail.MailRejected`` when it is refused for good."""
        ...


class MailSettings(Protocol):
    @property
    def track_url(self) -> str:
        """The public base of ``GET /track/{order_id}``, for the mails' links."""
        ...

    @property
    def service_email(self) -> str:
        """Customer service's mailbox ("": no service mails)."""
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
        settings: MailSettings,
        channel_for: Callable[[str], Channel | None] = lambda _: None,
    ) -> None:
        """``token_for(order_id)`` gives the customer's tracking token for the mail's link;
        ``channel_for(channel)`` the channel whose language, name and sender a mail takes
        (None: English, named by the channel id, from the mailer's sender)."""
        self._mailer, self._token_for, self._channel_for = mailer, token_for, channel_for
        self._track_url, self._service_to = settings.track_url, settings.service_email

    def cancel_failed(self, order: Order, shipment: OrderShipment, reason: str) -> None:
        """Tell customer service that a cancel did not happen (refused, or shipped anyway).
        In English, whatever the channel's language: it is for staff."""
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
                text=template("cancel_failed.txt").substitute(values),
                html=template("cancel_failed.html").substitute(
                    {k: html.escape(v) for k, v in values.items()}
                ),
            )
        )

    def confirmation(self, order: Order) -> None:
        """Like every customer mail: none without an address, for a cancelled order, or when
        the channel sends no customer mail."""

        def parts(w: Wording) -> dict[str, Part]:
            backordered = ", ".join(_lines(w, order.backorders))
            promised = order.delivery.get("promised_date")
            return {
                "items": _items(w, {line.sku: line.quantity for line in order.lines}),
                "total_label": Phrase("confirmation.total_label"),
                "total": w.money(_total(order), order.currency),
                "promised_label": Phrase("promised_label"),
                "promised_date": (
                    w.date(promised)
                    if promised
                    else w.text(Phrase("confirmation.promised_unknown"))
                ),
                "backorder_note": (
                    Phrase("confirmation.backorder_note", {"items": backordered})
                    if backordered
                    else ""
                ),
            }

        self._send(order, "confirmation", parts)

    def shipped(self, order: Order, shipment: OrderShipment) -> None:
        def parts(w: Wording) -> dict[str, Part]:
            return {
                "location_id": shipment.location_id,
                "items": _items(w, shipment.lines),
                "carrier_label": Phrase("shipped.carrier_label"),
                "carrier": shipment.carrier or Phrase("shipped.carrier_unknown"),
                "tracking_label": Phrase("shipped.tracking_label"),
                "tracking_number": shipment.tracking_number or "-",
                "promised_label": Phrase("promised_label"),
                "promised_date": w.date(shipment.promised_date),
            }

        self._send(order, "shipped", parts, location_id=shipment.location_id)

    def delayed(self, order: Order, delay: Delay) -> None:
        def parts(w: Wording) -> dict[str, Part]:
            changes: list[Phrase | str] = [
                Phrase("delayed.resourced", {**_line(w, sku, q), "date": w.date(when)})
                for sku, q, when in delay.resourced
            ]
            changes += [
                Phrase("delayed.backordered", _line(w, sku, q))
                for sku, q in delay.backordered.items()
            ]
            changes += [
                Phrase("delayed.cancelled", _line(w, sku, q)) for sku, q in delay.cancelled.items()
            ]
            return {"changes": changes}

        self._send(order, "delayed", parts)

    def promise_moved(self, order: Order, moved: list[tuple[str, str, str]]) -> None:
        """Backordered units' promise moved later (``(sku, was, now)``; now "": unknown)."""

        def parts(w: Wording) -> dict[str, Part]:
            changes: list[Phrase | str] = [
                Phrase(
                    "promise_moved.line" if now else "promise_moved.line_unknown",
                    {
                        **_line(w, sku, order.backorders.get(sku, 0)),
                        "was": w.date(was),
                        "now": w.date(now),
                    },
                )
                for sku, was, now in moved
            ]
            return {"changes": changes}

        self._send(order, "promise_moved", parts)

    def return_received(self, order: Order, rma: Any, receipt: Any) -> None:
        """Units of a return arrived (``domain.returns.policy``): what, and the refund."""
        refund = receipt.refund

        def parts(w: Wording) -> dict[str, Part]:
            amount = w.money(refund.total, refund.currency)
            if refund.shipping:
                shipping = Phrase(
                    "return_received.shipping",
                    {"amount": w.money(refund.shipping, refund.currency)},
                )
                amount = f"{amount} {w.text(shipping)}"
            return {
                "items": _items(w, refund.lines),
                "refund_label": Phrase("return_received.refund_label"),
                "refund": amount,
                "status_label": Phrase("return_received.status_label"),
                "status": Phrase(f"return_status.{rma.status.value}"),
                "outro": Phrase("return_received.outro"),
                "follow": Phrase("return_received.follow"),
            }

        self._send(order, "return_received", parts, rma_id=rma.rma_id)

    def _send(
        self,
        order: Order,
        name: str,
        parts: Callable[[Wording], dict[str, Part]],
        **named: str,
    ) -> None:
        """Render mail ``name`` in the channel's words: its subject and intro (``<name>.*``
        phrases) name the order and ``named``; ``parts`` fill the rest of the layout."""
        email = order.customer.get("email")
        if not email or (order.status == OrderStatus.CANCELLED and name != "delayed"):
            return
        channel = self._channel_for(order.channel)
        if channel is not None and not channel.customer_mail:
            logger.info(
                "customer mail skipped: the channel sends none",
                order_id=order.order_id,
                channel=order.channel,
                mail=name,
            )
            return
        w = Wording(channel.language, channel.formatting_locale()) if channel else Wording("en")
        token = self._token_for(order.order_id)
        about = {"channel_order_id": order.channel_order_id, **named}
        layout: dict[str, Part] = {
            "greeting": Phrase("greeting", {"name": order.customer.get("name", "")}),
            "intro": Phrase(f"{name}.intro", about),
            "track": Phrase("track"),
            "track_url": f"{self._track_url}/{order.order_id}?token={quote(token)}",
            "shop": channel.shown_name() if channel else order.channel,
            "lang": w.language,
            **parts(w),
        }
        self._mailer.send(
            Mail(
                to=(str(email),),
                subject=w.text(Phrase(f"{name}.subject", about)),
                text=template(f"{name}.txt").substitute({k: w.text(v) for k, v in layout.items()}),
                html=template(f"{name}.html").substitute({k: w.html(v) for k, v in layout.items()}),
                sender=channel.mail_from if channel else "",
            )
        )


def _total(order: Order) -> int:
    """What the customer pays: the lines at their prices and the delivery."""
    goods = sum(line.unit_price * line.quantity for line in order.lines)
    return goods + int(order.delivery.get("price") or 0)


def _line(w: Wording, sku: str, quantity: int) -> dict[str, object]:
    return {"quantity": w.number(quantity), "sku": sku}


def _lines(w: Wording, lines: dict[str, int]) -> list[str]:
    return [w.text(Phrase("line", _line(w, sku, q))) for sku, q in sorted(lines.items())]


def _items(w: Wording, lines: dict[str, int]) -> list[Phrase | str]:
    return [Phrase("line", _line(w, sku, q)) for sku, q in sorted(lines.items())]
