"""Orders in from sales platforms: one module per platform, each a pure mapping of the
platform's order payload (webhooks from Shopify and WooCommerce, polled from Amazon) to a
``MappedOrder`` (``common``). Verification, deduplication, capture and rejected orders are
``services/connectors.py``."""

from __future__ import annotations

from enum import StrEnum


class Platform(StrEnum):
    SHOPIFY = "shopify"
    WOOCOMMERCE = "woocommerce"
    AMAZON = "amazon"
