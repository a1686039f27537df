"""Benchmark: zonal indices, cross-L and Kd of a large register on Dask workers.

Zonal indices: one task per zone layer (``--layers``; districts and grids),
each assigning every firm to its zone and computing every zonal measure
(LQ, HHI, Gini, EG, EGK pairs ...) by employment; the firms are sent to the
cluster once. Pair statistics: the synthetic register (``geo seed``'s
population, ``--n`` firms, all of them: no sampling) in the study-area
window; manufacturing with producer services
as ``geo run`` pairs them (the composite pair of :func:`geo.stats.distance.type_atoms`),
cross-L to ``--k-rmax`` (129 distances, border correction) and Kd to
``--kd-rmax`` (101 distances), ``--nsim`` simulations each. Both studies are
prepared once in this process (types, Kd's bandwidth pass, boundary
distances); their labellings are then computed on a local cluster of 1
worker and of 2 workers (one Dask thread and ``GEO_THREADS=1`` each, so the
workers are the only parallelism) in blocks of ``--block`` labellings
(default: one block per worker). Prints the seconds, each worker's peak
memory (RSS), the 1 -> 2 worker scaling and whether the results are
bit-identical (zonal tables: equal frames).

Run: ``python bench/batch.py`` (``--n 1000000 --nsim 99``; ``--n 100000`` for a quick look).
"""

from __future__ import annotations

import argparse
import logging
import resource
import time

import numpy as np

from geo.batch import compute_study, worker_facts
from geo.io.seed import generate_firms
from geo.io.zones import load_layer, study_area
from geo.stats.coagglomeration import cross_l_plan, kd_plan
from geo.stats.distance import make_window, points_in_window, type_atoms
from geo.stats.ripley import default_r

CRS = "EPSG:4549"


def peak_mb() -> float:
    """Peak resident memory of this process so far (MB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def same(a, b, zonal: bool = False) -> bool:
    """Whether two studies agree to the last bit (curves, bands and tables)."""
    if zonal:
        return all(x.equals(y) for pa, pb in zip(a, b, strict=True)
                   for x, y in zip(pa, pb, strict=True))
    for x, y in zip(a.results, b.results, strict=True):
        for name in ("observed", "lo", "hi", "theoretical"):
            if not np.array_equal(getattr(x, name), getattr(y, name), equal_nan=True):
                return False
    return a.table.equals(b.table)


def zonal_task(firms, layer: str):
    """Every zonal measure of ``firms`` over one zone layer (one Dask task)."""
    from geo.io.crs import DEFAULT_ANALYSIS_CRS
    from geo.io.zones import assign_points, load_zones
    from geo.stats.zonal import zonal_indices

    zones = load_zones(layer, area=study_area(load_layer("districts")))
    zone_of = assign_points(firms.to_crs(DEFAULT_ANALYSIS_CRS), zones.to_crs(DEFAULT_ANALYSIS_CRS))
    result = zonal_indices(firms, zones, zone_of_firm=zone_of, weighting="employment",
                           layer_name=layer)
    return result.zone_measures, result.industry_measures


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--nsim", type=int, default=99)
    # below geo run's 3 km / 5 km (which it runs on a 50,000-firm sample): every one of the
    # 1,000,000 firms is used, and Kd's bandwidth pass alone covers 2 x kd-rmax
    parser.add_argument("--k-rmax", type=float, default=500.0)
    parser.add_argument("--kd-rmax", type=float, default=1000.0)
    parser.add_argument("--workers", default="1,2", help="cluster sizes to time, in order")
    parser.add_argument("--block", type=int, default=None, help="labellings per task")
    parser.add_argument("--statistics", default="crossl,kd")
    parser.add_argument("--layers", default="districts,square:1000,square:500,hex:1000",
                        help="zone layers of the zonal indices ('' for none)")
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
    layers = [layer for layer in args.layers.split(",") if layer]
    names = ["zonal"] * bool(layers) + list(plans)
    timings: dict[str, dict[int, float]] = {name: {} for name in names}
    results: dict[str, dict] = {name: {} for name in names}
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
            if layers:
                began = time.perf_counter()
                shared = client.scatter(firms, broadcast=False)
                futures = [client.submit(zonal_task, shared, layer, pure=False)
                           for layer in layers]
                results["zonal"][workers] = client.gather(futures)
                timings["zonal"][workers] = time.perf_counter() - began
                print(f"zonal indices of {len(layers)} layers, {workers} worker(s): "
                      f"{timings['zonal'][workers]:.1f} s", flush=True)
            for name, plan in plans.items():
                began = time.perf_counter()
                results[name][workers] = compute_study(plan, client, block_size=args.block)
                timings[name][workers] = time.perf_counter() - began
                print(f"{name}, {workers} worker(s): {timings[name][workers]:.1f} s", flush=True)
            peaks = sorted(f["peak_rss_mb"] for f in client.run(worker_facts).values())
            print(f"  peak RSS per worker: {', '.join(f'{p:,.0f}' for p in peaks)} MB "
                  f"(each worker's lifetime peak, warm-up included)", flush=True)
    for name in names:
        one, *rest = sorted(timings[name])
        for workers in rest:
            print(f"{name}: {one} -> {workers} workers: {timings[name][one]:.1f} s -> "
                  f"{timings[name][workers]:.1f} s, speed-up "
                  f"{timings[name][one] / timings[name][workers]:.2f}x; bit-identical: "
                  f"{same(results[name][one], results[name][workers], name == 'zonal')}")
    print(f"client peak RSS {peak_mb():,.0f} MB")


if __name__ == "__main__":
    main()
