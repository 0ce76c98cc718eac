"""The CSV injection guard: a cell a spreadsheet could run as a formula gets a leading quote."""

from __future__ import annotations

import unicodedata
from typing import Any

FORMULA_START = frozenset("=+-@\t\r")
# Skipped before the first character that counts: spreadsheets ignore them too (or users
# paste them): format characters (zero-width space and joiners, word joiner, BOM), controls
# (a line feed) and every kind of space.
_SKIPPED_CATEGORIES = frozenset({"Cc", "Cf", "Zs", "Zl", "Zp"})


def is_formula(text: str) -> bool:
    """The first character of ``text`` that is not blank, a control or zero-width, with
    fullwidth and compatibility forms folded (NFKC: U+FF1D is ``=``), is ``= + - @``, or a
    tab or CR comes before any other."""
    for raw in text:
        # One character at a time: "=" followed by a combining mark composes to another sign.
        folded = unicodedata.normalize("NFKC", raw)
        if not folded:
            continue
        char = folded[0]
        if char in FORMULA_START:
            return True
        if not (char.isspace() or unicodedata.category(char) in _SKIPPED_CATEGORIES):
            return False
    return False


def safe_cell(value: Any) -> Any:
    """``value``, or for text a spreadsheet would run as a formula, ``'`` + the text."""
    if isinstance(value, str) and is_formula(value):
        return "'" + value
    return value
