"""Benchmark: Kd's bandwidth pass against a plain pair sweep over the same pairs.

``geo run`` takes Kd's bandwidths (R's ``bw.nrd0``, as dbmss) from the
distances of every manufacturing × producer-service pair within ``2 rmax``,
for producer services and each of its six fields. The synthetic register
(``geo seed``'s population, ``--n`` firms) is typed as the run types it;
timed are:

- the bandwidth pass (:func:`geo.stats.coagglomeration.kd_plan` without
  counterfactuals: bandwidths of all six pairs, then the bins);
- a plain pair sweep over the same sites and pairs to the same distance: one
  labelling's histogram (:func:`geo.stats.typepairs.symmetric_histograms`, the
  sweep Kd repeats for each counterfactual), in bins of ``rmax / 1000``.

Each is run once to compile, then ``--repeat`` times; the median is printed
with the pair count, the number of passes and peak memory (RSS).

Run: ``python bench/kd_bandwidth.py`` (``--n 200000 --rmax 5000``; the
README's figures also use ``--n 1000000 --rmax 1000``).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time

import numpy as np

from geo.io.seed import generate_firms
from geo.stats.coagglomeration import kd_plan
from geo.stats.distance import DEFAULT_PARTNERS, type_atoms
from geo.stats.typepairs import symmetric_histograms


def peak_mb() -> float:
    """Peak resident memory of this process so far (MB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(call, repeat: int) -> tuple[float, object]:
    """Median wall seconds of ``repeat`` calls after one warm-up call, and the last result."""
    result = call()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument("--rmax", type=float, default=5000.0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    start = time.perf_counter()
    firms = generate_firms(args.n, seed=20261122).firms
    xy = firms.to_crs("EPSG:4549").geometry
    x, y = xy.x.to_numpy(), xy.y.to_numpy()
    pieces, members = type_atoms(firms, "manufacturing", DEFAULT_PARTNERS)
    pairs = [("manufacturing", p) for p in DEFAULT_PARTNERS]
    print(f"{args.n:,} firms drawn in {time.perf_counter() - start:.1f} s; Kd rmax "
          f"{args.rmax:g} m, bandwidths from the pairs within {2 * args.rmax:g} m")

    seconds, plan = timed(lambda: kd_plan(x, y, pieces, pairs, members=members, rmax=args.rmax,
                                          nsim=0), args.repeat)
    within = plan.options["within"]
    print(f"bandwidth pass, {len(pairs)} pairs: {seconds:.2f} s; pairs within 2 rmax: "
          f"{within[0]:,} (manufacturing x producer services)")
    for (_, partner), h, n in zip(pairs, plan.options["h"], within, strict=True):
        print(f"  {partner:18s} h = {h:7.1f} m from {n:,} distances")

    # the plain sweep: one labelling (the observed one) of the same base pairs, same distance
    codes = plan.codes.astype(np.int16)[:, None]
    step = args.rmax / 1000
    r = np.arange(0, 2 * args.rmax + step, step)
    n_base = int(plan.composition.pidx.max()) + 1
    lengths = np.full(n_base, len(r), np.int64)
    seconds_plain, _ = timed(lambda: symmetric_histograms(x, y, r, codes, plan.composition.pidx,
                                                          lengths), args.repeat)
    print(f"plain pair sweep, one labelling, same pairs to {2 * args.rmax:g} m: "
          f"{seconds_plain:.2f} s")
    print(f"bandwidth pass / plain sweep: {seconds / seconds_plain:.2f}")
    print(f"peak memory: {peak_mb():,.0f} MB")


if __name__ == "__main__":
    main()
