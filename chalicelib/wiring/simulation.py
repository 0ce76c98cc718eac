"""Composition of rule simulation: the input recorder capture calls after its commit, the job
(steps are ``simulation_step`` messages on the order-events queue) and its stores."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from chalicelib.config import settings
from chalicelib.wiring.aws import catalog, queues, table
from chalicelib.wiring.network_value import PreorderSnapshots

if TYPE_CHECKING:
    from chalicelib.adapters.dynamo_simulation import DynamoSimInputs, DynamoSimulations
    from chalicelib.domain.network import StockLevel
    from chalicelib.domain.order.model import Order
    from chalicelib.services.simulation import InputRecorder, SimulationService


def input_store() -> DynamoSimInputs:
    from chalicelib.adapters.dynamo_simulation import DynamoSimInputs

    return DynamoSimInputs(table(settings().orders_table))


def simulation_store() -> DynamoSimulations:
    from chalicelib.adapters.dynamo_simulation import DynamoSimulations

    return DynamoSimulations(table(settings().orders_table))


class StepQueue:
    """``simulation_step`` messages on the order-events queue (its consumer dispatches by type)."""

    def send_step(self, simulation_id: str, step: int) -> None:
        body = {
            "message_id": f"simulation_step:{simulation_id}:{step}",
            "type": "simulation_step",
            "simulation_id": simulation_id,
            "step": step,
        }
        queues().send(settings().order_events_queue, body)


def simulations() -> SimulationService:
    from chalicelib.services.catalog import CatalogService
    from chalicelib.services.simulation import SimulationService
    from chalicelib.wiring.clock import now

    return SimulationService(
        store=simulation_store(),
        inputs=input_store(),
        queue=StepQueue(),
        catalog=CatalogService(catalog()),
        clock=now,
    )


def recorder() -> InputRecorder:
    from chalicelib.services.catalog import CatalogService
    from chalicelib.services.simulation import InputRecorder

    return InputRecorder(input_store(), CatalogService(catalog()).locations)


class RecordingSnapshots(PreorderSnapshots):
    """The capture's snapshots, which also record an order's sourcing inputs once it is
    committed (``OrderService.place`` calls ``record_inputs``; it never raises; True once the
    inputs, and with them the order's sale, are stored)."""

    def record_inputs(
        self, order: Order, stock: Sequence[StockLevel], lines: Sequence[tuple[str, int, Any]]
    ) -> bool:
        try:
            return recorder().record(order, stock, lines)
        except Exception:  # noqa: BLE001 - the order is placed: this must not fail it
            from aws_lambda_powertools import Logger

            Logger(service="dirigent").exception("sourcing inputs not recorded")
            return False
