"""The process-wide clock the wiring hands to the services whose dates matter (preorders,
promises, quotes and orders, backorder release).

``now()`` is ``datetime.now(UTC)``. On the ``local`` stage only, ``DIRIGENT_CLOCK_FILE`` may
name a file holding an ISO 8601 instant (``2030-03-04T07:00:00Z``; without an offset it is
UTC): the clock then stands at that instant, so that a release day can be reached in a test or
a demo. The file is read again whenever it changes (one ``stat`` a call). On any other stage
the variable is ignored, with a warning: a deployed system always runs on real time.
"""

from __future__ import annotations

import os
import threading
from datetime import UTC, datetime

from chalicelib.config import LOCAL_STAGE, settings

CLOCK_FILE_ENV = "DIRIGENT_CLOCK_FILE"

_lock = threading.Lock()
_seen: dict[str, tuple[tuple[int, int, int], datetime]] = {}  # path -> (stat key, instant)
_warned: set[str] = set()


def now() -> datetime:
    """The current instant, timezone-aware UTC (fixed by the clock file on the local stage)."""
    path = os.environ.get(CLOCK_FILE_ENV, "").strip()
    if not path:
        return datetime.now(UTC)
    stage = settings().stage
    if stage != LOCAL_STAGE:
        if stage not in _warned:
            from aws_lambda_powertools import Logger

            _warned.add(stage)
            Logger(service="dirigent").warning(
                f"{CLOCK_FILE_ENV} ignored: the clock is only fixed locally", stage=stage
            )
        return datetime.now(UTC)
    return _read(path)


def _read(path: str) -> datetime:
    stat = os.stat(path)
    key = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
    with _lock:
        cached = _seen.get(path)
        if cached and cached[0] == key:
            return cached[1]
        with open(path, encoding="utf-8") as f:
            text = f.read().strip()
        try:
            instant = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(
                f"{CLOCK_FILE_ENV} {path}: not an ISO 8601 instant: {text!r}"
            ) from None
        instant = instant.replace(tzinfo=UTC) if instant.tzinfo is None else instant.astimezone(UTC)
        _seen[path] = (key, instant)
        return instant
