"""Mails through SES ``SendRawEmail``: customer mails and the low-stock digests alike.

A domain ``Mail`` becomes one multipart message: a plain-text and an HTML body
(``multipart/alternative``) and any attachments, which ``SendEmail`` cannot carry.
"""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.domain.mail import Mail, MailRejected

# SES refuses these for good (a bad address, an unverified sender): retrying cannot help.
_PERMANENT = {"MessageRejected", "InvalidParameterValue", "MailFromDomainNotVerifiedException"}


def mime_message(mail: Mail, *, sender: str) -> EmailMessage:
    """``multipart/mixed``: ``multipart/alternative`` (text, then HTML) and the attachments."""
    message = EmailMessage()
    message["From"] = mail.sender or sender
    message["To"] = ", ".join(mail.to)
    message["Subject"] = mail.subject
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = make_msgid(domain=str(message["From"]).rpartition("@")[2] or None)
    message.set_content(mail.text)
    message.add_alternative(mail.html, subtype="html")
    for attachment in mail.attachments:
        maintype, _, subtype = attachment.content_type.partition("/")
        message.add_attachment(
            attachment.data, maintype=maintype, subtype=subtype, filename=attachment.filename
        )
    return message


class SesMailer:
    """Sends ``Mail`` from its own sender (a channel's) or the configured identity; either
    must be verified in SES."""

    def __init__(self, client: Any, *, sender: str) -> None:
        self._client = client
        self._sender = sender

    def send(self, mail: Mail) -> str:
        """Send one message; returns SES's message id. Raises ``MailRejected`` when SES refuses
        it for good, and lets throttling and outages propagate (the caller retries)."""
        raw = mime_message(mail, sender=self._sender).as_bytes()
        try:
            resp = self._client.send_raw_email(
                Source=mail.sender or self._sender,
                Destinations=list(mail.to),
                RawMessage={"Data": raw},
            )
        except ClientError as exc:
            code = exc.response["Error"]["Code"]
            if code in _PERMANENT:
                to = ", ".join(mail.to)
                raise MailRejected(f"SES refused the mail to {to}: {code}") from exc
            raise
        return str(resp["MessageId"])
