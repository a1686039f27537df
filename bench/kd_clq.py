"""Benchmark: bilateral Kd to 10 km with 99 counterfactuals, local CLQ for every firm, and M.

Synthetic Hangzhou populations of N firms (all sites are counterfactual
locations); Kd of manufacturing with producer services; local CLQ of each
producer-service firm towards manufacturing (k = 8, 99 permutations); M of
producer services around manufacturing to ``--m-rmax`` (3 km) with 99 random
labellings. Prints n, seconds and peak memory.
Run: ``python bench/kd_clq.py`` (``--sizes 10000 50000``).
"""

from __future__ import annotations

import argparse
import resource
import time

from geo.io.crs import DEFAULT_ANALYSIS_CRS
from geo.io.seed import generate_firms
from geo.stats.colocation import local_colocation_quotient
from geo.stats.kdensity import kd_function
from geo.stats.mfunction import m_function


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 50_000, 200_000])
    parser.add_argument("--rmax", type=float, default=10_000.0)
    parser.add_argument("--nsim", type=int, default=99)
    parser.add_argument("--m-rmax", type=float, default=3000.0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    # Compile every kernel, serial and parallel, before timing: 2,000 firms x 100
    # labellings is large enough for the parallel compilation (geo.stats.threads.SMALL_WORK).
    warm = generate_firms(2000, 1).firms.to_crs(DEFAULT_ANALYSIS_CRS)
    wx, wy, wt = warm.geometry.x.to_numpy(), warm.geometry.y.to_numpy(), warm["group"].to_numpy()
    kd_function(wx, wy, wt, "manufacturing", "producer_services", rmax=args.rmax, nsim=99)
    local_colocation_quotient(wx, wy, wt, "producer_services", "manufacturing", nsim=99)
    m_function(wx, wy, wt, "manufacturing", "producer_services", rmax=args.m_rmax, nsim=99)
    print(f"{'firms':>8} {'Kd s':>7} {'bandwidth m':>12} {'LCLQ s':>7} {'M s':>6} {'peak MiB':>9}")
    for n in args.sizes:
        firms = generate_firms(n, args.seed).firms.to_crs(DEFAULT_ANALYSIS_CRS)
        x, y = firms.geometry.x.to_numpy(), firms.geometry.y.to_numpy()
        types = firms["group"].to_numpy()
        start = time.perf_counter()
        kd = kd_function(x, y, types, "manufacturing", "producer_services", rmax=args.rmax,
                         nsim=args.nsim, seed=args.seed)
        kd_s = time.perf_counter() - start
        start = time.perf_counter()
        local_colocation_quotient(x, y, types, "producer_services", "manufacturing",
                                  nsim=args.nsim, seed=args.seed)
        clq_s = time.perf_counter() - start
        start = time.perf_counter()
        m_function(x, y, types, "manufacturing", "producer_services", rmax=args.m_rmax,
                   nsim=args.nsim, seed=args.seed)
        m_s = time.perf_counter() - start
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"{n:>8,} {kd_s:>7.1f} {kd.parameters['bandwidth_m']:>12.0f} {clq_s:>7.1f} "
              f"{m_s:>6.1f} {peak:>9,.0f}")


if __name__ == "__main__":
    main()
