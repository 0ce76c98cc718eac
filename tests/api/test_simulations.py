"""Rule simulation on moto: orders record their sourcing inputs after the commit, a simulation
replays them as a job of ``simulation_step`` messages on the order-events queue, and a done
simulation's candidate becomes the next rules version."""

from __future__ import annotations

import json
import zlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.services import simulation as sim_service
from tests.api import fulfilment_kit as kit
from tests.api.seed import auth, seed_channel, seed_network, seed_product, set_stock

QUEUE = "dirigent-order-events"
PATH = "/sourcing-rules/simulations"
TODAY = datetime.now(UTC).date()  # the period check runs on the real clock here


@pytest.fixture
def shop(client: Any, admin_key: str, aws: Any) -> str:
    seed_network(client, admin_key)
    key = seed_channel(client, admin_key, "webshop")
    seed_product(client, admin_key, "SKU-1")
    seed_product(client, admin_key, "SKU-2")
    set_stock(aws, "SKU-1", "dc-kassel", 40)
    set_stock(aws, "SKU-1", "3pl-venlo", 40)
    set_stock(aws, "SKU-2", "dc-lyon", 7)  # not in any cart: never recorded
    return key


def today() -> str:
    return datetime.now(UTC).date().isoformat()


def inputs(aws: Any) -> dict[str, dict[str, Any]]:
    table = aws.resource("dynamodb").Table("dirigent-orders")
    items = table.query(
        KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": f"SIMIN#{today()}"}
    )["Items"]
    return {str(i["sk"]): i for i in items}


def post(client: Any, key: str, path: str, body: Any = None) -> Any:
    return client.http.post(path, body=json.dumps(body or {}), headers=auth(key))


def get(client: Any, key: str, path: str) -> dict[str, Any]:
    resp = client.http.get(path, headers=auth(key))
    assert resp.status_code == 200, resp.body
    return dict(json.loads(resp.body))


def start(client: Any, key: str, rules: dict[str, Any], **period: str) -> Any:
    body = {"rules": rules, "period": {"from": today(), "to": today(), **period}}
    return post(client, key, PATH, body)


def run_steps(client: Any, aws: Any, *, repeat: bool = False) -> int:
    """Feed the queued steps to the consumer until none is left; the number of deliveries."""
    delivered = 0
    for _ in range(50):
        bodies = [b for b in kit.drain(aws, QUEUE) if b.get("type") == "simulation_step"]
        if not bodies:
            return delivered
        for body in bodies * (2 if repeat else 1):  # ``repeat``: SQS delivers each twice
            assert kit.deliver(client, "on_order_event", QUEUE, body) == []
            delivered += 1
    raise AssertionError("the simulation did not finish")


def test_an_order_records_its_sourcing_inputs_compressed_with_a_ttl(
    client: Any, shop: str, aws: Any
) -> None:
    order = kit.place(client, shop, "A-1", [("SKU-1", 2)])
    item = inputs(aws)[order["order_id"]]
    doc = json.loads(zlib.decompress(bytes(item["d"].value)))
    assert doc["l"] == [["SKU-1", 2, 2999]]
    assert doc["k"] == "fastest" and doc["ch"] == "webshop"
    assert sorted(doc["s"]) == [["3pl-venlo", "SKU-1", 40], ["dc-kassel", "SKU-1", 40]]
    assert "name" not in doc["to"] and doc["to"]["postal_code"] == "10115"
    created = datetime.fromisoformat(doc["at"])
    assert int(item["expires_at"]) == int(created.timestamp()) + 90 * 86400


def test_a_failing_record_does_not_fail_the_order(
    client: Any, shop: str, aws: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib.adapters.dynamo_simulation import DynamoSimInputs

    def down(self: Any, inp: Any) -> None:
        raise RuntimeError("DynamoDB throttled")

    monkeypatch.setattr(DynamoSimInputs, "put", down)
    order = kit.place(client, shop, "A-2", [("SKU-1", 1)])
    assert order["order_id"] not in inputs(aws)
    assert kit.get_order(client, shop, order["order_id"])["order_id"] == order["order_id"]


def test_the_job_replays_the_period_and_a_redelivered_step_counts_once(
    client: Any, shop: str, admin_key: str, aws: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sim_service, "CHUNK", 2)
    for n in range(5):
        kit.place(client, shop, f"B-{n}", [("SKU-1", 1)])
    kit.drain(aws, QUEUE)  # the order_placed messages

    resp = start(client, admin_key, {"excluded_locations": {"webshop": ["dc-kassel"]}})
    assert resp.status_code == 202, resp.body
    queued = json.loads(resp.body)
    assert queued["status"] == "queued" and queued["progress"] == {"done": 0, "total": None}
    sim_path = f"{PATH}/{queued['simulation_id']}"
    early = post(client, admin_key, f"{sim_path}/activate")
    assert early.status_code == 409, early.body

    first = kit.drain(aws, QUEUE)
    assert [b["step"] for b in first] == [0]
    for body in first * 2:  # step 0 delivered twice
        assert kit.deliver(client, "on_order_event", QUEUE, body) == []
    running = get(client, admin_key, sim_path)
    assert running["status"] == "running" and running["progress"] == {"done": 0, "total": 5}
    assert [b["step"] for b in kit.drain(aws, QUEUE) if b.get("step")] == [1]  # one step 1
    step_1 = {"type": "simulation_step", "simulation_id": queued["simulation_id"], "step": 1}
    assert kit.deliver(client, "on_order_event", QUEUE, step_1) == []
    assert get(client, admin_key, sim_path)["progress"] == {"done": 2, "total": 5}
    assert run_steps(client, aws, repeat=True) == 4  # steps 2 and 3, each delivered twice

    done = get(client, admin_key, sim_path)
    assert done["status"] == "done" and done["progress"] == {"done": 5, "total": 5}
    assert done["started_at"] and done["finished_at"]
    results = done["results"]
    assert results["orders_replayed"] == 5 and results["not_replayable"] == 0
    assert results["current"]["orders"] == results["candidate"]["orders"] == 5
    volumes = {row["location_id"]: row for row in results["locations"]}
    assert volumes["dc-kassel"]["current"]["units"] == 5
    assert volumes["dc-kassel"]["units_delta"] == -5
    assert volumes["3pl-venlo"]["units_delta"] == 5
    assert len(results["deltas"]) == 5
    assert all(d["candidate_locations"] == ["3pl-venlo"] for d in results["deltas"])
    assert sum(d["cost"] for d in results["deltas"]) == results["difference"]["cost_to_serve"]
    assert get(client, admin_key, PATH)["latest"]["simulation_id"] == done["simulation_id"]
    assert len(get(client, admin_key, f"{sim_path}?limit=2")["results"]["deltas"]) == 2


def test_an_order_without_a_record_counts_as_not_replayable(
    client: Any, shop: str, admin_key: str, aws: Any
) -> None:
    kit.place(client, shop, "C-1", [("SKU-1", 1)])
    table = aws.resource("dynamodb").Table("dirigent-orders")
    table.put_item(Item={"pk": f"SIMIN#{today()}", "sk": "ord_broken", "d": b"not zlib"})
    kit.drain(aws, QUEUE)
    sim_id = json.loads(start(client, admin_key, {}).body)["simulation_id"]
    run_steps(client, aws)
    results = get(client, admin_key, f"{PATH}/{sim_id}")["results"]
    assert results["orders_replayed"] == 1 and results["not_replayable"] == 1
    assert results["deltas"] == []  # the same rules: no order changes


def test_activating_a_done_simulation_stores_the_candidate_as_the_next_version(
    client: Any, shop: str, admin_key: str, aws: Any
) -> None:
    kit.place(client, shop, "D-1", [("SKU-1", 1)])
    kit.drain(aws, QUEUE)
    before = get(client, admin_key, "/sourcing-rules")["version"]
    sim_id = json.loads(start(client, admin_key, {"max_parcels": 2, "split_penalty": 99}).body)[
        "simulation_id"
    ]
    run_steps(client, aws)
    resp = post(client, admin_key, f"{PATH}/{sim_id}/activate")
    assert resp.status_code == 200, resp.body
    version = json.loads(resp.body)["version"]
    assert version == before + 1
    rules = get(client, admin_key, "/sourcing-rules")
    assert (rules["version"], rules["max_parcels"], rules["split_penalty"]) == (version, 2, 99)
    again = post(client, admin_key, f"{PATH}/{sim_id}/activate")
    assert json.loads(again.body)["version"] == version  # a retry stores nothing new
    assert get(client, admin_key, "/sourcing-rules")["version"] == version
    assert get(client, admin_key, f"{PATH}/{sim_id}")["activated_version"] == version


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"rules": {"max_parcels": 0}}, "max_parcels"),
        ({"rules": {"no_such_rule": 1}}, "no_such_rule"),
        ({"rules": {"split_penalty": -1}}, "split_penalty"),
        ({"period": {"from": "2026-01-01", "to": "2026-03-01"}}, "period.to"),
        ({"period": {"from": "2026-01-01"}}, "period.to"),
        ({"period": {"from": str(TODAY), "to": str(TODAY + timedelta(days=1))}}, "period.to"),
        ({"rules": "strict"}, "rules"),
    ],
)
def test_bad_input_is_a_422_naming_the_field(
    client: Any, admin_key: str, body: dict[str, Any], field: str
) -> None:
    full = {"rules": {}, "period": {"from": "2026-11-01", "to": "2026-11-02"}, **body}
    resp = post(client, admin_key, PATH, full)
    assert resp.status_code == 422, resp.body
    assert field in [f["path"] for f in json.loads(resp.body)["error"]["fields"]]


def test_simulations_are_for_admins_and_an_unknown_one_is_a_404(
    client: Any, shop: str, admin_key: str
) -> None:
    assert start(client, shop, {}).status_code == 403
    resp = client.http.get(f"{PATH}/sim_0000000000000000", headers=auth(admin_key))
    assert resp.status_code == 404
    assert get(client, admin_key, PATH) == {"latest": None}
    late = (datetime.now(UTC) + timedelta(days=3)).date().isoformat()
    assert start(client, admin_key, {}, **{"from": late, "to": late}).status_code == 422


def test_a_first_step_lost_at_the_start_is_queued_again_by_a_get(
    client: Any, shop: str, admin_key: str, aws: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib.wiring.simulation import StepQueue

    kit.place(client, shop, "E-1", [("SKU-1", 1)])
    kit.drain(aws, QUEUE)

    def down(self: Any, simulation_id: str, step: int) -> None:
        raise RuntimeError("SQS down")

    with monkeypatch.context() as patch:
        patch.setattr(StepQueue, "send_step", down)
        resp = start(client, admin_key, {})
    assert resp.status_code == 202, resp.body
    assert kit.drain(aws, QUEUE) == []
    sim_path = f"{PATH}/{json.loads(resp.body)['simulation_id']}"
    assert get(client, admin_key, sim_path)["status"] == "queued"  # and queues step 0 again
    assert run_steps(client, aws) == 2
    assert get(client, admin_key, sim_path)["status"] == "done"


def test_a_step_failing_three_times_fails_the_simulation(
    client: Any, shop: str, admin_key: str, aws: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib.adapters.dynamo_simulation import DynamoSimInputs

    kit.place(client, shop, "F-1", [("SKU-1", 1)])
    kit.drain(aws, QUEUE)
    sim_id = json.loads(start(client, admin_key, {}).body)["simulation_id"]
    [step_0] = kit.drain(aws, QUEUE)
    assert kit.deliver(client, "on_order_event", QUEUE, step_0) == []
    [step_1] = kit.drain(aws, QUEUE)

    def down(self: Any, day: str, after: str | None, limit: int) -> list[Any]:
        raise RuntimeError("DynamoDB throttled")

    monkeypatch.setattr(DynamoSimInputs, "page", down)
    for _ in range(2):  # retried by SQS
        assert len(kit.deliver(client, "on_order_event", QUEUE, step_1)) == 1
    assert kit.deliver(client, "on_order_event", QUEUE, step_1) == []  # given up
    failed = get(client, admin_key, f"{PATH}/{sim_id}")
    assert failed["status"] == "failed"
    assert failed["error"] == "RuntimeError: DynamoDB throttled"
    assert post(client, admin_key, f"{PATH}/{sim_id}/activate").status_code == 409


def test_the_openapi_document_describes_the_simulation_routes(client: Any) -> None:
    doc = json.loads(client.http.get("/openapi.json").body)
    assert set(doc["paths"][PATH]) == {"get", "post"}
    assert set(doc["paths"][f"{PATH}/{{simulation_id}}"]) == {"get"}
    assert set(doc["paths"][f"{PATH}/{{simulation_id}}/activate"]) == {"post"}
    assert "from" in json.dumps(doc["paths"][PATH]["post"]) + json.dumps(doc.get("components"))
