"""Write the point patterns of the spatstat reference tests (run once; the CSVs are kept).

python tests/data/spatstat/make_points.py && Rscript tests/data/spatstat/reference.R
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


if __name__ == "__main__":
    main()
