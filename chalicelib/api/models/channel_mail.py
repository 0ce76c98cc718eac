"""A channel's customer-mail fields at the edge (mixed into ``ChannelIn``): language, the
locale of dates and money, the name and sender customers see, and the switch to send none."""

from __future__ import annotations

import re

from pydantic import BaseModel, Field, field_validator

from chalicelib.config import settings
from chalicelib.domain.mail import MAIL_LANGUAGES

_LANGUAGES = ", ".join(MAIL_LANGUAGES)


class ChannelMailFieldsIn(BaseModel):
    language: str = Field(default="en", description=f"of customer mails: one of {_LANGUAGES}")
    locale: str | None = Field(
        default=None,
        max_length=16,
        description="dates and money in customer mails, e.g. 'de-CH' (default: the language "
        "and the channel's country)",
    )
    display_name: str | None = Field(
        default=None, max_length=100, description="the shop name customers see (default: the id)"
    )
    mail_from: str | None = Field(
        default=None,
        max_length=254,
        description="sender of customer mails, verified in SES (default: the stage's sender)",
    )
    customer_mail: bool = Field(
        default=True, description="false: no customer mail of any kind (marketplaces)"
    )

    @field_validator("language")
    @classmethod
    def _shipped_language(cls, language: str) -> str:
        if language not in MAIL_LANGUAGES:
            raise ValueError(f"unknown language {language!r}: use one of {_LANGUAGES}")
        return language

    @field_validator("locale")
    @classmethod
    def _known_locale(cls, locale: str | None) -> str | None:
        if locale is None:
            return None
        from babel import localedata  # only this route pays for Babel

        if not re.fullmatch(r"[a-z]{2,3}([-_][A-Z]{2})?", locale) or not localedata.exists(
            locale.replace("-", "_")
        ):
            raise ValueError(f"unknown locale {locale!r}: use one like 'de-CH'")
        return locale

    @field_validator("mail_from")
    @classmethod
    def _address(cls, address: str | None) -> str | None:
        if address is None:
            return None
        from email_validator import EmailNotValidError, validate_email  # not at import time

        try:
            address = str(validate_email(address, check_deliverability=False).normalized)
        except EmailNotValidError as exc:
            raise ValueError(f"not an e-mail address: {exc}") from exc
        # The stage may send only from its sender's domain (its SES identity, its IAM policy).
        domain = settings().mail_sender.rpartition("@")[2].lower()
        if address.rpartition("@")[2].lower() != domain:
            raise ValueError(f"must be an address at {domain}, the stage's sending domain")
        return address

    @field_validator("display_name")
    @classmethod
    def _not_blank(cls, name: str | None) -> str | None:
        if name is not None and not name.strip():
            raise ValueError("must not be blank (leave it out for the default)")
        return name
