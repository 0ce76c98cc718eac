"""Demo data, loaded through the HTTP API exactly as an integration would:
the EU network of ``local/data/network-eu.json`` (14 locations, 3 carrier services) and its
Swiss extension ``local/data/network-ch.json`` (a Zürich store, a parcel service priced in
CHF), five channels (a Swiss one in CHF writing German mails with Swiss formats, a French one,
and a marketplace that sends no customer mail), default sourcing rules, 200 products priced in
EUR and CHF and their stock (bulk import), and an API key per channel plus one for customer
service. Re-running overwrites the same records (new keys are made each time).
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import requests

SKU_COUNT = 200
SEED = 20260501
CHANNELS: dict[str, dict[str, Any]] = {
    # Marketplaces forbid mailing their buyers: the platform does it.
    "marketplace": {"kind": "marketplace", "backorder_policy": "reject", "customer_mail": False},
    "webshop": {"kind": "webshop", "backorder_policy": "backorder", "display_name": "Dirigent"},
    "store-till": {"kind": "store", "backorder_policy": "reject", "return_window_days": 14},
    "webshop-fr": {
        "kind": "webshop",
        "backorder_policy": "backorder",
        "countries": ["FR"],
        "language": "fr",
        "display_name": "Dirigent France",
    },
    # Switzerland: CHF, German mails with Swiss formats (CHF 1'234.50), sourced from the
    # Zürich store and the one warehouse with a lane to CH (Kassel, through customs).
    "webshop-ch": {
        "kind": "webshop",
        "backorder_policy": "reject",
        "currencies": ["CHF"],
        "countries": ["CH"],
        "language": "de",
        "locale": "de-CH",
        "display_name": "Dirigent Schweiz",
    },
}
CH_SOURCES = ("st-zuerich", "dc-kassel")
_ADJECTIVES = ("Alpine", "Bold", "Calm", "Dusky", "Easy", "Fjord", "Golden", "Harbour", "Iron")
_NOUNS = ("Mug", "Lamp", "Throw", "Vase", "Kettle", "Backpack", "Jacket", "Boots", "Tray", "Rug")


NETWORK_FILE = Path(__file__).resolve().parent / "data" / "network-eu.json"
SWISS_FILE = NETWORK_FILE.with_name("network-ch.json")


def network_documents() -> dict[str, Any]:
    """The raw documents of ``local/data/network-eu.json`` (a fresh copy on every call)."""
    return json.loads(NETWORK_FILE.read_text(encoding="utf-8"))


def swiss_documents() -> dict[str, Any]:
    """The raw documents of ``local/data/network-ch.json``: the Zürich store, lanes to CH."""
    return json.loads(SWISS_FILE.read_text(encoding="utf-8"))


def chf_price(eur: int) -> int:
    """The demo's Swiss shelf price for a EUR price (minor units): about 5 % more, ending
    in .90 as Swiss prices do."""
    return eur * 105 // 10_000 * 100 + 90


def product_rows(count: int = SKU_COUNT, seed: int = SEED) -> list[dict[str, Any]]:
    """Deterministic products: the same names, weights and prices on every run."""
    rng = random.Random(seed)
    return [
        {
            "sku": f"SKU-{n:04d}",
            "name": f"{rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)} {n}",
            "weight_g": rng.randrange(100, 8000, 50),
            "prices": _prices(rng.randrange(499, 14999, 100)),
            "returnable": rng.random() > 0.05,
            "reorder_point": rng.choice((2, 5, 10)),
        }
        for n in range(1, count + 1)
    ]


def _prices(eur: int) -> dict[str, int]:
    return {"EUR": eur, "CHF": chf_price(eur)}


def channel_documents(eu: list[dict[str, Any]], ch: list[dict[str, Any]]) -> dict[str, Any]:
    """The demo channels' bodies: the EU ones sell in EUR to the EU network's countries and
    never source from Switzerland; the Swiss one sources only from ``CH_SOURCES``."""
    countries = sorted({loc["address"]["country"] for loc in eu})
    swiss = [loc["location_id"] for loc in ch]
    docs = {}
    for name, extra in CHANNELS.items():
        body = {"name": name, "currencies": ["EUR"], "countries": countries, **extra}
        if "CHF" in body["currencies"]:
            body["excluded_locations"] = sorted(
                loc["location_id"] for loc in [*eu, *ch] if loc["location_id"] not in CH_SOURCES
            )
        else:
            body["excluded_locations"] = swiss
        docs[name] = body
    return docs


def stock_rows(
    skus: list[str], locations: list[dict[str, Any]], seed: int = SEED
) -> list[dict[str, Any]]:
    """Every SKU at every warehouse and 3PL; about a third of them at each store."""
    rng = random.Random(seed + 1)
    rows = []
    for loc in locations:
        store = loc["type"] == "store"
        for sku in skus:
            if store and rng.random() > 0.35:
                continue
            rows.append(
                {
                    "sku": sku,
                    "location_id": loc["location_id"],
                    "on_hand": rng.randint(1, 12) if store else rng.randint(20, 250),
                    "safety_stock": 0 if store else rng.randint(0, 5),
                }
            )
    return rows


class _Api:
    def __init__(self, base_url: str, admin_key: str) -> None:
        self.base = base_url.rstrip("/")
        self.http = requests.Session()
        self.http.headers.update({"Authorization": f"Bearer {admin_key}"})

    def call(self, method: str, path: str, body: Any) -> Any:
        resp = self.http.request(method, self.base + path, json=body, timeout=120)
        if resp.status_code >= 300:
            raise RuntimeError(f"{method} {path}: {resp.status_code} {resp.text[:500]}")
        return resp.json()


def load_demo(base_url: str, admin_key: str) -> dict[str, str]:
    """Load the demo through the API at ``base_url``; returns ``{channel or "service": key}``."""
    api = _Api(base_url, admin_key)
    network, swiss = network_documents(), swiss_documents()
    locations = [*network["locations"], *swiss["locations"]]
    for loc in locations:
        api.call("PUT", f"/locations/{loc['location_id']}", loc)
    for svc in [*network["carrier_services"], *swiss["carrier_services"]]:
        api.call("PUT", f"/carrier-services/{svc['service_id']}", svc)
    for name, body in channel_documents(network["locations"], swiss["locations"]).items():
        api.call("PUT", f"/channels/{name}", body)
    api.call("PUT", "/sourcing-rules", {})
    products = product_rows()
    for kind, rows in (
        ("products", products),
        ("stock", stock_rows([p["sku"] for p in products], locations)),
    ):
        report = api.call("POST", f"/imports/{kind}", rows)
        if report["errors"]:
            raise RuntimeError(f"demo {kind} import failed: {report['errors'][:5]}")
    keys = {
        name: api.call("POST", "/api-keys", {"role": "channel", "channel": name})["api_key"]
        for name in CHANNELS
    }
    keys["service"] = api.call("POST", "/api-keys", {"role": "service"})["api_key"]
    return keys


def configure_amazon(base_url: str, admin_key: str, *, endpoint: str) -> None:
    """The demo ``marketplace`` channel as an Amazon seller, polling ``endpoint`` (the local
    fake of SP-API and its token endpoint), every minute."""
    _Api(base_url, admin_key).call(
        "PUT",
        "/channels/marketplace/connector",
        {
            "platform": "amazon",
            "endpoint": endpoint,
            "lwa_endpoint": f"{endpoint}/auth/o2/token",
            "lwa_client_id": "amzn1.application-oa2-client.local-demo",
            "lwa_client_secret": "local-demo-client-secret",
            "refresh_token": "Atzr|local-demo-refresh-token",
            "marketplace_ids": ["A1PA6795UKMFR9"],
            "poll_minutes": 1,
        },
    )
