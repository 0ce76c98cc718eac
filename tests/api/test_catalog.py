"""Master data over HTTP: channels, sourcing rules, locations, products, carrier services."""

import copy
import json

import pytest

from chalicelib import wiring
from chalicelib.domain.access import Role
from chalicelib.domain.channel import BackorderPolicy
from chalicelib.domain.network import Capability, LocationType, Speed
from local.demo import network_documents


def auth(key):
    return {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}


def put(client, path, body, key):
    return client.http.put(path, body=json.dumps(body), headers=auth(key))


def get(client, path, key):
    return client.http.get(path, headers=auth(key))


def error_paths(resp):
    return [f["path"] for f in json.loads(resp.body)["error"]["fields"]]


@pytest.fixture
def service_key(aws):
    return wiring.keys().create(Role.SERVICE)["api_key"]


@pytest.fixture
def channel_key(aws):
    return wiring.keys().create(Role.CHANNEL, "webshop")["api_key"]


CHANNEL = {"kind": "webshop", "currencies": ["EUR"], "countries": ["DE", "AT"]}


def test_the_whole_shared_network_loads_as_it_is_and_reads_back_as_domain_objects(
    client, admin_key
):
    docs = network_documents()
    for loc in docs["locations"]:
        assert put(client, f"/locations/{loc['location_id']}", loc, admin_key).status_code == 200
    for svc in docs["carrier_services"]:
        path = f"/carrier-services/{svc['service_id']}"
        assert put(client, path, svc, admin_key).status_code == 200
    catalog = wiring.catalog_service()
    locations = {loc.location_id: loc for loc in catalog.locations()}
    assert len(locations) == 14
    kassel = locations["dc-kassel"]
    assert kassel.type == LocationType.WAREHOUSE and kassel.country == "DE"
    assert kassel.cutoff_time.hour == 18 and kassel.handling_cost_per_unit == 25
    assert locations["st-koeln"].capabilities == {Capability.CLICK_COLLECT, Capability.RETURNS}
    services = {s.service_id: s for s in catalog.carrier_services()}
    assert services["parcel-express"].speed == Speed.EXPRESS
    assert services["parcel-express"].order_cutoff_shift_hours == -2
    assert services["parcel-standard"].remote_postal_prefixes["DE"][0] == "18565"
    listed = json.loads(get(client, "/locations", admin_key).body)["locations"]
    assert [loc["location_id"] for loc in listed] == sorted(locations)


def test_a_channel_is_stored_with_defaults_and_read_as_a_domain_channel(client, admin_key):
    resp = put(client, "/channels/webshop", {**CHANNEL, "backorder_policy": "backorder"}, admin_key)
    assert resp.status_code == 200
    body = json.loads(resp.body)
    assert body["channel"] == "webshop" and body["return_window_days"] == 30
    assert body["pickup_window_days"] == 7 and body["strict"] is False
    channel = wiring.catalog_service().channel("webshop")
    assert channel is not None and channel.backorder_policy == BackorderPolicy.BACKORDER
    assert channel.sells("EUR", "AT") and not channel.sells("USD", "AT")
    assert json.loads(get(client, "/channels/webshop", admin_key).body)["kind"] == "webshop"
    names = [c["channel"] for c in json.loads(get(client, "/channels", admin_key).body)["channels"]]
    assert names == ["webshop"]


def test_a_channel_key_reads_only_its_own_channel(client, admin_key, channel_key):
    put(client, "/channels/webshop", CHANNEL, admin_key)
    put(client, "/channels/marketplace", {**CHANNEL, "kind": "marketplace"}, admin_key)
    assert get(client, "/channels/webshop", channel_key).status_code == 200
    assert get(client, "/channels/marketplace", channel_key).status_code == 404
    assert get(client, "/channels", channel_key).status_code == 403


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"currencies": ["EURO"]}, "currencies[0]"),
        ({"currencies": ["XYZ"]}, "currencies[0]"),
        ({"countries": ["XX"]}, "countries[0]"),
        ({"countries": ["de"]}, "countries[0]"),
        ({"kind": "kiosk"}, "kind"),
        ({"backorder_policy": "maybe"}, "backorder_policy"),
        ({"return_window_days": -1}, "return_window_days"),
        ({"colour": "red"}, "colour"),
        ({"channel": "other"}, "channel"),
    ],
)
def test_a_bad_channel_is_422_naming_the_field(client, admin_key, change, field):
    resp = put(client, "/channels/webshop", {**CHANNEL, **change}, admin_key)
    assert resp.status_code == 422
    assert field in error_paths(resp)


def _location():
    return copy.deepcopy(network_documents()["locations"][0])


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"cutoff_time": "18h"}, "cutoff_time"),
        ({"cutoff_time": "24:00"}, "cutoff_time"),
        ({"timezone": "Europe/Atlantis"}, "timezone"),
        ({"handling_cost_per_unit": -1}, "handling_cost_per_unit"),
        ({"holding_cost_per_unit_day": -5}, "holding_cost_per_unit_day"),
        ({"lat": 91}, "lat"),
        ({"lon": -181}, "lon"),
        ({"capabilities": ["ship", "fly"]}, "capabilities[1]"),
        ({"closed_weekdays": [7]}, "closed_weekdays[0]"),
        ({"processing_days": -1}, "processing_days"),
        ({"holidays_country": "ZZ"}, "holidays_country"),
        ({"type": "depot"}, "type"),
        ({"location_id": "dc-other"}, "location_id"),
    ],
)
def test_a_bad_location_is_422_naming_the_field(client, admin_key, change, field):
    resp = put(client, "/locations/dc-kassel", {**_location(), **change}, admin_key)
    assert resp.status_code == 422
    assert field in error_paths(resp)


def test_an_unknown_country_in_the_address_is_422_naming_it(client, admin_key):
    loc = _location()
    loc["address"]["country"] = "XX"
    resp = put(client, "/locations/dc-kassel", loc, admin_key)
    assert resp.status_code == 422 and error_paths(resp) == ["address.country"]


def test_locations_are_for_staff_and_unknown_ones_are_404(
    client, admin_key, service_key, channel_key
):
    put(client, "/locations/dc-kassel", _location(), admin_key)
    assert get(client, "/locations/dc-kassel", service_key).status_code == 200
    assert get(client, "/locations", service_key).status_code == 200
    assert get(client, "/locations/dc-kassel", channel_key).status_code == 403
    assert get(client, "/locations/nowhere", admin_key).status_code == 404
    assert put(client, "/locations/dc-kassel", _location(), service_key).status_code == 403
    assert client.http.get("/locations").status_code == 401


def test_a_product_round_trips_and_products_are_read_in_one_batch(client, admin_key):
    for n in range(3):
        body = {"name": f"Mug {n}", "weight_g": 350 + n, "prices": {"EUR": 1299}}
        assert put(client, f"/products/SKU-{n}", body, admin_key).status_code == 200
    doc = json.loads(get(client, "/products/SKU-1", admin_key).body)
    assert doc == {
        "sku": "SKU-1",
        "name": "Mug 1",
        "weight_g": 351,
        "prices": {"EUR": 1299},
        "returnable": True,
        "reorder_point": 0,
    }
    products = wiring.catalog_service().products(["SKU-0", "SKU-2", "SKU-404"])
    assert sorted(products) == ["SKU-0", "SKU-2"] and products["SKU-2"].weight_g == 352
    assert get(client, "/products/SKU-404", admin_key).status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"weight_g": 0}, "weight_g"),
        ({"weight_g": "heavy"}, "weight_g"),
        ({"weight_g": 10, "prices": {"EUR": -1}}, "prices.EUR"),
        ({"weight_g": 10, "prices": {"ABC": 1}}, "prices.ABC.[key]"),
        ({"weight_g": 10, "reorder_point": -1}, "reorder_point"),
        ({}, "weight_g"),
        ({"weight_g": 10, "sku": "OTHER"}, "sku"),
    ],
)
def test_a_bad_product_is_422_naming_the_field(client, admin_key, body, field):
    resp = put(client, "/products/SKU-1", body, admin_key)
    assert resp.status_code == 422
    assert field in error_paths(resp)


def test_a_bad_carrier_service_is_422_naming_the_field(client, admin_key):
    svc = copy.deepcopy(network_documents()["carrier_services"][0])
    svc["lanes"][0]["bands"][0]["price"] = {"EUR": -3}
    svc["lanes"][1]["to_country"] = "QQ"
    resp = put(client, "/carrier-services/parcel-standard", svc, admin_key)
    assert resp.status_code == 422
    assert set(error_paths(resp)) == {"lanes[0].bands[0].price.EUR", "lanes[1].to_country"}


def test_sourcing_rules_are_versioned_and_the_latest_is_current(client, admin_key, service_key):
    assert json.loads(get(client, "/sourcing-rules", service_key).body)["version"] == 0
    first = put(client, "/sourcing-rules", {"max_parcels": 2}, admin_key)
    second = put(client, "/sourcing-rules", {"max_parcels": 1, "version": 99}, admin_key)
    assert json.loads(first.body)["version"] == 1
    assert json.loads(second.body)["version"] == 2
    current = json.loads(get(client, "/sourcing-rules", service_key).body)
    assert current["version"] == 2 and current["max_parcels"] == 1
    assert wiring.catalog_service().rules().max_parcels == 1
    versions = wiring.catalog().list("RULES")
    assert sorted(v["max_parcels"] for v in versions) == [1, 2]
    again = put(client, "/sourcing-rules", {**current, "max_parcels": 3}, admin_key)
    assert again.status_code == 200, again.body  # what GET answers goes back, stored_at too
    assert json.loads(again.body)["version"] == 3


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"max_parcels": "many"}, "max_parcels"),
        ({"max_parcels": 0}, "max_parcels"),
        ({"split_penalty": -1}, "split_penalty"),
        ({"surprise": True}, "surprise"),
        ({"excluded_locations": {"webshop": 3}}, "excluded_locations.webshop"),
    ],
)
def test_bad_sourcing_rules_are_422_naming_the_field(client, admin_key, body, field):
    resp = put(client, "/sourcing-rules", body, admin_key)
    assert resp.status_code == 422
    assert field in error_paths(resp)
    assert put(client, "/sourcing-rules", [1, 2], admin_key).status_code == 422


def test_master_data_writes_are_admin_only(client, service_key, channel_key):
    for key in (service_key, channel_key):
        assert put(client, "/products/SKU-1", {"weight_g": 1}, key).status_code == 403
        assert put(client, "/channels/webshop", CHANNEL, key).status_code == 403
        assert put(client, "/sourcing-rules", {}, key).status_code == 403


def test_an_exclusion_or_item_floor_naming_an_unknown_location_is_422_naming_it(client, admin_key):
    """Reproduction: a typo (``dc-kasel``) was stored and silently excluded nothing."""
    put_location = client.http.put(
        "/locations/dc-kassel",
        body=json.dumps(network_documents()["locations"][0]),
        headers=auth(admin_key),
    )
    assert put_location.status_code == 200, put_location.body
    channel = {"kind": "webshop", "currencies": ["EUR"], "countries": ["DE"]}
    resp = client.http.put(
        "/channels/web",
        body=json.dumps({**channel, "excluded_locations": ["dc-kassel", "dc-kasel"]}),
        headers=auth(admin_key),
    )
    assert resp.status_code == 422, resp.body
    assert [f["path"] for f in json.loads(resp.body)["error"]["fields"]] == ["excluded_locations.1"]
    assert client.http.get("/channels/web", headers=auth(admin_key)).status_code == 404
    rules = {
        "excluded_locations": {"web": ["dc-kasel"]},
        "min_item_value_by_location": {"dc-kassel": {"EUR": 1}, "st-nowhere": {"EUR": 1}},
    }
    resp = client.http.put("/sourcing-rules", body=json.dumps(rules), headers=auth(admin_key))
    assert resp.status_code == 422, resp.body
    assert sorted(f["path"] for f in json.loads(resp.body)["error"]["fields"]) == [
        "excluded_locations.web.0",
        "min_item_value_by_location.st-nowhere",
    ]
