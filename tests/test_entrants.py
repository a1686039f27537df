"""Entrants' co-location with incumbent manufacturing, against brute force."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from geo.errors import ConfigError
from geo.stats.entrants import entrant_colocation


def _firms(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    group = rng.choice(["manufacturing", "producer_services", "other"], n, p=[0.3, 0.5, 0.2])
    field = np.where(group == "producer_services", rng.choice(["digital", "tech"], n), None)
    firms = pd.DataFrame({"group": group, "field": pd.Series(field, dtype=object),
                          "year": pd.array(rng.integers(2005, 2025, n), dtype="Int64")})
    return firms, rng.random(n) * 10_000, rng.random(n) * 10_000


def _brute(firms, x, y, first, last):
    """Entrant ratio and CLQ with explicit distances (ties at the nearest share one unit)."""
    year = firms["year"].to_numpy(dtype=float)
    m = (firms["group"] == "manufacturing").to_numpy() & (year <= first)
    s = (firms["group"] == "producer_services").to_numpy() & (year <= last)
    e = s & (year > first)
    points = np.flatnonzero(m | s)
    share = {}
    for i in points:
        others = points[points != i]
        d = np.hypot(x[others] - x[i], y[others] - y[i])
        nearest = others[d == d.min()]
        share[i] = m[nearest].mean()
    sites = [i for i in points if s[i]]
    entrants = [i for i in points if e[i]]
    mean_e = np.mean([share[i] for i in entrants])
    ratio = mean_e / np.mean([share[i] for i in sites])
    return ratio, mean_e / (m.sum() / (len(points) - 1)), len(entrants)


def test_entrant_ratio_and_clq_equal_brute_force():
    firms, x, y = _firms(400, 1)
    x[5], y[5] = x[6], y[6]  # a tie at the nearest distance
    table = entrant_colocation(firms, x, y, 2015, 2024, nsim=0)
    ratio, clq, n = _brute(firms, x, y, 2015, 2024)
    row = table.iloc[0]
    assert row["scope"] == "all" and row["n_entrants"] == n
    assert row["ratio"] == pytest.approx(ratio, rel=1e-12)
    assert row["clq"] == pytest.approx(clq, rel=1e-12)
    assert set(table["scope"]) == {"all", "field"}


def test_entrants_drawn_to_manufacturing_are_found_and_random_ones_are_not():
    firms, x, y = _firms(3000, 2)
    m = (firms["group"] == "manufacturing").to_numpy() & (firms["year"] <= 2015).to_numpy()
    e = (firms["group"] == "producer_services").to_numpy() & (firms["year"] > 2015).to_numpy()
    random_table = entrant_colocation(firms, x, y, 2015, 2024, nsim=199, seed=3)
    assert random_table.iloc[0]["p_value"] > 0.05
    # move half the entrants next to a manufacturing firm
    anchors = np.flatnonzero(m)
    movers = np.flatnonzero(e)[::2]
    pick = anchors[np.arange(len(movers)) % len(anchors)]
    x2, y2 = x.copy(), y.copy()
    x2[movers], y2[movers] = x[pick] + 1.0, y[pick] + 1.0
    table = entrant_colocation(firms, x2, y2, 2015, 2024, nsim=199, seed=3,
                               zone_of={"halves": np.where(x2 < 5000, "west", "east")})
    row = table.iloc[0]
    assert row["ratio"] > 1.3 and row["p_value"] <= 0.01
    local = table[table["scope"] == "halves"]
    assert set(local["key"]) == {"west", "east"} and (local["ratio"] > 1.2).all()


def test_a_period_without_entrants_says_so():
    firms, x, y = _firms(200, 3)
    with pytest.raises(ConfigError, match="no entrants"):
        entrant_colocation(firms, x, y, 2030, 2031, nsim=0)
    with pytest.raises(ConfigError, match="must end after"):
        entrant_colocation(firms, x, y, 2020, 2015, nsim=0)
