"""Two-step floating catchment area: hand computation and invariants."""

import numpy as np
import pytest

from geo.errors import ConfigError
from geo.siting.access import sums_within, two_step_fca


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


# ---------------------------------------------------------------- against brute force
# Independent reference: a plain numpy all-pairs matrix, the catchment d**2 <= r**2 and the
# decays written out from the formulas of Luo & Wang (2003) and Dai (2010).

X0, Y0 = 510_000.0, 3_350_000.0  # EPSG:4549-sized coordinates; integer offsets stay exact


def _decay_matrix(a_xy, b_xy, radius, decay):
    dx = a_xy[:, None, 0] - b_xy[None, :, 0]
    dy = a_xy[:, None, 1] - b_xy[None, :, 1]
    d2 = dx * dx + dy * dy
    inside = d2 <= radius * radius
    if decay == "uniform":
        f = np.ones_like(d2)
    else:
        edge = np.exp(-0.5)
        f = (np.exp(-0.5 * d2 / radius**2) - edge) / (1 - edge)
        f[d2 == radius * radius] = 0.0  # f(d0) = 0 by definition, not up to rounding
    return np.where(inside, f, 0.0), d2


def _brute_2sfca(demand_xy, demand, supply_xy, supply, radius, decay):
    f, _ = _decay_matrix(supply_xy, demand_xy, radius, decay)  # supply x demand
    reached = f @ demand
    ratio = np.full(len(supply), np.nan)
    ratio[reached > 0] = supply[reached > 0] / reached[reached > 0]
    return f.T @ np.nan_to_num(ratio), ratio


def _lattice(rng, n, side):
    """Integer points on a small lattice: many duplicates and pairs exactly 5 apart."""
    xy = rng.integers(0, side, (n, 2)).astype(float)
    xy[: n // 10] = xy[n // 10: 2 * (n // 10)]  # a tenth are exact copies of others
    return xy + [X0, Y0]


def _has_ties_and_duplicates(a_xy, b_xy, radius):
    _, d2 = _decay_matrix(a_xy, b_xy, radius, "uniform")
    return (d2 == radius * radius).sum() > 10 and (d2 == 0).sum() > 10


@pytest.mark.parametrize("decay", ["uniform", "gaussian"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_2sfca_equals_brute_force_with_ties_and_duplicates(decay, seed):
    rng = np.random.default_rng(seed)
    demand_xy, supply_xy = _lattice(rng, 400, 60), _lattice(rng, 150, 60)
    # far outliers: a supply that reaches no demand, a demand no supply reaches
    supply_xy = np.r_[supply_xy, [[X0 + 500, Y0 - 300]]]
    demand_xy = np.r_[demand_xy, [[X0 - 400, Y0 + 900]]]
    demand = rng.integers(1, 30, len(demand_xy)).astype(float)
    supply = rng.random(len(supply_xy)) * 10
    radius = 5.0  # 3-4-5 and 0-5 offsets of integer points: ties exactly at the radius
    assert _has_ties_and_duplicates(demand_xy, supply_xy, radius)
    access, ratio = two_step_fca(demand_xy, demand, supply_xy, supply, radius, decay)
    want_access, want_ratio = _brute_2sfca(demand_xy, demand, supply_xy, supply, radius, decay)
    assert np.array_equal(np.isnan(ratio), np.isnan(want_ratio))
    assert np.isnan(ratio[-1]) and access[-1] == 0
    np.testing.assert_allclose(ratio[~np.isnan(ratio)], want_ratio[~np.isnan(want_ratio)],
                               rtol=1e-12)
    np.testing.assert_allclose(access, want_access, rtol=1e-12, atol=0)


def test_a_pair_exactly_at_the_radius_counts_and_one_just_beyond_does_not():
    demand_xy = np.array([[X0, Y0], [X0 + 3, Y0 + 4], [X0 + 5, Y0 + 1e-3], [X0, Y0]])
    access, ratio = two_step_fca(demand_xy, [1, 2, 4, 8], [[X0, Y0]], [11], 5, "uniform")
    assert ratio[0] == pytest.approx(11 / (1 + 2 + 8), rel=1e-15)
    assert access[2] == 0 and access[1] == access[0] == access[3]


@pytest.mark.parametrize("decay", ["uniform", "gaussian"])
def test_sums_within_equal_brute_force_over_columns(decay):
    rng = np.random.default_rng(7)
    points = _lattice(rng, 300, 40)
    # centres on and off the lattice, some outside the points' bounding box
    centres = np.r_[_lattice(rng, 80, 40), rng.random((40, 2)) * 80 - 20 + [X0, Y0]]
    weights = rng.random((len(points), 3))
    radius = 5.0
    assert _has_ties_and_duplicates(centres, points, radius)
    f, _ = _decay_matrix(centres, points, radius, decay)
    got = sums_within(centres, points, radius, weights, decay)
    assert got.shape == (len(centres), 3)
    np.testing.assert_allclose(got, f @ weights, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(sums_within(centres, points, radius, weights[:, 1], decay),
                               f @ weights[:, 1], rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("radius", [1.0, 0.5, 3e5])
def test_sums_within_radius_tiny_or_huge_for_the_extent(radius):
    # points 200 km apart in clumps: a 1 m radius is far below the largest cell
    # (extent / 2048), a 300 km radius reaches every point from every centre
    rng = np.random.default_rng(11)
    clumps = rng.random((6, 2)) * 200_000
    points = np.repeat(np.floor(clumps), 40, axis=0) + rng.integers(0, 3, (240, 2))
    centres = points[::3] + [[0.0, 1.0]]  # exactly 1 m above a point
    weights = rng.random(len(points))
    f, d2 = _decay_matrix(centres, points, radius, "uniform")
    assert radius > 1e5 or (d2 == radius * radius).any() or radius < 1
    np.testing.assert_allclose(sums_within(centres, points, radius, weights), f @ weights,
                               rtol=1e-12)


def test_sums_within_millimetre_radius_at_projected_coordinates():
    # a 5 mm radius at 3,350 km from the origin: cells of a quarter radius are a few
    # coordinate ulps wide; integer multiples of 1/1024 m keep the 3-4-5 ties exact
    rng = np.random.default_rng(3)
    unit = 2.0**-10
    points = rng.integers(0, 40, (300, 2)) * unit + [X0, Y0]
    points[:30] = points[30:60]
    centres = np.r_[rng.integers(0, 40, (100, 2)) * unit + [X0, Y0], points[:20]]
    radius = 5 * unit
    assert _has_ties_and_duplicates(centres, points, radius)
    weights = rng.random(len(points))
    f, _ = _decay_matrix(centres, points, radius, "gaussian")
    np.testing.assert_allclose(sums_within(centres, points, radius, weights, "gaussian"),
                               f @ weights, rtol=1e-12, atol=1e-300)


def test_parallel_and_serial_kernels_give_identical_sums(monkeypatch):
    from geo.stats import threads

    rng = np.random.default_rng(5)
    points, centres = _lattice(rng, 3000, 120), _lattice(rng, 2000, 120)
    weights = rng.random((len(points), 2))
    f, _ = _decay_matrix(centres, points, 5.0, "gaussian")
    monkeypatch.setattr(threads, "SMALL_WORK", 0)  # let the parallel kernel take this job
    monkeypatch.setenv("GEO_THREADS", "2")
    parallel = sums_within(centres, points, 5.0, weights, "gaussian")
    monkeypatch.setenv("GEO_THREADS", "1")
    serial = sums_within(centres, points, 5.0, weights, "gaussian")
    assert np.array_equal(parallel, serial)
    np.testing.assert_allclose(serial, f @ weights, rtol=1e-12, atol=1e-300)


def test_sums_within_empty_inputs_and_errors():
    assert sums_within(np.empty((0, 2)), [[0, 0]], 5, [1.0]).shape == (0,)
    assert np.array_equal(sums_within([[0, 0]], np.empty((0, 2)), 5, np.empty((0, 2))),
                          np.zeros((1, 2)))
    with pytest.raises(ConfigError, match="decay"):
        sums_within([[0, 0]], [[0, 0]], 5, [1.0], "linear")
    with pytest.raises(ConfigError, match="positive"):
        sums_within([[0, 0]], [[0, 0]], 0, [1.0])
    with pytest.raises(ConfigError, match="finite"):
        sums_within([[np.nan, 0]], [[0, 0]], 5, [1.0])
