"""Benchmark: grid hot spots and LISA (999 permutations), and HDBSCAN cluster areas.

Synthetic Hangzhou firms counted per cell of a square grid over the study area
(default 900 m: about 21,500 cells): seconds per statistic (after a warm-up that
loads the cached numba kernels). Then HDBSCAN cluster areas (with the stability
re-runs) of ``--points`` producer-service firms. Prints sizes, seconds and peak
memory. Run: ``python bench/clusters.py``.
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np

from geo.io.crs import DEFAULT_ANALYSIS_CRS
from geo.io.seed import generate_firms
from geo.io.zones import assign_points, load_layer, load_zones, study_area
from geo.stats.clusters import cluster_areas
from geo.stats.hotspots import hot_spots, local_moran, spatial_weights


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--grid", default="square:900")
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument("--permutations", type=int, default=999)
    parser.add_argument("--points", type=int, default=200_000)
    args = parser.parse_args()
    cells = load_zones(args.grid, area=study_area(load_layer("districts"))).to_crs(
        DEFAULT_ANALYSIS_CRS
    )
    firms = generate_firms(args.n, 1).firms.to_crs(DEFAULT_ANALYSIS_CRS)
    zone = assign_points(firms, cells)
    services = firms["group"].eq("producer_services")
    manufacturing = firms["group"].eq("manufacturing")
    y = zone[services].value_counts().reindex(cells["zone_id"], fill_value=0).to_numpy(float)
    m = zone[manufacturing].value_counts().reindex(cells["zone_id"], fill_value=0).to_numpy(float)
    w = spatial_weights(cells)
    hot_spots(cells.iloc[:50], y[:50], spatial_weights(cells.iloc[:50]), permutations=9)
    print(f"grid {args.grid}: {len(cells):,} cells, {args.n:,} firms, "
          f"{args.permutations} permutations")
    for name, call in (
        ("Gi*", lambda: hot_spots(cells, y, w, permutations=args.permutations, seed=1)),
        ("local Moran", lambda: local_moran(cells, y, w, permutations=args.permutations, seed=1)),
        ("bivariate LISA", lambda: local_moran(cells, y, w, other=m,
                                               permutations=args.permutations, seed=1)),
    ):
        start = time.perf_counter()
        call()
        print(f"{name:<16}{time.perf_counter() - start:>8.1f} s")
    pool = generate_firms(int(args.points / 0.4), 2).firms
    services = pool[pool["group"].eq("producer_services")].iloc[: args.points]
    for stability in (False, True):
        start = time.perf_counter()
        areas, _ = cluster_areas(services, np.ones(len(services), bool), min_cluster_size=100,
                                 stability=stability)
        print(f"HDBSCAN areas of {len(services):,} points (stability re-runs: {stability}): "
              f"{len(areas)} clusters, {time.perf_counter() - start:.1f} s")
    print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MiB")


if __name__ == "__main__":
    main()
