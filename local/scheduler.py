"""Fires the app's ``@app.schedule`` handlers locally (EventBridge rules never fire in moto).

``rate(...)`` schedules fire every interval after the stack starts; ``cron(...)`` schedules at
the matching UTC minutes (AWS's six fields; ``L``, ``W`` and ``#`` are not supported here and
such a schedule only fires on ``tick``). ``fire_all`` runs every schedule once: ``make tick``.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from chalice import Chalice
from chalice.app import ScheduledEventConfig

from local.lambda_shapes import context, scheduled_event

log = logging.getLogger("local.scheduler")

_UNITS = {"minute": 60, "minutes": 60, "hour": 3600, "hours": 3600, "day": 86400, "days": 86400}
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
_NAMES = {name: i + 1 for names in (_MONTHS, _DAYS) for i, name in enumerate(names)}
# (low, high) per cron field: minutes, hours, day of month, month, day of week (1 = SUN), year.
_BOUNDS = [(0, 59), (0, 23), (1, 31), (1, 12), (1, 7), (1970, 2199)]


@dataclass(frozen=True)
class Schedule:
    name: str
    expression: str
    handler: Any

    def next_after(self, now: float) -> float | None:
        """The next fire time after ``now`` (epoch seconds), or None if never (locally)."""
        rate = re.fullmatch(r"rate\((\d+)\s+(\w+)\)", self.expression)
        if rate:
            return now + int(rate[1]) * _UNITS[rate[2].lower()]
        cron = re.fullmatch(r"cron\((.+)\)", self.expression)
        if not cron:
            return None
        fields = cron[1].split()
        try:
            allowed = [_values(f, lo, hi) for f, (lo, hi) in zip(fields, _BOUNDS, strict=True)]
        except ValueError:
            return None
        start = datetime.fromtimestamp(now, UTC).replace(second=0, microsecond=0)
        for minute in range(1, 40 * 24 * 60):
            at = start + timedelta(minutes=minute)
            dow = (at.isoweekday() % 7) + 1  # AWS: 1 = Sunday
            parts = (at.minute, at.hour, at.day, at.month, dow, at.year)
            if all(value in ok for value, ok in zip(parts, allowed, strict=True)):
                return at.timestamp()
        return None


def _values(field: str, low: int, high: int) -> set[int]:
    """The values a cron field allows (``*``, ``?``, lists, ranges, steps, JAN/MON names)."""
    out: set[int] = set()
    for part in field.upper().split(","):
        body, _, step = part.partition("/")
        if body in ("*", "?"):
            first, last = low, high
        elif "-" in body:
            a, b = body.split("-")
            first, last = _number(a), _number(b)
        else:
            first = _number(body)
            last = high if step else first
        out.update(range(first, last + 1, int(step or 1)))
    return out


def _number(text: str) -> int:
    if text in _NAMES:
        return _NAMES[text]
    if not text.isdigit():
        raise ValueError(f"unsupported cron value {text!r}")
    return int(text)


def schedules(app: Chalice) -> list[Schedule]:
    """Every ``@app.schedule`` handler of the app."""
    found = []
    for source in app.event_sources:
        if isinstance(source, ScheduledEventConfig):
            expression = source.schedule_expression
            text = expression if isinstance(expression, str) else expression.to_string()
            found.append(Schedule(source.name, text, app.handler_map[source.name]))
    return found


def fire(schedule: Schedule, *, region: str) -> tuple[bool, float]:
    """Run one schedule handler as EventBridge would; (succeeded, seconds taken)."""
    started = time.monotonic()
    try:
        schedule.handler(scheduled_event(schedule.name, region=region), context(schedule.name))
    except Exception:
        log.exception("schedule %s failed", schedule.name)
        return False, time.monotonic() - started
    return True, time.monotonic() - started


def fire_all(app: Chalice, *, region: str) -> list[tuple[Schedule, bool, float]]:
    return [(s, *fire(s, region=region)) for s in schedules(app)]


class Scheduler(threading.Thread):
    """Fires one schedule at its times until ``stop`` is set."""

    def __init__(self, schedule: Schedule, *, region: str, stop: threading.Event) -> None:
        super().__init__(name=f"schedule-{schedule.name}", daemon=True)
        self.schedule = schedule
        self._region = region
        self._halt = stop

    def run(self) -> None:
        due = self.schedule.next_after(time.time())
        if due is None:
            log.warning("%s (%s) only fires on tick", self.schedule.name, self.schedule.expression)
            return
        while not self._halt.wait(max(0.0, due - time.time())):
            fire(self.schedule, region=self._region)
            due = self.schedule.next_after(time.time()) or due + 86400
