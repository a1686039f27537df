"""MCLP and p-median against brute-force optima on small instances."""

import itertools

import numpy as np
import pytest

from geo.errors import ConfigError
from geo.locate import maximal_covering, p_median


@pytest.fixture
def instance():
    rng = np.random.default_rng(4)
    demand_xy = rng.random((40, 2)) * 10_000
    demand = rng.integers(1, 50, 40).astype(float)
    candidates = rng.random((9, 2)) * 10_000
    return demand_xy, demand, candidates


def test_mclp_equals_brute_force(instance):
    demand_xy, demand, candidates = instance
    dist = np.hypot(*(demand_xy[:, None, :] - candidates[None]).transpose(2, 0, 1))
    for k in (1, 2, 3):
        best = max(
            demand[(dist[:, list(c)] <= 2500).any(axis=1)].sum()
            for c in itertools.combinations(range(9), k)
        )
        chosen, covered = maximal_covering(demand_xy, demand, candidates, k, 2500)
        assert len(chosen) == k
        assert covered == pytest.approx(best)


def test_pmedian_equals_brute_force(instance):
    demand_xy, demand, candidates = instance
    dist = np.hypot(*(demand_xy[:, None, :] - candidates[None]).transpose(2, 0, 1))
    for k in (1, 2, 3):
        best = min(
            (demand * dist[:, list(c)].min(axis=1)).sum()
            for c in itertools.combinations(range(9), k)
        )
        chosen, total = p_median(demand_xy, demand, candidates, k)
        assert total == pytest.approx(best, rel=1e-6)


def test_more_zones_never_cover_less(instance):
    demand_xy, demand, candidates = instance
    covered = [maximal_covering(demand_xy, demand, candidates, k, 2000)[1] for k in (1, 2, 3, 4)]
    assert all(b >= a for a, b in zip(covered, covered[1:], strict=False))


def test_k_out_of_range(instance):
    demand_xy, demand, candidates = instance
    with pytest.raises(ConfigError, match="k must be"):
        maximal_covering(demand_xy, demand, candidates, 0, 1000)
