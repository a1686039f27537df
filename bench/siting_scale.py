"""Benchmark: the siting step of ``geo run`` at 100k, 300k and 1M firms.

Each size runs in its own process, one after the other (so the peaks do not
mix): the synthetic population is drawn as ``geo run --n N`` draws it (same
seed), the producer-service cluster areas that set the exclusions are found
with HDBSCAN (``--stability`` re-runs it as ``geo run`` does; off by default
to save time, it does not change the siting's work), then the siting runs
with ``geo run``'s options (k = 5, 3 km radius, MCLP, 1 km cells, built-up
mask). Prints per size: the firms, the candidates, seconds of the siting and
of its parts (the 2SFCA alone, timed again afterwards, and the MCLP model
build + solve), the process's resident memory before the siting and its peak
during it (Linux: the high-water mark is reset just before the siting), and
the peak of the whole process. Run: ``python bench/siting_scale.py``
(``--sizes 100000 300000 1000000``).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time


def _status_mb(key: str) -> float | None:
    """A memory line of /proc/self/status (e.g. VmHWM, VmRSS) in MB; None elsewhere."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _reset_peak() -> bool:
    """Reset the resident high-water mark of this process (Linux); False if not possible."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
            f.write("5")
        return True
    except OSError:
        return False


def one(n: int, stability: bool) -> dict:
    """Measure the siting step at ``n`` firms in this process."""
    import numpy as np

    from geo.config import DEFAULT_SEED, RunConfig
    from geo.io.crs import DEFAULT_ANALYSIS_CRS
    from geo.io.seed import generate_firms
    from geo.io.zones import load_layer
    from geo.siting.access import two_step_fca
    from geo.siting.study import SiteOptions, site_zones
    from geo.stats.clusters import cluster_areas
    from geo.stats.zonal import firm_weights

    config = RunConfig()
    started = time.perf_counter()
    firms = generate_firms(n, DEFAULT_SEED).firms
    firms = firms[~firms["suspect_position"].to_numpy(dtype=bool)].reset_index(drop=True)
    draw = time.perf_counter() - started
    zones = {name: load_layer(name) for name in ("districts", "platforms", "towns")}
    started = time.perf_counter()
    clusters, _ = cluster_areas(firms, firms["group"].eq("producer_services").to_numpy(),
                                zones=zones, min_cluster_size=config.min_cluster_size,
                                stability=stability)
    cluster_seconds = time.perf_counter() - started
    options = SiteOptions(k=config.site_k, radius=config.site_radius, method=config.site_method,
                          cell=config.site_cell, mask=config.site_mask, seed=config.seed)
    # compile (or load from numba's cache) the kernels before the clock starts
    site_zones(firms.iloc[:: max(1, n // 2000)], zones, options, clusters=clusters)
    rss_before = _status_mb("VmRSS")
    reset = _reset_peak()
    started = time.perf_counter()
    result = site_zones(firms, zones, options, clusters=clusters)
    seconds = time.perf_counter() - started
    peak = _status_mb("VmHWM") if reset else None
    # the 2SFCA alone, as site_zones calls it first
    projected = firms.to_crs(DEFAULT_ANALYSIS_CRS)
    xy = np.c_[projected.geometry.x, projected.geometry.y]
    weight, _ = firm_weights(projected, options.weighting)
    demand = projected["group"].eq("manufacturing").to_numpy()
    supply = projected["group"].eq("producer_services").to_numpy()
    started = time.perf_counter()
    two_step_fca(xy[demand], weight[demand], xy[supply], weight[supply], options.radius,
                 options.decay)
    fca_seconds = time.perf_counter() - started
    s = result.summary
    return {
        "n": n, "firms": len(firms), "manufacturing": s["n_manufacturing"],
        "supply": s["n_supply"], "candidates": s["n_candidates"], "eligible": s["n_eligible"],
        "clusters": len(clusters), "proposed": s["n_proposed"], "draw_s": draw,
        "clusters_s": cluster_seconds, "siting_s": seconds, "fca_s": fca_seconds,
        "solve_s": s["solve_seconds"], "solver_status": s["status"],
        "rss_before_mb": rss_before, "siting_peak_mb": peak,
        "process_peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 300_000, 1_000_000])
    parser.add_argument("--stability", action="store_true",
                        help="rate the clusters with HDBSCAN re-runs, as geo run does")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.one, args.stability)))
        return
    print(f"{'firms':>9} {'manuf.':>8} {'supply':>8} {'cand.':>7} {'elig.':>6} "
          f"{'siting s':>9} {'2SFCA s':>8} {'MCLP s':>7} {'RSS before MB':>14} "
          f"{'siting peak MB':>15} {'process peak MB':>16}")
    for n in args.sizes:
        command = [sys.executable, __file__, "--one", str(n)]
        if args.stability:
            command.append("--stability")
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            print(f"{n:>9,} failed: {done.stderr.strip().splitlines()[-1:]}")
            continue
        r = json.loads(done.stdout.strip().splitlines()[-1])
        peak = "n/a" if r["siting_peak_mb"] is None else f"{r['siting_peak_mb']:,.0f}"
        print(f"{r['firms']:>9,} {r['manufacturing']:>8,} {r['supply']:>8,} "
              f"{r['candidates']:>7,} {r['eligible']:>6,} {r['siting_s']:>9.1f} "
              f"{r['fca_s']:>8.1f} {r['solve_s']:>7.1f} {r['rss_before_mb']:>14,.0f} "
              f"{peak:>15} {r['process_peak_mb']:>16,.0f}")
        print(f"          (drawing {r['draw_s']:.0f} s, {r['clusters']} cluster areas in "
              f"{r['clusters_s']:.0f} s; MCLP {r['solver_status']}, {r['proposed']} zones)")


if __name__ == "__main__":
    main()
