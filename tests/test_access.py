"""Two-step floating catchment area: hand computation and invariants."""

import numpy as np
import pytest

from geo.access import two_step_fca
from geo.errors import ConfigError


def test_uniform_2sfca_hand_computed():
    # demand at x = 0 (10 firms) and x = 4 (30); supply at x = 1 (5) and x = 10 (8); radius 5
    # supply 1 reaches both demands: R1 = 5 / (10 + 30) = 0.125
    # supply 2 reaches nothing within 5 (6 away from x = 4): R2 = NaN
    # A(0) = R1 = 0.125; A(4) = R1 = 0.125
    demand_xy = np.array([[0.0, 0.0], [4.0, 0.0]])
    supply_xy = np.array([[1.0, 0.0], [10.0, 0.0]])
    access, ratio = two_step_fca(demand_xy, [10, 30], supply_xy, [5, 8], 5, "uniform")
    assert ratio[0] == pytest.approx(0.125) and np.isnan(ratio[1])
    assert access == pytest.approx([0.125, 0.125])


def test_gaussian_2sfca_hand_computed():
    # one supply (S = 6) at 0; demands at 0 (P = 2) and at 3 (P = 4); radius 6
    # f(0) = 1; f(3) = (exp(-1/8) - exp(-1/2)) / (1 - exp(-1/2))
    f3 = (np.exp(-0.125) - np.exp(-0.5)) / (1 - np.exp(-0.5))
    access, ratio = two_step_fca([[0.0, 0.0], [3.0, 0.0]], [2, 4], [[0.0, 0.0]], [6], 6,
                                 "gaussian")
    r = 6 / (2 * 1 + 4 * f3)
    assert ratio[0] == pytest.approx(r)
    assert access == pytest.approx([r, r * f3])


def test_weighted_mean_accessibility_is_supply_over_demand():
    rng = np.random.default_rng(0)
    demand_xy = rng.random((300, 2)) * 1000
    supply_xy = rng.random((50, 2)) * 1000
    demand, supply = rng.integers(1, 20, 300), rng.integers(1, 10, 50)
    access, ratio = two_step_fca(demand_xy, demand, supply_xy, supply, 400, "uniform")
    assert not np.isnan(ratio).any()
    assert np.sum(access * demand) == pytest.approx(supply.sum())


def test_errors():
    with pytest.raises(ConfigError, match="decay"):
        two_step_fca([[0, 0]], [1], [[0, 0]], [1], 5, "linear")
    with pytest.raises(ConfigError, match="positive"):
        two_step_fca([[0, 0]], [1], [[0, 0]], [1], 0)
