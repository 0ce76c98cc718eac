"""A page listing the mails the app sent through (moto's) SES, newest first."""

from __future__ import annotations

from html import escape
from typing import Any

from moto.ses.models import ses_backends

_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Dirigent: sent mails</title>
<meta http-equiv="refresh" content="10"><style>
body{{font:14px system-ui,sans-serif;margin:2em;max-width:60em}} .mail{{border:1px solid #ccc;
border-radius:6px;margin:1em 0;padding:.5em 1em}} iframe{{width:100%;height:20em;border:0}}
pre{{white-space:pre-wrap}}</style></head><body><h1>Sent mails ({count})</h1>
<p>Mails the local stack sent through SES (moto keeps them in memory). Refreshes every 10 s.</p>
{mails}</body></html>"""


def sent_messages() -> list[Any]:
    messages: list[Any] = []
    for account in ses_backends.values():
        for backend in account.values():
            messages.extend(backend.sent_messages)
    return messages


def mails_page() -> str:
    messages = sent_messages()
    return _PAGE.format(count=len(messages), mails="".join(_mail(m) for m in reversed(messages)))


def _mail(message: Any) -> str:
    to = message.destinations
    if isinstance(to, dict):
        to = [a for key in ("ToAddresses", "CcAddresses", "BccAddresses") for a in to.get(key, [])]
    head = (
        f"<p><b>{escape(getattr(message, 'subject', '') or '(raw message)')}</b><br>"
        f"from {escape(str(message.source))} to {escape(', '.join(map(str, to or [])))}</p>"
    )
    body = getattr(message, "body", None)
    if body is not None and "<" in body:
        return f'<div class="mail">{head}<iframe sandbox srcdoc="{escape(body)}"></iframe></div>'
    text = body if body is not None else getattr(message, "raw_data", "")
    return f'<div class="mail">{head}<pre>{escape(str(text))}</pre></div>'
