"""Benchmark: synthetic population size vs time and peak memory.

Prints, for each size, the seconds to draw and validate the population and the
peak resident memory of the process. Run: ``python bench/seed_population.py``
(optionally ``--sizes 30000 1000000``).
"""

from __future__ import annotations

import argparse
import resource
import time

from geo.io.seed import generate_firms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[30_000, 200_000, 1_000_000])
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    print(f"{'firms':>10} {'seconds':>8} {'firms/s':>10} {'peak RSS MiB':>13}")
    for n in args.sizes:
        start = time.perf_counter()
        table = generate_firms(n, args.seed)
        seconds = time.perf_counter() - start
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"{len(table.firms):>10,} {seconds:>8.1f} {n / seconds:>10,.0f} {peak:>13,.0f}")


if __name__ == "__main__":
    main()
