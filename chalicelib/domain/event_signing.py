"""Warehouse-event signatures, pure: a location signs the raw body of every message it sends
with a key of its own (HMAC-SHA256, hex). A location's key is derived from the server secret,
the location id and a key version, so no key is stored and a rotation only bumps the version."""

from __future__ import annotations

import hashlib
import hmac

_PURPOSE = b"dirigent warehouse event key"  # keeps these keys apart from other uses of the secret
KEY_PREFIX = "whk_"


def location_key(server_secret: bytes, location_id: str, version: int) -> str:
    """The signing key of ``location_id`` at ``version``; unguessable without the secret."""
    root = hmac.new(server_secret, _PURPOSE, hashlib.sha256).digest()
    derived = hmac.new(root, f"{location_id}:{version}".encode(), hashlib.sha256)
    return KEY_PREFIX + derived.hexdigest()


def signature(key: str, body: str) -> str:
    """Hex HMAC-SHA256 of the UTF-8 body under the key (the key's UTF-8 bytes)."""
    return hmac.new(key.encode(), body.encode(), hashlib.sha256).hexdigest()


def signature_problem(key: str, body: str, given: str | None) -> str:
    """Why ``given`` is not the body's signature under ``key`` ("" when it is); compared in
    constant time."""
    if not given:
        return "missing"
    expected = signature(key, body).encode()
    if not hmac.compare_digest(given.strip().lower().encode(), expected):
        return "does not match the body"
    return ""
