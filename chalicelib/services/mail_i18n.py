"""The words and formats of customer mails in a channel's language and locale.

Each language has one string table, ``chalicelib/templates/strings/<language>.json``: a flat
map of keys (``"shipped.subject"``) to ``string.Template`` text (``$channel_order_id``). The
mail templates (``<mail>.txt`` / ``<mail>.html``) hold the layout only and are shared by all
languages. Babel formats dates, money and quantities for the locale; it loads with the first
mail, not with ``import app``.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import cache
from pathlib import Path
from string import Template
from typing import Any

from chalicelib.domain.mail import MAIL_LANGUAGES

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
STRINGS = TEMPLATES / "strings"
# In HTML, these values stand out in the sentences that name them.
_STRONG = frozenset({"channel_order_id", "rma_id"})


@dataclass(frozen=True)
class Phrase:
    """A translated string (``key`` in the tables) and the values it names."""

    key: str
    values: Mapping[str, object] = field(default_factory=dict)


Part = Phrase | str | list[Phrase | str]


class Wording:
    """Translates and formats for one mail: ``language`` picks the strings, ``locale``
    (``de_CH``; unknown to Babel: the language's) the dates, money and numbers."""

    def __init__(self, language: str, locale: str = "") -> None:
        self.language = language if language in MAIL_LANGUAGES else "en"
        self.locale = _locale(locale or self.language, self.language)

    def text(self, part: Part) -> str:
        if isinstance(part, list):
            return "\n".join(f"- {self.text(p)}" for p in part)
        if isinstance(part, Phrase):
            return self._phrase(part, escape=False)
        return part

    def html(self, part: Part) -> str:
        if isinstance(part, list):
            return "".join(f"<li>{self.html(p)}</li>" for p in part)
        if isinstance(part, Phrase):
            return self._phrase(part, escape=True)
        return html.escape(part)

    def _phrase(self, phrase: Phrase, *, escape: bool) -> str:
        values = {k: str(v) for k, v in phrase.values.items()}
        if escape:
            values = {
                k: f"<strong>{html.escape(v)}</strong>" if k in _STRONG else html.escape(v)
                for k, v in values.items()
            }
        return Template(strings(self.language)[phrase.key]).substitute(values)

    def date(self, value: str) -> str:
        """An ISO date (or date-time) as the locale writes it in full: ``5. März 2026``."""
        try:
            day = date.fromisoformat(value[:10])
        except (TypeError, ValueError):
            return value
        from babel.dates import format_date

        return str(format_date(day, format="long", locale=self.locale))

    def money(self, minor: int, currency: str) -> str:
        """Minor units as the locale writes the amount: ``1.234,50 €`` in ``de_DE``, in
        ``de_CH`` ``CHF 1'234.50`` with a typographic apostrophe."""
        from babel.numbers import format_currency, get_currency_precision

        amount = Decimal(minor).scaleb(-get_currency_precision(currency))
        return str(format_currency(amount, currency, locale=self.locale))

    def number(self, value: int) -> str:
        from babel.numbers import format_decimal

        return str(format_decimal(value, locale=self.locale))


@cache
def strings(language: str) -> dict[str, str]:
    """The string table of ``language`` (one of ``MAIL_LANGUAGES``)."""
    raw: Any = json.loads((STRINGS / f"{language}.json").read_text(encoding="utf-8"))
    return {str(k): str(v) for k, v in raw.items()}


@cache
def template(name: str) -> Template:
    return Template((TEMPLATES / name).read_text(encoding="utf-8"))


@cache
def _locale(wanted: str, language: str) -> str:
    from babel import localedata

    wanted = wanted.replace("-", "_")
    return wanted if localedata.exists(wanted) else language
