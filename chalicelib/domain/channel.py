"""Sales channels as plain data: who sells where, in which currencies, with which promise."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ChannelKind(StrEnum):
    MARKETPLACE = "marketplace"  # a third-party marketplace posting orders through its connector
    WEBSHOP = "webshop"  # the retailer's own online shop
    STORE = "store"  # a store till selling endless aisle or click & collect


class PriceMismatch(StrEnum):
    """What capture does with a ``unit_price`` outside the channel's tolerance."""

    REJECT = "reject"  # 409 naming the line
    HOLD = "hold"  # accepted with a ``manual`` hold: someone reviews the price
    IGNORE = "ignore"  # the channel's prices are the truth (no check)


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
    # A unit_price more than this far from the catalogue price (per cent) is a mismatch.
    price_tolerance_pct: int = 50
    price_mismatch: PriceMismatch = PriceMismatch.REJECT
    max_quantity_per_line: int | None = None  # anti-scalping: units of one SKU per order
    max_units_per_customer_day: int | None = None  # and per customer e-mail, per SKU, per day
    reservation_minutes: int = 15  # how long a checkout reservation keeps stock (at most 240)
    resource_expired_reservations: bool = False  # an order on one is re-sourced, not a 409
    availability_low_units: int = 5  # the feed's "low" band: 1 .. this many units
    # Customer mails: their language, the locale dates and money are formatted in ("" = from
    # the language and the channel's country), the shop name they sign with ("" = the name,
    # else the id), the sender ("" = the stage's), and False = none at all (marketplaces).
    language: str = "en"
    locale: str = ""
    display_name: str = ""
    mail_from: str = ""
    customer_mail: bool = True

    def sells(self, currency: str, country: str) -> bool:
        return currency in self.currencies and country in self.countries

    def shown_name(self) -> str:
        """The name customers see in mails."""
        return self.display_name or self.name or self.channel

    def formatting_locale(self) -> str:
        """``locale`` (``de_CH``), else the language with the one country it sells to or the
        country named like the language (``fr`` + FR), else the language alone."""
        if self.locale:
            return self.locale.replace("-", "_")
        own = self.language.upper()
        if len(self.countries) == 1:
            return f"{self.language}_{next(iter(self.countries))}"
        return f"{self.language}_{own}" if own in self.countries else self.language

    def price_off(self, unit_price: int, catalogue: int | None) -> bool:
        """Whether ``unit_price`` is outside the tolerance around the catalogue price (never
        when the catalogue has no price, or the channel's prices are the truth)."""
        if catalogue is None or catalogue <= 0 or self.price_mismatch == PriceMismatch.IGNORE:
            return False
        return abs(unit_price - catalogue) * 100 > self.price_tolerance_pct * catalogue
