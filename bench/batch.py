"""Benchmark: cross-L and Kd of a large register split into simulation blocks on Dask workers.

The synthetic register (``geo seed``'s population, ``--n`` firms, all of them:
no sampling) in the study-area window; manufacturing with producer services
as ``geo run`` pairs them (the composite pair of :func:`geo.distance.type_atoms`),
cross-L to ``--k-rmax`` (129 distances, border correction) and Kd to
``--kd-rmax`` (101 distances), ``--nsim`` simulations each. Both studies are
prepared once in this process (types, Kd's bandwidth pass, boundary
distances); their labellings are then computed on a local cluster of 1
worker and of 2 workers (one Dask thread and ``GEO_THREADS=1`` each, so the
workers are the only parallelism) in blocks of ``--block`` labellings
(default: one block per worker). Prints the seconds, each worker's peak
memory (RSS), the 1 -> 2 worker scaling and whether the results are
bit-identical.

Run: ``python bench/batch.py`` (``--n 1000000 --nsim 99``; ``--n 100000`` for a quick look).
"""

from __future__ import annotations

import argparse
import logging
import resource
import time

import numpy as np

from geo.batch import compute_study, worker_facts
from geo.coagglomeration import cross_l_plan, kd_plan
from geo.distance import make_window, points_in_window, type_atoms
from geo.ripley import default_r
from geo.seed import generate_firms
from geo.zones import load_layer, study_area

CRS = "EPSG:4549"


def peak_mb() -> float:
    """Peak resident memory of this process so far (MB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def same(a, b) -> bool:
    """Whether two studies agree to the last bit (curves, bands and tables)."""
    for x, y in zip(a.results, b.results, strict=True):
        for name in ("observed", "lo", "hi", "theoretical"):
            if not np.array_equal(getattr(x, name), getattr(y, name), equal_nan=True):
                return False
    return a.table.equals(b.table)


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--nsim", type=int, default=99)
    parser.add_argument("--k-rmax", type=float, default=3000.0)
    parser.add_argument("--kd-rmax", type=float, default=5000.0)
    parser.add_argument("--workers", default="1,2", help="cluster sizes to time, in order")
    parser.add_argument("--block", type=int, default=None, help="labellings per task")
    parser.add_argument("--statistics", default="crossl,kd")
    args = parser.parse_args()
    import dask
    from distributed import Client, LocalCluster

    began = time.perf_counter()
    firms = generate_firms(args.n, seed=20261122).firms
    area = study_area(load_layer("districts"))
    window = make_window("study", firms.to_crs(CRS), CRS, area)
    x, y, inside = points_in_window(firms, window, CRS)
    frame, x, y = firms[inside], x[inside], y[inside]
    pieces, members = type_atoms(frame, "manufacturing", ("producer_services",))
    pairs = [("manufacturing", "producer_services")]
    sizes = {name: int(np.isin(pieces, parts).sum()) for name, parts in members.items()}
    print(f"firms {len(x):,} in the window ({sizes}); nsim {args.nsim}; drawn in "
          f"{time.perf_counter() - began:.0f} s", flush=True)
    plans = {}
    for name in args.statistics.split(","):
        began = time.perf_counter()
        if name == "crossl":
            plans["cross-L"] = cross_l_plan(x, y, window, pieces, pairs, members=members,
                                            r=default_r(args.k_rmax, 129), nsim=args.nsim,
                                            seed=1)
        else:
            plans["Kd"] = kd_plan(x, y, pieces, pairs, members=members, rmax=args.kd_rmax,
                                  n_r=101, nsim=args.nsim, seed=1)
        print(f"{name}: prepared in {time.perf_counter() - began:.1f} s (this process; Kd: "
              f"its bandwidth pass), client peak RSS {peak_mb():,.0f} MB", flush=True)
    timings: dict[str, dict[int, float]] = {name: {} for name in plans}
    results: dict[str, dict] = {name: {} for name in plans}
    for workers in (int(w) for w in args.workers.split(",")):
        # as geo batch: a worker busy in a kernel (which holds the GIL) is not dead
        with dask.config.set({"distributed.scheduler.worker-ttl": None}), \
                LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                             dashboard_address=":0", silence_logs=logging.ERROR,
                             env={"GEO_THREADS": "1", "GEO_BATCH_THREADS": "1"}) as cluster, \
                Client(cluster) as client:
            # load the compiled kernels in every worker before timing
            small = kd_plan(x[:3000], y[:3000], pieces[:3000], pairs, members=members,
                            rmax=500, n_r=11, nsim=workers, seed=1)
            compute_study(small, client, block_size=1)
            small = cross_l_plan(x[:3000], y[:3000], window, pieces[:3000], pairs,
                                 members=members, r=default_r(300, 11), nsim=workers, seed=1)
            compute_study(small, client, block_size=1)
            for name, plan in plans.items():
                began = time.perf_counter()
                results[name][workers] = compute_study(plan, client, block_size=args.block)
                timings[name][workers] = time.perf_counter() - began
                print(f"{name}, {workers} worker(s): {timings[name][workers]:.1f} s", flush=True)
            peaks = sorted(f["peak_rss_mb"] for f in client.run(worker_facts).values())
            print(f"  peak RSS per worker: {', '.join(f'{p:,.0f}' for p in peaks)} MB "
                  f"(each worker's lifetime peak, warm-up included)", flush=True)
    for name in plans:
        one, *rest = sorted(timings[name])
        for workers in rest:
            print(f"{name}: {one} -> {workers} workers: {timings[name][one]:.1f} s -> "
                  f"{timings[name][workers]:.1f} s, speed-up "
                  f"{timings[name][one] / timings[name][workers]:.2f}x; bit-identical: "
                  f"{same(results[name][one], results[name][workers])}")
    print(f"client peak RSS {peak_mb():,.0f} MB")


if __name__ == "__main__":
    main()
