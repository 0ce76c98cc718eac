"""The returns policy, the RMA's state machine and its refund, and the ranking of return
options: pure domain, no AWS."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from chalicelib.domain.errors import InvalidInput
from chalicelib.domain.inventory import Movement
from chalicelib.domain.network import (
    Address,
    Capability,
    CarrierService,
    Lane,
    Location,
    LocationType,
    Product,
    Speed,
    StockLevel,
    WeightBand,
)
from chalicelib.domain.order.model import (
    DeliveryMode,
    Order,
    OrderLine,
    OrderShipment,
    ShipmentStatus,
)
from chalicelib.domain.returns.model import (
    Condition,
    RequestedLine,
    ReturnReason,
    Rma,
    RmaStatus,
    rma_from_doc,
    rma_to_doc,
    summary,
)
from chalicelib.domain.returns.options import ReturnOptionKind, rank_options
from chalicelib.domain.returns.policy import check_request, mark_in_transit, new_rma, receive

DELIVERED_AT = "2025-03-03T10:00:00.000Z"
SOON = datetime(2025, 3, 10, tzinfo=UTC)
MUG = Product("MUG", weight_g=400, prices={"EUR": 1299})
VASE = Product("VASE", weight_g=900, prices={"EUR": 4999}, returnable=False)
PRODUCTS = {"MUG": MUG, "VASE": VASE, "BOWL": Product("BOWL", weight_g=300)}


def delivered_order(
    lines: dict[str, int] | None = None, *, shipping: int = 495, status=ShipmentStatus.DELIVERED
) -> Order:
    lines = lines or {"MUG": 2, "BOWL": 1}
    order = Order(
        order_id="o_1",
        channel="shop",
        channel_order_id="C-1",
        currency="EUR",
        customer={"email": "ada@example.com"},
        ship_to=Address(country="DE", postal_code="10115"),
        lines=[OrderLine(sku, q, 1299 if sku == "MUG" else 500) for sku, q in lines.items()],
        shipments=[
            OrderShipment(
                shipment_id="o_1-s1",
                location_id="dc-1",
                lines=dict(lines),
                mode=DeliveryMode.SHIP,
                carrier_service="dhl",
                ship_date="2025-03-01",
                promised_date="2025-03-03",
                status=status,
                updated_at=DELIVERED_AT,
            )
        ],
        created_at="2025-03-01T08:00:00.000Z",
        delivery={"kind": "fastest", "price": shipping, "currency": "EUR"},
        token_hash="",
        request_hash="",
    )
    order.record(at=DELIVERED_AT, event="delivered", source="dc-1", shipment_id="o_1-s1")
    return order


def ask(order: Order, *lines: tuple[str, int], now: datetime = SOON, window: int = 30) -> None:
    requested = [RequestedLine(sku, q, ReturnReason.CHANGED_MIND) for sku, q in lines]
    check_request(order, requested, products=PRODUCTS, window_days=window, now=now)


def reasons(exc: pytest.ExceptionInfo[InvalidInput]) -> dict[str, str]:
    return {f.path: f.reason for f in exc.value.fields}


def rma_for(order: Order, *lines: tuple[str, int, ReturnReason]) -> Rma:
    requested = [RequestedLine(sku, q, reason) for sku, q, reason in lines]
    rma = new_rma(
        "rma_1", order, requested, at="2025-03-05T09:00:00.000Z", source="customer", options=[]
    )
    order.returns[rma.rma_id] = summary(rma)
    return rma


# --- the policy ------------------------------------------------------------------------------


def test_a_delivered_line_within_the_window_may_be_returned() -> None:
    ask(delivered_order(), ("MUG", 2), ("BOWL", 1))


def test_the_window_runs_from_the_delivery_and_names_the_line() -> None:
    late = datetime(2025, 3, 3, 10, tzinfo=UTC) + timedelta(days=14, minutes=1)
    with pytest.raises(InvalidInput) as exc:
        ask(delivered_order(), ("BOWL", 1), ("MUG", 1), now=late, window=14)
    assert reasons(exc) == {
        "lines[0].sku": "the 14-day return window ended on 2025-03-17",
        "lines[1].sku": "the 14-day return window ended on 2025-03-17",
    }
    ask(delivered_order(), ("MUG", 1), now=late - timedelta(minutes=2), window=14)


def test_a_product_that_is_not_returnable_is_refused() -> None:
    with pytest.raises(InvalidInput) as exc:
        ask(delivered_order({"MUG": 1, "VASE": 1}), ("MUG", 1), ("VASE", 1))
    assert reasons(exc) == {"lines[1].sku": "VASE cannot be returned"}


def test_a_sku_not_on_the_order_is_refused() -> None:
    with pytest.raises(InvalidInput) as exc:
        ask(delivered_order(), ("TEAPOT", 1))
    assert reasons(exc) == {"lines[0].sku": "TEAPOT is not on this order"}


def test_nothing_can_be_returned_before_it_is_delivered() -> None:
    with pytest.raises(InvalidInput) as exc:
        ask(delivered_order(status=ShipmentStatus.SHIPPED), ("MUG", 1))
    assert reasons(exc) == {"lines[0].sku": "MUG has not been delivered yet"}


def test_no_more_than_delivered_minus_already_returned() -> None:
    order = delivered_order()
    rma = rma_for(order, ("MUG", 1, ReturnReason.WRONG_SIZE))
    ask(order, ("MUG", 2))  # a requested RMA nothing moved for blocks nothing
    mark_in_transit(rma, at="t1", event_id="e1", carrier=None, tracking_number=None)
    order.returns[rma.rma_id] = summary(rma)
    ask(order, ("MUG", 1))
    with pytest.raises(InvalidInput) as exc:
        ask(order, ("MUG", 1), ("MUG", 1))  # two lines of one SKU count together
    assert reasons(exc) == {
        "lines[1].quantity": "at most 1 of MUG can be returned (delivered 2, already returned 1)"
    }


# --- the RMA: states, stock movements, refund ------------------------------------------------


def test_a_sellable_receipt_restocks_refunds_the_items_and_keeps_the_shipping() -> None:
    order = delivered_order()
    rma = rma_for(order, ("MUG", 2, ReturnReason.CHANGED_MIND))
    receipt = receive(
        rma, order, [("MUG", 2, Condition.SELLABLE)], location_id="st-1", at="t1", event_id="e1"
    )
    assert receipt.moves == [(Movement.RECEIVE, ("MUG", "st-1", 2))]
    assert (receipt.refund.items, receipt.refund.shipping) == (2 * 1299, 0)
    assert rma.status == RmaStatus.REFUNDED
    assert receipt.entered == [RmaStatus.RECEIVED, RmaStatus.RESTOCKED, RmaStatus.REFUNDED]
    assert [h["event"] for h in rma.history] == ["requested", "received", "restocked", "refunded"]


def test_damaged_units_go_to_quarantine_and_are_refunded() -> None:
    order = delivered_order()
    rma = rma_for(order, ("MUG", 1, ReturnReason.DAMAGED_IN_TRANSIT))
    receipt = receive(
        rma, order, [("MUG", 1, Condition.DAMAGED)], location_id="dc-1", at="t1", event_id="e1"
    )
    assert receipt.moves == [(Movement.QUARANTINE, ("MUG", "dc-1", 1))]
    assert RmaStatus.QUARANTINED in receipt.entered and rma.status == RmaStatus.REFUNDED
    # Our fault: the shipping comes back too.
    assert (receipt.refund.items, receipt.refund.shipping) == (1299, 495)


def test_returning_everything_refunds_the_shipping_once_per_order() -> None:
    order = delivered_order()
    first = rma_for(order, ("MUG", 2, ReturnReason.CHANGED_MIND))
    receive(first, order, [("MUG", 2, Condition.SELLABLE)], location_id="s", at="t1", event_id="a")
    order.returns[first.rma_id] = summary(first)
    requested = [RequestedLine("BOWL", 1, ReturnReason.CHANGED_MIND)]
    second = new_rma("rma_2", order, requested, at="t2", source="customer", options=[])
    order.returns[second.rma_id] = summary(second)
    last = receive(
        second, order, [("BOWL", 1, Condition.SELLABLE)], location_id="s", at="t3", event_id="b"
    )
    assert last.refund.shipping == 495  # the last unit of the order came back
    assert first.refunded + second.refunded == 2 * 1299 + 500 + 495


def test_a_parcel_in_two_parts_refunds_each_unit_once() -> None:
    order = delivered_order()
    rma = rma_for(order, ("MUG", 2, ReturnReason.WRONG_SIZE))
    receive(rma, order, [("MUG", 1, Condition.SELLABLE)], location_id="s", at="t1", event_id="a")
    assert rma.status == RmaStatus.RECEIVED and rma.refunded == 1299
    receive(rma, order, [("MUG", 1, Condition.DAMAGED)], location_id="s", at="t2", event_id="b")
    assert rma.status == RmaStatus.REFUNDED and rma.refunded == 2 * 1299
    with pytest.raises(InvalidInput) as exc:
        receive(
            rma, order, [("MUG", 1, Condition.SELLABLE)], location_id="s", at="t3", event_id="c"
        )
    assert reasons(exc) == {"lines[0].quantity": "RMA rma_1 expects 0 more of MUG"}
    assert rma.refunded == 2 * 1299  # nothing counted twice


def test_a_receipt_of_a_sku_not_on_the_rma_changes_nothing() -> None:
    order = delivered_order()
    rma = rma_for(order, ("MUG", 1, ReturnReason.WRONG_SIZE))
    with pytest.raises(InvalidInput) as exc:
        receive(
            rma,
            order,
            [("MUG", 1, Condition.SELLABLE), ("BOWL", 1, Condition.SELLABLE)],
            location_id="s",
            at="t",
            event_id="a",
        )
    assert reasons(exc) == {"lines[1].sku": "BOWL is not on RMA rma_1"}
    assert rma.lines[0].received == 0 and rma.refunds == []


def test_in_transit_after_the_receipt_is_late_and_changes_no_state() -> None:
    order = delivered_order()
    rma = rma_for(order, ("MUG", 1, ReturnReason.WRONG_SIZE))
    receive(rma, order, [("MUG", 1, Condition.SELLABLE)], location_id="s", at="t2", event_id="a")
    moved = mark_in_transit(rma, at="t1", event_id="b", carrier="DHL", tracking_number="R1")
    assert not moved and rma.status == RmaStatus.REFUNDED
    assert rma.history[-1]["late"] is True and rma.tracking_number == "R1"


def test_in_transit_first_moves_the_rma() -> None:
    order = delivered_order()
    rma = rma_for(order, ("MUG", 1, ReturnReason.WRONG_SIZE))
    assert mark_in_transit(rma, at="t1", event_id="b", carrier=None, tracking_number=None)
    assert rma.status == RmaStatus.IN_TRANSIT


def test_an_rma_survives_its_document() -> None:
    order = delivered_order()
    rma = rma_for(order, ("MUG", 2, ReturnReason.OTHER))
    receive(rma, order, [("MUG", 1, Condition.SELLABLE)], location_id="s", at="t", event_id="a")
    again = rma_from_doc(rma_to_doc(rma))
    assert again == rma


# --- return options --------------------------------------------------------------------------


def location(loc_id: str, kind: LocationType, lat: float, lon: float, **kw) -> Location:
    return Location(
        location_id=loc_id,
        type=kind,
        country=kw.pop("country", "DE"),
        postal_code=kw.pop("postal_code", "10115"),
        lat=lat,
        lon=lon,
        timezone="Europe/Berlin",
        capabilities=frozenset(kw.pop("capabilities", {Capability.RETURNS, Capability.SHIP})),
        cutoff_time=time(16),
        **kw,
    )


BERLIN = Address("DE", "10115", lat=52.52, lon=13.40)
DHL = CarrierService(
    "dhl-std",
    "DHL",
    Speed.STANDARD,
    lanes=(Lane("DE", "DE", 1, (WeightBand(5000, {"EUR": 590}),)),),
)
NETWORK = [
    location("st-mitte", LocationType.STORE, 52.52, 13.41, closed_weekdays=frozenset({6})),
    location("st-spandau", LocationType.STORE, 52.54, 13.20, closed_weekdays=frozenset({5, 6})),
    location("st-paris", LocationType.STORE, 48.85, 2.35, country="FR"),
    location("st-nope", LocationType.STORE, 52.52, 13.40, capabilities={Capability.SHIP}),
    location("dc-north", LocationType.WAREHOUSE, 53.55, 9.99, handling_cost_per_unit=50),
    location("dc-south", LocationType.WAREHOUSE, 48.14, 11.58, handling_cost_per_unit=80),
]


def options(stock: dict[tuple[str, str], StockLevel], ship_to: Address = BERLIN) -> list:
    return rank_options(
        ship_to=ship_to,
        lines={"MUG": 2},
        locations=NETWORK,
        stock=stock,
        carriers=[DHL],
        products=PRODUCTS,
        currency="EUR",
    )


def test_nearby_stores_that_take_returns_come_first_then_the_carrier() -> None:
    found = options({})
    kinds = [(o.kind, o.location_id) for o in found]
    assert kinds[:2] == [
        (ReturnOptionKind.STORE_DROP_OFF, "st-mitte"),
        (ReturnOptionKind.STORE_DROP_OFF, "st-spandau"),
    ]
    assert kinds[2][0] == ReturnOptionKind.CARRIER
    assert [o.rank for o in found] == [1, 2, 3]  # no store abroad, none without returns
    assert found[0].open_days == ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat")
    assert "Mon-Sat" in found[0].explanation and "km" in found[0].explanation


def test_the_carrier_return_goes_where_the_stock_is_most_needed() -> None:
    stock = {("MUG", "dc-south"): StockLevel("MUG", "dc-south", on_hand=1, reorder_point=5)}
    carrier = next(o for o in options(stock) if o.kind == ReturnOptionKind.CARRIER)
    assert carrier.location_id == "dc-south" and carrier.why == "most_needed"
    assert "needs these units most" in carrier.explanation


def test_without_need_the_carrier_return_goes_where_it_is_cheapest_to_receive() -> None:
    stock = {
        ("MUG", loc): StockLevel("MUG", loc, on_hand=50, reorder_point=5)
        for loc in ("dc-north", "dc-south")
    }
    carrier = next(o for o in options(stock) if o.kind == ReturnOptionKind.CARRIER)
    assert carrier.location_id == "dc-north" and carrier.why == "cheapest"
    assert "6.90 EUR" in carrier.explanation  # 5.90 label + 2 x 0.50 handling


def test_without_coordinates_the_carrier_ranks_first() -> None:
    found = options({}, Address("DE", "10115"))
    assert found[0].kind == ReturnOptionKind.CARRIER
    assert {o.location_id for o in found[1:]} == {"st-mitte", "st-spandau"}
