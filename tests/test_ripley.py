"""Ripley's K/L against spatstat (stored reference values, and live when R is installed).

``reference_k.csv`` holds spatstat's values on random patterns, ``reference_ties.csv``
on lattice patterns where many distances equal some r or a boundary distance, with
evenly and unevenly spaced r: the two take different routes through spatstat.
"""

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely

from geo.errors import ConfigError
from geo.stats.ripley import Window, add_envelope, kfunction

DATA = Path(__file__).parent / "data" / "spatstat"
ROOT = Path(__file__).parents[1]
# the same windows as tests/data/spatstat/reference.R
WINDOWS = {
    "rect": Window.rectangle(0, 1000, 0, 600),
    "lshape": Window.from_geometry(
        shapely.Polygon([(0, 0), (1000, 0), (1000, 400), (500, 400), (500, 900), (0, 900)])
    ),
    "holed": Window.from_geometry(
        shapely.Polygon(
            [(0, 0), (800, 0), (800, 800), (0, 800)],
            [[(300, 300), (500, 300), (500, 500), (300, 500)]],
        )
    ),
    # tests/data/spatstat/reference_ties.R
    "lattice": Window.rectangle(0, 1, 0, 1),
    "grid": Window.rectangle(0, 20, 0, 20),
}
WINDOWS["lgrid"] = WINDOWS["lshape"]
CORRECTIONS = ("none", "border", "isotropic", "translate")


def _points(name):
    return pd.read_csv(DATA / f"points_{name}.csv")


def _compare(reference: pd.DataFrame):
    groups = ["pattern", "fun", "correction"] + (["spacing"] if "spacing" in reference else [])
    for (name, fun, corr, *_), expected in reference.groupby(groups):
        pts = _points(name)
        r = expected["r"].to_numpy()
        if fun == "K":
            ours = kfunction(pts.x, pts.y, WINDOWS[name], r=r, correction=corr)
        else:
            ours = kfunction(pts.x, pts.y, WINDOWS[name], types=pts.type, a="A", b="B", r=r,
                             correction=corr)
        want = expected["value"].to_numpy(dtype=float)
        assert np.array_equal(np.isnan(ours.observed), np.isnan(want)), (name, fun, corr)
        np.testing.assert_allclose(
            ours.observed, want, rtol=1e-6, atol=1e-9, err_msg=f"{name} {fun} {corr}"
        )


def test_k_matches_stored_spatstat_values():
    """Reference values written by tests/data/spatstat/reference.R (spatstat.explore 3.0-6)."""
    reference = pd.read_csv(DATA / "reference_k.csv")
    assert set(reference["correction"]) == set(CORRECTIONS)
    assert len(reference) == 400
    _compare(reference)


def test_k_matches_stored_spatstat_values_with_ties():
    """Lattice patterns (reference_ties.R): spatstat C routines and histograms, both spacings."""
    reference = pd.read_csv(DATA / "reference_ties.csv")
    assert set(reference["spacing"]) == {"even", "uneven"}
    assert len(reference) == 608
    _compare(reference)


def test_isotropic_weight_of_a_circle_through_a_corner_is_two():
    """A pair on the 0.001 lattice whose circle passes through corner (0, 1) (issue 18).

    i = (0.396, 0.835), j = (0.561, 0.439): |ij| = 0.429 = |i (0, 1)|, and only the
    left and top edges cut the circle: they cut off arcs of 2 acos(0.396 / 0.429) and
    2 acos(0.165 / 0.429), which sum to pi (the chords meet at the corner), so half the
    circle is inside and the weight is 2 (spatstat's closed form; the old code gave 1.14).
    """
    window = Window.rectangle(0, 1, 0, 1)
    x, y = np.array([0.396, 0.561]), np.array([0.835, 0.439])
    r = np.array([0.0, 0.5])
    k = kfunction(x, y, window, r=r, correction="isotropic", ties="closed")
    # K = |W| / (n (n - 1)) * (w_ij + w_ji); j's circle stays inside (w_ji = 1)
    np.testing.assert_allclose(k.observed[1], (2.0 + 1.0) / 2, rtol=1e-12)


@pytest.mark.skipif(shutil.which("Rscript") is None, reason="R (r-cran-spatstat) not installed")
def test_k_matches_live_spatstat(tmp_path):
    check = subprocess.run(
        ["Rscript", "-e", "library(spatstat.explore)"], capture_output=True, text=True
    )
    if check.returncode != 0:
        pytest.skip("spatstat not installed in R")
    # run the reference scripts against a copy so the stored values stay untouched
    work = tmp_path / "tests" / "data" / "spatstat"
    work.mkdir(parents=True)
    for path in [*DATA.glob("points_*.csv"), DATA / "reference.R", DATA / "reference_ties.R"]:
        shutil.copy(path, work / path.name)
    for script in ("reference.R", "reference_ties.R"):
        proc = subprocess.run(
            ["Rscript", str(work / script)], capture_output=True, text=True, cwd=tmp_path,
            timeout=600,
        )
        assert proc.returncode == 0, proc.stderr
    _compare(pd.read_csv(work / "reference_k.csv"))
    _compare(pd.read_csv(work / "reference_ties.csv"))


def test_closed_ties_border_keeps_centres_at_distance_r():
    """ties='closed': K_bord(r) = sum 1{d_ij <= r} 1{b_i >= r} / (lambda sum 1{b_i >= r})."""
    pts = _points("grid")
    window = WINDOWS["grid"]
    r = np.arange(0, 9.0)
    ours = kfunction(pts.x, pts.y, window, r=r, correction="border", ties="closed").observed
    x, y = pts.x.to_numpy(), pts.y.to_numpy()
    b = np.minimum.reduce([x, 20 - x, y, 20 - y])
    d = np.hypot(x[:, None] - x[None], y[:, None] - y[None])
    np.fill_diagonal(d, np.inf)
    lam = len(x) / 400
    for k, rr in enumerate(r):
        kept = b >= rr
        want = (d[kept] <= rr).sum() / (lam * kept.sum())
        assert ours[k] == pytest.approx(want, rel=1e-12)


def test_l_function_and_theoretical_values():
    pts = _points("rect")
    r = np.linspace(0, 150, 16)
    k = kfunction(pts.x, pts.y, WINDOWS["rect"], r=r, correction="isotropic")
    l_fun = kfunction(pts.x, pts.y, WINDOWS["rect"], r=r, correction="isotropic", fun="L")
    np.testing.assert_allclose(l_fun.observed, np.sqrt(k.observed / np.pi))
    np.testing.assert_allclose(k.theoretical, np.pi * r**2)
    np.testing.assert_allclose(l_fun.theoretical, r)


def test_hand_computed_k_three_points_under_each_tie_rule():
    # points at (0,0), (3,0), (0,4) in a 100 x 100 window, no correction:
    # ordered pairs at distances 3, 4, 5 (twice each); K(r) = |W| / (n (n - 1)) * count
    # = 10000 / 6 * count. Which pairs count at r = 3, 4, 5 is the tie rule:
    window = Window.rectangle(-10, 90, -10, 90)
    unit = 10000 / 6

    def counts(**kw):
        return kfunction([0, 3, 0], [0, 0, 4], window, correction="none", **kw).observed / unit

    # spatstat, evenly spaced r (its C routine Knone): d <= r, but only d < r_max
    np.testing.assert_allclose(counts(r=np.arange(6.0)), [0, 0, 0, 2, 4, 4])
    # spatstat, uneven r (histogram cells closed on the left): d < r, d <= r_max at the end
    np.testing.assert_allclose(counts(r=[0, 1, 2, 3, 4, 5.5, 6]), [0, 0, 0, 0, 2, 6, 6])
    # the published definition: d <= r
    np.testing.assert_allclose(counts(r=np.arange(6.0), ties="closed"), [0, 0, 0, 2, 4, 6])
    np.testing.assert_allclose(counts(r=[0.5, 3, 4, 5], ties="closed"), [0, 2, 4, 6])


def test_random_labelling_envelope_is_seeded_and_contains_null_patterns():
    pts = _points("lshape")
    r = np.linspace(0, 200, 21)
    first = kfunction(pts.x, pts.y, WINDOWS["lshape"], types=pts.type, a="A", b="B", r=r,
                      correction="border", nsim=39, seed=5)
    again = kfunction(pts.x, pts.y, WINDOWS["lshape"], types=pts.type, a="A", b="B", r=r,
                      correction="border", nsim=39, seed=5)
    other = kfunction(pts.x, pts.y, WINDOWS["lshape"], types=pts.type, a="A", b="B", r=r,
                      correction="border", nsim=39, seed=6)
    np.testing.assert_array_equal(first.simulations, again.simulations)
    assert not np.array_equal(first.simulations, other.simulations)
    assert first.simulations.shape == (39, 21)
    ok = np.isfinite(first.lo)
    assert np.all(first.lo[ok] <= first.hi[ok])
    # each simulated curve lies within the min/max pointwise envelope
    assert np.all(first.simulations[:, ok] >= first.lo[ok] - 1e-9)
    assert np.all(first.simulations[:, ok] <= first.hi[ok] + 1e-9)
    # types were assigned at random: the observed cross-K should sit mostly inside
    inside = (first.observed[ok] >= first.lo[ok]) & (first.observed[ok] <= first.hi[ok])
    assert inside.mean() > 0.7


def test_simulated_curves_equal_direct_estimates_of_relabelled_patterns():
    """The engine's simulations are exactly the estimates of the permuted patterns."""
    pts = _points("holed")
    r = np.linspace(0, 120, 13)
    res = kfunction(pts.x, pts.y, WINDOWS["holed"], types=pts.type, a="A", b="B", r=r,
                    correction="isotropic", nsim=3, seed=11)
    keep = pts.type.isin(["A", "B"]).to_numpy()
    sub = pts[keep]
    rng = np.random.default_rng(11)
    base = (sub.type == "A").to_numpy().astype(np.uint8)
    for s in range(3):
        labels = np.where(rng.permutation(base) == 1, "A", "B")
        direct = kfunction(sub.x, sub.y, WINDOWS["holed"], types=labels, a="A", b="B", r=r,
                           correction="isotropic")
        np.testing.assert_allclose(res.simulations[s], direct.observed, rtol=1e-12)


def test_global_envelope_and_p_value():
    rng = np.random.default_rng(0)
    r = np.linspace(0, 10, 11)
    sims = rng.normal(size=(19, 11))
    result = kfunction([1, 2, 3], [1, 2, 3], Window.rectangle(0, 50, 0, 50), r=r,
                       correction="none")
    result.observed = np.full(11, 100.0)  # far outside: smallest possible p-value
    add_envelope(result, sims, "global")
    assert result.p_value == pytest.approx(1 / 20)
    width = result.hi - result.lo
    assert np.allclose(width, width[0])  # a global band has constant width
    result.observed = sims.mean(axis=0)  # at the centre: p = 1
    add_envelope(result, sims, "global")
    assert result.p_value == pytest.approx(1.0)


def test_errors():
    window = Window.rectangle(0, 10, 0, 10)
    with pytest.raises(ConfigError, match="correction"):
        kfunction([1, 2], [1, 2], window, rmax=3, correction="ripley-ish")
    with pytest.raises(ConfigError, match="outside the window"):
        kfunction([1, 20], [1, 2], window, rmax=3)
    with pytest.raises(ConfigError, match="increasing"):
        kfunction([1, 2], [1, 2], window, r=np.array([0, 3, 1]))
    with pytest.raises(ConfigError, match="first must be 0"):
        kfunction([1, 2], [1, 2], window, r=np.array([1, 2, 3]))
    with pytest.raises(ConfigError, match="evenly spaced"):
        kfunction([1, 2], [1, 2], window, r=np.array([0, 1, 3]), border="exact")
    with pytest.raises(ConfigError, match="ties='spatstat'"):
        kfunction([1, 2], [1, 2], window, rmax=3, ties="closed", border="binned")
    with pytest.raises(ConfigError, match="too few points"):
        kfunction([1, 2], [1, 2], window, types=np.array(["A", "A"]), a="A", b="B", rmax=3)
