"""Co-location quotients: hand-computed fixture, expectation under random labelling."""

import math

import numpy as np
import pytest

from geo.errors import ConfigError
from geo.stats.colocation import colocation_quotients, local_colocation_quotient

# five points on a line: A at 0, B at 1, A at 3, B at 4.5, A at 6
X = np.array([0.0, 1.0, 3.0, 4.5, 6.0])
Y = np.zeros(5)
T = np.array(["A", "B", "A", "B", "A"])


def test_pairwise_clq_hand_computed():
    # nearest neighbours: 0->1, 1->0, 2->3 (1.5 < 2), 3->{2, 4} tied at 1.5, 4->3
    # C(A->B) = 1 + 1 + 1 = 3; CLQ = (3/3) / (2/4) = 2
    # C(B->A) = 1 + (1/2 + 1/2) = 2; CLQ = (2/2) / (3/4) = 4/3
    # C(A->A) = C(B->B) = 0; global = 0 / (3*2/4 + 2*1/4) = 0
    res = colocation_quotients(X, Y, T, nsim=0)
    clq = res.matrix()
    table = res.table.set_index(["a", "b"])
    # the neighbour counts C and their expectations N_A N'_B / (N - 1)
    assert table.loc[("A", "B"), "neighbours"] == pytest.approx(3.0)
    assert table.loc[("B", "A"), "neighbours"] == pytest.approx(2.0)
    assert table.loc[("A", "A"), "neighbours"] == 0
    assert table.loc[("A", "B"), "expected_neighbours"] == pytest.approx(3 * 2 / 4)
    assert table.loc[("A", "A"), "expected_neighbours"] == pytest.approx(3 * 2 / 4)
    assert table.loc[("B", "A"), "expected_neighbours"] == pytest.approx(2 * 3 / 4)
    assert clq.loc["A", "B"] == pytest.approx(2.0)
    assert clq.loc["B", "A"] == pytest.approx(4 / 3)
    assert clq.loc["A", "A"] == 0 and clq.loc["B", "B"] == 0
    assert res.global_clq == 0


def test_local_clq_hand_computed():
    # point 0, k = 2: neighbours 1 (B, d = 1) and 2 (A, d = 3); bandwidth 3
    # w = exp(-0.5 (1/3)^2) = 0.945959, exp(-0.5) = 0.606531
    # share of B = 0.945959 / 1.552490 = 0.609318; expected N_B / (N - 1) = 2/4
    local = local_colocation_quotient(X, Y, T, "A", "B", k=2)
    w1, w2 = math.exp(-0.5 / 9), math.exp(-0.5)
    assert local.loc[0, "lclq"] == pytest.approx((w1 / (w1 + w2)) / 0.5)
    assert local.loc[0, "bandwidth"] == pytest.approx(3.0)
    assert list(local.index) == [0, 2, 4]
    # point 2: neighbours 3 (B, 1.5) and 1 (B, 2): all B -> 1 / 0.5 = 2
    assert local.loc[2, "lclq"] == pytest.approx(2.0)


def test_clq_is_one_in_expectation_under_random_labelling():
    rng = np.random.default_rng(7)
    n = 400
    x, y = rng.random(n) * 1000, rng.random(n) * 1000
    types = rng.choice(["M", "S", "O"], size=n, p=[0.3, 0.5, 0.2])
    res = colocation_quotients(x, y, types, pairs=[("M", "S"), ("S", "S")], nsim=0)
    values = []
    for _ in range(1500):
        values.append(
            colocation_quotients(x, y, rng.permutation(types), pairs=[("M", "S"), ("S", "S")],
                                 nsim=0).table["clq"].to_numpy()
        )
    values = np.array(values)
    se = values.std(axis=0, ddof=1) / math.sqrt(len(values))
    assert np.all(np.abs(values.mean(axis=0) - 1) < 4 * se)
    assert res.table["n_a"].tolist() == [int((types == "M").sum()), int((types == "S").sum())]


def test_permutation_p_values_detect_colocation_and_are_seeded():
    rng = np.random.default_rng(3)
    centres = rng.random((30, 2)) * 10_000
    # each service firm sits 20 m from a manufacturer: strong co-location
    m = centres + rng.normal(0, 5, centres.shape)
    s = m + 20
    far = rng.random((60, 2)) * 10_000
    xy = np.vstack([m, s, far])
    types = np.array(["M"] * 30 + ["S"] * 30 + ["O"] * 60)
    res = colocation_quotients(xy[:, 0], xy[:, 1], types, pairs=[("S", "M")], nsim=99, seed=1)
    again = colocation_quotients(xy[:, 0], xy[:, 1], types, pairs=[("S", "M")], nsim=99, seed=1)
    row = res.table.iloc[0]
    assert row["clq"] > 2 and row["p_colocation"] == pytest.approx(0.01)
    assert res.table.equals(again.table)
    # local: each of 20 service firms amid its own 8 manufacturers, among 300 others
    hubs = rng.random((20, 2)) * 50_000
    ring = np.stack([np.cos(np.arange(8)), np.sin(np.arange(8))], axis=1) * 30
    xy = np.vstack([hubs, (hubs[:, None, :] + ring[None]).reshape(-1, 2),
                    rng.random((300, 2)) * 50_000])
    types = np.array(["S"] * 20 + ["M"] * 160 + ["O"] * 300)
    local = local_colocation_quotient(xy[:, 0], xy[:, 1], types, "S", "M", nsim=99, seed=2)
    expected = 160 / (len(types) - 1)
    assert np.allclose(local["lclq"], 1 / expected)  # every neighbour is a manufacturer
    assert np.allclose(local["p_colocation"], 0.01)
    assert (local["p_isolation"] == 1.0).all()


def test_coincident_points_and_errors():
    x = np.array([0.0, 0.0, 5.0, 9.0])
    y = np.zeros(4)
    t = np.array(["A", "B", "A", "B"])
    res = colocation_quotients(x, y, t, nsim=0)
    # 0 and 1 coincide: each is the other's nearest neighbour, not itself
    assert res.matrix().loc["A", "B"] == pytest.approx((2 / 2) / (2 / 3))
    with pytest.raises(ConfigError, match="no points of type Z"):
        colocation_quotients(x, y, t, pairs=[("A", "Z")], nsim=0)
    with pytest.raises(ConfigError, match="k must be"):
        local_colocation_quotient(x, y, t, "A", "B", k=4)
