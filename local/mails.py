"""A page listing the mails the app sent through (moto's) SES, newest first."""

from __future__ import annotations

import email
from email.message import EmailMessage
from email.policy import default as default_policy
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


def _raw_parts(raw: str) -> tuple[str, str | None, list[str]]:
    """A raw MIME mail (the app sends every mail with SendRawEmail): subject, the HTML body if
    any (else the plain text), and the attachment names."""
    parsed = email.message_from_string(raw, policy=default_policy)
    if not isinstance(parsed, EmailMessage):
        return "(raw message)", None, []
    body = parsed.get_body(("html", "plain"))
    names = [str(a.get_filename() or "attachment") for a in parsed.iter_attachments()]
    return str(parsed["Subject"] or "(raw message)"), body.get_content() if body else None, names


def _mail(message: Any) -> str:
    raw = str(getattr(message, "raw_data", "") or "")
    subject, body, attached = _raw_parts(raw)
    recipients = ", ".join(sorted(set(map(str, message.destinations or []))))  # moto repeats
    head = (
        f"<p><b>{escape(subject)}</b><br>"
        f"from {escape(str(message.source))} to {escape(recipients)}"
        + (f"<br>attached: {escape(', '.join(attached))}" if attached else "")
        + "</p>"
    )
    if body is not None and "<" in body:
        return f'<div class="mail">{head}<iframe sandbox srcdoc="{escape(body)}"></iframe></div>'
    return f'<div class="mail">{head}<pre>{escape(body if body is not None else raw)}</pre></div>'
