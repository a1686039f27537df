"""Benchmark: a panel by year (issue 16) on the synthetic population.

Draws ``--n`` firms, assigns them to the districts, platforms, towns and a 2 km
grid, then builds the panel of ``--years`` (every zonal index per year and the
permutation test of change with ``--permutations`` relabellings). Prints the
firms active per year, seconds and peak memory. Run: ``python bench/panel.py``.
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np

from geo.io.crs import DEFAULT_ANALYSIS_CRS
from geo.io.seed import generate_firms
from geo.io.zones import assign_points, load_layer, load_zones, study_area
from geo.stats.panel import panel_by_year, parse_years
from geo.stats.schemes import load_scheme


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=30_000)
    parser.add_argument("--years", default="2015,2020,2024")
    parser.add_argument("--permutations", type=int, default=999)
    args = parser.parse_args()
    start = time.perf_counter()
    firms = generate_firms(args.n, 20261122).firms
    districts = load_layer("districts")
    zones = {name: load_layer(name) for name in ("districts", "platforms", "towns")}
    zones["grid"] = load_zones("square:2000", area=study_area(districts))
    projected = firms.to_crs(DEFAULT_ANALYSIS_CRS)
    zone_of = {name: np.asarray(assign_points(projected, z.to_crs(DEFAULT_ANALYSIS_CRS)),
                                dtype=object) for name, z in zones.items()}
    print(f"{args.n:,} firms drawn and assigned in {time.perf_counter() - start:.1f} s")
    start = time.perf_counter()
    panel = panel_by_year(firms, zones, zone_of, parse_years(args.years),
                          scheme=load_scheme("fields"), permutations=args.permutations, seed=1)
    seconds = time.perf_counter() - start
    active = ", ".join(f"{year} {n:,}" for year, n in panel.parameters["firms"].items())
    print(f"panel of {len(panel.years)} years ({active} firms active), "
          f"{sum(len(z) for z in zones.values()):,} zones in 4 layers, "
          f"{args.permutations} relabellings: {seconds:.1f} s")
    print(f"peak memory {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
