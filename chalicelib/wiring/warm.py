"""Lambda init: build, while a function initialises, what its first event would build.

Lambda runs a function's module code once per execution environment, before the first event,
and names the handler in ``_HANDLER`` (``app.app`` for the API, ``app.<name>`` for the queue
and schedule functions). ``prepare`` imports that function's hot modules, builds its boto3
clients and cached services and its pydantic models, and primes botocore: each DynamoDB and
SQS operation the function uses is called once against a canned empty answer (botocore's
``before-send`` short-circuit, as moto answers), so its first real call finds the operation
model, serializer, parser and endpoint rules built. Its one AWS call reads the catalog kinds the
catalog adapter caches (channels, locations, carriers, rules, alert groups), which the first
event would read. Outside Lambda (tests, the local stack, a bare ``import app``)
nothing is built: everything stays lazy.
"""

from __future__ import annotations

import gc
import importlib
import inspect
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from chalicelib import wiring


@dataclass(frozen=True)
class Warm:
    """What a function's first event needs: modules to import (pydantic models in them are
    built) and ``chalicelib.wiring`` factories to call."""

    modules: tuple[str, ...] = ()
    factories: tuple[str, ...] = ()
    catalog: bool = False  # read the catalog kinds the adapter caches (AWS reads, at init)


_STORES = ("orders", "stock_store", "catalog", "queues")
_ORDER_EVENTS = ("dispatcher", "order_event_service", "backorders", "inventory", "notifier")

FUNCTIONS: dict[str, Warm] = {
    # The API: the channel's hot path (quote, order, reservation); admin routes load on use.
    "app": Warm(
        modules=("chalicelib.api.models.orders", "chalicelib.services.ordering"),
        factories=(*_STORES, "keys", "limits", "ordering", "reservations", "order_desk"),
        catalog=True,
    ),
    "on_warehouse_event": Warm(
        modules=("chalicelib.consumers.warehouse_events",),
        factories=(*_STORES, "event_keys", "operations", "order_changes", "returns"),
        catalog=True,
    ),
    "on_order_event": Warm(
        modules=("chalicelib.consumers.order_events",),
        factories=(*_STORES, *_ORDER_EVENTS),
        catalog=True,
    ),
    "on_webhook": Warm(modules=("chalicelib.consumers.webhook_deliveries",)),
    "low_stock_alerts": Warm(factories=("low_stock_alerts", "mailer"), catalog=True),
    "outbox_sweeper": Warm(factories=("dispatcher",)),
    "pickup_expiry": Warm(factories=("pickup_expiry",)),
    "hold_expiry": Warm(factories=("order_changes",)),
    "reservation_expiry": Warm(factories=("reservations",)),
    "preorder_release": Warm(factories=("preorders", "backorders")),
}


def prepare(handler: str | None) -> Warm | None:
    """Build what the function ``handler`` (Lambda's ``_HANDLER``, ``module.attribute``) needs;
    the plan followed, or None for a handler with none (or no handler)."""
    warm = FUNCTIONS.get((handler or "").rpartition(".")[2]) if handler else None
    if warm is None:
        return None
    for name in warm.modules:
        _build_models(importlib.import_module(name))
    for factory in warm.factories:
        getattr(wiring, factory)()
    if warm.factories:
        prime()
    if warm.catalog:
        wiring.catalog().load_cached()
    gc.freeze()  # what init built lives as long as the process: no collection walks it again
    return warm


def _build_models(module: object) -> None:
    """Build the pydantic models a module defines with ``defer_build`` (built on first use
    otherwise)."""
    from pydantic import BaseModel

    for value in vars(module).values():
        if (
            inspect.isclass(value)
            and issubclass(value, BaseModel)
            and value.__module__ == getattr(module, "__name__", None)
        ):
            value.model_rebuild()


class _Canned(io.BytesIO):
    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.getvalue()


# The table and queue the primed calls name: none exists, should a call ever leave the process
# (an in-process moto also sees the requests it does not answer).
PRIMED = "dirigent-primed-never-created"

# One answer for every primed call: each parser reads the members of its own output shape.
_ITEM = {
    "pk": {"S": "warm"},
    "n": {"N": "1"},
    "b": {"BOOL": True},
    "z": {"NULL": True},
    "m": {"M": {"l": {"L": [{"N": "2"}]}, "ss": {"SS": ["a"]}, "bin": {"B": "d2FybQ=="}}},
}
_ANSWER = json.dumps(
    {
        "Item": _ITEM,
        "Items": [_ITEM],
        "Attributes": _ITEM,
        "Count": 1,
        "Responses": {"warm": [_ITEM]},
    }
).encode()


def _answer(request: Any, **_: Any) -> Any:
    from botocore.awsrequest import AWSResponse

    return AWSResponse(request.url, 200, {}, _Canned(_ANSWER))


def _dynamodb_calls(table: str, value: Callable[[str], Any]) -> list[tuple[str, dict[str, Any]]]:
    key, values = {"pk": value("warm"), "sk": value("warm")}, {":v": value("warm")}
    on_key = {"TableName": table, "Key": key}
    return [
        ("get_item", on_key),
        (
            "put_item",
            {"TableName": table, "Item": key, "ConditionExpression": "attribute_exists(a)"},
        ),
        (
            "update_item",
            {**on_key, "UpdateExpression": "SET a = :v", "ExpressionAttributeValues": values},
        ),
        ("delete_item", on_key),
        (
            "query",
            {
                "TableName": table,
                "KeyConditionExpression": "pk = :v",
                "ExpressionAttributeValues": values,
            },
        ),
        ("batch_get_item", {"RequestItems": {table: {"Keys": [key]}}}),
        ("transact_write_items", {"TransactItems": [{"Put": {"TableName": table, "Item": key}}]}),
    ]


def prime() -> None:
    """Call each operation of the hot paths once, on each built client, against ``_ANSWER``:
    the DynamoDB resource's client (Python values), the low-level one (typed values), SQS."""
    name, queue = PRIMED, f"https://sqs.invalid/{PRIMED}"
    plan: list[tuple[Any, list[tuple[str, dict[str, Any]]]]] = [
        (wiring.dynamodb().meta.client, _dynamodb_calls(name, lambda v: v)),
        (wiring.client("dynamodb"), _dynamodb_calls(name, lambda v: {"S": v})),
        (
            wiring.client("sqs"),
            [
                ("get_queue_url", {"QueueName": PRIMED}),
                ("send_message", {"QueueUrl": queue, "MessageBody": "{}"}),
                (
                    "send_message_batch",
                    {"QueueUrl": queue, "Entries": [{"Id": "1", "MessageBody": "{}"}]},
                ),
            ],
        ),
    ]
    for client, calls in plan:
        client.meta.events.register_first("before-send", _answer, unique_id="dirigent-prime")
        try:
            for operation, params in calls:
                getattr(client, operation)(**params)
        finally:
            client.meta.events.unregister("before-send", unique_id="dirigent-prime")
