"""Sales channels as plain data: who sells where, in which currencies, with which promise."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ChannelKind(StrEnum):
    MARKETPLACE = "marketplace"  # a third-party marketplace posting orders through its connector
    WEBSHOP = "webshop"  # the retailer's own online shop
    STORE = "store"  # a store till selling endless aisle or click & collect


class BackorderPolicy(StrEnum):
    REJECT = "reject"  # an order that can't be sourced in full is refused (409 out_of_stock)
    BACKORDER = "backorder"  # it is accepted and waits for stock to arrive


@dataclass(frozen=True, slots=True)
class Channel:
    channel: str
    kind: ChannelKind
    currencies: frozenset[str]  # ISO 4217
    countries: frozenset[str]  # ISO 3166-1 alpha-2 it sells to
    backorder_policy: BackorderPolicy = BackorderPolicy.REJECT
    strict: bool = False  # True: a promised date that can no longer be met cancels the option
    return_window_days: int = 30
    pickup_window_days: int = 7
    excluded_locations: frozenset[str] = frozenset()
    name: str = ""

    def sells(self, currency: str, country: str) -> bool:
        return currency in self.currencies and country in self.countries
