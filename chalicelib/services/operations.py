"""What an operator needs to see of the asynchronous side: how many messages wait in each
dead-letter queue, and why the last messages failed.

A consumer that fails a message records it (``record_failure``, from the batch wrapper); the
record is masked like a log line and bounded: the failure log is a ring of a fixed number of
slots taken in turn (an atomic sequence numbers every failure), so a burst of failures costs a
bounded number of items and the newest reasons are always kept. Reading merges a message's
redeliveries into its newest failure.
"""

from __future__ import annotations

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
    def append(self, failure: dict[str, Any], slots: int, ttl_seconds: int) -> None:
        """Store ``failure`` with the next sequence number ``seq``, in slot ``seq % slots``."""

    def recent(self) -> list[dict[str, Any]]:
        """Every recorded failure with its ``seq``, in no particular order."""


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
        failure = {
            "consumer": consumer,
            "message_id": message_id,
            "reason": mask_text(reason)[:REASON_MAX],
            "at": self._clock().isoformat(timespec="milliseconds"),
        }
        self._failures.append(failure, FAILURE_SLOTS, self._retention)

    def status(self) -> dict[str, Any]:
        """The depth of every DLQ and the newest failure of each message, newest first."""
        newest: dict[tuple[str, str], dict[str, Any]] = {}
        for failure in sorted(self._failures.recent(), key=lambda f: int(f.get("seq", 0))):
            newest[(failure.get("consumer", ""), failure.get("message_id", ""))] = failure
        failures = sorted(newest.values(), key=lambda f: int(f.get("seq", 0)), reverse=True)
        return {
            "dlqs": [vars(QueueDepth(name, *self._depths.depth(name))) for name in self._dlqs],
            "failures": [
                {k: v for k, v in f.items() if k != "seq"} for f in failures[:SHOWN_FAILURES]
            ],
        }
