"""Per-request overheads of moto 5.2's server, removed for the local stack (same answers).

Profiled on the local stack, most of a DynamoDB request's time in moto is not DynamoDB's:

- the response serializer walks every ``AttributeValue`` of an item member by member against
  the botocore shape (ten members, alias lookups for each): a GetItem of a 1 KB order spends
  ~80 % of its time there. An attribute value moto hands over is already DynamoDB JSON, so
  ``_serialize`` copies it as it is (binary base64-encoded, as the generic path does) and
  falls back to the generic path for any value that is not plainly one;
- ``DomainDispatcherApplication.get_backend_for_host`` lists moto's package directory (a
  ``listdir`` and a ``stat`` per entry) on every request, under the dispatcher's global lock;
- ``BaseResponse.call_action`` runs ``inspect.getmembers`` over the response class on every
  request.

``tests/adapters/test_moto_fast.py`` compares every DynamoDB answer with and without.
"""

from __future__ import annotations

import functools
from typing import Any

_SCALARS = {"S": str, "N": str, "BOOL": bool, "NULL": bool}
_SETS = {"SS": str, "NS": str}
_APPLIED = "_dirigent_fast"


class _NotPlain(Exception):
    """The value is not plain DynamoDB JSON: let moto's serializer handle it."""


def _plain(value: Any, b64: Any) -> Any:
    """``value`` (one AttributeValue) as moto's JSON serializer would write it."""
    if type(value) is not dict or len(value) != 1:
        raise _NotPlain
    ((tag, inner),) = value.items()
    kind = _SCALARS.get(tag)
    if kind is not None:
        if type(inner) is not kind:
            raise _NotPlain
        return {tag: inner}
    kind = _SETS.get(tag)
    if kind is not None:
        if type(inner) is not list or any(type(v) is not str for v in inner):
            raise _NotPlain
        return {tag: list(inner)}
    if tag == "M" and type(inner) is dict:
        return {"M": {str(k): _plain(v, b64) for k, v in inner.items()}}
    if tag == "L" and type(inner) is list:
        return {"L": [_plain(v, b64) for v in inner]}
    if tag == "B" and type(inner) is bytes:
        return {"B": b64(inner)}
    if tag == "BS" and type(inner) is list and all(type(v) is bytes for v in inner):
        return {"BS": [b64(v) for v in inner]}
    raise _NotPlain


def apply() -> None:
    """Install the three shortcuts once per process."""
    from moto import backends
    from moto.core import responses
    from moto.core.serialize import JSONSerializer

    if getattr(JSONSerializer, _APPLIED, False):
        return
    generic = JSONSerializer._serialize

    @functools.wraps(generic)
    def _serialize(self: Any, serialized: Any, value: Any, shape: Any, key: str) -> None:
        if shape.name == "AttributeValue":
            try:
                plain = _plain(value, self._base64)
            except _NotPlain:
                pass
            else:
                serialized[shape.serialization.get("name", key)] = plain
                return
        generic(self, serialized, value, shape, key)

    JSONSerializer._serialize = _serialize  # type: ignore[method-assign]
    modules = frozenset(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: modules  # type: ignore[assignment,return-value]
    responses.method_names_from_class = functools.cache(responses.method_names_from_class)
    setattr(JSONSerializer, _APPLIED, True)
