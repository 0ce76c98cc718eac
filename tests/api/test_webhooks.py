"""Webhooks out: subscriptions, SSRF refusals, signed delivery from the webhooks queue with
back-off, manual retry and versions, through the real handlers on moto (DNS and the receiver
faked)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook

from chalicelib.domain.webhooks import RETRY_SCHEDULE
from chalicelib.services.webhooks import sign
from chalicelib.wiring import webhooks as webhook_wiring
from local.lambda_shapes import sqs_event
from tests.api.fulfilment_kit import deliver, dispatch_placed, make_shop, place, shipped
from tests.api.seed import auth, set_stock

QUEUE = "dirigent-webhooks"
PUBLIC = "203.0.113.10"  # TEST-NET-3 is not global: the fake DNS answers a public one
GLOBAL = "93.184.216.34"


class FakeNet:
    def __init__(self) -> None:
        self.dns: dict[str, list[str]] = {"hooks.example.com": [GLOBAL]}
        self.posts: list[dict[str, Any]] = []
        self.answers: list[int] = []

    def resolve(self, host: str, port: int) -> list[str]:
        return self.dns.get(host, [host] if host[0].isdigit() or ":" in host else [])

    def post(self, url: str, address: str, headers: dict, body: bytes, timeout: float) -> int:
        self.posts.append({"url": url, "address": address, "headers": headers, "body": body})
        return self.answers.pop(0) if self.answers else 200


@pytest.fixture
def net(monkeypatch: Any) -> FakeNet:
    fake = FakeNet()
    monkeypatch.setattr(webhook_wiring, "resolver", lambda: fake.resolve)
    monkeypatch.setattr(webhook_wiring, "transport", lambda: fake)
    return fake


@pytest.fixture
def shop(client: Any, admin_key: str, aws: Any) -> dict[str, str]:
    return make_shop(client, admin_key, aws)


def subscribe(client: Any, key: str, sub_id: str = "erp", **body: Any) -> Any:
    body = {"url": "https://hooks.example.com/in", "events": ["order.placed"], **body}
    return client.http.put(
        f"/webhook-subscriptions/{sub_id}", body=json.dumps(body), headers=auth(key)
    )


def run_webhooks(client: Any, aws: Any, *, rounds: int = 20) -> list[str]:
    """What Lambda's event source mapping does: receive one, invoke, delete on success;
    the receipt handles of the records that failed (they stay in flight)."""
    sqs = aws.client("sqs")
    url = sqs.get_queue_url(QueueName=QUEUE)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    failed = []
    for _ in range(rounds):
        msgs = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=1, AttributeNames=["All"], VisibilityTimeout=60
        ).get("Messages", [])
        if not msgs:
            break
        event = sqs_event(msgs, queue_arn=arn, region="eu-central-1")
        out = client.lambda_.invoke("on_webhook", event).payload["batchItemFailures"]
        if out:
            failed.append(msgs[0]["ReceiptHandle"])
        else:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=msgs[0]["ReceiptHandle"])
    return failed


def deliveries(client: Any, key: str, sub_id: str = "erp", **query: str) -> dict[str, Any]:
    qs = "&".join(f"{k}={v}" for k, v in query.items())
    resp = client.http.get(f"/webhook-subscriptions/{sub_id}/deliveries?{qs}", headers=auth(key))
    assert resp.status_code == 200, resp.body
    return dict(json.loads(resp.body))


# --- subscriptions ------------------------------------------------------------------------------


def test_a_subscription_shows_its_generated_secret_once(client, admin_key, net):
    created = subscribe(client, admin_key)
    assert created.status_code == 201, created.body
    assert created.headers["Cache-Control"] == "no-store"
    secret = json.loads(created.body)["secret"]
    assert secret.startswith("whsec_") and Webhook(secret)

    got = json.loads(client.http.get("/webhook-subscriptions/erp", headers=auth(admin_key)).body)
    assert got["url"] == "https://hooks.example.com/in" and "secret" not in got
    changed = subscribe(client, admin_key, events=["order.placed", "shipment.shipped"])
    assert changed.status_code == 200 and "secret" not in json.loads(changed.body)
    assert json.loads(changed.body)["events"] == ["order.placed", "shipment.shipped"]
    assert webhook_wiring.webhooks().get("erp").secret == secret  # kept


@pytest.mark.parametrize(
    ("body", "field", "reason"),
    [
        ({"url": "http://hooks.example.com/in"}, "url", "https"),
        ({"url": "ftp://hooks.example.com/in"}, "url", "https"),
        ({"url": "https://user:pw@hooks.example.com/"}, "url", "credentials"),
        ({"events": ["order.exploded"]}, "events[0]", ""),
        ({"events": []}, "events", ""),
        ({"secret": "not-a-secret"}, "secret", "whsec_"),
        ({"url": "https://nowhere.example.com/"}, "url", "no address"),
    ],
)
def test_bad_subscriptions_are_400_naming_the_field(client, admin_key, net, body, field, reason):
    resp = subscribe(client, admin_key, **body)
    assert resp.status_code in (400, 422), resp.body
    fields = json.loads(resp.body)["error"]["fields"]
    assert any(f["path"] == field and reason in f["reason"] for f in fields), fields
    missing = client.http.get("/webhook-subscriptions/erp", headers=auth(admin_key))
    assert missing.status_code == 404


def test_only_admins_manage_subscriptions(client, shop, net):
    assert subscribe(client, shop["key"]).status_code == 403
    assert subscribe(client, shop["service"]).status_code == 403


@pytest.mark.parametrize(
    "address", ["127.0.0.1", "10.1.2.3", "169.254.169.254", "192.168.0.7", "::1", "224.0.0.1"]
)
def test_a_url_resolving_to_an_internal_address_is_refused(client, admin_key, net, address):
    net.dns["sneaky.example.com"] = [GLOBAL, address]
    resp = subscribe(client, admin_key, url="https://sneaky.example.com/hook")
    assert resp.status_code == 400, resp.body
    (field,) = json.loads(resp.body)["error"]["fields"]
    assert field["path"] == "url" and "sneaky.example.com resolves to" in field["reason"]
    literal = subscribe(
        client, admin_key, url=f"https://[{address}]/" if ":" in address else f"https://{address}/"
    )
    assert literal.status_code == 400


# --- delivery -----------------------------------------------------------------------------------


def test_a_placed_order_is_delivered_signed_and_verifiable(client, shop, aws, net):
    secret = json.loads(subscribe(client, shop["admin"]).body)["secret"]
    order = place(client, shop["key"], "W-1", [("SKU-1", 1)])
    dispatch_placed(client, aws)  # the order-events consumer triggers the fan-out
    assert run_webhooks(client, aws) == []

    (post,) = net.posts
    assert post["address"] == GLOBAL and post["url"] == "https://hooks.example.com/in"
    payload = Webhook(secret).verify(post["body"], post["headers"])
    assert payload["type"] == "order.placed"
    assert payload["data"]["order_id"] == order["order_id"]
    assert payload["data"]["version"] >= 1 and payload["data"]["sequence"] == 0
    (listed,) = deliveries(client, shop["admin"])["deliveries"]
    assert listed["status"] == "delivered" and listed["webhook_id"] == post["headers"]["webhook-id"]
    assert [a["status_code"] for a in listed["attempts"]] == [200]

    # a redelivered trigger and a redelivered attempt change nothing
    webhook_wiring.webhook_queue().order_changed(order["order_id"])
    assert run_webhooks(client, aws) == []
    assert len(net.posts) == 1


def test_the_signature_matches_the_standard_webhooks_test_vector():
    at = datetime.fromtimestamp(1614265330, tz=UTC)
    headers = sign(
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        at,
        '{"test": 2432232314}',
    )
    assert headers["webhook-signature"] == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    assert headers["webhook-timestamp"] == "1614265330"


def test_a_host_rebound_to_loopback_after_subscribing_is_not_called(client, shop, aws, net):
    subscribe(client, shop["admin"])
    place(client, shop["key"], "W-2", [("SKU-1", 1)])
    dispatch_placed(client, aws)
    net.dns["hooks.example.com"] = ["127.0.0.1"]
    assert len(run_webhooks(client, aws)) == 1
    assert net.posts == []
    (listed,) = deliveries(client, shop["admin"])["deliveries"]
    assert listed["status"] == "retrying" and "loopback" in listed["attempts"][0]["error"]


def test_a_failing_receiver_is_retried_with_growing_waits_then_dead_lettered(
    client, shop, aws, net
):
    subscribe(client, shop["admin"])
    place(client, shop["key"], "W-3", [("SKU-1", 1)])
    dispatch_placed(client, aws)
    net.answers = [500] * 20
    sqs = aws.client("sqs")
    url = sqs.get_queue_url(QueueName=QUEUE)["QueueUrl"]
    waits = []
    for attempt in range(1, len(RETRY_SCHEDULE) + 2):
        (receipt,) = run_webhooks(client, aws, rounds=1 if attempt > 1 else 2)
        listed = deliveries(client, shop["admin"])["deliveries"][0]
        assert listed["attempt_count"] == attempt
        if listed.get("next_retry_at"):
            last = datetime.fromisoformat(listed["attempts"][-1]["at"])
            waits.append(
                round((datetime.fromisoformat(listed["next_retry_at"]) - last).total_seconds())
            )
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=receipt, VisibilityTimeout=0)
    assert waits == list(RETRY_SCHEDULE) and waits == sorted(waits)
    assert sum(waits) >= 24 * 3600
    assert listed["status"] == "failed" and listed.get("next_retry_at") is None
    assert run_webhooks(client, aws) == []  # the next receive moves it to the DLQ
    dlq = sqs.get_queue_url(QueueName=f"{QUEUE}-dlq")["QueueUrl"]
    (dead,) = sqs.receive_message(QueueUrl=dlq).get("Messages", [])
    assert json.loads(dead["Body"])["delivery_id"] == listed["delivery_id"]

    # a manual retry is one more attempt, now
    retry = client.http.post(
        f"/webhook-subscriptions/erp/deliveries/{listed['delivery_id']}/retry",
        headers=auth(shop["admin"]),
    )
    assert retry.status_code == 202, retry.body
    net.answers = []
    assert run_webhooks(client, aws) == []
    again = deliveries(client, shop["admin"])["deliveries"][0]
    assert again["status"] == "delivered" and again["attempts"][-1]["manual"] is True
    unknown = client.http.post(
        "/webhook-subscriptions/erp/deliveries/d0-nope/retry", headers=auth(shop["admin"])
    )
    assert unknown.status_code == 404


def test_shipped_carries_tracking_and_an_older_version_is_recognisable(client, shop, aws, net):
    secret = json.loads(
        subscribe(client, shop["admin"], events=["order.placed", "shipment.shipped"]).body
    )["secret"]
    order = place(client, shop["key"], "W-4", [("SKU-2", 1)])
    dispatch_placed(client, aws)
    assert run_webhooks(client, aws) == []  # announced before the shipment moved
    (shipment,) = order["shipments"]
    assert (
        deliver(
            client,
            "on_warehouse_event",
            "dirigent-warehouse-events",
            shipped(order, shipment, "TN-42"),
        )
        == []
    )
    assert run_webhooks(client, aws) == []
    events = {
        p["type"]: p["data"]
        for p in (Webhook(secret).verify(x["body"], x["headers"]) for x in net.posts)
    }
    assert events["shipment.shipped"]["tracking_number"] == "TN-42"
    assert events["shipment.shipped"]["carrier"] == "DHL"
    older, newer = events["order.placed"], events["shipment.shipped"]
    assert older["version"] < newer["version"] and older["sequence"] < newer["sequence"]


def test_the_deliveries_listing_is_paged_with_signed_cursors(client, shop, aws, net):
    subscribe(client, shop["admin"])
    for n in range(3):
        place(client, shop["key"], f"W-P{n}", [("SKU-1", 1)])
    dispatch_placed(client, aws)
    run_webhooks(client, aws)
    first = deliveries(client, shop["admin"], limit="2")
    assert len(first["deliveries"]) == 2 and first["cursor"]
    rest = deliveries(client, shop["admin"], limit="2", cursor=first["cursor"])
    assert len(rest["deliveries"]) == 1
    forged = client.http.get(
        f"/webhook-subscriptions/erp/deliveries?limit=2&cursor={first['cursor']}x",
        headers=auth(shop["admin"]),
    )
    assert forged.status_code == 400 and "cursor" in forged.body.decode()


def test_availability_changes_can_be_announced(client, admin_key, aws, net):
    subscribe(client, admin_key, events=["stock.availability_changed"])
    assert webhook_wiring.webhooks().availability_changed("webshop", "SKU-1", 0, 7) == 1
    assert run_webhooks(client, aws) == []
    (post,) = net.posts
    assert json.loads(post["body"])["data"] == {
        "channel": "webshop",
        "sku": "SKU-1",
        "available": 0,
        "version": 7,
    }


def test_a_received_return_and_its_refund_are_announced_once(client, shop, aws, net):
    from tests.api.test_returns import customer_return, delivered, post_return, received

    secret = json.loads(
        subscribe(client, shop["admin"], events=["return.received", "refund.recorded"]).body
    )["secret"]
    set_stock(aws, "SKU-2", "st-berlin", 1)
    order = delivered(client, aws, shop, [("SKU-2", 2)])
    assert run_webhooks(client, aws) == [] and net.posts == []  # nothing it wants yet
    status, rma = post_return(client, customer_return(order, ("SKU-2", 2, "wrong_size")))
    assert status == 201, rma
    ev = received(rma["rma_id"], "st-berlin", ("SKU-2", 1, "sellable"), ("SKU-2", 1, "damaged"))
    assert deliver(client, "on_warehouse_event", "dirigent-warehouse-events", ev, ev) == []
    assert run_webhooks(client, aws) == []

    got = [Webhook(secret).verify(p["body"], p["headers"]) for p in net.posts]
    assert [p["type"] for p in got] == ["return.received", "refund.recorded"]
    returned, refunded = (p["data"] for p in got)
    assert returned["order_id"] == refunded["order_id"] == order["order_id"]
    assert returned["rma_id"] == refunded["rma_id"] == rma["rma_id"]
    assert returned["source"] == "location:st-berlin"
    assert (refunded["amount"], refunded["currency"]) == (2 * 2999, "EUR")
    assert returned["sequence"] == refunded["sequence"]  # one history entry, two events
    assert len({p["headers"]["webhook-id"] for p in net.posts}) == 2

    webhook_wiring.webhook_queue().rma_changed(rma["rma_id"])  # a redelivered trigger
    assert run_webhooks(client, aws) == [] and len(net.posts) == 2


def test_delivery_records_expire_after_thirty_days(client, shop, aws, net):
    subscribe(client, shop["admin"])
    place(client, shop["key"], "W-TTL", [("SKU-1", 1)])
    dispatch_placed(client, aws)
    assert run_webhooks(client, aws) == []
    items = aws.resource("dynamodb").Table("dirigent-orders").scan()["Items"]
    (item,) = [i for i in items if str(i["pk"]).startswith("WHDELIV#")]
    created = datetime.fromisoformat(json.loads(item["doc"])["created_at"])
    assert int(item["expires_at"]) == int(created.timestamp()) + 30 * 24 * 3600
