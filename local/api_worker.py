"""Extra HTTP API processes of the local stack (``DIRIGENT_API_WORKERS`` > 1).

Each one imports the app and serves the stack's API port next to the main process
(``SO_REUSEPORT``: the kernel spreads connections over the listeners), so requests no longer
share one interpreter lock. Like Lambda containers, each keeps its own caches (the catalogue's
``CACHE_TTL_SECONDS``). ``ApiWorker`` is the parent's handle; the child prints ``ready`` once it
listens (its life cycle: ``local/child.py``).
"""

from __future__ import annotations

import argparse
import threading

from local.child import START_TIMEOUT_S, Child, Lifeline, run


class ApiWorker:
    def __init__(self, *, port: int, moto_port: int) -> None:
        self._child = Child("local.api_worker", [str(port), str(moto_port)], name="an API worker")

    def ready(self, timeout: float = START_TIMEOUT_S) -> None:
        if (line := self._child.first_line(timeout)) != "ready":
            self._child.stop()
            raise OSError(f"an API worker failed to start: {line}")

    def stop(self) -> None:
        self._child.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.api_worker")
    parser.add_argument("port", type=int)
    parser.add_argument("moto_port", type=int)
    args = parser.parse_args(argv)
    lifeline = Lifeline()
    from local.stack import configure_env, http_server

    configure_env(moto_port=args.moto_port)
    from app import app

    server = http_server(app, port=args.port).server
    threading.Thread(target=server.serve_forever, args=(0.1,), daemon=True).start()
    return lifeline.serve("ready")


if __name__ == "__main__":
    run(main)
