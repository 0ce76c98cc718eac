"""The low-stock flag: ``low_flag``, the sort key of the stock table's sparse, KEYS_ONLY
``low-stock-flag`` index. An item at or below its reorder point (``headroom <= 0``) always has it;
others may (the alert run removes it, ``dynamo_alerts``).

An update expression cannot branch, so ``flagged`` sets the flag on every write that may lower
``headroom`` to a value it does not know (a reservation: ``ADD headroom`` of a negative amount,
or ``headroom`` computed by DynamoDB); one that sets a literal ``headroom`` knows the result and
sets or removes the flag to match; one that only raises ``headroom`` leaves it. The flag holds the
time it was first set and keeps it (``if_not_exists``), so every later write leaves the index's
keys as they are: the KEYS_ONLY index is written only when the flag comes or goes.
"""

from __future__ import annotations

import re
import time
from typing import Any

LOW_FLAG = "low_flag"
_ABSOLUTE = re.compile(r"\bheadroom\s*=\s*(:\w+)?(\s*(?:,|$|\b(?:ADD|REMOVE|DELETE)\b))?")
_RELATIVE = re.compile(r"\bADD\s+headroom\s+(:\w+)")
_SET = re.compile(r"\bSET\s+")
_REMOVE = re.compile(r"\bREMOVE\s+")


def flagged(expression: str, values: dict[str, Any], now: float | None = None) -> str:
    """``expression`` (with ``values``: plain, added to) that keeps the low-stock flag true:
    set when the write may leave ``headroom <= 0``, removed when it sets ``headroom`` to a
    literal above 0, unchanged when it only raises (or does not touch) ``headroom``."""
    absolute, relative = _ABSOLUTE.search(expression), _RELATIVE.search(expression)
    if absolute and absolute.group(1) and absolute.group(2) is not None:
        if int(values[absolute.group(1)]) > 0:  # a literal: the write knows the result
            if _REMOVE.search(expression):  # one REMOVE clause per expression
                return _REMOVE.sub(f"REMOVE {LOW_FLAG}, ", expression, count=1)
            return f"{expression} REMOVE {LOW_FLAG}"
    elif not absolute and not (relative and int(values[relative.group(1)]) < 0):
        return expression
    values[":low_since"] = int(time.time() if now is None else now)
    flag = f"{LOW_FLAG} = if_not_exists({LOW_FLAG}, :low_since)"
    if not _SET.search(expression):
        return f"SET {flag} {expression}"
    return _SET.sub(f"SET {flag}, ", expression, count=1)


def low_flag_of(item: dict[str, Any], now: float | None = None) -> dict[str, Any]:
    """The flag attribute a complete new item needs (``{}`` above its reorder point)."""
    if int(item.get("headroom", 1)) > 0:
        return {}
    return {LOW_FLAG: int(time.time() if now is None else now)}
