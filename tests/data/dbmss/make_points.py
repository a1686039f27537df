"""Write the sites of the dbmss reference tests (run once; the CSV is kept).

python tests/data/dbmss/make_points.py && Rscript tests/data/dbmss/reference.R
"""

from pathlib import Path

import numpy as np

HERE = Path(__file__).parent


def main():
    rng = np.random.default_rng(20261203)
    # 360 sites in a 10 km square: a clustered industry A, a scattered B, others O
    hubs = rng.random((4, 2)) * 10_000
    a = hubs[rng.integers(4, size=90)] + rng.normal(0, 500, (90, 2))
    rest = rng.random((270, 2)) * 10_000
    xy = np.clip(np.vstack([a, rest]), 0, 10_000)
    types = np.array(["A"] * 90 + list(rng.choice(["B", "O"], size=270, p=[0.4, 0.6])))
    weight = np.round(rng.pareto(1.5, len(xy)) * 10 + 1)
    with open(HERE / "sites.csv", "w", encoding="utf-8") as f:
        f.write("x,y,type,weight\n")
        for (x, y), t, w in zip(xy, types, weight, strict=True):
            f.write(f"{x:.1f},{y:.1f},{t},{w:.0f}\n")


if __name__ == "__main__":
    main()
