"""Masking of what must never reach a log line or an operator's screen: e-mail addresses, API
keys, tracking and return tokens, bearer credentials.

Text is masked by pattern (an address anywhere in an error message, ``token=`` in a URL);
structured values also by their key (``{"token": ...}``), so a token that looks like any hex
string is still caught where it is named.
"""

from __future__ import annotations

import re
from typing import Any

MASK = "***"
SECRET_KEYS = frozenset(
    {"token", "tracking_token", "api_key", "authorization", "password", "secret", "token_secret"}
)
_EMAIL = re.compile(r"([\w.%+\-]+)@([\w\-]+(?:\.[\w\-]+)+)")
_API_KEY = re.compile(r"\b(dg_[0-9a-f]{12})_[\w\-]+")  # the key id stays: it is safe to log
_TOKEN_PARAM = re.compile(r"(?i)\b((?:token|api_key)=)[^&\s\"'<>]+")
_BEARER = re.compile(r"(?i)\b(bearer\s+)[^\s\"',]+")


def mask_text(text: str) -> str:
    """``ada@example.com`` -> ``a***@example.com``; ``token=abc`` -> ``token=***``; an API key
    keeps its key id; ``Bearer x`` -> ``Bearer ***``."""
    text = _API_KEY.sub(rf"\1_{MASK}", text)
    text = _TOKEN_PARAM.sub(rf"\1{MASK}", text)
    text = _BEARER.sub(rf"\1{MASK}", text)
    return _EMAIL.sub(lambda m: f"{m.group(1)[0]}{MASK}@{m.group(2)}", text)


def mask(value: Any) -> Any:
    """``value`` with every string masked, in dicts, lists and tuples at any depth; the value of
    a key named like a secret is replaced whole. Any other object (an exception, a model) is
    masked as its text, which is what a JSON log line would show of it."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {
            k: MASK if isinstance(k, str) and k.lower() in SECRET_KEYS and v else mask(v)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [mask(v) for v in value]
    return mask_text(str(value))
