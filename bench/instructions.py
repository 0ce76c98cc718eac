"""Sourcing in machine instructions: ``plan()`` and the nearest-location baseline counted by
valgrind's callgrind, so two versions of the code compare without the noise of a shared machine
(CPU time here moves 2x between runs; an instruction count moves by well under 1 %).

Run: ``.venv/bin/python bench/instructions.py [--cases 30] [--sizes 5x1000 5x100]`` (needs
``valgrind``: ``apt-get install valgrind``; about a minute per size and function, as valgrind
runs Python some 50x slower). Each figure is (instructions of the process that plans ``cases``
requests) minus (the same process planning none), over ``cases``: the requests are those of
``bench/sourcing.py`` (same generator and seed), made before the count starts to differ.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def child(size: str, cases: int, run: str, seed: int) -> None:
    """Make the requests of ``size``, then plan ``cases`` of them with ``run`` (or none)."""
    sys.path[:0] = [str(ROOT), str(ROOT / "bench")]
    import random

    import sourcing as bench  # bench/sourcing.py

    from chalicelib.domain.sourcing import nearest_plan, plan

    lines, locations = (int(n) for n in size.split("x"))
    net = bench.load_network()
    rng = random.Random(seed)
    catalogue = bench.products(rng)
    locs = bench.locations(net, locations, rng)
    requests = [bench.random_request(net, catalogue, locs, lines, rng) for _ in range(cases)]
    plan(requests[0])  # the warm-up of a running Lambda (holiday calendars), in both counts
    nearest_plan(requests[0])
    fn = {"plan": plan, "nearest": nearest_plan}.get(run)
    for request in requests if fn else ():
        fn(request)


def instructions(size: str, cases: int, run: str, seed: int) -> int:
    """Instructions callgrind counts for one child process."""
    out = subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            "--callgrind-out-file=/dev/null",
            sys.executable,
            __file__,
            "--child",
            size,
            str(cases),
            run,
            str(seed),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    found = re.search(r"Collected : (\d+)", out.stderr)
    if found is None:
        raise RuntimeError(f"no instruction count in valgrind's output:\n{out.stderr[-2000:]}")
    return int(found.group(1))


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        size, cases, run, seed = sys.argv[2:6]
        child(size, int(cases), run, int(seed))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=30)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--sizes", nargs="+", default=["5x100", "5x1000"])
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        sys.exit("bench/instructions.py needs valgrind (apt-get install valgrind)")
    print("== instructions per request (callgrind), same requests as bench/sourcing.py ==")
    print(
        f"{'lines x locations':>17} {'cases':>5} {'plan M':>8} {'nearest M':>9}"
        f" {'plan ÷ nearest':>14}"
    )
    for size in args.sizes:
        base = instructions(size, args.cases, "none", args.seed)
        per = {
            run: (instructions(size, args.cases, run, args.seed) - base) / args.cases / 1e6
            for run in ("plan", "nearest")
        }
        print(
            f"{size:>17} {args.cases:>5} {per['plan']:>8.2f} {per['nearest']:>9.2f}"
            f" {per['plan'] / per['nearest']:>14.2f}"
        )


if __name__ == "__main__":
    main()
