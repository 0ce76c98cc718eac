"""Composition of Amazon's order polling: the SP-API client per channel configuration and the
poller. Built per call; tests may swap ``transport`` here (an in-process fake of Amazon)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from chalicelib.config import LOCAL_STAGE, settings
from chalicelib.wiring import table

if TYPE_CHECKING:
    from chalicelib.adapters.sp_api import SpApi, Transport
    from chalicelib.services.amazon_poll import AmazonPoller


def transport() -> Transport:
    """Real HTTP, refusing private addresses (loopback allowed on the local stage)."""
    from chalicelib.adapters.sp_api import HttpTransport

    return HttpTransport(allow_loopback=settings().stage == LOCAL_STAGE)


def sp_api(config: Mapping[str, Any]) -> SpApi:
    """The SP-API client of one channel's connector configuration."""
    from chalicelib.adapters.sp_api import SpApi

    return SpApi(config, http=transport())


def amazon_poller() -> AmazonPoller:
    from chalicelib.adapters.dynamo_connector_state import DynamoPollState
    from chalicelib.services.amazon_poll import AmazonPoller
    from chalicelib.wiring.clock import now
    from chalicelib.wiring.connectors import connectors

    return AmazonPoller(
        connectors=connectors(),
        state=DynamoPollState(table(settings().orders_table)),
        api=sp_api,
        clock=now,
    )
