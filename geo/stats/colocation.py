r"""Co-location quotients: global, pairwise (Leslie & Kronenfeld 2011) and local (Wang et al. 2017).

Pairwise, for types A and B among :math:`N` points (Leslie & Kronenfeld 2011,
"The colocation quotient: a new measure of spatial association between
categorical subsets of points", Geographical Analysis 43(3), 306-326):

.. math::
    CLQ_{A \to B} = \frac{C_{A \to B} / N_A}{N'_B / (N - 1)}, \qquad
    C_{A \to B} = \sum_{i \in A} \frac{1}{v_i} \sum_{j \in NN(i)} 1\{j \in B\}

where :math:`NN(i)` are the :math:`v_i` nearest neighbours of :math:`i` (ties
at the nearest distance share one unit) and :math:`N'_B = N_B - 1` when
:math:`A = B` (else :math:`N_B`). It is 1 in expectation when types are
assigned at random; above 1, B points are over-represented among A's nearest
neighbours. The global CLQ is
:math:`\sum_A C_{A \to A} / \sum_A N_A (N_A - 1)/(N - 1)`.

Local, for point :math:`i` of type A (Wang, Hu, Wang & Li 2017, "Local
colocation quotient", Professional Geographer 69(1), 22-31; Cromley, Hanink &
Bentley 2014):

.. math::
    LCLQ_{A_i \to B} = \frac{\sum_{j \ne i} w_{ij} 1\{j \in B\} / \sum_{j \ne i} w_{ij}}
                            {N'_B / (N - 1)}, \qquad
    w_{ij} = \exp\left(-\tfrac12 d_{ij}^2 / d_{ib}^2\right)

over the :math:`k` nearest neighbours of :math:`i`, with the adaptive bandwidth
:math:`d_{ib}` the distance to the :math:`k`-th of them (default :math:`k = 8`,
as ArcGIS's colocation analysis).

Significance: random labelling (types permuted over all points, seeded); the
p-values are one-sided, ``(1 + #{sim >= obs}) / (nsim + 1)`` for
co-location and ``(1 + #{sim <= obs}) / (nsim + 1)`` for isolation. The local
test holds point ``i``'s own type and draws its neighbours' types from the
other points.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.spatial import cKDTree

from geo.errors import ConfigError

DEFAULT_K = 8


@dataclass
class CLQResult:
    r"""Pairwise co-location quotients with permutation p-values.

    Attributes
    ----------
    table : DataFrame
        One row per (a, b): ``n_a``, ``n_b``, ``neighbours`` (:math:`C_{A \to B}`,
        the B points among A's nearest neighbours, ties sharing one unit),
        ``expected_neighbours`` (:math:`N_A N'_B / (N - 1)`, its mean under
        random labelling), ``clq`` (their ratio), ``p_colocation``, ``p_isolation``.
    global_clq : float
        Leslie & Kronenfeld's global CLQ over all types.
    parameters : dict
        Types, simulations, seed, tie rule.
    """

    table: pd.DataFrame
    global_clq: float
    parameters: dict = field(default_factory=dict)

    def matrix(self) -> pd.DataFrame:
        """CLQ as a matrix (rows: A, the reference; columns: B, the neighbour)."""
        return self.table.pivot(index="a", columns="b", values="clq")


def nearest_neighbour_matrix(x: np.ndarray, y: np.ndarray, max_ties: int = 16) -> sp.csr_matrix:
    """Row-stochastic matrix of each point's nearest neighbours (ties share weight 1).

    Parameters
    ----------
    x, y : ndarray
        Coordinates (metres).
    max_ties : int
        Neighbours examined for ties at the nearest distance.

    Returns
    -------
    scipy.sparse.csr_matrix
        ``P[i, j] = 1 / v_i`` for each of the ``v_i`` nearest neighbours ``j`` of ``i``.
    """
    xy = np.column_stack([x, y])
    n = len(xy)
    k = min(max_ties + 1, n)
    dist, idx = cKDTree(xy).query(xy, k=k)
    dist, idx = dist[:, 1:], idx[:, 1:]
    # the point itself may not come first when another point sits on it
    self_hit = idx == np.arange(n)[:, None]
    if self_hit.any():
        dist, idx = cKDTree(xy).query(xy, k=k)
        keep = idx != np.arange(n)[:, None]
        dist = np.where(keep, dist, np.inf)
        order = np.argsort(dist, axis=1, kind="stable")[:, : k - 1]
        dist = np.take_along_axis(dist, order, axis=1)
        idx = np.take_along_axis(idx, order, axis=1)
    tied = dist == dist[:, :1]
    v = tied.sum(axis=1)
    rows = np.repeat(np.arange(n), v)
    return sp.csr_matrix(((1.0 / np.repeat(v, v)), (rows, idx[tied])), shape=(n, n))


def colocation_quotients(
    x: np.ndarray,
    y: np.ndarray,
    types: np.ndarray,
    *,
    pairs: list[tuple[str, str]] | None = None,
    nsim: int = 99,
    seed: int = 0,
    neighbours: sp.csr_matrix | None = None,
) -> CLQResult:
    """Pairwise and global co-location quotients with permutation tests.

    Parameters
    ----------
    x, y : ndarray
        Coordinates in metres.
    types : ndarray
        Type of each point.
    pairs : list of (str, str), optional
        (A, B) pairs to report; all ordered pairs of types by default.
    nsim : int
        Random-labelling permutations for the p-values (0: none).
    seed : int
        Seed of the permutations.
    neighbours : scipy.sparse.csr_matrix, optional
        :func:`nearest_neighbour_matrix` of these points, when already built
        (several type pairs over the same firms).

    Returns
    -------
    CLQResult
    """
    codes, labels = pd.factorize(pd.Series(types, dtype=object), sort=True)
    if (codes < 0).any():
        raise ConfigError("some points have no type")
    n, t = len(codes), len(labels)
    if n < 3:
        raise ConfigError("co-location quotients need at least three points")
    P = (nearest_neighbour_matrix(np.asarray(x, float), np.asarray(y, float))
         if neighbours is None else neighbours)
    if P.shape != (n, n):
        raise ConfigError(f"the neighbour matrix is {P.shape}, not {n} x {n} points")
    counts = np.bincount(codes, minlength=t).astype(float)
    wanted = pairs or [(a, b) for a in labels for b in labels]
    index = {name: k for k, name in enumerate(labels)}
    for a, b in wanted:
        if a not in index or b not in index:
            raise ConfigError(f"no points of type {a if a not in index else b}")
    ia = np.array([index[a] for a, _ in wanted])
    ib = np.array([index[b] for _, b in wanted])
    n_b_prime = counts[ib] - (ia == ib)

    expected = counts[ia] * n_b_prime / (n - 1)

    rows = np.repeat(np.arange(n), np.diff(P.indptr))
    cols, weights = P.indices, P.data

    def clq_of(c: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        # C[a, b]: the nearest-neighbour weight from type a to type b, one pass over P
        C = np.bincount(c[rows] * t + c[cols], weights=weights, minlength=t * t).reshape(t, t)
        with np.errstate(divide="ignore", invalid="ignore"):
            pair = C[ia, ib] / expected
            overall = np.trace(C) / np.sum(counts * (counts - 1) / (n - 1))
        return pair, C[ia, ib], float(overall)

    observed, neighbours, global_clq = clq_of(codes)
    rng = np.random.default_rng(seed)
    sims = np.array([clq_of(rng.permutation(codes))[0] for _ in range(nsim)])
    table = pd.DataFrame(
        {"a": [a for a, _ in wanted], "b": [b for _, b in wanted],
         "n_a": counts[ia].astype(int), "n_b": counts[ib].astype(int),
         "neighbours": neighbours, "expected_neighbours": expected, "clq": observed}
    )
    if nsim:
        table["p_colocation"] = (1 + (sims >= observed - 1e-12).sum(axis=0)) / (nsim + 1)
        table["p_isolation"] = (1 + (sims <= observed + 1e-12).sum(axis=0)) / (nsim + 1)
    return CLQResult(
        table, global_clq,
        {"nsim": nsim, "seed": seed, "ties": "nearest neighbours at equal distance share 1",
         "null": "random labelling of all points"},
    )


def local_colocation_quotient(
    x: np.ndarray,
    y: np.ndarray,
    types: np.ndarray,
    a: str,
    b: str,
    *,
    k: int = DEFAULT_K,
    nsim: int = 0,
    seed: int = 0,
) -> pd.DataFrame:
    """Local co-location quotient LCLQ(A_i -> B) of every A point.

    Parameters
    ----------
    x, y : ndarray
        Coordinates in metres.
    types : ndarray
        Type of each point.
    a, b : str
        Reference type A (a value per A point) and neighbour type B.
    k : int
        Neighbours in the adaptive Gaussian kernel (bandwidth: distance to the k-th).
    nsim : int
        Conditional permutations per point for a p-value (0: none).
    seed : int
        Seed of the permutations.

    Returns
    -------
    DataFrame
        One row per A point, indexed by its position in the input: ``lclq``,
        ``bandwidth`` (metres) and, with ``nsim``, ``p_colocation`` and
        ``p_isolation``.
    """
    types = np.asarray(types, dtype=object)
    n = len(types)
    if k < 1 or k >= n:
        raise ConfigError(f"k must be between 1 and {n - 1}")
    is_b = (types == b).astype(float)
    n_b_prime = is_b.sum() - (1 if a == b else 0)
    if n_b_prime <= 0:
        raise ConfigError(f"no points of type {b} to be neighbours")
    ref = np.flatnonzero(types == a)
    if len(ref) == 0:
        raise ConfigError(f"no points of type {a}")
    xy = np.column_stack([np.asarray(x, float), np.asarray(y, float)])
    dist, idx = cKDTree(xy).query(xy[ref], k=k + 1)
    # drop the point itself (wherever a coincident point put it)
    not_self = idx != ref[:, None]
    drop = np.argmin(not_self, axis=1)
    mask = np.ones_like(not_self)
    mask[np.arange(len(ref)), drop] = False
    dist = dist[mask].reshape(len(ref), k)
    idx = idx[mask].reshape(len(ref), k)
    bandwidth = dist[:, -1]
    with np.errstate(divide="ignore", invalid="ignore"):
        w = np.exp(-0.5 * (dist / bandwidth[:, None]) ** 2)
    w = np.where(bandwidth[:, None] > 0, w, 1.0)  # all k neighbours coincident: equal weights
    w /= w.sum(axis=1, keepdims=True)
    expected = n_b_prime / (n - 1)
    lclq = (w * is_b[idx]).sum(axis=1) / expected
    out = pd.DataFrame({"lclq": lclq, "bandwidth": bandwidth}, index=ref)
    if nsim:
        rng = np.random.default_rng(seed)
        # neighbours' types drawn from the other n - 1 points: B with probability
        # (n_B - [i is B]) / (n - 1), without replacement among the k
        n_b_others = is_b.sum() - is_b[ref]
        ge = np.zeros(len(ref))
        le = np.zeros(len(ref))
        for _ in range(nsim):
            draws = rng.hypergeometric(
                n_b_others.astype(np.int64), (n - 1 - n_b_others).astype(np.int64), k
            )
            # which of the k neighbours are B: a random subset of size draws
            order = rng.random((len(ref), k)).argsort(axis=1)
            sim_b = (order < draws[:, None]).astype(float)
            sim = (w * sim_b).sum(axis=1) / expected
            ge += sim >= lclq - 1e-12
            le += sim <= lclq + 1e-12
        out["p_colocation"] = (1 + ge) / (nsim + 1)
        out["p_isolation"] = (1 + le) / (nsim + 1)
    return out
