"""One item per order after its commit serves the rule simulation and the sales forecast: the
capture's sourcing inputs carry the sale; the consumer's ``record_sale`` writes only when that
item is missing and never overwrites it."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from chalicelib.adapters.dynamo_network_value import DynamoNetworkValues
from chalicelib.adapters.dynamo_simulation import DynamoSimInputs, pack
from chalicelib.domain.network import Address
from chalicelib.domain.network_value import Sale
from chalicelib.domain.simulation import SimInput

DAY = date(2026, 3, 9)


def inputs(order_id: str) -> SimInput:
    return SimInput(
        order_id=order_id,
        channel="webshop",
        currency="EUR",
        ship_to=Address(country="DE", postal_code="10115", city="Berlin"),
        lines=(("A", 2, 1000), ("B", 1, 500), ("A", 1, 1000)),
        kind="cheapest",
        pickup_location_id=None,
        stock=(("dc-kassel", "A", 5),),
        created_at=datetime(2026, 3, 9, 22, 30, tzinfo=UTC),
    )


@pytest.fixture
def stores(aws: Any) -> tuple[DynamoSimInputs, DynamoNetworkValues, Any]:
    db = aws.resource("dynamodb")
    orders = db.Table("dirigent-orders")
    return (
        DynamoSimInputs(orders),
        DynamoNetworkValues(db.Table("dirigent-catalog"), orders),
        orders,
    )


def items(orders: Any) -> list[dict[str, Any]]:
    return sorted(orders.scan()["Items"], key=lambda i: (i["pk"], i["sk"]))


def test_the_captures_inputs_are_the_sale_and_the_consumer_writes_nothing_more(stores):
    sims, values, orders = stores
    sims.put(inputs("ord_1"))
    values.record_sale("ord_1", Sale(DAY, "DE-10", {"A": 3, "B": 1}))  # the consumer, after

    (item,) = items(orders)
    assert (item["pk"], item["sk"], item["region"]) == ("SIMIN#2026-03-09", "ord_1", "DE-10")
    assert {k: int(v) for k, v in item["lines"].items()} == {"A": 3, "B": 1}
    assert values.sales(DAY, DAY) == [Sale(DAY, "DE-10", {"A": 3, "B": 1})]
    assert [(oid, i) for oid, i in sims.page("2026-03-09", None, 10)] == [
        ("ord_1", inputs("ord_1"))
    ]


def test_a_missing_capture_write_is_a_sale_only_item_the_capture_may_still_replace(stores):
    sims, values, orders = stores
    sale = Sale(DAY, "DE-10", {"A": 3, "B": 1})
    values.record_sale("ord_1", sale)  # the consumer ran before the capture's write
    values.record_sale("ord_1", sale)  # a redelivery
    assert values.sales(DAY, DAY) == [sale]
    assert sims.count("2026-03-09") == 1
    assert sims.page("2026-03-09", None, 10) == [("ord_1", None)]  # counted not replayable

    sims.put(inputs("ord_1"))  # the capture's write arrives after all
    values.record_sale("ord_1", sale)
    (item,) = items(orders)
    assert "d" in item
    assert values.sales(DAY, DAY) == [sale]
    assert sims.page("2026-03-09", None, 10) == [("ord_1", inputs("ord_1"))]


def test_an_inputs_item_without_the_sale_attributes_gives_its_sale_from_the_inputs(stores):
    _, values, orders = stores
    orders.put_item(
        Item={"pk": "SIMIN#2026-03-09", "sk": "ord_old", "d": pack(inputs("ord_old").as_doc())}
    )
    orders.put_item(Item={"pk": "SIMIN#2026-03-09", "sk": "ord_bad", "d": b"not zlib"})
    assert values.sales(DAY, DAY) == [Sale(DAY, "DE-10", {"A": 3, "B": 1})]
