"""API keys over HTTP: revocation at once, expiry, last use, the listing, and the first admin key
of a stage (``make admin-key``)."""

import json
import time
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib import wiring
from chalicelib.domain.access import Role
from chalicelib.domain.errors import Unauthorized
from chalicelib.services.access import KeyService


def auth(key):
    return {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}


def error(resp):
    err = json.loads(resp.body)["error"]
    return err["code"], [f["path"] for f in err["fields"]], [f["reason"] for f in err["fields"]]


def listed(client, admin_key):
    resp = client.http.get("/api-keys", headers=auth(admin_key))
    assert resp.status_code == 200, resp.body
    return {k["key_id"]: k for k in json.loads(resp.body)["keys"]}


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(aws, monkeypatch):
    """The key service on a clock the test moves."""
    clock = Clock()
    service = KeyService(wiring.api_keys(), clock=clock)
    monkeypatch.setattr(wiring, "keys", lambda: service)
    return clock


def test_a_revoked_key_is_refused_on_the_very_next_request(client, admin_key):
    other = json.loads(
        client.http.post(
            "/api-keys", body=json.dumps({"role": "admin"}), headers=auth(admin_key)
        ).body
    )
    assert client.http.get("/api-keys", headers=auth(other["api_key"])).status_code == 200

    resp = client.http.delete(f"/api-keys/{other['key_id']}", headers=auth(admin_key))
    assert resp.status_code == 200
    revoked = json.loads(resp.body)
    assert revoked["revoked"] is True and revoked["key_id"] == other["key_id"]

    resp = client.http.get("/api-keys", headers=auth(other["api_key"]))
    assert resp.status_code == 401
    assert error(resp) == ("unauthorized", ["Authorization"], ["revoked key"])
    # revoking again changes nothing; the revoking key still works
    again = client.http.delete(f"/api-keys/{other['key_id']}", headers=auth(admin_key))
    assert again.status_code == 200
    assert json.loads(again.body)["revoked_at"] == revoked["revoked_at"]
    assert listed(client, admin_key)[other["key_id"]]["revoked"] is True


def test_another_container_refuses_a_revoked_key_within_its_cache_bound(aws):
    clock = Clock()
    here = KeyService(wiring.api_keys(), clock=clock)
    there = KeyService(wiring.api_keys(), clock=clock, cache_seconds=5.0)
    created = here.create(Role.SERVICE)
    assert there.resolve(created["api_key"]) is not None  # cached there now

    here.revoke(created["key_id"])
    clock.now += 5.01
    with pytest.raises(Unauthorized, match="revoked"):
        there.resolve(created["api_key"])


def test_revoking_an_unknown_or_malformed_key_id_is_4xx_naming_it(client, admin_key):
    resp = client.http.delete("/api-keys/0123456789ab", headers=auth(admin_key))
    assert resp.status_code == 404 and error(resp)[1] == ["key_id"]
    resp = client.http.delete("/api-keys/" + "A" * 65, headers=auth(admin_key))
    assert resp.status_code in (400, 422) and error(resp)[1] == ["key_id"]


def test_only_an_admin_lists_or_revokes_keys(client, admin_key):
    service = wiring.keys().create(Role.SERVICE)
    assert client.http.get("/api-keys", headers=auth(service["api_key"])).status_code == 403
    resp = client.http.delete(f"/api-keys/{service['key_id']}", headers=auth(service["api_key"]))
    assert resp.status_code == 403
    assert client.http.get("/api-keys").status_code == 401


def test_an_expired_key_is_401_and_a_live_one_works_until_then(client, clock):
    admin = wiring.keys().create(Role.ADMIN)["api_key"]
    resp = client.http.post(
        "/api-keys",
        body=json.dumps({"role": "service", "expires_in_days": 1}),
        headers=auth(admin),
    )
    assert resp.status_code == 201
    created = json.loads(resp.body)
    expires = datetime.fromisoformat(created["expires_at"])
    assert abs(expires.timestamp() - (clock.now + 86_400)) < 1
    assert client.http.get("/orders", headers=auth(created["api_key"])).status_code == 200

    clock.now += 86_400
    resp = client.http.get("/orders", headers=auth(created["api_key"]))
    assert resp.status_code == 401
    assert error(resp) == ("unauthorized", ["Authorization"], ["expired key"])


def test_expires_at_is_taken_and_checked(client, admin_key):
    at = (datetime.now(UTC) + timedelta(days=7)).replace(microsecond=0)
    resp = client.http.post(
        "/api-keys",
        body=json.dumps({"role": "service", "expires_at": at.isoformat()}),
        headers=auth(admin_key),
    )
    assert resp.status_code == 201
    assert datetime.fromisoformat(json.loads(resp.body)["expires_at"]) == at

    for body, field in (
        ({"expires_at": (datetime.now(UTC) - timedelta(hours=1)).isoformat()}, "expires_at"),
        ({"expires_at": "2999-01-01T00:00:00"}, "expires_at"),  # no time zone
        ({"expires_in_days": 0}, "expires_in_days"),
        ({"expires_in_days": 1, "expires_at": at.isoformat()}, "expires_at"),
    ):
        resp = client.http.post(
            "/api-keys", body=json.dumps({"role": "service", **body}), headers=auth(admin_key)
        )
        assert resp.status_code == 422, body
        assert error(resp)[1] == [field], body


def test_last_use_is_recorded_at_most_once_a_minute(client, clock, aws):
    admin = wiring.keys().create(Role.ADMIN)
    service = wiring.keys().create(Role.SERVICE)
    assert "last_used_at" not in listed(client, admin["api_key"])[service["key_id"]]

    client.http.get("/orders", headers=auth(service["api_key"]))
    first = listed(client, admin["api_key"])[service["key_id"]]["last_used_at"]
    assert abs(datetime.fromisoformat(first).timestamp() - clock.now) < 1

    clock.now += 30
    client.http.get("/orders", headers=auth(service["api_key"]))
    assert listed(client, admin["api_key"])[service["key_id"]]["last_used_at"] == first

    clock.now += 31
    client.http.get("/orders", headers=auth(service["api_key"]))
    later = listed(client, admin["api_key"])[service["key_id"]]["last_used_at"]
    assert datetime.fromisoformat(later) > datetime.fromisoformat(first)


def test_the_listing_shows_every_key_but_never_a_secret(client, admin_key, aws):
    channel = wiring.keys().create(Role.CHANNEL, "webshop")
    resp = client.http.get("/api-keys", headers=auth(admin_key))
    keys = {k["key_id"]: k for k in json.loads(resp.body)["keys"]}
    assert keys[channel["key_id"]]["role"] == "channel"
    assert keys[channel["key_id"]]["channel"] == "webshop"
    assert keys[channel["key_id"]]["revoked"] is False
    assert "created_at" in keys[channel["key_id"]]
    assert len(keys) == 2
    stored = aws.resource("dynamodb").Table("dirigent-catalog").scan()["Items"]
    digests = [i["sk"] for i in stored if i["pk"] == "APIKEY"]
    for secret in [channel["api_key"], admin_key, *digests]:
        assert secret not in resp.body.decode()
    assert all("api_key" not in k for k in keys.values())


def test_make_admin_key_creates_a_working_admin_key_in_the_stages_tables(aws, monkeypatch, capsys):
    from infrastructure.admin_key import main
    from infrastructure.create import create_all

    create_all(aws, prefix="dirigent-dev")
    monkeypatch.setenv("DIRIGENT_PREFIX", "dirigent")
    monkeypatch.setenv("DIRIGENT_STAGE", "test")
    assert main(["dev"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["role"] == "admin" and printed["api_key"].startswith("dg_")

    dev = aws.resource("dynamodb").Table("dirigent-dev-catalog").scan()["Items"]
    assert [i["pk"] for i in dev] == ["APIKEY"]
    assert printed["api_key"] not in json.dumps(dev, default=str)
    # nothing went to the other stage's tables
    local = aws.resource("dynamodb").Table("dirigent-catalog").scan()["Items"]
    assert local == []
    # and through the dev tables it is an admin
    assert wiring.keys().resolve(printed["api_key"]).role == Role.ADMIN
