"""The order document as stored: compact JSON, deflated with a preset dictionary.

An order is rewritten on every event and DynamoDB bills writes by the started KB, so the item
must stay under 1 KB. Plain zlib barely compresses a document of ~2 KB (its repeated keys are
only seen once); a dictionary of what every order holds (keys, statuses, the shape of a
shipment, a history entry and an explanation) brings a typical order to a few hundred bytes.

A stream names its dictionary (zlib's FDICT id), so documents written without one, or with an
older dictionary, still read. NEVER change ``ZDICT_V1``: add a new dictionary beside it.
"""

from __future__ import annotations

import json
import zlib
from typing import Any

# A typical order document (placeholders for ids and hashes), most frequent strings last.
ZDICT_V1 = (
    b'"explanation":[{"kind":"fastest","rules_version":1,"promised_date":"2026-12-03","parcels'
    b'":1,"cost":{"shipping":410,"handling":140,"holding_saved":28,"split_penalty":0,"rule_rew'
    b'ards":0,"distance":0,"co2e":0,"opportunity":0,"total":522,"co2e_kg":0.374},"score":522.0'
    b',"margin":{"revenue":5998,"cost_of_goods":null,"cost_to_serve":550,"margin":null,"margin'
    b'_pct":null}},{"location_id":"dc-kassel","outcome":"chosen","units":2},{"alternative":"lo'
    b'cation","location_id":"dc-lyon","distance_km":976.2,"outcome":"partial_stock_costlier","'
    b'location_ids":["dc-kassel","dc-lyon"],"promised_date":"2026-12-04","parcels":2,"cost":{"'
    b'shipping":1360,"handling":255,"holding_saved":35,"split_penalty":150,"rule_rewards":0,"d'
    b'istance":0,"co2e":0,"opportunity":0,"total":1730,"co2e_kg":0.796},"score":1830.0},{"outc'
    b'ome":"lacks_capability","count":4,"location_ids":["st-graz","st-koeln","st-leipzig","st-'
    b'marseille"]},{"outcome":"no_stock","count":8,"location_ids":["3pl-venlo","st-amsterdam",'
    b'"st-berlin","st-frankfurt","st-hamburg"]},{"kind":"consolidated","rules_version":1,"prom'
    b'ised_date":"2026-12-03","parcels":1,"cost":{"shipping":410,"handling":140,"holding_saved'
    b'":28,"split_penalty":0,"rule_rewards":0,"distance":0,"co2e":0,"opportunity":0,"total":52'
    b'2,"co2e_kg":0.374},"score":522.0,"margin":{"revenue":5998,"cost_of_goods":null,"cost_to_'
    b'serve":550,"margin":null,"margin_pct":null}},{"kind":"click_and_collect","rules_version"'
    b':1,"promised_date":"2026-12-03","parcels":1,"cost":{"shipping":410,"handling":140,"holdi'
    b'ng_saved":28,"split_penalty":0,"rule_rewards":0,"distance":0,"co2e":0,"opportunity":0,"t'
    b'otal":522,"co2e_kg":0.374},"score":522.0,"margin":{"revenue":5998,"cost_of_goods":null,"'
    b'cost_to_serve":550,"margin":null,"margin_pct":null}}],"shipments":[{"shipment_id":"o_000'
    b'0000000000000-s1","location_id":"dc-kassel","lines":{"SKU-1":1,"SKU-2":1},"mode":"pickup'
    b'","carrier_service":"parcel-standard","ship_date":"2026-12-02","promised_date":"2026-12-'
    b'03","status":"ready_for_pickup","pickup_location_id":"store-","carrier":null,"tracking_n'
    b'umber":null,"dispatched":false,"updated_at":"2026-12-02T10:17:37.574Z","pickup_until":nu'
    b'll,"resourced_from":null,"cancel":"","cancel_lines":{},"cancel_sent":false,"cancel_reaso'
    b'n":"","after_cancel":false,"held_at":null,"back":"","back_lines":{},"back_sent":false}],'
    b'{"order_id":"o_0000000000000000","channel":"webshop","channel_order_id":"1000","currency'
    b'":"EUR","customer":{"email":"@example.com","name":""},"ship_to":{"country":"DE","postal_'
    b'code":"10115","city":"Berlin","lat":52.5244,"lon":13.4105},"lines":[{"sku":"SKU-1","quan'
    b'tity":1,"unit_price":2999},{"sku":"SKU-2","quantity":1,"unit_price":2999}],"shipments":['
    b'{"shipment_id":"o_0000000000000000-s1","location_id":"dc-kassel","lines":{"SKU-1":1,"SKU'
    b'-2":1},"mode":"ship","carrier_service":"parcel-standard","ship_date":"2026-12-02","promi'
    b'sed_date":"2026-12-03","status":"delivered","pickup_location_id":null,"carrier":"DHL","t'
    b'racking_number":"","dispatched":true,"updated_at":"2026-12-02T10:17:37.574Z","pickup_unt'
    b'il":null,"resourced_from":null,"cancel":"","cancel_lines":{},"cancel_sent":false,"cancel'
    b'_reason":"","after_cancel":false,"held_at":null,"back":"","back_lines":{},"back_sent":fa'
    b'lse}],"created_at":"2026-12-02T09:17:36.260Z","delivery":{"kind":"fastest","option_id":"'
    b'","price":0,"currency":"EUR","promised_date":"2026-12-03","pickup_location_id":null,"rea'
    b'dy_at":null,"cost":{"shipping":410,"handling":140,"holding_saved":28,"split_penalty":0,"'
    b'rule_rewards":0,"distance":0,"co2e":0,"opportunity":0,"total":522,"co2e_kg":0.374},"parc'
    b'els":1,"margin":{"revenue":5998,"cost_of_goods":null,"cost_to_serve":550,"margin":null,"'
    b'margin_pct":null},"nearest_cost":522},"token_hash":"","request_hash":"","backorders":{},'
    b'"history":[{"at":"2026-12-02T09:17:36.260Z","status":"placed","event":"placed","source":'
    b'"channel:","shipment_id":"o_0000000000000000-s1","detail":{}},{"at":"2026-12-02T09:17:37'
    b'.317Z","status":"processing","event":"released","source":"dispatcher","shipment_id":"o_0'
    b'000000000000000-s1","detail":{}},{"at":"2026-12-02T09:17:37.574Z","status":"processing",'
    b'"event":"picked","source":"location:","shipment_id":"o_0000000000000000-s1","detail":{}}'
    b',{"at":"2026-12-02T09:22:37.574Z","status":"shipped","event":"shipped","source":"locatio'
    b'n:","shipment_id":"o_0000000000000000-s1","detail":{"carrier":"DHL","tracking_number":"T'
    b'NEA69061A59"}},{"at":"2026-12-02T10:17:37.574Z","status":"delivered","event":"delivered"'
    b',"source":"location:","shipment_id":"o_0000000000000000-s1","detail":{}}],"cancelled":{}'
    b',"notified":["confirmation"],"returns":{},"aggregated":{"orders":1,"units":2,"goods":599'
    b'8,"costed_orders":1,"cost":522,"cost_shipping":410,"cost_handling":140,"baseline_orders"'
    b':1,"baseline_cost":522,"baseline_chosen_cost":522,"margin_unknown_orders":1,"shipments":'
    b'1,"parcels":1,"alloc@dc-kassel":2,"units_shipped":2,"shipped@dc-kassel":2,"sku_shipped@S'
    b'KU-1":1,"sku_shipped@SKU-2":1,"funnel_released":1,"funnel_picked":1,"funnel_shipped":1,"'
    b'funnel_delivered":1,"fulfilled_orders":1,"on_time_orders":1},"stock_shards":{},"holds":{'
    b'},"payment_status":"","auto_cancel_at":null,"version":4,"status":"delivered"}'
)
_DICTIONARIES = {zlib.adler32(ZDICT_V1): ZDICT_V1}
ZDICT = ZDICT_V1  # the one new documents are written with
_FDICT = 0x20


def encode(doc: dict[str, Any]) -> bytes:
    """``doc`` as compact JSON, deflated with ``ZDICT``."""
    raw = json.dumps(doc, separators=(",", ":"), default=str).encode()
    packer = zlib.compressobj(9, zlib.DEFLATED, 15, 9, zlib.Z_DEFAULT_STRATEGY, ZDICT)
    return packer.compress(raw) + packer.flush()


def decode(data: bytes) -> dict[str, Any]:
    """A document written by ``encode`` (any dictionary) or by plain ``zlib.compress``."""
    if len(data) > 6 and data[1] & _FDICT:
        dictionary = _DICTIONARIES[int.from_bytes(data[2:6], "big")]
        unpacker = zlib.decompressobj(zdict=dictionary)
        raw = unpacker.decompress(data) + unpacker.flush()
    else:
        raw = zlib.decompress(data)
    result: dict[str, Any] = json.loads(raw)
    return result
