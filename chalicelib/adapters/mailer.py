"""Mails through SES ``SendRawEmail``: a multipart message with a plain-text and an HTML body
(``multipart/alternative``) and attachments, which ``SendEmail`` cannot carry."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from chalicelib.domain.mail import Mail


def mime_message(mail: Mail, *, sender: str) -> EmailMessage:
    """``multipart/mixed``: ``multipart/alternative`` (text, then HTML) and the attachments."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(mail.to)
    message["Subject"] = mail.subject
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    message.set_content(mail.text)
    message.add_alternative(mail.html, subtype="html")
    for attachment in mail.attachments:
        maintype, _, subtype = attachment.content_type.partition("/")
        message.add_attachment(
            attachment.data, maintype=maintype, subtype=subtype, filename=attachment.filename
        )
    return message


class SesRawMailer:
    """Sends ``Mail`` from the configured sender identity (verified in SES)."""

    def __init__(self, client: Any, *, sender: str) -> None:
        self._client = client
        self._sender = sender

    def send(self, mail: Mail) -> str:
        """Send one message; returns SES's message id. SES errors propagate."""
        raw = mime_message(mail, sender=self._sender).as_bytes()
        resp = self._client.send_raw_email(
            Source=self._sender, Destinations=list(mail.to), RawMessage={"Data": raw}
        )
        return str(resp["MessageId"])
