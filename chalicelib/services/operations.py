"""What an operator needs to see of the asynchronous side: how many messages wait in each
dead-letter queue, and why the last messages failed.

A consumer that fails a message records it (``record_failure``, from the batch wrapper); the
record is masked like a log line and bounded: the failure log keeps one slot per message
(its retries overwrite it) in a fixed number of slots, so a burst of failures costs a bounded
number of items and the dashboard still shows the newest reasons.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from chalicelib.domain.redaction import mask_text

FAILURE_SLOTS = 32
SHOWN_FAILURES = 10
REASON_MAX = 500


@dataclass(frozen=True)
class QueueDepth:
    queue: str
    visible: int | None  # None: the queue could not be read
    in_flight: int | None


class QueueDepths(Protocol):
    def depth(self, queue_name: str) -> tuple[int | None, int | None]:
        """(visible, in flight); ``(None, None)`` when the queue can't be read."""


class FailureLog(Protocol):
    def put(self, slot: int, failure: dict[str, Any], ttl_seconds: int) -> None: ...
    def recent(self) -> list[dict[str, Any]]:
        """Every recorded failure, in no particular order."""


class OperationsService:
    def __init__(
        self,
        *,
        depths: QueueDepths,
        failures: FailureLog,
        dlqs: Sequence[str],
        retention_seconds: int = 14 * 24 * 3600,  # the DLQs' MessageRetentionPeriod
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._depths, self._failures, self._dlqs = depths, failures, list(dlqs)
        self._retention, self._clock = retention_seconds, clock

    def record_failure(self, consumer: str, message_id: str, reason: str) -> None:
        """Remember why ``message_id`` failed in ``consumer`` (masked, cut to 500 chars)."""
        slot = zlib.crc32(message_id.encode()) % FAILURE_SLOTS
        failure = {
            "consumer": consumer,
            "message_id": message_id,
            "reason": mask_text(reason)[:REASON_MAX],
            "at": self._clock().isoformat(timespec="milliseconds"),
        }
        self._failures.put(slot, failure, self._retention)

    def status(self) -> dict[str, Any]:
        """The depth of every DLQ and the newest failures, newest first."""
        failures = sorted(self._failures.recent(), key=lambda f: f.get("at", ""), reverse=True)
        return {
            "dlqs": [vars(QueueDepth(name, *self._depths.depth(name))) for name in self._dlqs],
            "failures": failures[:SHOWN_FAILURES],
        }
