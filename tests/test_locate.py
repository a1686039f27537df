"""MCLP and p-median against brute-force optima and PySAL spopt on small instances."""

import itertools
import warnings

import numpy as np
import pulp
import pytest

from geo.errors import ConfigError
from geo.siting.locate import maximal_covering, p_median


@pytest.fixture
def instance():
    rng = np.random.default_rng(4)
    demand_xy = rng.random((40, 2)) * 10_000
    demand = rng.integers(1, 50, 40).astype(float)
    candidates = rng.random((9, 2)) * 10_000
    return demand_xy, demand, candidates


def _dist(a, b):
    return np.hypot(*(a[:, None, :] - b[None]).transpose(2, 0, 1))


def _allowed(combo, candidates, spacing=0.0, groups=None):
    for a, b in itertools.combinations(combo, 2):
        if np.hypot(*(candidates[a] - candidates[b])) < spacing:
            return False
        if groups is not None and groups[a] is not None and groups[a] == groups[b]:
            return False
    return True


def test_mclp_equals_brute_force(instance):
    demand_xy, demand, candidates = instance
    dist = _dist(demand_xy, candidates)
    for k in (1, 2, 3):
        best = max(
            demand[(dist[:, list(c)] <= 2500).any(axis=1)].sum()
            for c in itertools.combinations(range(9), k)
        )
        solution = maximal_covering(demand_xy, demand, candidates, k, 2500)
        assert len(solution.chosen) == k
        assert solution.objective == pytest.approx(best)
        assert solution.status == "optimal" and solution.gap < 1e-6
        assert solution.solver.startswith("HiGHS")


def test_pmedian_equals_brute_force(instance):
    demand_xy, demand, candidates = instance
    dist = _dist(demand_xy, candidates)
    for k in (1, 2, 3):
        best = min(
            (demand * dist[:, list(c)].min(axis=1)).sum()
            for c in itertools.combinations(range(9), k)
        )
        assert p_median(demand_xy, demand, candidates, k).objective == pytest.approx(best, rel=1e-6)


@pytest.mark.parametrize(
    "spacing,groups", [(4000.0, None), (0.0, "abcabcxyz"), (3000.0, "aabbccd  ")]
)
def test_constraints_equal_brute_force(instance, spacing, groups):
    demand_xy, demand, candidates = instance
    labels = None if groups is None else [None if g == " " else g for g in groups]
    dist = _dist(demand_xy, candidates)
    for k in (2, 3):
        combos = [c for c in itertools.combinations(range(9), k)
                  if _allowed(c, candidates, spacing, labels)]
        cover = max(demand[(dist[:, list(c)] <= 2500).any(axis=1)].sum() for c in combos)
        median = min((demand * dist[:, list(c)].min(axis=1)).sum() for c in combos)
        mclp = maximal_covering(demand_xy, demand, candidates, k, 2500, min_spacing=spacing,
                                groups=labels)
        assert _allowed(tuple(mclp.chosen), candidates, spacing, labels)
        assert mclp.objective == pytest.approx(cover)
        pmed = p_median(demand_xy, demand, candidates, k, min_spacing=spacing, groups=labels)
        assert _allowed(tuple(pmed.chosen), candidates, spacing, labels)
        assert pmed.objective == pytest.approx(median, rel=1e-6)


def test_same_optimum_as_spopt(instance):
    """PySAL spopt's formulations (solved with CBC) reach the same objective."""
    from spopt.locate import MCLP, PMedian

    demand_xy, demand, candidates = instance
    cost = _dist(demand_xy, candidates)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        mclp = MCLP.from_cost_matrix(cost, demand, 2500, 3).solve(pulp.PULP_CBC_CMD(msg=False))
        pmed = PMedian.from_cost_matrix(cost, demand, 3).solve(pulp.PULP_CBC_CMD(msg=False))
    spopt_mclp = [j for j, v in enumerate(mclp.fac_vars) if v.value() > 0.5]
    spopt_pmed = [j for j, v in enumerate(pmed.fac_vars) if v.value() > 0.5]
    ours = maximal_covering(demand_xy, demand, candidates, 3, 2500)
    assert ours.objective == pytest.approx(demand[(cost[:, spopt_mclp] <= 2500).any(axis=1)].sum())
    ours = p_median(demand_xy, demand, candidates, 3)
    assert ours.objective == pytest.approx((demand * cost[:, spopt_pmed].min(axis=1)).sum())


def test_more_zones_never_cover_less(instance):
    demand_xy, demand, candidates = instance
    covered = [maximal_covering(demand_xy, demand, candidates, k, 2000).objective
               for k in (1, 2, 3, 4)]
    assert all(b >= a for a, b in zip(covered, covered[1:], strict=False))


def test_deterministic_with_seed(instance):
    demand_xy, demand, candidates = instance
    runs = [maximal_covering(demand_xy, demand, candidates, 3, 2000, seed=7).chosen
            for _ in range(2)]
    np.testing.assert_array_equal(*runs)


def test_duplicate_coverage_sets_merge_exactly():
    # many demand points in one spot: merged into one row, same optimum as one heavy point
    demand_xy = np.r_[np.zeros((50, 2)), [[5000.0, 0.0]]]
    demand = np.r_[np.ones(50), 30.0]
    candidates = np.array([[0.0, 0.0], [5000.0, 0.0]])
    solution = maximal_covering(demand_xy, demand, candidates, 1, 100)
    assert solution.chosen.tolist() == [0] and solution.objective == 50


def test_k_out_of_range(instance):
    demand_xy, demand, candidates = instance
    with pytest.raises(ConfigError, match="k must be"):
        maximal_covering(demand_xy, demand, candidates, 0, 1000)


def test_infeasible_constraints_say_so(instance):
    demand_xy, demand, candidates = instance
    with pytest.raises(ConfigError, match="no set of sites"):
        maximal_covering(demand_xy, demand, candidates, 3, 1000, groups=["a"] * 9)


def test_at_most_k_never_lets_a_forced_site_displace_a_useful_one():
    # A covers all the demand; B and C cover none, and each is too close to A. Exactly two
    # sites must be B and C (nothing covered); at most two is A alone.
    demand_xy = np.array([[0.0, 0.0]])
    candidates = np.array([[0.0, 0.0], [900.0, 0.0], [-900.0, 0.0]])
    exact = maximal_covering(demand_xy, [5.0], candidates, 2, 500, min_spacing=1000)
    assert exact.chosen.tolist() == [1, 2] and exact.objective == 0
    fewer = maximal_covering(demand_xy, [5.0], candidates, 2, 500, min_spacing=1000,
                             at_most=True)
    assert fewer.chosen.tolist() == [0] and fewer.objective == 5


def test_at_most_k_is_feasible_where_exactly_k_is_not(instance):
    demand_xy, demand, candidates = instance
    one_group = ["a"] * 9
    mclp = maximal_covering(demand_xy, demand, candidates, 3, 2500, groups=one_group,
                            at_most=True)
    best = max(demand[(_dist(demand_xy, candidates)[:, [j]] <= 2500).any(axis=1)].sum()
               for j in range(9))
    assert len(mclp.chosen) == 1 and mclp.objective == pytest.approx(best)
    pmed = p_median(demand_xy, demand, candidates, 3, groups=one_group, at_most=True)
    assert len(pmed.chosen) == 1
