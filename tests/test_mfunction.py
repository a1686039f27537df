"""Marcon-Puech M: brute force (dbmss's estimator), hand example, invariants, seeds."""

import numpy as np
import pytest

from geo.errors import ConfigError
from geo.stats.mfunction import m_function


def _brute(x, y, types, R, N, w, r):
    n = len(x)
    d = np.hypot(x[:, None] - x[None], y[:, None] - y[None])
    np.fill_diagonal(d, np.inf)
    total, w_n = w.sum(), w[types == N].sum()
    out = []
    for rr in r:
        top = bottom = 0.0
        for i in np.flatnonzero(types == R):
            near = d[i] <= rr
            den = w[near].sum()
            if den == 0:
                continue
            top += w[near & (types == N)].sum() / den
            bottom += (w_n - (w[i] if R == N else 0)) / (total - w[i])
        out.append(top / bottom if bottom else np.nan)
    del n
    return np.array(out)


def test_hand_computed_m():
    # line: R at 0, N at 1, O at 2, R at 10, N at 10.5; unit weights, r = 1.5
    # i=0: neighbours within 1.5: N(1) -> ratio 1/1; i=3 (x=10): N(10.5) -> 1/1
    # global ratio: W_N / (W - 1) = 2 / 4 for each -> M = (1 + 1) / (0.5 + 0.5) = 2
    x = np.array([0.0, 1.0, 2.0, 10.0, 10.5])
    y = np.zeros(5)
    t = np.array(["R", "N", "O", "R", "N"])
    res = m_function(x, y, t, "R", "N", r=np.array([0.0, 1.5]))
    assert res.observed[1] == pytest.approx(2.0)
    assert np.isnan(res.observed[0])  # no reference point has a neighbour at r = 0


@pytest.mark.parametrize("same", [False, True])
def test_m_equals_brute_force_weighted(same):
    rng = np.random.default_rng(2)
    n = 300
    x, y = rng.random(n) * 5000, rng.random(n) * 5000
    t = rng.choice(["A", "B", "O"], n, p=[0.3, 0.3, 0.4])
    w = rng.pareto(1.2, n) * 5 + 1
    r = np.linspace(0, 1500, 16)
    b = "A" if same else "B"
    res = m_function(x, y, t, "A", b, weights=w, r=r)
    np.testing.assert_allclose(res.observed[1:], _brute(x, y, t, "A", b, w, r)[1:], rtol=1e-10)


def test_m_is_about_one_under_random_labelling_and_envelope_is_seeded():
    rng = np.random.default_rng(5)
    n = 800
    x, y = rng.random(n) * 10_000, rng.random(n) * 10_000
    t = rng.choice(["A", "B"], n)
    first = m_function(x, y, t, "A", "B", rmax=2000, nsim=39, seed=3)
    again = m_function(x, y, t, "A", "B", rmax=2000, nsim=39, seed=3)
    np.testing.assert_array_equal(first.simulations, again.simulations)
    mean = np.nanmean(first.simulations[:, 10:], axis=0)
    assert np.all(np.abs(mean - 1) < 0.05)
    assert first.parameters["null"].startswith("random labelling")


def test_errors():
    with pytest.raises(ConfigError, match="no points"):
        m_function(np.zeros(3), np.arange(3.0), np.array(["A", "A", "A"]), "A", "B")
