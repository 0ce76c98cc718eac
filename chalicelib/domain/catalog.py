"""The kinds of master-data record in the catalog (the catalog table's partition key)."""

from __future__ import annotations

from enum import StrEnum


class Kind(StrEnum):
    """Kinds of master-data record; the values are the stored partition keys."""

    API_KEY = "APIKEY"
    CHANNEL = "CHANNEL"
    LOCATION = "LOCATION"
    PRODUCT = "PRODUCT"
    CARRIER = "CARRIER"
    RULES = "RULES"
    ALERT_GROUP = "ALERTGROUP"
