"""In-memory stand-ins for the order use cases: an order store that runs a transaction like
DynamoDB (the order's version, stock movements by the pure inventory rules, conditional side
items) and the catalog/stock reads that re-sourcing needs."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence
from datetime import time
from typing import Any

from chalicelib.adapters.dynamo_orders import StaleOrder, StockRace
from chalicelib.adapters.dynamo_snapshot import Snapshot
from chalicelib.adapters.dynamo_tx import TransactionFailed, deserialize
from chalicelib.domain import inventory
from chalicelib.domain.channel import BackorderPolicy, Channel, ChannelKind
from chalicelib.domain.errors import InsufficientStock
from chalicelib.domain.inventory import Movement
from chalicelib.domain.network import (
    Capability,
    CarrierService,
    Lane,
    Location,
    LocationType,
    Speed,
    StockLevel,
    WeightBand,
)
from chalicelib.domain.order.model import Order, order_from_doc, order_to_doc
from chalicelib.domain.rules import SourcingRules


class FakeTable:
    """Side items by ``(pk, sk)``: what ``DynamoFulfilmentLog`` reads with ``get_item``."""

    name = "orders"

    def __init__(self) -> None:
        self.items: dict[tuple[str, str], dict[str, Any]] = {}

    def get_item(self, *, Key: dict[str, str], ConsistentRead: bool = False) -> dict[str, Any]:
        item = self.items.get((Key["pk"], Key["sk"]))
        return {"Item": item} if item else {}


class FakeOrders:
    def __init__(self, table: FakeTable, stock: dict[tuple[str, str], StockLevel]) -> None:
        self.table, self.stock = table, stock
        self.docs: dict[str, tuple[dict[str, Any], int]] = {}

    def add(self, order: Order) -> None:
        self.docs[order.order_id] = (order_to_doc(order), order.version)

    def get(self, order_id: str) -> Order | None:
        if order_id not in self.docs:
            return None
        doc, version = self.docs[order_id]
        order = order_from_doc(copy.deepcopy(doc))
        order.version = version
        return order

    def update(
        self,
        order: Order,
        *,
        moves: Sequence[tuple[Movement, tuple[str, str, int]]] = (),
        extra: Sequence[dict[str, Any]] = (),
        drop_backorders: Sequence[str] = (),
        now: str,
    ) -> None:
        if self.docs[order.order_id][1] != order.version:
            raise StaleOrder("changed meanwhile")
        stock = dict(self.stock)
        for movement, (sku, loc, qty) in moves:
            try:
                stock[(sku, loc)] = inventory.apply(stock[(sku, loc)], movement, qty)
            except InsufficientStock:
                raise StockRace([sku]) from None
        items = dict(self.table.items)
        for i, op in enumerate(extra):
            if "Put" in op:
                item = deserialize(op["Put"]["Item"])
                key = (item["pk"], item["sk"])
                if "attribute_not_exists" in op["Put"].get("ConditionExpression", "") and (
                    key in items
                ):
                    reasons = ["None"] * (1 + len(moves) + len(extra))
                    reasons[1 + len(moves) + i] = "ConditionalCheckFailed"
                    raise TransactionFailed(reasons)
                items[key] = item
            elif "Update" in op:  # shipped-units counters: ADD units :q
                key_doc = deserialize(op["Update"]["Key"])
                key = (key_doc["pk"], key_doc["sk"])
                added = deserialize(op["Update"]["ExpressionAttributeValues"])[":q"]
                old = items.get(key, key_doc)
                items[key] = {**old, "units": old.get("units", 0) + added}
            else:
                key_doc = deserialize(op["Delete"]["Key"])
                items.pop((key_doc["pk"], key_doc["sk"]), None)
        order.version += 1
        self.docs[order.order_id] = (order_to_doc(order), order.version)
        self.stock.clear()
        self.stock.update(stock)
        self.table.items = items

    def put_quote(self, *args: Any) -> None:  # pragma: no cover - not used here
        raise NotImplementedError


def _location(location_id: str, lat: float, lon: float) -> Location:
    return Location(
        location_id=location_id,
        type=LocationType.WAREHOUSE,
        country="DE",
        postal_code="34117",
        lat=lat,
        lon=lon,
        timezone="Europe/Berlin",
        capabilities=frozenset({Capability.SHIP}),
        cutoff_time=time(15, 0),
        closed_weekdays=frozenset(),
    )


class FakeNetwork:
    def __init__(self, *, policy: BackorderPolicy = BackorderPolicy.REJECT) -> None:
        self.policy = policy
        self._locations = [
            _location("dc-a", 51.3, 9.5),
            _location("dc-b", 50.1, 8.7),
            _location("dc-c", 52.5, 13.4),
        ]

    def channel(self, name: str) -> Channel:
        return Channel(
            channel=name,
            kind=ChannelKind.WEBSHOP,
            currencies=frozenset({"EUR"}),
            countries=frozenset({"DE"}),
            backorder_policy=self.policy,
        )

    def locations(self) -> list[Location]:
        return list(self._locations)

    def carrier_services(self) -> list[CarrierService]:
        band = WeightBand(max_weight_g=30_000, price={"EUR": 500})
        return [
            CarrierService(
                service_id="std",
                carrier="DHL",
                speed=Speed.STANDARD,
                lanes=(Lane("DE", "DE", 1, (band,)),),
            )
        ]

    def rules(self) -> SourcingRules:
        return SourcingRules()


class FakeSnapshots:
    def __init__(self, stock: dict[tuple[str, str], StockLevel], skus: Iterable[str]) -> None:
        self._stock = stock
        self._products = {sku: {"sku": sku, "weight_g": 500} for sku in skus}

    def read(self, *, skus: Iterable[str], location_ids: Iterable[str], **_: Any) -> Snapshot:
        wanted, where = set(skus), set(location_ids)
        return Snapshot(
            stock=[v for (s, loc), v in self._stock.items() if s in wanted and loc in where],
            products={s: self._products[s] for s in wanted if s in self._products},
        )


class Recorder:
    """Stands in for the notifier and the dispatcher: records what it was asked to do."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def shipped(self, order: Order, shipment: Any) -> None:
        self.calls.append(("shipped", shipment.shipment_id))

    def delayed(self, order: Order, delay: Any) -> None:
        self.calls.append(("delayed", order.order_id))

    def dispatch(self, order_id: str) -> int:
        self.calls.append(("dispatch", order_id))
        return 0
