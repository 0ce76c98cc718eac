"""Low-stock alerts through the app: recipient groups over HTTP, and the schedule handler's
digests as SES (moto) received them: one raw MIME mail per recipient with text, HTML and CSV."""

from __future__ import annotations

import csv
import io
import json
from email.message import EmailMessage
from typing import Any

import pytest
from chalice import Rate

from chalicelib.config import settings
from chalicelib.consumers.schedules import alert_rate
from tests.api.fulfilment_kit import (
    SentMail,
    deliver,
    dispatch_placed,
    mails,
    make_shop,
    place,
    shipped,
)
from tests.api.seed import auth

EVENTS = "dirigent-warehouse-events"


def put_group(client: Any, key: str, group_id: str, body: dict[str, Any]) -> Any:
    return client.http.put(f"/alert-groups/{group_id}", body=json.dumps(body), headers=auth(key))


def put_stock(client: Any, key: str, sku: str, loc: str, **levels: int) -> None:
    resp = client.http.put(f"/stock/{sku}/{loc}", body=json.dumps(levels), headers=auth(key))
    assert resp.status_code == 200, resp.body


def error_fields(resp: Any) -> list[tuple[str, str]]:
    return [(f["path"], f["reason"]) for f in json.loads(resp.body)["error"]["fields"]]


def tick(client: Any) -> None:
    event = client.events.generate_cw_event(
        source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]
    )
    client.lambda_.invoke("low_stock_alerts", event)


def digests() -> list[SentMail]:
    """The digests among the sent mails (customer mails go through the same adapter)."""
    return [m for m in mails() if "Low stock:" in m.subject]


def parsed(mail: SentMail) -> EmailMessage:
    return mail.message


# --- recipient groups --------------------------------------------------------------------------


def test_groups_are_stored_and_read_back(client, admin_key, aws):
    make_shop(client, admin_key, aws)
    body = {"scope": "location", "value": "dc-kassel", "recipients": ["store@x.io"]}
    resp = put_group(client, admin_key, "kassel", body)
    assert resp.status_code == 200, resp.body
    assert json.loads(resp.body) == {
        "group_id": "kassel",
        "scope": "location",
        "value": "dc-kassel",
        "recipients": ["store@x.io"],
        "daily_reminder": False,
    }
    de = {"scope": "country", "value": "DE", "recipients": ["de@x.io"], "daily_reminder": True}
    assert put_group(client, admin_key, "de", de).status_code == 200
    got = client.http.get("/alert-groups/de", headers=auth(admin_key))
    assert json.loads(got.body)["daily_reminder"] is True
    listed = json.loads(client.http.get("/alert-groups", headers=auth(admin_key)).body)
    assert [g["group_id"] for g in listed["alert_groups"]] == ["de", "kassel"]


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"scope": "all", "value": "DE", "recipients": ["a@x.io"]}, "value"),
        ({"scope": "location", "recipients": ["a@x.io"]}, "value"),
        ({"scope": "location", "value": "nowhere", "recipients": ["a@x.io"]}, "value"),
        ({"scope": "country", "value": "XX", "recipients": ["a@x.io"]}, "value"),
        ({"scope": "region", "recipients": ["a@x.io"]}, "scope"),
        ({"scope": "all", "recipients": ["not-an-address"]}, "recipients[0]"),
        ({"scope": "all", "recipients": []}, "recipients"),
        ({"scope": "all", "recipients": ["a@x.io", "A@x.io"]}, "recipients"),
        ({"scope": "all", "recipients": ["a@x.io"], "group_id": "other"}, "group_id"),
    ],
)
def test_a_bad_group_is_refused_naming_the_field(client, admin_key, aws, body, path):
    resp = put_group(client, admin_key, "g1", body)
    assert resp.status_code == 422, resp.body
    assert path in [p for p, _ in error_fields(resp)]


def test_groups_are_for_admins_and_unknown_ones_are_404(client, admin_key, aws):
    shop = make_shop(client, admin_key, aws)
    body = {"scope": "all", "recipients": ["a@x.io"]}
    assert put_group(client, shop["service"], "g1", body).status_code == 403
    assert client.http.get("/alert-groups/nope", headers=auth(admin_key)).status_code == 404


# --- the schedule ------------------------------------------------------------------------------


def test_the_rate_comes_from_the_environment_in_minutes(monkeypatch):
    monkeypatch.delenv("LOW_STOCK_ALERT_RATE_MINUTES", raising=False)
    assert alert_rate().to_string() == Rate(60, unit=Rate.MINUTES).to_string()
    monkeypatch.setenv("LOW_STOCK_ALERT_RATE_MINUTES", "15")
    assert alert_rate().to_string() == "rate(15 minutes)"
    monkeypatch.setenv("LOW_STOCK_ALERT_RATE_MINUTES", "0")
    with pytest.raises(ValueError, match="LOW_STOCK_ALERT_RATE_MINUTES"):
        alert_rate()


def test_one_raw_digest_per_recipient_with_text_html_and_csv_then_silence(client, admin_key, aws):
    shop = make_shop(client, admin_key, aws)  # SKU-2: 4 at dc-kassel only
    put_stock(client, admin_key, "SKU-2", "dc-kassel", on_hand=4, safety_stock=0, reorder_point=3)
    kassel = {"scope": "location", "value": "dc-kassel", "recipients": ["store@x.io"]}
    assert put_group(client, admin_key, "kassel", kassel).status_code == 200
    buyers = {"scope": "all", "recipients": ["buyer@x.io", "Store@x.io"]}
    assert put_group(client, admin_key, "buy", buyers).status_code == 200
    tick(client)
    assert digests() == []  # 4 available > 3

    order = place(client, shop["key"], "AL-1", [("SKU-2", 2)])  # 2 available <= 3
    dispatch_placed(client, aws)
    assert (
        deliver(client, "on_warehouse_event", EVENTS, shipped(order, order["shipments"][0])) == []
    )
    # a donor, added after the order so that sourcing could not take from it
    put_stock(client, admin_key, "SKU-2", "dc-lyon", on_hand=30, safety_stock=0, reorder_point=2)
    tick(client)

    sent = digests()
    # moto lists a raw mail's recipients from both the To header and Destinations
    assert sorted(sorted(set(m.destinations)) for m in sent) == [["buyer@x.io"], ["store@x.io"]]
    assert {m.source for m in sent} == {settings().mail_sender}
    message = parsed(sent[0])
    assert message["Subject"] == "[test] Low stock: 1 item at or below the reorder point"
    assert message.get_content_type() == "multipart/mixed"
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and "SKU-2 at dc-kassel (DE): 2 available" in text.get_content()
    assert html is not None and "<table" in html.get_content()
    (attachment,) = list(message.iter_attachments())
    assert attachment.get_content_type() == "text/csv"
    assert attachment.get_filename().startswith("low-stock-")
    rows = list(csv.DictReader(io.StringIO(attachment.get_content())))
    assert len(rows) == 1
    row = rows[0]
    assert (row["sku"], row["location_id"], row["available"], row["reorder_point"]) == (
        "SKU-2",
        "dc-kassel",
        "2",
        "3",
    )
    # 2 shipped today over 14 days; 2 available last 14 days; lyon gives 3 - 2 + 1 + ceil(1)
    assert (row["units_per_day"], row["days_of_cover"]) == ("0.1429", "14.00")
    assert (row["transfer_from"], row["transfer_quantity"]) == ("dc-lyon", "3")

    tick(client)
    assert len(digests()) == 2  # still low: no repeat


def test_an_item_is_mailed_again_only_after_it_recovered(client, admin_key, aws):
    make_shop(client, admin_key, aws)
    put_stock(client, admin_key, "SKU-1", "dc-kassel", on_hand=2, safety_stock=0, reorder_point=3)
    put_group(client, admin_key, "buy", {"scope": "all", "recipients": ["buyer@x.io"]})
    tick(client)
    assert len(digests()) == 1
    put_stock(client, admin_key, "SKU-1", "dc-kassel", on_hand=3, safety_stock=0, reorder_point=3)
    tick(client)
    assert len(digests()) == 1  # at the reorder point is still low
    put_stock(client, admin_key, "SKU-1", "dc-kassel", on_hand=9, safety_stock=0, reorder_point=3)
    tick(client)
    assert len(digests()) == 1  # recovered: nothing to say, but re-armed
    put_stock(client, admin_key, "SKU-1", "dc-kassel", on_hand=1, safety_stock=0, reorder_point=3)
    tick(client)
    assert len(digests()) == 2
