"""An outgoing e-mail as plain data: the mail adapter turns it into MIME and sends it."""

from __future__ import annotations

from dataclasses import dataclass

# The languages customer mails are written in (chalicelib/templates/strings/<language>.json).
MAIL_LANGUAGES = ("en", "de", "fr", "nl")


@dataclass(frozen=True, slots=True)
class Attachment:
    filename: str
    content_type: str  # e.g. "text/csv"
    data: bytes


@dataclass(frozen=True, slots=True)
class Mail:
    """One message to one or more recipients: a plain-text and an HTML body, and attachments."""

    to: tuple[str, ...]
    subject: str
    text: str
    html: str
    attachments: tuple[Attachment, ...] = ()
    sender: str = ""  # the From address; "" = the mailer's configured sender


class MailRejected(Exception):
    """The mail service refused a mail for good (a bad address, an unverified sender):
    retrying cannot help. Throttling and outages are not this: they propagate as they are."""
