"""Flag the stock items at or below their reorder point that were written before the sparse
low-stock index (``low_flag``), once, after upgrading a stack deployed before it:

    python -m infrastructure.backfill_low_flag dev

It scans the stage's stock table with the AWS credentials and region of the environment
(``AWS_ENDPOINT_URL`` points it at the local stack's moto). Running it again flags nothing new.
"""

from __future__ import annotations

import argparse
import sys

from infrastructure.stage import use_stage


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m infrastructure.backfill_low_flag")
    parser.add_argument("stage", help="a stage of .chalice/config.json: local, dev, prod")
    args = parser.parse_args(argv)
    use_stage(parser, args.stage, "STOCK_TABLE")

    from chalicelib import wiring

    wiring.reset()  # settings are read from the environment just set
    flagged = wiring.low_stock_index().flag_low_items()
    print(f"{flagged} low stock items flagged in {wiring.settings().stock_table}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
