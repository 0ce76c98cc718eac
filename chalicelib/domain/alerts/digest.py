"""The low-stock digest one recipient gets: plain text, an HTML table and the same lines as CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import date
from html import escape

from chalicelib.domain.alerts.rules import VELOCITY_DAYS, DigestLine
from chalicelib.domain.mail import Attachment, Mail

CSV_COLUMNS = (
    "sku",
    "location_id",
    "country",
    "available",
    "reorder_point",
    "on_hand",
    "reserved",
    "units_per_day",
    "days_of_cover",
    "low_since",
    "transfer_from",
    "transfer_quantity",
)
_HEADERS = (
    "SKU",
    "Location",
    "Available",
    "Reorder point",
    f"Units/day ({VELOCITY_DAYS} d)",
    "Days of cover",
    "Low since",
    "Suggested transfer",
)
_STYLE = "border:1px solid #ccc;padding:4px 8px;text-align:left"


def digest_mail(recipient: str, lines: Sequence[DigestLine], *, today: date, stage: str) -> Mail:
    count = len(lines)
    noun = "item" if count == 1 else "items"
    prefix = "" if stage == "prod" else f"[{stage}] "
    return Mail(
        to=(recipient,),
        subject=f"{prefix}Low stock: {count} {noun} at or below the reorder point",
        text=digest_text(lines, today=today),
        html=digest_html(lines, today=today),
        attachments=(
            Attachment(
                f"low-stock-{today.isoformat()}.csv", "text/csv", digest_csv(lines).encode()
            ),
        ),
    )


def cover_text(line: DigestLine) -> str:
    return "no sales" if line.days_of_cover is None else f"{line.days_of_cover:.1f}"


def transfer_text(line: DigestLine) -> str:
    if line.transfer is None:
        return "none available"
    return f"{line.transfer.quantity} from {line.transfer.from_location}"


def _cells(line: DigestLine) -> tuple[str, ...]:
    return (
        line.sku,
        f"{line.location_id} ({line.country})" if line.country else line.location_id,
        str(line.available),
        str(line.reorder_point),
        f"{line.units_per_day:.2f}",
        cover_text(line),
        line.low_since[:16].replace("T", " "),
        transfer_text(line),
    )


def digest_text(lines: Sequence[DigestLine], *, today: date) -> str:
    out = [
        f"Low stock on {today.isoformat()}: {len(lines)} item(s) at or below the reorder point.",
        "You hear about an item again once it has recovered and dropped, or daily if your "
        "group asked for reminders. The same lines are attached as CSV.",
        "",
    ]
    for line in lines:
        sku, where, available, rop, speed, cover, since, transfer = _cells(line)
        out.append(
            f"- {sku} at {where}: {available} available (reorder point {rop}), "
            f"{speed} units/day, cover {cover} days, low since {since}; transfer: {transfer}"
        )
    return "\n".join(out) + "\n"


def digest_html(lines: Sequence[DigestLine], *, today: date) -> str:
    head = "".join(f'<th style="{_STYLE}">{escape(h)}</th>' for h in _HEADERS)
    rows = "".join(
        "<tr>" + "".join(f'<td style="{_STYLE}">{escape(c)}</td>' for c in _cells(line)) + "</tr>"
        for line in lines
    )
    return (
        '<!doctype html><html><body style="font-family:sans-serif">'
        f"<h2>Low stock on {today.isoformat()}</h2>"
        f"<p>{len(lines)} item(s) at or below the reorder point, fewest days of cover first. "
        f"Velocity: units shipped per day over the last {VELOCITY_DAYS} days.</p>"
        f'<table style="border-collapse:collapse"><thead><tr>{head}</tr></thead>'
        f"<tbody>{rows}</tbody></table></body></html>"
    )


def digest_csv(lines: Sequence[DigestLine]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for line in lines:
        writer.writerow(
            (
                line.sku,
                line.location_id,
                line.country,
                line.available,
                line.reorder_point,
                line.on_hand,
                line.reserved,
                f"{line.units_per_day:.4f}",
                "" if line.days_of_cover is None else f"{line.days_of_cover:.2f}",
                line.low_since,
                line.transfer.from_location if line.transfer else "",
                line.transfer.quantity if line.transfer else "",
            )
        )
    return buffer.getvalue()
