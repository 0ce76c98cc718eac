"""Orders a connector could not capture are on the dashboard until they are retried."""

from __future__ import annotations

import json
from typing import Any

from tests.api.seed import auth
from tests.api.test_connectors import SKU_MAP, connect, send, shop, shopify_body

__all__ = ["shop"]  # the fixture


def _rejected(client: Any, key: str) -> list[dict[str, Any]]:
    resp = client.http.get("/dashboard/data", headers=auth(key))
    assert resp.status_code == 200
    return json.loads(resp.body)["rejected_orders"]


def test_a_rejected_order_shows_on_the_dashboard_until_its_retry_captures_it(
    client: Any, admin_key: str, shop: dict[str, str]
) -> None:
    assert _rejected(client, admin_key) == []
    connect(client, admin_key, sku_map={"IPOD2008GREEN": "SKU-1"})  # the red one unmapped
    status, answer = send(client, shopify_body())
    assert (status, answer["status"]) == (200, "rejected")

    (row,) = _rejected(client, admin_key)
    assert (row["channel"], row["platform"], row["attempts"]) == ("webshop", "shopify", 1)
    assert row["platform_order_id"] == answer["rejected_id"]
    assert row["reason"]["fields"][0]["reason"].startswith("IPOD2008RED has no mapping")
    assert "raw" not in row and "mapped" not in row

    connect(client, admin_key, sku_map=SKU_MAP)
    path = f"/channels/webshop/rejected-orders/{row['platform_order_id']}/retry"
    resp = client.http.post(path, headers=auth(admin_key))
    assert resp.status_code == 200, resp.body
    assert _rejected(client, admin_key) == []
