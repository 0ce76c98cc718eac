"""Customer mails through SES: one message with a plain-text and an HTML part."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from chalicelib.services.notifications import MailRejected

# SES refuses these for good (a bad address, an unverified sender): retrying cannot help.
_PERMANENT = {"MessageRejected", "InvalidParameterValue", "MailFromDomainNotVerifiedException"}


class SesMailer:
    def __init__(self, client: Any, sender: str) -> None:
        self._client = client
        self._sender = sender

    def send(self, *, to: str, subject: str, text: str, html: str) -> str:
        """Send one mail; returns SES's message id. Raises MailRejected when SES refuses it
        for good, and lets throttling and outages propagate (the caller retries)."""
        try:
            resp = self._client.send_email(
                Source=self._sender,
                Destination={"ToAddresses": [to]},
                Message={
                    "Subject": {"Data": subject, "Charset": "UTF-8"},
                    "Body": {
                        "Text": {"Data": text, "Charset": "UTF-8"},
                        "Html": {"Data": html, "Charset": "UTF-8"},
                    },
                },
            )
        except ClientError as exc:
            code = exc.response["Error"]["Code"]
            if code in _PERMANENT:
                raise MailRejected(f"SES refused the mail to {to}: {code}") from exc
            raise
        return str(resp["MessageId"])
