"""Bulk import from files, straight into the tables (no HTTP), with the same validation and
report as ``POST /imports/{products|stock}``:

    python -m local.importer --products products.csv --stock stock.json

A ``.csv`` file has a header line (``price_EUR``-style columns for prices); anything else is read
as a JSON list of rows. It writes to the running local stack (its moto on DIRIGENT_MOTO_PORT,
default 5000) with the local stage's names. Exits 1 when any row was rejected.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from chalicelib.api.imports import import_rows
from chalicelib.services.importer import parse_csv


def read_rows(path: Path) -> list[Any]:
    text = path.read_text(encoding="utf-8")
    rows = parse_csv(text) if path.suffix.lower() == ".csv" else json.loads(text)
    if not isinstance(rows, list):
        raise SystemExit(f"{path}: expected a JSON list of rows")
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--products", type=Path, help="products, CSV or JSON")
    parser.add_argument("--stock", type=Path, help="stock levels, CSV or JSON")
    args = parser.parse_args(argv)
    from local.stack import configure_env

    configure_env(moto_port=int(os.environ.get("DIRIGENT_MOTO_PORT", "5000")))
    failed = False
    # products first: stock rows must name known products
    for kind, path in (("products", args.products), ("stock", args.stock)):
        if path is None:
            continue
        report = import_rows(kind, read_rows(path))
        print(json.dumps(report.model_dump(), indent=1)[:4000])
        failed = failed or bool(report.errors)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
