"""Run every benchmark in turn: ``python -m bench`` (what ``make bench`` does).

Each prints its timings as ratios against a baseline measured in the same run (a peer tool, or
the raw cost of reading the data). Pass names to run only some: ``python -m bench trace``.
"""

from __future__ import annotations

import importlib
import sys
import time

BENCHMARKS = ("report", "trace", "cluster", "ingest_rpc")


def main(argv: list[str]) -> int:
    chosen = argv or list(BENCHMARKS)
    unknown = [name for name in chosen if name not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
        return 2
    for name in chosen:
        print(f"== bench.{name}", flush=True)
        started = time.perf_counter()
        module = importlib.import_module(f"bench.{name}")
        module.main([])
        print(f"== bench.{name} done in {time.perf_counter() - started:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
