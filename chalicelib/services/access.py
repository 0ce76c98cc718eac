"""API keys: create them and resolve a presented key to a principal."""

from __future__ import annotations

import threading
import time
from typing import Any, Protocol

from chalicelib.domain.access import Principal, Role, hash_key, new_key
from chalicelib.domain.catalog import Kind
from chalicelib.domain.errors import FieldError, InvalidInput


class DocumentStore(Protocol):
    def put(
        self, kind: str, item_id: str, doc: dict[str, Any], *, only_new: bool = False
    ) -> None: ...
    def get(self, kind: str, item_id: str) -> dict[str, Any] | None: ...


class KeyService:
    """Resolves keys with a short positive cache, so a warm Lambda does not read the key table
    on every request. A revoked key stops working within ``ttl`` seconds."""

    def __init__(self, store: DocumentStore, *, ttl: float = 60.0) -> None:
        self._store = store
        self._ttl = ttl
        self._cache: dict[str, tuple[float, Principal]] = {}
        self._lock = threading.Lock()

    def create(
        self, role: Role, channel: str | None = None, *, api_key: str | None = None
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
        key_id, fresh = new_key()
        key = api_key or fresh
        doc = {"key_id": key_id, "role": role.value, "channel": channel, "created_at": time.time()}
        self._store.put(Kind.API_KEY, hash_key(key), doc)
        return {"key_id": key_id, "api_key": key, "role": role.value, "channel": channel}

    def resolve(self, api_key: str) -> Principal | None:
        digest = hash_key(api_key)
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(digest)
        if hit and now - hit[0] < self._ttl:
            return hit[1]
        doc = self._store.get(Kind.API_KEY, digest)
        if doc is None:
            return None
        principal = Principal(Role(doc["role"]), key_id=doc["key_id"], channel=doc.get("channel"))
        with self._lock:
            self._cache[digest] = (now, principal)
        return principal
