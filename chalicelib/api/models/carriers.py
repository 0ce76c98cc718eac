"""Carrier services as the API takes them: lanes between countries, each with price bands by
weight (rising: the last is the top band), and remote postal areas."""

from __future__ import annotations

from itertools import pairwise
from typing import Annotated, Any

from pydantic import BaseModel, Field, field_validator

from chalicelib.api.models.common import CountryCode, CurrencyCode, Id, Money, Request, Text
from chalicelib.domain.catalog import carrier_service_from_doc
from chalicelib.domain.network import CarrierService, Speed


class WeightBandIn(Request):
    max_weight_g: int = Field(gt=0, le=1_000_000)
    price: dict[CurrencyCode, Money] = Field(min_length=1, description="per parcel")


class LaneIn(Request):
    from_country: CountryCode
    to_country: CountryCode
    transit_days: int = Field(ge=0, le=60, description="business days")
    bands: list[WeightBandIn] = Field(
        min_length=1, max_length=50, description="by rising max_weight_g: the last is the top"
    )

    @field_validator("bands")
    @classmethod
    def _rising(cls, bands: list[WeightBandIn]) -> list[WeightBandIn]:
        weights = [b.max_weight_g for b in bands]
        if any(a >= b for a, b in pairwise(weights)):
            raise ValueError("max_weight_g must rise from band to band")
        return bands


class CarrierServiceIn(Request):
    service_id: Id | None = Field(default=None, description="must equal the path if given")
    carrier: Text = Field(min_length=1)
    speed: Speed
    lanes: list[LaneIn] = Field(min_length=1, max_length=2_000)

    @field_validator("lanes")
    @classmethod
    def _one_per_pair(cls, lanes: list[LaneIn]) -> list[LaneIn]:
        pairs = [(lane.from_country, lane.to_country) for lane in lanes]
        if len(set(pairs)) != len(pairs):
            raise ValueError("one lane per pair of countries")
        return lanes

    remote_postal_prefixes: dict[CountryCode, list[Annotated[str, Field(max_length=16)]]] = Field(
        default_factory=dict, description="country -> postal prefixes that take longer"
    )
    remote_extra_days: int = Field(default=0, ge=0, le=30)
    order_cutoff_shift_hours: int = Field(default=0, ge=-24, le=24)
    note: Annotated[str, Field(max_length=500)] = ""

    def doc(self, service_id: str) -> dict[str, Any]:
        return {**self.model_dump(mode="json"), "service_id": service_id}

    def to_domain(self, service_id: str | None = None) -> CarrierService:
        return carrier_service_from_doc(self.doc(service_id or self.service_id or ""))


class CarrierServiceList(BaseModel):
    carrier_services: list[CarrierServiceIn]
