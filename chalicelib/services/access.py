"""API keys: create, list, revoke and expire them, and resolve a presented key to a principal."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

from aws_lambda_powertools import Logger

from chalicelib.domain.access import Principal, Role, hash_key, new_key
from chalicelib.domain.errors import FieldError, InvalidInput, NotFound, Unauthorized

logger = Logger(service="dirigent")

KEY_ID = re.compile(r"^[a-z0-9]{1,64}$")
MAX_LIFETIME_DAYS = 3650
DAY = 86_400.0


class KeyStore(Protocol):
    """Key records by the key's hash; ``last_used_at``/``revoked_at`` are stamped in place."""

    def create(self, digest: str, record: dict[str, Any]) -> None: ...
    def get(self, digest: str) -> dict[str, Any] | None: ...
    def all(self) -> dict[str, dict[str, Any]]: ...
    def touch(self, digest: str, at: float) -> None: ...
    def revoke(self, digest: str, at: float) -> None: ...


class KeyService:
    """Resolving a key reads its record at most once per ``cache_seconds`` per container, so a
    key revoked elsewhere stops working within that bound; a revocation through this instance
    is seen by the very next request. Use is recorded at most once per ``touch_seconds``."""

    def __init__(
        self,
        store: KeyStore,
        *,
        cache_seconds: float = 5.0,
        touch_seconds: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._cache_seconds = cache_seconds
        self._touch_seconds = touch_seconds
        self._clock = clock
        self._cache: dict[str, tuple[float, dict[str, Any]]] = {}
        self._touched: dict[str, float] = {}
        self._lock = threading.Lock()

    def create(
        self,
        role: Role,
        channel: str | None = None,
        *,
        api_key: str | None = None,
        expires_in_days: int | None = None,
        expires_at: datetime | None = None,
    ) -> dict[str, Any]:
        """Store a new key (or a given one, for the local admin) and return it once, in clear."""
        if role == Role.PUBLIC:
            raise InvalidInput(
                "role must be admin, service or channel",
                fields=[FieldError("role", "not assignable")],
            )
        if (role == Role.CHANNEL) != bool(channel):
            reason = (
                "required for role channel" if role == Role.CHANNEL else "only for role channel"
            )
            raise InvalidInput(f"channel is {reason}", fields=[FieldError("channel", reason)])
        now = self._clock()
        key_id, fresh = new_key()
        key = api_key or fresh
        record = {
            "key_id": key_id,
            "role": role.value,
            "channel": channel,
            "created_at": now,
            "expires_at": self._expiry(now, expires_in_days, expires_at),
        }
        self._store.create(hash_key(key), record)
        return {**record, "api_key": key}

    def resolve(self, api_key: str) -> Principal | None:
        """The key's principal; ``None`` for an unknown key, ``Unauthorized`` (naming why) for
        a revoked or expired one."""
        digest = hash_key(api_key)
        now = self._clock()
        with self._lock:
            hit = self._cache.get(digest)
        if hit and now - hit[0] < self._cache_seconds:
            record = hit[1]
        else:
            found = self._store.get(digest)
            if found is None:
                return None
            record = found
            with self._lock:
                self._cache[digest] = (now, record)
        if record.get("revoked_at") is not None:
            raise Unauthorized(
                "the API key was revoked", fields=[FieldError("Authorization", "revoked key")]
            )
        expires_at = record.get("expires_at")
        if expires_at is not None and now >= expires_at:
            raise Unauthorized(
                "the API key has expired", fields=[FieldError("Authorization", "expired key")]
            )
        self._mark_used(digest, record, now)
        return Principal(
            Role(record["role"]), key_id=record["key_id"], channel=record.get("channel")
        )

    def list(self) -> list[dict[str, Any]]:
        """Every key's record (never the key, nor its hash), oldest first."""
        return sorted((_view(r) for r in self._store.all().values()), key=lambda r: r["created_at"])

    def revoke(self, key_id: str) -> dict[str, Any]:
        """Revoke a key at once; revoking it again changes nothing."""
        if not KEY_ID.fullmatch(key_id):
            raise InvalidInput(
                "key_id is not a key id",
                fields=[FieldError("key_id", "lowercase letters and digits, at most 64")],
            )
        found = [d for d, r in self._store.all().items() if r.get("key_id") == key_id]
        if not found:
            raise NotFound(f"no API key {key_id}", fields=[FieldError("key_id", "unknown")])
        now = self._clock()
        for digest in found:
            self._store.revoke(digest, now)
            with self._lock:
                self._cache.pop(digest, None)
        record = self._store.get(found[0]) or {}
        return _view(record)

    def _expiry(self, now: float, in_days: int | None, at: datetime | None) -> float | None:
        if in_days is not None and at is not None:
            raise InvalidInput(
                "give expires_in_days or expires_at, not both",
                fields=[FieldError("expires_at", "not with expires_in_days")],
            )
        if in_days is not None:
            if not 1 <= in_days <= MAX_LIFETIME_DAYS:
                raise InvalidInput(
                    f"expires_in_days must be 1 to {MAX_LIFETIME_DAYS}",
                    fields=[FieldError("expires_in_days", "out of range")],
                )
            return now + in_days * DAY
        if at is None:
            return None
        if at.tzinfo is None:
            raise InvalidInput(
                "expires_at needs a time zone",
                fields=[FieldError("expires_at", "no time zone")],
            )
        expiry = at.timestamp()
        if not now < expiry <= now + MAX_LIFETIME_DAYS * DAY:
            raise InvalidInput(
                f"expires_at must be in the future, within {MAX_LIFETIME_DAYS} days",
                fields=[FieldError("expires_at", "in the past or too far ahead")],
            )
        return expiry

    def _mark_used(self, digest: str, record: dict[str, Any], now: float) -> None:
        with self._lock:
            last = max(self._touched.get(digest, 0.0), record.get("last_used_at") or 0.0)
            if now - last < self._touch_seconds:
                return
            self._touched[digest] = now
        try:
            self._store.touch(digest, now)
        except Exception:  # noqa: BLE001 - recording use is best effort, never a failed call
            logger.warning("could not record the use of a key", key_id=record["key_id"])


def _view(record: dict[str, Any]) -> dict[str, Any]:
    return {
        "key_id": record.get("key_id", ""),
        "role": record.get("role", ""),
        "channel": record.get("channel"),
        "created_at": record.get("created_at", 0.0),
        "expires_at": record.get("expires_at"),
        "last_used_at": record.get("last_used_at"),
        "revoked": record.get("revoked_at") is not None,
        "revoked_at": record.get("revoked_at"),
    }
