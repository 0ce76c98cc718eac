"""The per-channel availability feed on moto: what it shows is what capture takes, the change
log pages with a signed cursor, pushes go out after a stock change through the consumers, the
100-SKU read is key lookups only, and parallel changes push at most once per window (locked
moto server)."""

from __future__ import annotations

import json
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from bench.availability import ReadMeter
from chalicelib.adapters.dynamo_availability import DynamoAvailability
from chalicelib.consumers import availability as triggers
from chalicelib.domain.availability import Band, band_of
from chalicelib.domain.channel import Channel, ChannelKind
from chalicelib.services.availability import AvailabilityService
from chalicelib.services.cursors import CursorSigner
from chalicelib.wiring import aws as aws_wiring
from infrastructure.create import create_all
from local.moto_server import MotoServer
from tests.adapters.test_moto_lock import _Endpoint
from tests.api.fulfilment_kit import WAREHOUSE_EVENTS, deliver, drain
from tests.api.seed import auth, order_body, seed_channel, seed_network, seed_product, set_stock
from tests.api.test_webhooks import net, subscribe  # noqa: F401 - ``net`` is a fixture
from tests.unit.test_availability import Clock, Network, Stock


@pytest.fixture
def shop(client: Any, admin_key: str, aws: Any) -> dict[str, str]:
    seed_network(client, admin_key)
    key = seed_channel(client, admin_key, "webshop")
    other = seed_channel(client, admin_key, "market")
    for sku in ("SKU-1", "SKU-2", "SKU-3"):
        seed_product(client, admin_key, sku)
    return {"key": key, "other": other, "admin": admin_key}


def feed(client: Any, key: str, query: str, channel: str = "webshop") -> Any:
    return client.http.get(f"/channels/{channel}/availability?{query}", headers=auth(key))


def shown(client: Any, key: str, sku: str) -> dict[str, Any]:
    resp = feed(client, key, f"skus={sku}&country=DE")
    assert resp.status_code == 200, resp.body
    (item,) = json.loads(resp.body)["availability"]
    return dict(item)


def order(client: Any, key: str, sku: str, quantity: int) -> Any:
    body = order_body(f"co-{uuid.uuid4().hex[:10]}", [(sku, quantity)])
    return client.http.post("/orders", body=json.dumps(body), headers=auth(key))


def test_what_the_feed_shows_is_what_one_order_can_take(client, shop, aws):
    set_stock(aws, "SKU-1", "dc-kassel", 4, safety_stock=1)  # 3
    set_stock(aws, "SKU-1", "dc-lyon", 3)
    set_stock(aws, "SKU-1", "st-berlin", 3)  # the store keeps 1: 2
    set_stock(aws, "SKU-1", "3pl-venlo", 2)
    set_stock(aws, "SKU-1", "st-koeln", 9)  # does not ship
    first = shown(client, shop["key"], "SKU-1")
    assert first["on_locations"] == 3 + 3 + 2 + 2
    assert first["available"] == 3 + 3 + 2  # three parcels at most
    assert first["band"] == "in_stock" and first["promise_date"]
    refused = order(client, shop["key"], "SKU-1", first["available"] + 1)
    assert refused.status_code == 409, refused.body
    placed = order(client, shop["key"], "SKU-1", first["available"])
    assert placed.status_code == 201, placed.body
    left = shown(client, shop["key"], "SKU-1")
    assert left["available"] == 2
    assert order(client, shop["key"], "SKU-1", 3).status_code == 409
    assert order(client, shop["key"], "SKU-1", 2).status_code == 201
    assert shown(client, shop["key"], "SKU-1")["band"] == "out_of_stock"


def test_a_sku_without_stock_anywhere_shows_zero(client, shop):
    item = shown(client, shop["key"], "SKU-9")
    assert (item["available"], item["band"], item.get("promise_date")) == (0, "out_of_stock", None)


@pytest.mark.parametrize(
    ("query", "status", "field"),
    [
        ("", 422, "skus"),
        ("skus=SKU-1&changed_since=2030-01-01T00:00:00Z", 422, "changed_since"),
        ("skus=SKU-1,,SKU-2", 422, "skus[1]"),
        ("skus=SKU-1,SKU-1", 422, "skus[1]"),
        ("skus=" + ",".join(f"S{i}" for i in range(101)), 422, "skus"),
        ("skus=SKU%231", 422, "skus[0]"),
        ("changed_since=yesterday", 422, "changed_since"),
        ("changed_since=2030-01-01T00:00:00", 422, "changed_since"),
        ("changed_since=2001-01-01T00:00:00Z", 422, "changed_since"),
        ("skus=SKU-1&country=US", 422, "country"),
        ("skus=SKU-1&country=de", 422, "country"),
        ("changed_since=2030-01-01T00:00:00Z&limit=0", 422, "limit"),
    ],
)
def test_bad_queries_name_the_field(client, shop, query, status, field):
    resp = feed(client, shop["key"], query)
    assert resp.status_code == status, resp.body
    fields = [f["path"] for f in json.loads(resp.body)["error"]["fields"]]
    assert field in fields


def test_a_channel_key_reads_only_its_own_channel(client, shop):
    assert feed(client, shop["other"], "skus=SKU-1").status_code == 404
    foreign = feed(client, shop["key"], "skus=SKU-1", channel="market")
    assert foreign.status_code == 404
    assert feed(client, shop["admin"], "skus=SKU-1", channel="market").status_code == 200
    unknown = feed(client, shop["admin"], "skus=SKU-1", channel="nowhere")
    assert unknown.status_code == 404
    for answer in (foreign, unknown):  # named, exactly alike: no channel is told apart
        assert json.loads(answer.body)["error"]["fields"] == [
            {"path": "channel", "reason": "unknown"}
        ]
    assert client.http.get("/channels/webshop/availability?skus=SKU-1").status_code == 401


def test_changed_since_pages_through_the_changes_with_a_signed_cursor(client, shop, aws):
    since = (datetime.now(UTC) - timedelta(seconds=5)).isoformat().replace("+00:00", "Z")
    set_stock(aws, "SKU-1", "dc-kassel", 7)
    received = {
        "event_id": f"ev-{uuid.uuid4()}",
        "type": "stock_received",
        "location_id": "dc-kassel",
        "occurred_at": datetime.now(UTC).isoformat(),
        "sku": "SKU-2",
        "quantity": 4,
    }
    assert deliver(client, "on_warehouse_event", WAREHOUSE_EVENTS, received) == []
    triggers.stock_changed(["SKU-1"])
    triggers.stock_changed(["SKU-3"])
    first = json.loads(feed(client, shop["key"], f"changed_since={since}&limit=2").body)
    assert [i["sku"] for i in first["availability"]] == ["SKU-2", "SKU-1"]
    assert first["availability"][0]["available"] == 4 and first["availability"][0]["changed_at"]
    assert first["cursor"]
    rest = feed(client, shop["key"], f"changed_since={since}&limit=2&cursor={first['cursor']}")
    second = json.loads(rest.body)
    assert [i["sku"] for i in second["availability"]] == ["SKU-3"]
    assert second.get("cursor") is None
    forged = feed(client, shop["key"], f"changed_since={since}&cursor={first['cursor']}x")
    assert forged.status_code == 400 and "cursor" in forged.body.decode()
    other_scope = feed(
        client, shop["admin"], f"changed_since={since}&cursor={first['cursor']}", "market"
    )
    assert other_scope.status_code == 400


def test_a_band_change_after_a_warehouse_event_is_pushed_once(client, shop, aws, net):  # noqa: F811
    assert (
        subscribe(client, shop["admin"], events=["stock.availability_changed"]).status_code == 201
    )
    drain(aws, "dirigent-webhooks")
    received = {
        "event_id": f"ev-{uuid.uuid4()}",
        "type": "stock_received",
        "location_id": "dc-kassel",
        "occurred_at": datetime.now(UTC).isoformat(),
        "sku": "SKU-1",
        "quantity": 12,
    }
    assert deliver(client, "on_warehouse_event", WAREHOUSE_EVENTS, received) == []
    assert deliver(client, "on_warehouse_event", WAREHOUSE_EVENTS, received) == []  # replayed
    deliveries = json.loads(
        client.http.get("/webhook-subscriptions/erp/deliveries", headers=auth(shop["admin"])).body
    )["deliveries"]
    pushed = Counter(d["event_type"] for d in deliveries)
    assert pushed == {"stock.availability_changed": 2}  # one per channel: webshop, market


def test_a_100_sku_request_never_scans_and_its_read_units_are_bounded(client, shop, aws):
    skus = [f"SKU-{i:03d}" for i in range(100)]
    for sku in skus[:10]:
        set_stock(aws, sku, "dc-kassel", 3)
    query = "skus=" + ",".join(skus)
    assert feed(client, shop["key"], query).status_code == 200  # master data cached
    meter = ReadMeter()
    with meter.attached(aws_wiring.client("dynamodb"), aws_wiring.dynamodb().meta.client):
        resp = feed(client, shop["key"], query)
    assert resp.status_code == 200
    assert len(json.loads(resp.body)["availability"]) == 100
    assert meter.scans == 0
    # One Query per SKU (its stock everywhere, under 4 KB: half a unit), one BatchGetItem of
    # the products (half a unit each): 100 units.
    assert meter.calls == {"Query": 100, "BatchGetItem": 1}, meter.calls
    assert meter.units == 100.0


# --- parallel changes on the locked moto server ---------------------------------------------------

THREADS = 16


@pytest.fixture(scope="module")
def locked_table() -> Iterator[Any]:
    server = MotoServer(port=0, lock=True).start()
    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="eu-central-1"
    )
    create_all(_Endpoint(session, server.endpoint), prefix="dirigent")
    from botocore.config import Config

    config = Config(max_pool_connections=THREADS, retries={"max_attempts": 1})
    resource = session.resource("dynamodb", endpoint_url=server.endpoint, config=config)
    yield resource.Table("dirigent-orders")
    server.stop()


@pytest.mark.stress
def test_parallel_changes_push_at_most_once_per_window(locked_table, stressed):
    clock, stock = Clock(), Stock()
    pushes: list[tuple[str, str, int, int]] = []
    scheduled: list[tuple[str, str, int]] = []
    lock = threading.Lock()

    class Rechecks:
        def schedule(self, channel: str, sku: str, delay: int) -> None:
            with lock:
                scheduled.append((channel, sku, delay))

    def push(channel: str, sku: str, available: int, version: int) -> int:
        with lock:
            pushes.append((channel, sku, available, version))
        return 1

    channels = [
        Channel(c, ChannelKind.WEBSHOP, frozenset({"EUR"}), frozenset({"DE"}))
        for c in ("web", "till")
    ]
    service = AvailabilityService(
        network=Network(channels),
        stock=stock,
        store=DynamoAvailability(locked_table),
        push=push,
        rechecks=Rechecks(),
        cursors=CursorSigner(b"k" * 32),
        clock=clock,
    )
    sku = f"HOT-{uuid.uuid4().hex[:6]}"

    def storm(levels: list[int]) -> None:
        def worker(n: int) -> None:
            for level in levels[n % len(levels) :] + levels[: n % len(levels)]:
                stock.set(sku, "dc-kassel", level)
                service.stock_changed([sku])

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    storm([0, 20, 3])
    assert Counter(c for c, *_ in pushes) == {"web": 1, "till": 1}
    assert len(scheduled) <= 2  # at most one deferred re-check per channel
    clock.tick(31)
    # the second storm's levels are in a band neither channel announced, so every thread's
    # evaluation needs a push (whichever level the first storm left) and they race to claim
    # it; a level of an announced band would let a thread see no change and push nothing
    low = channels[0].availability_low_units
    announced = {band_of(available, low) for _, _, available, _ in pushes}
    levels = {Band.OUT: [0], Band.LOW: [1, low], Band.IN: [low + 1, 20]}
    storm(next(v for band, v in levels.items() if band not in announced))
    assert Counter(c for c, *_ in pushes) == {"web": 2, "till": 2}
    assert sorted(v for *_, v in pushes) == [1, 1, 2, 2]


def test_changes_made_over_http_reach_changed_since(client, shop, aws):
    """PUT /stock, a downward adjustment, a stock import and a checkout reservation change
    what a channel can sell without any consumer seeing it: each announces ``stock_changed``
    on the order-events queue, whose consumer logs it (and pushes)."""
    admin = shop["admin"]
    for sku in ("SKU-1", "SKU-2", "SKU-3"):
        set_stock(aws, sku, "dc-kassel", 10)
    seed_product(client, admin, "SKU-4")
    drain(aws, "dirigent-order-events")
    since = (datetime.now(UTC) - timedelta(seconds=1)).isoformat().replace("+00:00", "Z")

    def call(method: str, path: str, body: Any, key: str = admin) -> None:
        resp = getattr(client.http, method)(path, body=json.dumps(body), headers=auth(key))
        assert resp.status_code in (200, 201), (path, resp.body)
        return json.loads(resp.body)

    call("put", "/stock/SKU-1/dc-kassel", {"on_hand": 0})
    call(
        "post",
        "/stock/adjustments",
        {"sku": "SKU-2", "location_id": "dc-kassel", "delta": -3, "reason": "damaged"},
    )
    call("post", "/imports/stock", [{"sku": "SKU-4", "location_id": "dc-lyon", "on_hand": 5}])
    cart = {
        "currency": "EUR",
        "ship_to": {"country": "DE", "postal_code": "10115", "lat": 52.5244, "lon": 13.4105},
        "lines": [{"sku": "SKU-3", "quantity": 2}],
    }
    quote = call("post", "/delivery-options", cart, key=shop["key"])
    call("post", "/reservations", {"option_id": quote["options"][0]["option_id"]}, shop["key"])

    before = json.loads(feed(client, shop["key"], f"changed_since={since}").body)
    assert before["availability"] == []  # nothing logged in the request itself
    changes = [m for m in drain(aws, "dirigent-order-events") if m["type"] == "stock_changed"]
    assert sorted(s for m in changes for s in m["skus"]) == ["SKU-1", "SKU-2", "SKU-3", "SKU-4"]
    assert deliver(client, "on_order_event", "dirigent-order-events", *changes) == []
    after = json.loads(feed(client, shop["key"], f"changed_since={since}").body)
    got = {i["sku"]: i["available"] for i in after["availability"]}
    assert got == {"SKU-1": 0, "SKU-2": 7, "SKU-3": 8, "SKU-4": 5}


def test_a_failed_trigger_is_retried_from_the_queue(client, shop, aws, monkeypatch):
    """A consumer's in-process trigger that fails leaves a delayed ``stock_changed`` message,
    so neither the change log nor a push is lost."""
    set_stock(aws, "SKU-1", "dc-kassel", 7)
    drain(aws, "dirigent-order-events")
    since = (datetime.now(UTC) - timedelta(seconds=1)).isoformat().replace("+00:00", "Z")
    real = DynamoAvailability.log_changes

    def down(self: Any, skus: Any, at: Any) -> None:
        raise ConnectionError("DynamoDB unreachable")

    monkeypatch.setattr(DynamoAvailability, "log_changes", down)
    triggers.stock_changed(["SKU-1"])
    monkeypatch.setattr(DynamoAvailability, "log_changes", real)
    sqs = aws.client("sqs")
    url = sqs.get_queue_url(QueueName="dirigent-order-events")["QueueUrl"]
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attrs["ApproximateNumberOfMessagesDelayed"] == "1"
    assert (
        json.loads(feed(client, shop["key"], f"changed_since={since}").body)["availability"] == []
    )
    retry = {"message_id": "stock_changed:retry", "type": "stock_changed", "skus": ["SKU-1"]}
    assert deliver(client, "on_order_event", "dirigent-order-events", retry) == []
    after = json.loads(feed(client, shop["key"], f"changed_since={since}").body)
    assert [i["sku"] for i in after["availability"]] == ["SKU-1"]


@pytest.mark.parametrize(
    "body",
    [
        {"type": "stock_changed", "skus": []},
        {"type": "stock_changed", "skus": ["x" * 65]},
        {"type": "stock_changed"},
    ],
)
def test_a_malformed_stock_changed_message_is_refused(client, shop, body):
    assert deliver(client, "on_order_event", "dirigent-order-events", body) != []


@pytest.mark.parametrize("limit", [1, 2, 10])
def test_changes_since_before_an_hour_boundary_reach_the_next_hours(aws, limit):
    """The change log is partitioned by hour: a window that crosses one (or a page that ends
    in one) reads the later hours whole, and pages return each change once."""
    store = DynamoAvailability(aws.resource("dynamodb").Table("dirigent-orders"))
    boundary = datetime(2026, 12, 3, 7, tzinfo=UTC)
    store.log_changes(["SKU-A"], boundary - timedelta(seconds=2))
    store.log_changes(["SKU-B", "SKU-C"], boundary + timedelta(seconds=1))
    store.log_changes(["SKU-D"], boundary + timedelta(hours=1, minutes=5))
    since, until = boundary - timedelta(seconds=5), boundary + timedelta(hours=2)
    seen: list[str] = []
    after = None
    for _ in range(10):
        page, after = store.changes(since, until, limit, after)
        assert len(page) <= limit
        seen += [sku for _, sku in page]
        if after is None:
            break
    assert seen == ["SKU-A", "SKU-B", "SKU-C", "SKU-D"]
