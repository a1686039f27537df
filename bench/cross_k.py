"""Benchmark: cross-K (border correction, 3 km) with 99 random-labelling simulations.

Synthetic Hangzhou populations of N manufacturing + producer-service points in
the study area (EPSG:4549, the district union as window). Prints n, the number
of pairs within rmax, seconds (observed + 99 simulations in one pass of the pair
engine, after a warm-up that compiles the numba kernels) and peak memory. When
R with spatstat is installed, also times spatstat's
``envelope(X, Kcross, nsim = 99, simulate = expression(rlabel(X)))`` on the same
data (border correction, same r) and prints the ratio; ``--spatstat-max`` caps
the sizes it is run on (it takes minutes at 50,000 points).

Run: ``python bench/cross_k.py`` (``--sizes 10000 50000 200000 --nsim 99``).
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

from geo.io.crs import DEFAULT_ANALYSIS_CRS
from geo.io.seed import generate_firms
from geo.io.zones import load_layer
from geo.stats.ripley import Window, kfunction


def population(n: int, seed: int) -> pd.DataFrame:
    """``n`` manufacturing or producer-service firms in EPSG:4549 metres."""
    firms = generate_firms(int(n / 0.55) + 1000, seed).firms
    firms = firms[firms["group"].isin(["manufacturing", "producer_services"])].iloc[:n]
    xy = firms.to_crs(DEFAULT_ANALYSIS_CRS).geometry
    return pd.DataFrame({"x": xy.x.to_numpy(), "y": xy.y.to_numpy(), "type": firms["group"]})


def spatstat_seconds(points: pd.DataFrame, window, rmax: float, nsim: int) -> float:
    """Seconds spatstat takes for the same envelope (the R script times itself)."""
    with tempfile.TemporaryDirectory() as tmp:
        pts = Path(tmp) / "pts.csv"
        points.to_csv(pts, index=False)
        rings = []
        for polygon in shapely.get_parts(shapely.orient_polygons(window)):
            for ring in [polygon.exterior, *polygon.interiors]:
                xy = np.asarray(ring.coords)[:-1]
                rings.append(pd.DataFrame({"ring": len(rings), "x": xy[:, 0], "y": xy[:, 1]}))
        ring_file = Path(tmp) / "rings.csv"
        pd.concat(rings).to_csv(ring_file, index=False)
        script = f"""
suppressMessages(library(spatstat))
p <- read.csv("{pts}")
g <- read.csv("{ring_file}")
W <- owin(poly = lapply(split(g, g$ring), function(d) list(x = d$x, y = d$y)), check = FALSE)
X <- ppp(p$x, p$y, window = W, marks = factor(p$type), check = FALSE)
r <- seq(0, {rmax}, length.out = 257)
t <- system.time(envelope(X, Kcross, i = "manufacturing", j = "producer_services", r = r,
                          correction = "border", nsim = {nsim},
                          simulate = expression(rlabel(X)), verbose = FALSE))
cat(t[["elapsed"]], "\\n")
"""
        proc = subprocess.run(["Rscript", "-e", script], capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(proc.stderr.strip().splitlines()[-1])
        return float(proc.stdout.split()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 50_000, 200_000])
    parser.add_argument("--rmax", type=float, default=3000.0)
    parser.add_argument("--nsim", type=int, default=99)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--spatstat-max", type=int, default=50_000)
    args = parser.parse_args()

    geometry = load_layer("districts").to_crs(DEFAULT_ANALYSIS_CRS).union_all()
    window = Window.from_geometry(geometry)
    have_r = shutil.which("Rscript") is not None
    # warm-up: compile the kernels so timings measure the work, not numba
    warm = population(2000, args.seed)
    kfunction(warm.x, warm.y, window, types=warm.type, a="manufacturing",
              b="producer_services", rmax=args.rmax, correction="border", nsim=2)
    print(f"{'n':>8} {'pairs<=rmax':>13} {'seconds':>8} {'peak MiB':>9} {'spatstat s':>11} "
          f"{'ratio':>6}")
    for n in args.sizes:
        pts = population(n, args.seed)
        from scipy.spatial import cKDTree

        pairs = "n/a"
        if n <= 50_000:
            tree = cKDTree(np.column_stack([pts.x, pts.y]))
            pairs = f"{tree.count_neighbors(tree, args.rmax) - n:,}"
        start = time.perf_counter()
        result = kfunction(pts.x, pts.y, window, types=pts.type, a="manufacturing",
                           b="producer_services", rmax=args.rmax, correction="border",
                           nsim=args.nsim, seed=args.seed)
        seconds = time.perf_counter() - start
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        ref, ratio = "", ""
        if have_r and n <= args.spatstat_max:
            try:
                ref_s = spatstat_seconds(pts, geometry, args.rmax, args.nsim)
                ref, ratio = f"{ref_s:.1f}", f"{ref_s / seconds:.0f}x"
            except RuntimeError as exc:
                ref = f"failed: {exc}"[:40]
        assert result.simulations.shape == (args.nsim, 257)
        print(f"{n:>8,} {pairs:>13} {seconds:>8.1f} {peak:>9,.0f} {ref:>11} {ratio:>6}")


if __name__ == "__main__":
    main()
