"""A channel's connector configuration: which fields each platform takes, which are secret
(never shown; kept when a PUT omits them), their defaults, and the check that its endpoints are
https and public (the webhook subscriptions' guard) off the local stage."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalicelib.domain.errors import DomainError, FieldError, InvalidInput

SECRETS = (
    "webhook_secret",
    "admin_access_token",
    "consumer_secret",
    "lwa_client_secret",
    "refresh_token",
)
COMMON = ("platform", "sku_map", "default_delivery", "confirmations")
FIELDS: dict[str, tuple[str, ...]] = {
    "shopify": (
        "webhook_secret",
        "shop_domain",
        "admin_access_token",
        "api_version",
        "api_base_url",
    ),
    "woocommerce": ("webhook_secret", "store_url", "consumer_key", "consumer_secret"),
    "amazon": (
        "endpoint",
        "lwa_endpoint",
        "lwa_client_id",
        "lwa_client_secret",
        "refresh_token",
        "marketplace_ids",
        "poll_minutes",
    ),
}
REQUIRED = {
    "shopify": ("webhook_secret",),
    "woocommerce": ("webhook_secret",),
    "amazon": ("lwa_client_id", "lwa_client_secret", "refresh_token", "marketplace_ids"),
}
URLS = ("api_base_url", "store_url", "endpoint", "lwa_endpoint")
AMAZON_DEFAULTS = {
    "endpoint": "https://sellingpartnerapi-eu.amazon.com",
    "lwa_endpoint": "https://api.amazon.com/auth/o2/token",
    "poll_minutes": 5,
}
SHOPIFY_API_VERSION = "2024-10"


def config_view(doc: dict[str, Any]) -> dict[str, Any]:
    """The configuration as the API shows it: ``<secret>_set`` instead of every secret."""
    view = {k: v for k, v in doc.items() if k not in SECRETS}
    platform = doc.get("platform", "")
    for name in SECRETS:
        if name in FIELDS.get(platform, ("webhook_secret",)):
            view[f"{name}_set"] = bool(doc.get(name))
    return view


def complete(
    doc: dict[str, Any],
    stored: dict[str, Any] | None,
    *,
    check_target: Callable[[str], Any] | None,
) -> dict[str, Any]:
    """The configuration to store: ``doc`` with the secrets it omits kept from ``stored``
    (same platform only) and the platform's defaults; InvalidInput naming the field when a
    field belongs to another platform, a required one is missing, or an endpoint is refused."""
    platform = doc["platform"]
    allowed = set(COMMON) | set(FIELDS[platform])
    foreign = [FieldError(k, f"not a {platform} setting") for k in doc if k not in allowed]
    if foreign:
        raise InvalidInput(f"settings of another platform than {platform}", fields=foreign)
    out = dict(doc)
    if stored and stored.get("platform") == platform:
        for name in SECRETS:
            if name in allowed and name not in out and stored.get(name):
                out[name] = stored[name]
    if platform == "amazon":
        out = {**AMAZON_DEFAULTS, **out}
    if platform == "shopify":
        out.setdefault("api_version", SHOPIFY_API_VERSION)
        if out.get("shop_domain"):
            out.setdefault("api_base_url", f"https://{out['shop_domain']}")
    missing = [FieldError(k, "required") for k in REQUIRED[platform] if not out.get(k)]
    if missing:
        raise InvalidInput(f"a {platform} connector needs these settings", fields=missing)
    if check_target is not None:
        for name in URLS:
            if out.get(name):
                _check(name, str(out[name]), check_target)
    return out


def _check(name: str, url: str, check_target: Callable[[str], Any]) -> None:
    try:
        check_target(url)
    except DomainError as exc:
        reasons = "; ".join(f.reason for f in exc.fields) or exc.message
        raise InvalidInput(f"{name} is not allowed", fields=[FieldError(name, reasons)]) from None
