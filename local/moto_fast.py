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
  request;
- ``Table.query`` sorts every item of the table and compares each with the hash key, for a
  query of one partition as for one of an index: a query's time grew with the table. A
  partition's query now starts from that partition's items, an index query from the items
  unsorted (its results are sorted on the table's keys among others, a total order);
- an update expression is parsed by hand, character by character, twice per request (once to
  check it, once to run it), and its validator deep-copies the tree before rewriting it: most
  of a conditional update's time in moto. A tree is now parsed once per expression (moto
  only reads it) and the validator's copy unpickled from it, about a sixth of a deep copy;
- SQS computes all of a queue's attributes (three passes over its messages) three times per
  name asked for, once more per message a receive hands out (the retention check), and once
  per message sent (to read one setting): a send's time grew with the backlog, a receive's
  with its square. Asked-for attributes are computed once, the retention period is read off
  the queue, and a send sees only the setting it reads.

``tests/adapters/test_moto_fast.py`` compares every DynamoDB and SQS answer with and without.
Some shortcuts stand in for moto's own code, so they install only on the moto release they were
read against (``REVIEWED``); on another, moto runs as it comes, with a warning.
"""

from __future__ import annotations

import functools
import inspect
import logging
import pickle
import threading
from typing import Any

log = logging.getLogger(__name__)
REVIEWED = "5.2.5"  # the moto release these shortcuts were read against

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


class _Narrowed:
    """A moto ``Table`` whose ``all_items`` are only ``items`` (for one ``Table.query``)."""

    __slots__ = ("_items", "_table")

    def __init__(self, table: Any, items: list[Any]) -> None:
        self._table, self._items = table, items

    def all_items(self) -> list[Any]:
        return self._items

    def __getattr__(self, name: str) -> Any:
        return getattr(self._table, name)


def _fast_query(query: Any) -> Any:
    bind = inspect.signature(query).bind

    @functools.wraps(query)
    def fast(self: Any, *args: Any, **kwargs: Any) -> Any:
        called = bind(self, *args, **kwargs).arguments
        if called.get("index_name"):
            items = []  # the index path filters and sorts them itself
            for partition in self.items.values():
                items.extend(partition.values() if self.range_key_attr else (partition,))
        else:
            partition = self.items.get(called["hash_key"])  # a defaultdict: no insert
            if partition is None:
                items = []
            else:  # sorted by range key after, as ``all_items`` order is (hash, range)
                items = list(partition.values()) if self.range_key_attr else [partition]
        return query(_Narrowed(self, items), *args, **kwargs)

    return fast


def _fast_update_expressions(parser: Any, validators: Any) -> None:
    generic_make = parser.make.__func__
    generic_copy = validators.deepcopy
    trees: dict[tuple[Any, str], Any] = {}  # moto only reads a tree; its validator copies it
    pickled: dict[int, tuple[Any, bytes]] = {}  # id(tree) -> (tree, its pickle)

    @functools.wraps(generic_make)
    def make(cls: Any, expression_str: str) -> Any:
        tree = trees.get((cls, expression_str))
        if tree is None:
            tree = generic_make(cls, expression_str)  # a syntax error raises: never kept
            if len(trees) < 1024:
                trees[cls, expression_str] = tree
                pickled[id(tree)] = (tree, pickle.dumps(tree))
        return tree

    @functools.wraps(generic_copy)
    def deepcopy(value: Any, memo: Any = None) -> Any:
        found = pickled.get(id(value))
        if found is not None and found[0] is value:
            return pickle.loads(found[1])  # noqa: S301 - our own bytes
        return generic_copy(value, memo)

    parser.make = classmethod(make)
    validators.deepcopy = deepcopy


def _fast_sqs(backend: Any) -> None:
    from moto.core.utils import unix_time
    from moto.sqs.models import Queue

    sending = threading.local()
    every_attribute = Queue.attributes.fget

    @functools.wraps(every_attribute)
    def attributes(self: Any) -> dict[str, Any]:
        if not getattr(sending, "on", False):
            return every_attribute(self)  # type: ignore[no-any-return]
        if not self.fifo_queue:  # a FIFO attribute: absent on a standard queue
            return {}
        value = self.content_based_deduplication
        return {"ContentBasedDeduplication": str(value).lower() if type(value) is bool else value}

    generic_send = backend.send_message

    @functools.wraps(generic_send)
    def send_message(self: Any, *args: Any, **kwargs: Any) -> Any:
        # What a send reads of the attributes is ContentBasedDeduplication, nothing else.
        outer = getattr(sending, "on", False)
        sending.on = True
        try:
            return generic_send(self, *args, **kwargs)
        finally:
            sending.on = outer

    Queue.attributes = property(attributes)
    backend.send_message = send_message

    generic = backend.get_queue_attributes

    @functools.wraps(generic)
    def get_queue_attributes(self: Any, queue_name: str, attribute_names: list[str]) -> Any:
        queue = self.get_queue(queue_name)
        valid = ["All", *queue.BASE_ATTRIBUTES, *queue.FIFO_ATTRIBUTES, *queue.KMS_ATTRIBUTES]
        if (
            not attribute_names
            or "All" in attribute_names
            or any(name not in valid for name in attribute_names)
        ):
            return generic(self, queue_name, attribute_names)  # {}, all of them, or its error
        every = queue.attributes
        return {name: every[name] for name in attribute_names if every.get(name) is not None}

    @functools.wraps(backend.is_message_valid_based_on_retention_period)
    def retained(self: Any, queue_name: str, message: Any) -> bool:
        period = self.get_queue(queue_name).message_retention_period
        return bool(period + message.sent_timestamp / 1000 > unix_time())

    backend.get_queue_attributes = get_queue_attributes
    backend.is_message_valid_based_on_retention_period = retained


def apply() -> None:
    """Install the shortcuts once per process (on the ``REVIEWED`` moto only)."""
    import moto
    from moto import backends
    from moto.core import responses
    from moto.core.serialize import JSONSerializer
    from moto.dynamodb.models.table import Table
    from moto.dynamodb.parsing import validators
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser
    from moto.sqs.models import SQSBackend

    if getattr(JSONSerializer, _APPLIED, False):
        return
    if moto.__version__ != REVIEWED:
        log.warning("moto %s is not %s: local.moto_fast left it alone", moto.__version__, REVIEWED)
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
    Table.query = _fast_query(Table.query)  # type: ignore[method-assign]
    _fast_update_expressions(UpdateExpressionParser, validators)
    _fast_sqs(SQSBackend)
    setattr(JSONSerializer, _APPLIED, True)
