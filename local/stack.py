"""The whole system: moto in a child process of its own (``local/moto_server.py``), and every
resource, the HTTP API, SQS pollers and schedules in threads of this one. Ctrl-C stops the
threads, then moto, and leaves no process behind.

``AWS_ENDPOINT_URL`` is the only thing that differs from a deployment: the app, its handlers and
its resources (infrastructure/resources.json) are the real ones.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chalice.config import Config
from chalice.local import (
    ChaliceRequestHandler,
    CustomLocalChalice,
    LocalChalice,
    LocalDevServer,
    ThreadedHTTPServer,
)

from local.api_worker import ApiWorker
from local.moto_server import MotoProcess

ROOT = Path(__file__).resolve().parents[1]
CHALICE_CONFIG = ROOT / ".chalice" / "config.json"
REGION = "eu-central-1"
MAILS_PATH = "/_local/mails"
log = logging.getLogger("local.stack")


def configure_env(*, moto_port: int, stage: str = "local") -> None:
    """The stage's environment from .chalice/config.json, pointed at moto with dummy
    credentials. Must run before anything builds a boto3 client or imports app.py (the SQS
    decorators read queue names at import)."""
    disk = json.loads(CHALICE_CONFIG.read_text())
    os.environ.update(disk.get("environment_variables", {}))
    os.environ.update(disk["stages"][stage].get("environment_variables", {}))
    os.environ["POWERTOOLS_LOG_LEVEL"] = os.environ.get("DIRIGENT_LOG_LEVEL", "WARNING")
    # Metrics are EMF lines on stdout: only when asked for more logs.
    os.environ["POWERTOOLS_METRICS_DISABLED"] = str("DIRIGENT_LOG_LEVEL" not in os.environ).lower()
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        os.environ.pop(name, None)
    os.environ.update(
        AWS_ENDPOINT_URL=f"http://127.0.0.1:{moto_port}",
        AWS_DEFAULT_REGION=REGION,
        AWS_REGION=REGION,
        AWS_ACCESS_KEY_ID="local",
        AWS_SECRET_ACCESS_KEY="local",  # noqa: S106 - moto takes any credentials
    )
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from chalicelib import wiring

    wiring.reset()


class _HttpServer(ThreadedHTTPServer):
    # The order race tests open a couple of hundred connections at once.
    request_queue_size = 512

    def server_bind(self) -> None:
        # API worker processes (local/api_worker.py) listen on the same port.
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        super().server_bind()


class _QuietHandler(ChaliceRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        if log.isEnabledFor(logging.DEBUG):
            super().log_message(format, *args)

    def __getattr__(self, name: str) -> Any:
        # http.server answers a method without a do_<METHOD> (TRACE, CONNECT, ...) with 501;
        # the app answers it like any method a route lacks: 405 with Allow (403 off the routes).
        if name.startswith("do_"):
            return self._generic_handle
        raise AttributeError(name)


def http_server(app: Any, *, port: int) -> LocalDevServer:
    """chalice local's server for ``app`` (thread per request, thread-local current_request)."""
    # What chalice.local.create_local_server does, with our server and handler classes.
    if not isinstance(app, CustomLocalChalice):
        CustomLocalChalice.__bases__ = (LocalChalice, app.__class__)
        app.__class__ = CustomLocalChalice
    config = Config(
        chalice_stage="local",
        user_provided_params={"chalice_app": app, "project_dir": str(ROOT)},
        config_from_disk=json.loads(CHALICE_CONFIG.read_text()),
    )
    return LocalDevServer(
        app, config, "127.0.0.1", port, handler_cls=_QuietHandler, server_cls=_HttpServer
    )


@dataclass
class Stack:
    port: int
    moto_port: int
    admin_key: str
    demo: bool = True
    sim: bool = True  # run the simulated warehouse (local/simulator.py)
    keys: dict[str, str] = field(default_factory=dict)
    stop_event: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    api_workers: int = 1  # processes serving the API (this one and api_workers - 1 others)
    _moto: MotoProcess | None = None
    _http: LocalDevServer | None = None
    _api_workers: list[ApiWorker] = field(default_factory=list)
    _amazon: Any = None  # the local fake of Amazon's SP-API (local/fake_spapi.py)
    _receiver: Any = None  # the recording webhook receiver (local/receiver.py)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._moto = MotoProcess(port=self.moto_port, mails_path=MAILS_PATH).launch()
        import chalicelib.wiring  # noqa: F401 - boto3 loads here while moto loads there
        import infrastructure.create  # noqa: F401

        self.moto_port = self._moto.ready().port
        configure_env(moto_port=self.moto_port)
        from app import app  # only now: queue names and clients come from the environment

        self.app = app
        self._http = http_server(app, port=self.port)
        self.port = self._http.server.server_address[1]
        self._api_workers = [
            ApiWorker(port=self.port, moto_port=self.moto_port) for _ in range(self.api_workers - 1)
        ]
        self._create_resources()
        self._start_workers(app)
        if self.sim:
            self._start_simulator()
        self._spawn("http", lambda: self._http and self._http.server.serve_forever(0.1))
        from local.receiver import serve as serve_receiver

        self._receiver = serve_receiver(int(os.environ.get("DIRIGENT_RECEIVER_PORT", "0")))
        for worker in self._api_workers:
            worker.ready()
        if self.demo:
            self.keys = _load_demo(self.api_url, self.admin_key)
            self._amazon = _start_fake_amazon(self.api_url, self.admin_key)

    def _create_resources(self) -> None:
        from chalicelib import wiring
        from chalicelib.config import settings
        from chalicelib.domain.access import Role
        from infrastructure.create import create_all

        create_all(
            wiring.session(),
            prefix=os.environ["DIRIGENT_PREFIX"],
            mail_sender=settings().mail_sender,
        )
        wiring.keys().create(Role.ADMIN, api_key=self.admin_key)

    def _start_workers(self, app: Any) -> None:
        import boto3
        from botocore.config import Config as BotoConfig

        from local.pollers import Poller, sqs_handlers
        from local.scheduler import Scheduler, schedules

        sqs = boto3.client("sqs", config=BotoConfig(read_timeout=30, max_pool_connections=16))
        self.queue_handlers = sqs_handlers(app)
        self.schedules = schedules(app)
        workers: list[threading.Thread] = [
            Poller(target, sqs=sqs, stop=self.stop_event) for target in self.queue_handlers
        ]
        workers += [Scheduler(s, region=REGION, stop=self.stop_event) for s in self.schedules]
        for worker in workers:
            worker.start()
            self._threads.append(worker)

    def _start_simulator(self) -> None:
        import boto3

        from chalicelib.config import settings
        from local.simulator import SimulatedWarehouse

        sim = SimulatedWarehouse(
            sqs=boto3.client("sqs"),
            fulfilment_queue=settings().fulfilment_queue,
            events_queue=settings().warehouse_events_queue,
            stop=self.stop_event,
        )
        sim.start()
        self._threads.append(sim)

    def _spawn(self, name: str, target: Any) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def stop(self) -> None:
        """Stop pollers and schedules, then the HTTP server, then moto."""
        self.stop_event.set()
        if self._http is not None:
            self._http.server.shutdown()
            self._http.server.server_close()
        if self._amazon is not None:
            self._amazon.shutdown()
            self._amazon.server_close()
        if self._receiver is not None:
            self._receiver.shutdown()
            self._receiver.server_close()
        for worker in self._api_workers:
            worker.stop()
        for thread in self._threads:
            thread.join(timeout=3)
        if self._moto is not None:
            self._moto.stop()

    def state(self) -> dict[str, Any]:
        """What a test or a script needs to talk to this stack."""
        return {
            "api_url": self.api_url,
            "moto_url": f"http://127.0.0.1:{self.moto_port}",
            "mails_url": f"http://127.0.0.1:{self.moto_port}{MAILS_PATH}",
            "admin_key": self.admin_key,
            "keys": self.keys,
            "region": REGION,
            "queues": {q.name: q.queue for q in self.queue_handlers},
            "schedules": {s.name: s.expression for s in self.schedules},
            "dashboard": "/dashboard" in self.app.routes,
            "receiver_url": self._receiver.url if self._receiver else None,
        }


def _load_demo(base_url: str, admin_key: str) -> dict[str, str]:
    from local.demo import load_demo

    print("loading demo data through the API…", flush=True)
    return dict(load_demo(base_url, admin_key))


def _start_fake_amazon(base_url: str, admin_key: str) -> Any:
    """The fake SP-API with a few demo orders, and the demo ``marketplace`` channel's Amazon
    connector pointed at it (the ``amazon_poll`` schedule then captures them)."""
    from local.demo import configure_amazon, product_rows
    from local.fake_spapi import FakeSellingPartner, demo_orders, serve

    fake = FakeSellingPartner(page_size=2, throttle_every=7)
    server = serve(fake, port=int(os.environ.get("DIRIGENT_FAKE_AMAZON_PORT", "0")))
    for order, items in demo_orders(product_rows()):
        fake.put_order(order, items)
    url = f"http://127.0.0.1:{server.server_address[1]}"
    configure_amazon(base_url, admin_key, endpoint=url)
    print(f"fake Amazon SP-API at {url} (channel marketplace polls it)", flush=True)
    return server
