"""Benchmark: co-agglomeration of every division pair, manufacturing x producer services.

The synthetic register (``geo seed``'s population, ``--n`` firms) typed by
GB/T 4754 division; every pair of a manufacturing division with a
producer-service division (with at least ``--min-firms`` firms each) gets
Kd with ``--nsim`` counterfactuals in one pass (:mod:`geo.stats.coagglomeration`),
and, for comparison, a few pairs one at a time with
:func:`geo.stats.kdensity.kd_function` (same seed, same bin width: the same numbers)
to extrapolate what pair-by-pair runs would cost. Optionally the same for
cross-L, M and CLQ (``--all-statistics``). Prints sizes, seconds and peak
memory (RSS).

Run: ``python bench/coagglomeration.py`` (``--n 50000 --nsim 99 --rmax 5000``).
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np

from geo.io.seed import generate_firms
from geo.stats.coagglomeration import (
    coagglomeration_clq,
    coagglomeration_cross_l,
    coagglomeration_kd,
    coagglomeration_m,
    industry_types,
    resolve_pairs,
)
from geo.stats.kdensity import kd_function
from geo.stats.ripley import Window, default_r


def peak_mb() -> float:
    """Peak resident memory of this process so far (MB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=50_000)
    parser.add_argument("--nsim", type=int, default=99)
    parser.add_argument("--rmax", type=float, default=5000.0)
    parser.add_argument("--min-firms", type=int, default=10)
    parser.add_argument("--one-by-one", type=int, default=3, help="pairs timed one at a time")
    parser.add_argument("--all-statistics", action="store_true")
    args = parser.parse_args()

    firms = generate_firms(args.n, seed=20261122).firms
    xy = firms.to_crs("EPSG:4549").geometry
    x, y = xy.x.to_numpy(), xy.y.to_numpy()
    types = industry_types(firms, "division")
    pairs, notes = resolve_pairs("manufacturing*producer_services", firms, types,
                                 min_firms=args.min_firms)
    left = len({a for a, _ in pairs})
    right = len({b for _, b in pairs})
    print(f"firms {len(x):,}; pairs {len(pairs)} ({left} manufacturing x {right} producer-"
          f"service divisions); nsim {args.nsim}; rmax {args.rmax:g} m; {'; '.join(notes)}")

    # compile once on a small problem so the timings below are the work
    coagglomeration_kd(x[:2000], y[:2000], types[:2000], pairs[:2], rmax=args.rmax, n_r=11,
                       nsim=1, seed=1)
    start = time.perf_counter()
    study = coagglomeration_kd(x, y, types, pairs, rmax=args.rmax, n_r=101, nsim=args.nsim,
                               seed=1)
    all_pairs = time.perf_counter() - start
    table = study.table
    print(f"Kd, all pairs in one pass: {all_pairs:.1f} s, peak RSS {peak_mb():,.0f} MB, "
          f"bins {table['bin_width_m'].min():.1f}-{table['bin_width_m'].max():.1f} m; "
          f"{int(table['significant'].sum())} localised, {int(table['dispersed'].sum())} "
          "dispersed")
    one = []
    for (a, b), result in list(zip(pairs, study.results, strict=True))[: args.one_by_one]:
        labels = np.where(types == a, a, np.where(types == b, b, "other"))
        start = time.perf_counter()
        kd_function(x, y, labels, a, b, rmax=args.rmax, n_r=101, nsim=args.nsim, seed=1,
                    bin_width=result.parameters["bin_width_m"])
        one.append(time.perf_counter() - start)
    if one:
        each = float(np.mean(one))
        print(f"Kd, one pair at a time: {each:.1f} s per pair -> {each * len(pairs):,.0f} s "
              f"for all {len(pairs)} pairs ({each * len(pairs) / all_pairs:.0f}x the one pass)")
    if not args.all_statistics:
        return
    window = Window.rectangle(x.min(), x.max(), y.min(), y.max())
    ordered = [(a, b) for a, b in pairs]
    for name, call in (
        ("cross-L (border)", lambda: coagglomeration_cross_l(
            x, y, window, types, ordered, r=default_r(3000, 129), nsim=args.nsim, seed=1)),
        ("M", lambda: coagglomeration_m(x, y, types, ordered, r=np.linspace(0, 3000, 65),
                                        nsim=args.nsim, seed=1)),
        ("CLQ", lambda: coagglomeration_clq(x, y, types, ordered, nsim=args.nsim, seed=1)),
    ):
        start = time.perf_counter()
        call()
        print(f"{name}, all pairs in one pass: {time.perf_counter() - start:.1f} s, "
              f"peak RSS {peak_mb():,.0f} MB")


if __name__ == "__main__":
    main()
