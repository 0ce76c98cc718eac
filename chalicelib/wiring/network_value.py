"""Composition of network-aware sourcing: the value job, and the snapshots quotes and orders
read with the cart's network values beside them."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from chalicelib.config import settings
from chalicelib.services import preorders
from chalicelib.wiring.aws import catalog, orders, stock_store, table

if TYPE_CHECKING:
    from chalicelib.adapters.dynamo_network_value import DynamoNetworkValues
    from chalicelib.domain.network_value import NetworkValues
    from chalicelib.services.network_value import NetworkValueService


def value_store() -> DynamoNetworkValues:
    from chalicelib.adapters.dynamo_network_value import DynamoNetworkValues

    s = settings()
    return DynamoNetworkValues(table(s.catalog_table), table(s.orders_table))


def network_values() -> NetworkValueService:
    from chalicelib.services.catalog import CatalogService
    from chalicelib.services.network_value import NetworkValueService
    from chalicelib.wiring.clock import now

    return NetworkValueService(
        store=value_store(),
        catalog=CatalogService(catalog()),
        stock=stock_store(),
        orders=orders().get,
        clock=now,
    )


class PreorderSnapshots(preorders.PreorderSnapshots):
    """``services.preorders.PreorderSnapshots`` that also gives the cart's network values
    (``ordering`` asks when the rules are network-aware)."""

    def network_values(self, skus: Iterable[str]) -> NetworkValues:
        return network_values().values(skus)
