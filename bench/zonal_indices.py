"""Benchmark: zonal indices of N firms over a grid of the study area.

Prints, per step, the seconds and the process's peak resident memory: drawing
the synthetic firms (not part of the index time), building the grid, assigning
firms to cells (point-in-polygon in EPSG:4549) and computing every zonal
measure (LQ, HHI, Gini, Hoover, EG gamma per group and division, EG gamma_c,
EGK pairs, co-agglomeration index). Run:
``python bench/zonal_indices.py`` (optionally ``--n 1000000 --grid square:500``).
"""

from __future__ import annotations

import argparse
import resource
import time

from geo.io.crs import DEFAULT_ANALYSIS_CRS
from geo.io.seed import generate_firms
from geo.io.zones import assign_points, load_layer, load_zones, study_area
from geo.stats.zonal import zonal_indices


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--grid", default="square:500")
    parser.add_argument("--weight", default="employment")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    start = time.perf_counter()
    firms = generate_firms(args.n, args.seed).firms
    print(f"draw {len(firms):,} firms: {time.perf_counter() - start:.1f} s (not timed below)")

    t0 = time.perf_counter()
    cells = load_zones(args.grid, area=study_area(load_layer("districts")))
    t1 = time.perf_counter()
    zone_of = assign_points(firms.to_crs(DEFAULT_ANALYSIS_CRS), cells.to_crs(DEFAULT_ANALYSIS_CRS))
    t2 = time.perf_counter()
    result = zonal_indices(
        firms, cells, zone_of_firm=zone_of, weighting=args.weight, layer_name=args.grid
    )
    t3 = time.perf_counter()
    s = result.summary
    print(f"grid {args.grid}: {len(cells):,} cells ({s['n_empty_zones']:,} empty)")
    print(f"{'step':<28}{'seconds':>9}")
    print(f"{'build grid':<28}{t1 - t0:>9.1f}")
    print(f"{'assign firms to cells':<28}{t2 - t1:>9.1f}")
    print(f"{'all zonal measures':<28}{t3 - t2:>9.1f}")
    print(f"{'total (grid + assign + idx)':<28}{t3 - t0:>9.1f}")
    print(
        f"tables: {len(result.zone_measures):,} zone rows, "
        f"{len(result.industry_measures):,} industry rows, {len(result.pairs):,} EGK pairs"
    )
    print(f"peak RSS: {peak_mib():,.0f} MiB")


if __name__ == "__main__":
    main()
