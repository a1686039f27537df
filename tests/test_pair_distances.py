"""Pair-distance summaries for bandwidths: unions of base pairs, and pass 2 only when needed."""

from __future__ import annotations

import numpy as np
import pytest

from geo.stats.bandwidths import bandwidth, summary
from geo.stats.pair_distances import distance_statistics, pair_distance_statistics


def _brute(x, y, codes, pidx, dmax):
    """Base pair and distance of every site pair within dmax, listed."""
    i, j = np.triu_indices(len(x), 1)
    dx, dy = x[j] - x[i], y[j] - y[i]
    d = np.sqrt(dx * dx + dy * dy)
    ci, cj = codes[i], codes[j]
    v = np.where((ci >= 0) & (cj >= 0), pidx[np.maximum(ci, 0), np.maximum(cj, 0)], -1)
    keep = (v >= 0) & (d <= dmax)
    return v[keep], d[keep]


def test_requested_pairs_are_unions_of_base_pairs():
    rng = np.random.default_rng(21)
    n = 500
    x, y = rng.uniform(0, 4000, n), rng.uniform(0, 4000, n)
    x[:30] = np.round(x[:30], -2)  # ties
    codes = rng.integers(-1, 4, n)
    # type 0 with 1, 2 and 3; 1 with itself. Requested: 0 x {1, 2, 3} (a union), 0 x 1 (inside
    # the union: groups overlap), 1 x 1, and 2 x 3 (no base pair)
    pidx = np.full((4, 4), -1)
    for v, (a, b) in enumerate([(0, 1), (0, 2), (0, 3), (1, 1)]):
        pidx[a, b] = pidx[b, a] = v
    groups = [[0, 1, 2], [0], [3]]
    stats = pair_distance_statistics(x, y, codes, pidx, 1200.0, sj_bins=40, groups=groups)
    v, d = _brute(x, y, codes, pidx, 1200.0)
    for got, group in zip(stats, groups, strict=True):
        want = summary(d[np.isin(v, group)], sj_bins=40)
        assert got["n"] == want["n"]
        np.testing.assert_allclose(got["sd"], want["sd"], rtol=1e-10)
        np.testing.assert_allclose([got["q25"], got["q75"]], [want["q25"], want["q75"]],
                                   rtol=1e-14)
        assert got["min"] == want["min"]
        assert got["sj_width"] == want["sj_width"]
        np.testing.assert_array_equal(got["sj_counts"], want["sj_counts"])
    # an empty base pair and a site set too small give n = 0, not an error
    assert pair_distance_statistics(x[:1], y[:1], codes[:1], pidx, 1200.0) == [{"n": 0}] * 4


def _clustered(rng, n, spread):
    """Sites around a few centres: the narrower the spread, the more the short distances."""
    centres = rng.uniform(0, 10_000, (6, 2))
    k = rng.integers(0, 6, n)
    return (centres[k, 0] + rng.normal(0, spread, n), centres[k, 1] + rng.normal(0, spread, n))


@pytest.mark.parametrize("spread", [3000.0, 400.0, 60.0])
def test_quartiles_as_needed_give_r_bandwidths_exactly(spread):
    rng = np.random.default_rng(int(spread))
    x, y = _clustered(rng, 700, spread)
    is_a = rng.random(700) < 0.4
    is_b = ~is_a & (rng.random(700) < 0.7)
    i, j = np.triu_indices(700, 1)
    d = np.hypot(x[j] - x[i], y[j] - y[i])
    cross = (is_a[i] & is_b[j]) | (is_a[j] & is_b[i])
    listed = summary(d[cross & (d <= 5000.0)])
    want = bandwidth("nrd0", listed)
    got = distance_statistics(x, y, is_a, is_b, 5000.0, quartiles="as_needed")
    assert got["n"] == listed["n"]
    assert bandwidth("nrd0", got) == pytest.approx(want, rel=1e-12)
    takes_iqr = (listed["q75"] - listed["q25"]) / 1.34 < listed["sd"]
    if got["q25"] is None:  # skipped only when the IQR is proven above 1.34 sd
        assert not takes_iqr
    else:
        assert [got["q25"], got["q75"]] == pytest.approx([listed["q25"], listed["q75"]],
                                                         rel=1e-14)
    if takes_iqr:
        assert got["q25"] is not None


def test_both_paths_of_as_needed_occur():
    """A spread pattern needs one pass; a tight cluster's IQR is below 1.34 sd: two."""
    rng = np.random.default_rng(5)
    x, y = rng.uniform(0, 3000, 600), rng.uniform(0, 3000, 600)
    same = np.ones(600, bool)
    assert distance_statistics(x, y, same, same, 2000.0, quartiles="as_needed")["q25"] is None
    # most pairs very close, a few far: a long right tail, sd above IQR / 1.34
    x = np.concatenate([rng.normal(0, 5, 550), rng.uniform(0, 3000, 50)])
    y = np.concatenate([rng.normal(0, 5, 550), rng.uniform(0, 3000, 50)])
    tight = distance_statistics(x, y, same, same, 4000.0, quartiles="as_needed")
    exact = distance_statistics(x, y, same, same, 4000.0)
    assert (tight["q75"] - tight["q25"]) / 1.34 < tight["sd"]
    assert [tight["q25"], tight["q75"]] == [exact["q25"], exact["q75"]]


def test_unknown_quartiles_mode_is_refused():
    with pytest.raises(ValueError, match="quartiles"):
        distance_statistics(np.zeros(3), np.arange(3.0), np.ones(3, bool), np.ones(3, bool), 5.0,
                            quartiles="roughly")
