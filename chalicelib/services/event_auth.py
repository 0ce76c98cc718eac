"""Who may speak for a location on the warehouse-events queue: every message carries the SQS
attribute ``Signature``, the hex HMAC-SHA256 of its raw body under the key of the location
the event names (``KeyVersion``, optional, the version of that key). Keys are derived from the
server secret (``chalicelib.domain.event_signing``); an admin rotates a location's key and
receives the new one once (``POST /locations/{location_id}/event-key``)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from chalicelib.domain.catalog import Kind
from chalicelib.domain.errors import FieldError, NotFound
from chalicelib.domain.event_signing import location_key, signature, signature_problem

SIGNATURE_ATTRIBUTE = "Signature"
KEY_VERSION_ATTRIBUTE = "KeyVersion"


class UnauthenticatedEvent(ValueError):
    """A warehouse event its location did not sign (or an unknown location): it changes
    nothing, is retried and then dead-lettered with this reason."""


class KeyVersions(Protocol):
    def current(self, location_id: str) -> int: ...
    def bump(self, location_id: str, at: str) -> int: ...


class LocationDocs(Protocol):
    def get(self, kind: str, item_id: str) -> dict[str, Any] | None: ...
    def invalidate(self, kind: str | None = None) -> None: ...


@dataclass(frozen=True)
class IssuedKey:
    location_id: str
    key_version: int
    secret: str
    issued_at: str


class EventKeys:
    def __init__(
        self,
        *,
        versions: KeyVersions,
        locations: LocationDocs,
        server_secret: Callable[[], bytes],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._versions, self._locations = versions, locations
        self._server_secret, self._clock = server_secret, clock

    def issue(self, location_id: str) -> IssuedKey:
        """Rotate the location's key: the new one, which alone verifies from now on."""
        if not self._known(location_id):
            raise NotFound(
                f"no location {location_id!r}", fields=[FieldError("location_id", "unknown")]
            )
        at = datetime.fromtimestamp(self._clock(), UTC).isoformat()
        version = self._versions.bump(location_id, at)
        return IssuedKey(location_id, version, self._key(location_id, version), at)

    def sign(self, location_id: str, body: str) -> dict[str, str]:
        """The message attributes that authenticate ``body`` as sent by ``location_id`` (for
        the local stack's simulated warehouse and tests)."""
        version = self._versions.current(location_id)
        return {
            SIGNATURE_ATTRIBUTE: signature(self._key(location_id, version), body),
            KEY_VERSION_ATTRIBUTE: str(version),
        }

    def verify(self, location_id: str, body: str, attributes: Mapping[str, str]) -> None:
        """Raise ``UnauthenticatedEvent`` unless ``body`` is signed with the current key of
        ``location_id``, an existing location."""
        if not self._known(location_id):
            raise UnauthenticatedEvent(f"location_id: no location {location_id!r}")
        version = self._versions.current(location_id)
        given_version = attributes.get(KEY_VERSION_ATTRIBUTE)
        if given_version is not None and given_version.strip() != str(version):
            raise UnauthenticatedEvent(
                f"{KEY_VERSION_ATTRIBUTE}: {given_version[:20]!r} is not the current key "
                f"version of location {location_id} ({version})"
            )
        key = self._key(location_id, version)
        if problem := signature_problem(key, body, attributes.get(SIGNATURE_ATTRIBUTE)):
            raise UnauthenticatedEvent(
                f"{SIGNATURE_ATTRIBUTE}: {problem} (location {location_id}, key version {version})"
            )

    def _key(self, location_id: str, version: int) -> str:
        return location_key(self._server_secret(), location_id, version)

    def _known(self, location_id: str) -> bool:
        """Locations are cached: a miss is read again, fresh, before it counts."""
        if self._locations.get(Kind.LOCATION, location_id) is not None:
            return True
        self._locations.invalidate(Kind.LOCATION)
        return self._locations.get(Kind.LOCATION, location_id) is not None
