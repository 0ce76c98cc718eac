"""Listing cursors the caller can hold but not forge: the store's own cursor, signed with a
server secret together with the query it continues.

A cursor is ``<base64url(store cursor)>.<base64url(HMAC-SHA256)>``; the MAC covers the query's
scope too, so a cursor only continues the listing it came from. Anything else is a 400 naming
``cursor`` before the store sees it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets

from chalicelib.domain.errors import DomainError, ErrorCode, FieldError

MAX_CURSOR_LENGTH = 2048
_MAC_BYTES = 16


class BadCursor(DomainError):
    """A cursor this server did not give out for this query (400)."""

    code = ErrorCode.BAD_REQUEST

    def __init__(self, reason: str) -> None:
        super().__init__("the cursor is not valid", fields=[FieldError("cursor", reason)])


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class CursorSigner:
    def __init__(self, secret: bytes | None = None) -> None:
        """``secret``: the server's; without one a random key (cursors of this instance
        only)."""
        root = secret or secrets.token_bytes(32)
        self._key = hmac.new(root, b"dirigent listing cursor", hashlib.sha256).digest()

    def _mac(self, inner: bytes, scope: str) -> bytes:
        message = scope.encode() + b"\0" + inner
        return hmac.new(self._key, message, hashlib.sha256).digest()[:_MAC_BYTES]

    def seal(self, inner: str | None, scope: str) -> str | None:
        """The caller's cursor for the store's ``inner`` one (None: the last page)."""
        if inner is None:
            return None
        data = inner.encode()
        return f"{_b64(data)}.{_b64(self._mac(data, scope))}"

    def open(self, cursor: str | None, scope: str) -> str | None:
        """The store's cursor inside ``cursor``, if this server sealed it for ``scope``."""
        if not cursor:
            return None
        if len(cursor) > MAX_CURSOR_LENGTH:
            raise BadCursor(f"longer than {MAX_CURSOR_LENGTH} characters")
        body, dot, mac = cursor.partition(".")
        try:
            data, given = _unb64(body), _unb64(mac)
            inner = data.decode()
        except (binascii.Error, ValueError):
            raise BadCursor("malformed") from None
        if not dot or not hmac.compare_digest(given, self._mac(data, scope)):
            raise BadCursor("not a cursor of this listing: start again without one")
        return inner
