"""Benchmark: siting k new producer-service zones (2SFCA, candidate scores, MCLP).

Synthetic Hangzhou firms (default 50,000), square-grid candidates over the
whole study area (default 1,840 m cells: about 5,000 candidates), k = 10 zones
with a 3 km radius, MCLP solved by HiGHS. Prints sizes, seconds (cluster areas
that define the exclusions, then the siting itself and the solver's share),
the solver's status and proven gap, and peak memory. Run:
``python bench/siting.py``.
"""

from __future__ import annotations

import argparse
import resource
import time

from geo.io.seed import generate_firms
from geo.io.zones import load_layer
from geo.siting.study import SiteOptions, site_zones
from geo.stats.clusters import cluster_areas


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=50_000)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--cell", type=float, default=1840.0)
    parser.add_argument("--radius", type=float, default=3000.0)
    parser.add_argument("--method", default="mclp")
    parser.add_argument("--mask", default="none")
    parser.add_argument("--min-spacing", type=float, default=0.0)
    args = parser.parse_args()
    firms = generate_firms(args.n, 1).firms
    zones = {name: load_layer(name) for name in ("districts", "platforms", "towns")}
    start = time.perf_counter()
    clusters, _ = cluster_areas(firms, firms["group"].eq("producer_services").to_numpy(),
                                zones=zones, stability=False)
    cluster_seconds = time.perf_counter() - start
    options = SiteOptions(k=args.k, radius=args.radius, method=args.method, cell=args.cell,
                          mask=args.mask, min_spacing=args.min_spacing, seed=1)
    start = time.perf_counter()
    result = site_zones(firms, zones, options, clusters=clusters)
    seconds = time.perf_counter() - start
    s = result.summary
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"firms {args.n:,} ({s['n_manufacturing']:,} manufacturing, {s['n_supply']:,} "
          f"producer services); candidates {s['n_candidates']:,} ({s['n_eligible']:,} eligible "
          f"outside {len(clusters)} clusters); k = {args.k}, radius {args.radius:g} m, "
          f"{args.method}")
    print(f"cluster areas (HDBSCAN, no stability re-runs): {cluster_seconds:.1f} s")
    print(f"siting: {seconds:.1f} s in all, of which model build + solve "
          f"{s['solve_seconds']:.1f} s")
    gap = "no bound proven" if s["gap"] is None else f"gap {s['gap']:.4%}"
    print(f"solver {s['solver']}: {s['status']}, {gap}; unmet demand covered "
          f"{s['unmet_covered_by_new_zones']:,.0f} of {s['unmet_before']:,.0f}")
    print(f"peak memory {peak:,.0f} MB")


if __name__ == "__main__":
    main()
