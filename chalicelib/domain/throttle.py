"""Rate limits as token buckets on an injected clock, in one container's memory: per API
key, and per source address for failed attempts (unknown keys, wrong tracking tokens); the
edge answers 429 with ``Retry-After``. On AWS the API Gateway stage's throttle (the template)
caps the whole API; these buckets are per container, so a key spread over many containers
gets up to that many times its rate: a bound against a runaway loop and against guessing.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

MAX_KEYS = 10_000  # buckets kept per limiter (the least recently used go first)


@dataclass
class _Bucket:
    tokens: float
    at: float


class Buckets:
    """``rate`` tokens a second up to ``burst``, one per call, by key."""

    def __init__(
        self, rate: float, burst: int, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate, self.burst, self._clock = rate, burst, clock
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        self._lock = threading.Lock()

    def wait(self, key: str) -> float:
        """Seconds until ``key`` has a token (0: it has one now). Takes nothing."""
        with self._lock:
            bucket = self._refill(key)
            return 0.0 if bucket.tokens >= 1 else (1 - bucket.tokens) / self.rate

    def take(self, key: str) -> float:
        """Take a token for ``key``: 0 when it had one, else the seconds to wait."""
        with self._lock:
            bucket = self._refill(key)
            if bucket.tokens >= 1:
                bucket.tokens -= 1
                return 0.0
            return (1 - bucket.tokens) / self.rate

    def _refill(self, key: str) -> _Bucket:
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(float(self.burst), now)
            if len(self._buckets) > MAX_KEYS:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.at) * self.rate)
            bucket.at = now
        return bucket


@dataclass(frozen=True)
class Limits:
    per_key: Buckets  # every call of an API key
    failures: Buckets  # failed attempts (401, a wrong token's 404) per source address


def retry_after(seconds: float) -> str:
    return str(max(1, math.ceil(seconds)))
