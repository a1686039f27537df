"""Write the point patterns of the spatstat reference tests (run once; the CSVs are kept).

python tests/data/spatstat/make_points.py && Rscript tests/data/spatstat/reference.R \
    && Rscript tests/data/spatstat/reference_ties.R
"""

from pathlib import Path

import numpy as np
import shapely

HERE = Path(__file__).parent
# windows, also hard-coded in reference.R and tests/test_ripley.py
WINDOWS = {
    "rect": shapely.box(0, 0, 1000, 600),
    "lshape": shapely.Polygon([(0, 0), (1000, 0), (1000, 400), (500, 400), (500, 900), (0, 900)]),
    "holed": shapely.Polygon(
        [(0, 0), (800, 0), (800, 800), (0, 800)], [[(300, 300), (500, 300), (500, 500), (300, 500)]]
    ),
}


def uniform(rng, window, n):
    x0, y0, x1, y1 = window.bounds
    out = []
    while len(out) < n:
        x, y = rng.uniform(x0, x1), rng.uniform(y0, y1)
        if window.contains(shapely.Point(x, y)):
            out.append((x, y))
    return np.array(out)


def clustered(rng, window, n, parents=12, sigma=40.0):
    centres = uniform(rng, window, parents)
    out = []
    while len(out) < n:
        c = centres[rng.integers(parents)]
        x, y = c + rng.normal(0, sigma, 2)
        if window.contains(shapely.Point(x, y)):
            out.append((x, y))
    return np.array(out)


def corner_pairs(rng, n_pairs):
    """Lattice pairs (i, j) in the unit square whose circle around i passes through a corner.

    i sits at a Pythagorean offset (p k, q k) thousandths from corner (0, 1) and j
    at the offset turned by 90 degrees, so |ij| equals i's distance to the
    corner (up to the rounding of 0.001 multiples); then mirrored to any corner.
    """
    triples = [(3, 4), (5, 12), (8, 15), (7, 24), (20, 21)]
    out = []
    while len(out) < 2 * n_pairs:
        p, q = triples[rng.integers(len(triples))]
        k = int(rng.integers(1, 30))
        dx, dy = (p * k, q * k) if rng.random() < 0.5 else (q * k, p * k)
        i = np.array([dx, 1000 - dy])
        j = np.array([dx + dy, 1000 - dy - dx])
        if j[0] > 1000 or j[1] < 0 or min(1000 - i[0], i[1]) <= np.hypot(dx, dy):
            continue  # only the two edges at the corner may cut the circle
        flip_x, flip_y = rng.random() < 0.5, rng.random() < 0.5
        for point in (i, j):
            point = point.copy()
            if flip_x:
                point[0] = 1000 - point[0]
            if flip_y:
                point[1] = 1000 - point[1]
            out.append(point / 1000)
    return np.array(out)


def lattice_patterns():
    """Patterns with ties: 0.001 and 0.01 lattices (with corner circles), an integer grid."""
    rng = np.random.default_rng(20261201)
    lattice = np.vstack([corner_pairs(rng, 12), np.round(rng.random((140, 2)), 3)])
    grid = np.unique(rng.integers(0, 21, size=(160, 2)), axis=0).astype(float)
    lwin = WINDOWS["lshape"]
    lgrid = np.round(uniform(rng, lwin, 200) / 10) * 10
    lgrid = np.unique(lgrid, axis=0)
    for name, xy in {"lattice": lattice, "grid": grid, "lgrid": lgrid}.items():
        types = rng.choice(["A", "B", "C"], size=len(xy), p=[0.4, 0.35, 0.25])
        with open(HERE / f"points_{name}.csv", "w", encoding="utf-8") as f:
            f.write("x,y,type\n")
            for (x, y), t in zip(xy, types, strict=True):
                f.write(f"{x:.3f},{y:.3f},{t}\n")


def main():
    rng = np.random.default_rng(20261122)
    patterns = {
        "rect": uniform(rng, WINDOWS["rect"], 200),
        "lshape": clustered(rng, WINDOWS["lshape"], 250),
        "holed": uniform(rng, WINDOWS["holed"], 150),
    }
    for name, xy in patterns.items():
        types = rng.choice(["A", "B", "C"], size=len(xy), p=[0.4, 0.35, 0.25])
        with open(HERE / f"points_{name}.csv", "w", encoding="utf-8") as f:
            f.write("x,y,type\n")
            for (x, y), t in zip(xy, types, strict=True):
                f.write(f"{x:.6f},{y:.6f},{t}\n")
    lattice_patterns()


if __name__ == "__main__":
    main()
