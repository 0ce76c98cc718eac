"""The lifecycle machine of ``tests/unit/test_lifecycle_machine.py`` on the DynamoDB adapters
(moto), wired by ``chalicelib.wiring``: the same rules and invariants, fewer and shorter runs.

Each example gets a fresh moto account with every table, like the ``aws`` fixture of
``tests/conftest.py`` (a fixture is set up once per test, not once per example)."""

from __future__ import annotations

import boto3
from hypothesis import settings
from moto import mock_aws

from chalicelib import wiring
from infrastructure.create import create_all
from tests.unit.test_lifecycle_machine import Lifecycle, World


class MotoWorld(World):
    stamp_resolution = 0.002  # order transactions journal at the orders' millisecond stamps

    def __init__(self) -> None:
        self._mock = mock_aws()
        self._mock.start()
        wiring.reset()
        create_all(boto3.session.Session())
        self._wire(
            catalog=wiring.catalog_service(),
            stock=wiring.stock_store(),
            orders=wiring.orders(),
            snapshots=wiring.snapshots(),
            log=wiring.fulfilment_log(),
            rmas=wiring.rmas(),
            return_stock=wiring.return_stock(),
            queue=wiring.orders(),
            reservations=wiring.reservation_store(),
        )
        self.inventory.set_hot_shards("A", 3)  # A's stock split over shards everywhere

    def close(self) -> None:
        wiring.reset()
        self._mock.stop()


class MotoLifecycle(Lifecycle):
    @staticmethod
    def make_world() -> World:
        return MotoWorld()


TestMotoLifecycle = MotoLifecycle.TestCase
TestMotoLifecycle.settings = settings(max_examples=3, stateful_step_count=20, deadline=None)
