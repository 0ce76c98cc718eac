"""Composition of confirmations back to the platforms. Built per call from cached clients, so
tests may swap ``http`` (the guarded HTTP every platform call goes through) and ``sp_api``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalicelib.config import LOCAL_STAGE, settings
from chalicelib.wiring.aws import orders, table
from chalicelib.wiring.webhooks import resolver, transport, webhook_queue

if TYPE_CHECKING:
    from chalicelib.adapters.platform_out import Http, SpApiShipments
    from chalicelib.services.confirmations import ConfirmationService, PlatformClient


def http() -> Http:
    from chalicelib.adapters.http_delivery import GuardedHttp, HttpTransport

    base: Any = transport()  # tests may swap it for a POST-only fake: then the real one
    requests = base if hasattr(base, "request") else HttpTransport()
    return GuardedHttp(resolver(), requests, local=settings().stage == LOCAL_STAGE)


def sp_api(config: dict[str, Any]) -> SpApiShipments:
    from chalicelib.wiring.amazon import sp_api as amazon_sp_api

    return amazon_sp_api(config)


def platform(name: str, config: dict[str, Any]) -> PlatformClient:
    from chalicelib.adapters.platform_out import AmazonOut, ShopifyOut, WooCommerceOut

    if name == "shopify":
        return ShopifyOut(config, http())
    if name == "woocommerce":
        return WooCommerceOut(config, http())
    if name == "amazon":
        return AmazonOut(config, lambda: sp_api(config))
    raise ValueError(f"platform: no confirmations for {name!r}")


def connector_config(channel: str) -> dict[str, Any] | None:
    from chalicelib.domain.catalog import Kind
    from chalicelib.wiring import catalog_service

    return catalog_service().doc(Kind.CONNECTOR, channel)


def confirmations() -> ConfirmationService:
    from chalicelib.adapters.dynamo_webhooks import DynamoConfirmations
    from chalicelib.services.confirmations import ConfirmationService
    from chalicelib.services.cursors import CursorSigner
    from chalicelib.wiring.clock import now

    s = settings()
    return ConfirmationService(
        store=DynamoConfirmations(table(s.orders_table)),
        orders=orders().get,
        connector=connector_config,
        platforms=lambda name, config: platform(name, config),
        queue=webhook_queue(),
        cursors=CursorSigner(s.token_secret.encode()),
        clock=now,
    )
