"""Who may call the API: roles, principals and API keys (only their hashes are stored)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"  # everything
    SERVICE = "service"  # customer service: reads and acts on every order
    CHANNEL = "channel"  # one sales channel: creates and sees only its own orders
    PUBLIC = "public"  # no key: health, docs, customer tracking with a token


@dataclass(frozen=True, slots=True)
class Principal:
    role: Role
    key_id: str = ""
    channel: str | None = None

    def sees_channel(self, channel: str) -> bool:
        return self.role in (Role.ADMIN, Role.SERVICE) or self.channel == channel

    @property
    def source(self) -> str:
        """Who made a change, for an order's timeline: role or channel, and the key id."""
        who = f"channel:{self.channel}" if self.channel else self.role.value
        return f"{who}:{self.key_id}" if self.key_id else who


ANONYMOUS = Principal(Role.PUBLIC)


def hash_key(api_key: str) -> str:
    """Keys are 256-bit random strings, so a plain SHA-256 is enough (no slow KDF needed)."""
    return hashlib.sha256(api_key.encode()).hexdigest()


def new_key() -> tuple[str, str]:
    """A fresh ``(key_id, api_key)``; the key id is part of the key and safe to log."""
    key_id = secrets.token_hex(6)
    return key_id, f"dg_{key_id}_{secrets.token_urlsafe(32)}"
