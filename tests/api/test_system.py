import json


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}


def test_health_is_public(client):
    resp = client.http.get("/health")
    assert resp.status_code == 200
    assert json.loads(resp.body) == {"status": "ok"}


def test_openapi_lists_the_registered_routes_with_their_models(client):
    doc = json.loads(client.http.get("/openapi.json").body)
    assert doc["openapi"].startswith("3.")
    assert "post" in doc["paths"]["/api-keys"]
    assert "ApiKeyRequest" in doc["components"]["schemas"]


def test_no_key_is_401_and_a_bad_key_is_401(client):
    assert client.http.post("/api-keys", body="{}").status_code == 401
    resp = client.http.post("/api-keys", body="{}", headers=auth("dg_nope_nope"))
    assert resp.status_code == 401
    assert json.loads(resp.body)["error"]["fields"][0]["path"] == "Authorization"


def test_admin_creates_a_channel_key_that_works_and_is_stored_hashed(client, admin_key, aws):
    resp = client.http.post(
        "/api-keys",
        body=json.dumps({"role": "channel", "channel": "webshop"}),
        headers=auth(admin_key),
    )
    assert resp.status_code == 201
    created = json.loads(resp.body)
    assert created["role"] == "channel" and created["api_key"].startswith("dg_")
    items = aws.resource("dynamodb").Table("dirigent-catalog").scan()["Items"]
    assert all(created["api_key"] not in json.dumps(item, default=str) for item in items)
    # the channel key exists but is not an admin: creating keys is 403
    resp = client.http.post(
        "/api-keys", body=json.dumps({"role": "service"}), headers=auth(created["api_key"])
    )
    assert resp.status_code == 403


def test_channel_role_without_channel_is_422_naming_the_field(client, admin_key):
    resp = client.http.post(
        "/api-keys", body=json.dumps({"role": "channel"}), headers=auth(admin_key)
    )
    assert resp.status_code == 422
    assert json.loads(resp.body)["error"]["fields"][0]["path"] == "channel"


def test_malformed_json_is_400_naming_the_body(client, admin_key):
    resp = client.http.post("/api-keys", body="{nope", headers=auth(admin_key))
    assert resp.status_code == 400
    assert json.loads(resp.body)["error"]["fields"][0]["path"] == "body"


def test_oversized_body_is_413(client, admin_key):
    resp = client.http.post("/api-keys", body="x" * 1_000_001, headers=auth(admin_key))
    assert resp.status_code == 413
