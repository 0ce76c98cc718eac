"""Create an admin API key directly in a stage's tables and print it (``make admin-key``):
the first key of a deployed stage, or a way back in after the last admin key was revoked.

    python -m infrastructure.admin_key dev [--expires-in-days N]

It uses the AWS credentials and region of the environment (``AWS_ENDPOINT_URL`` points it at
the local stack's moto) and the same key service as ``POST /api-keys``.
"""

from __future__ import annotations

import argparse
import json
import sys

from infrastructure.stage import use_stage


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m infrastructure.admin_key")
    parser.add_argument("stage", help="a stage of .chalice/config.json: local, dev, prod")
    parser.add_argument("--expires-in-days", type=int, default=None)
    args = parser.parse_args(argv)
    use_stage(parser, args.stage, "CATALOG_TABLE")

    from chalicelib import wiring
    from chalicelib.domain.access import Role

    wiring.reset()  # settings are read from the environment just set
    created = wiring.keys().create(Role.ADMIN, expires_in_days=args.expires_in_days)
    print(json.dumps({k: created[k] for k in ("key_id", "api_key", "role")}))
    print(
        f"admin key {created['key_id']} created in {wiring.settings().catalog_table}; "
        "it is shown only now",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
