"""How long 10,000 product rows and 10,000 stock rows take to import against the local moto
server (with the DynamoDB lock the local stack uses). Prints the figures; asserts nothing."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ROWS = 10_000


def main() -> None:
    import boto3

    from local.moto_server import MotoServer

    server = MotoServer(port=0).start()
    os.environ.update(
        AWS_ENDPOINT_URL=server.endpoint,
        AWS_DEFAULT_REGION="eu-central-1",
        AWS_ACCESS_KEY_ID="local",
        AWS_SECRET_ACCESS_KEY="local",
        POWERTOOLS_LOG_LEVEL="WARNING",
    )
    from chalicelib import wiring
    from chalicelib.api.imports import import_rows
    from chalicelib.domain.catalog import Kind
    from infrastructure.create import create_all
    from local.demo import network_documents, product_rows

    wiring.reset()
    create_all(boto3.session.Session())
    locations = network_documents()["locations"]
    for loc in locations:
        wiring.catalog_service().put(Kind.LOCATION, loc["location_id"], loc)
    products = product_rows(ROWS)
    started = time.perf_counter()
    report = import_rows("products", products)
    took = time.perf_counter() - started
    print(f"products: {report.imported} rows in {took:.1f} s ({report.imported / took:.0f}/s)")
    stock = [
        {"sku": p["sku"], "location_id": locations[n % 3]["location_id"], "on_hand": 10}
        for n, p in enumerate(products)
    ]
    for label in ("stock, new items", "stock, existing items"):
        started = time.perf_counter()
        report = import_rows("stock", stock)
        took = time.perf_counter() - started
        print(f"{label}: {report.imported} rows in {took:.1f} s ({report.imported / took:.0f}/s)")
    server.stop()


if __name__ == "__main__":
    main()
