r"""Location-allocation for new producer-service zones: MCLP and p-median.

Maximal covering (Church & ReVelle 1974, Papers of the Regional Science
Association 32): choose :math:`k` of the candidate sites :math:`x_j` so that
the demand :math:`a_i` within ``radius`` of a chosen site is largest,

.. math::
    \max \sum_i a_i y_i \quad \text{s.t.} \quad y_i \le \sum_{j \in N_i} x_j,\;
    \sum_j x_j = k,\; x_j \in \{0, 1\},\; 0 \le y_i \le 1 .

p-median (Hakimi 1964; ReVelle & Swain 1970, Geographical Analysis 2(1)):
choose :math:`k` sites minimising :math:`\sum_{ij} a_i d_{ij} z_{ij}` with
every demand assigned once (:math:`\sum_j z_{ij} = 1`) to an open site
(:math:`z_{ij} \le x_j`).

Both take two optional planning constraints: a minimum spacing between chosen
sites (:math:`x_a + x_b \le 1` for every pair closer than it) and at most one
site per group (e.g. per platform). They are the formulations of PySAL
``spopt`` (the tests compare with it), built here as sparse matrices and solved
with HiGHS: spopt builds dense demand × candidate matrices, which took over
five minutes for 8,000 demand cells × 5,000 candidates. The MIP gap HiGHS
proves is reported with each solution.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import highspy
import numpy as np
from scipy import sparse
from scipy.spatial import cKDTree

from geo.errors import ConfigError

# p-median has one assignment variable per demand-candidate pair
MAX_PMEDIAN_PAIRS = 1_000_000


@dataclass(frozen=True)
class Solution:
    """Chosen sites and how well the solver proved them.

    Attributes
    ----------
    chosen : ndarray of int
        Indices of the chosen candidates, sorted.
    objective : float
        Covered demand (MCLP) or total demand-weighted distance (p-median).
    gap : float
        Relative MIP gap proven by the solver (0 = optimal).
    status : str
        ``optimal`` or the reason the solver stopped (e.g. ``time limit``).
    solver : str
        Solver name and version.
    seconds : float
        Wall time of model building and solving.
    """

    chosen: np.ndarray
    objective: float
    gap: float
    status: str
    solver: str
    seconds: float


def _conflicts(
    candidate_xy: np.ndarray, min_spacing: float, groups: np.ndarray | None
) -> list[np.ndarray]:
    """Return the sets of candidates of which at most one may be chosen."""
    sets: list[np.ndarray] = []
    if min_spacing > 0:
        # Sites within spacing/2 of one candidate are pairwise too close, so each such
        # disk is a clique: one row "at most one of these" tightens the LP bound far
        # more than its pair rows. A close pair needs its own row only when no
        # candidate lies near enough its midpoint to hold both in one disk.
        limit = min_spacing * (1 - 1e-9)
        tree = cKDTree(candidate_xy)
        disks = {tuple(sorted(d)) for d in tree.query_ball_point(candidate_xy, limit / 2)
                 if len(d) > 1}
        sets.extend(np.array(d) for d in sorted(disks))
        pairs = tree.query_pairs(limit, output_type="ndarray")
        if len(pairs):
            a, b = candidate_xy[pairs[:, 0]], candidate_xy[pairs[:, 1]]
            nearest, _ = tree.query((a + b) / 2)
            held = nearest < (limit - np.hypot(*(a - b).T)) / 2
            sets.extend(pairs[~held])
    if groups is not None:
        labels = np.asarray(groups, dtype=object)
        named = np.flatnonzero(np.array([g is not None and g == g and g != "" for g in labels]))
        for value in dict.fromkeys(labels[named]):
            members = named[labels[named] == value]
            if len(members) > 1:
                sets.append(members)
    return sets


def _solve(
    n_x: int,
    n_other: int,
    cost: np.ndarray,
    rows: sparse.csr_matrix,
    lower: np.ndarray,
    upper: np.ndarray,
    *,
    maximise: bool,
    time_limit: float,
    seed: int,
    started: float,
    start: np.ndarray | None = None,
) -> tuple[np.ndarray, float, float, str]:
    """Solve a model whose first ``n_x`` columns are the binary site choices.

    ``start`` is a feasible solution (all columns) handed to the solver as its
    first incumbent.
    """
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("time_limit", float(time_limit))
    h.setOptionValue("random_seed", int(seed))
    h.setOptionValue("mip_rel_gap", 1e-6)
    # presolve probing ignores the time limit on large covering models (221 s at 1M firms
    # with a 60 s limit, before the root LP); branch and bound probes anyway
    h.setOptionValue("presolve_rule_off", 32768)
    n = n_x + n_other
    h.addVars(n, np.zeros(n), np.ones(n))
    h.changeColsCost(n, np.arange(n, dtype=np.int32), cost.astype(float))
    h.changeColsIntegrality(
        n_x, np.arange(n_x, dtype=np.int32),
        np.full(n_x, highspy.HighsVarType.kInteger),
    )
    rows = rows.tocsr()
    rows.sort_indices()
    h.addRows(
        rows.shape[0], lower.astype(float), upper.astype(float), rows.nnz,
        rows.indptr.astype(np.int32), rows.indices.astype(np.int32), rows.data.astype(float),
    )
    h.changeObjectiveSense(
        highspy.ObjSense.kMaximize if maximise else highspy.ObjSense.kMinimize
    )
    if start is not None:
        incumbent = highspy.HighsSolution()
        incumbent.col_value = start.astype(float).tolist()
        incumbent.value_valid = True
        h.setSolution(incumbent)
    h.run()
    status = h.getModelStatus()
    if status == highspy.HighsModelStatus.kInfeasible:
        raise ConfigError(
            "no set of sites satisfies the constraints: lower k, the minimum spacing, "
            "or drop one-per-platform"
        )
    values = np.asarray(h.getSolution().col_value)
    if len(values) < n_x or not np.isfinite(values[:n_x]).all():
        raise ConfigError(
            f"the solver found no solution within {time_limit:g} s "
            f"({h.modelStatusToString(status)}); raise the time limit or use fewer candidates"
        )
    info = h.getInfo()
    # relative gap between the incumbent and the proven bound, as a fraction
    bound, value = float(info.mip_dual_bound), float(info.objective_function_value)
    gap = abs(bound - value) / max(abs(value), 1e-9) if np.isfinite(bound) else float("nan")
    label = "optimal" if status == highspy.HighsModelStatus.kOptimal else (
        h.modelStatusToString(status).lower()
    )
    chosen = np.sort(np.flatnonzero(values[:n_x] > 0.5))
    return chosen, gap, time.perf_counter() - started, label


def _conflict_rows(sets: list[np.ndarray], n_cols: int) -> sparse.csr_matrix:
    if not sets:
        return sparse.csr_matrix((0, n_cols))
    cols = np.concatenate(sets)
    row_of = np.repeat(np.arange(len(sets)), [len(s) for s in sets])
    return sparse.csr_matrix((np.ones(len(cols)), (row_of, cols)), shape=(len(sets), n_cols))


def _solver_name() -> str:
    return f"HiGHS {highspy.Highs().version()}"


def _prepare(demand_xy, demand, candidate_xy, k):
    demand_xy = np.asarray(demand_xy, dtype=float).reshape(-1, 2)
    candidate_xy = np.asarray(candidate_xy, dtype=float).reshape(-1, 2)
    demand = np.asarray(demand, dtype=float)
    if not 1 <= k <= len(candidate_xy):
        raise ConfigError(
            f"k must be between 1 and the number of candidates ({len(candidate_xy)}), got {k}"
        )
    if len(demand) != len(demand_xy) or (demand < 0).any() or not np.isfinite(demand).all():
        raise ConfigError("demand weights must be finite, non-negative, one per demand point")
    return demand_xy, demand, candidate_xy


def maximal_covering(
    demand_xy: np.ndarray,
    demand: np.ndarray,
    candidate_xy: np.ndarray,
    k: int,
    radius: float,
    *,
    min_spacing: float = 0.0,
    groups: np.ndarray | None = None,
    time_limit: float = 60.0,
    seed: int = 0,
    at_most: bool = False,
) -> Solution:
    """Choose ``k`` candidates covering the most demand within ``radius``.

    Parameters
    ----------
    demand_xy, candidate_xy : ndarray, shape (n, 2)
        Coordinates in metres.
    demand : ndarray
        Demand weights.
    k : int
        Number of sites.
    radius : float
        Service radius in metres.
    min_spacing : float
        Chosen sites are at least this far apart (metres); 0 for no constraint.
    groups : ndarray, optional
        A label per candidate (e.g. its platform; None or "" for none): at
        most one site per label.
    time_limit : float
        Solver time limit in seconds.
    seed : int
        Solver random seed.
    at_most : bool
        Choose at most ``k`` sites: fewer when the spacing or group constraints
        allow no more, or when more would displace sites that cover demand.

    Returns
    -------
    Solution
        ``objective`` is the covered demand.
    """
    started = time.perf_counter()
    demand_xy, demand, candidate_xy = _prepare(demand_xy, demand, candidate_xy, k)
    m = len(candidate_xy)
    # coverage lists by KD-tree; the ndarray output keeps coincident pairs (distance 0)
    pairs = cKDTree(demand_xy).sparse_distance_matrix(
        cKDTree(candidate_xy), radius, output_type="ndarray"
    )
    cover = sparse.csr_matrix(
        (np.ones(len(pairs)), (pairs["i"], pairs["j"])), shape=(len(demand), m)
    )
    # demand nobody can cover never enters the model, and demand points with the
    # same coverage set merge into one (exact: the optimum cannot tell them apart)
    keep = np.flatnonzero((np.diff(cover.indptr) > 0) & (demand > 0))
    cover = cover[keep]
    cover.sort_indices()
    signature = [cover.indices[a:b].tobytes() for a, b in zip(cover.indptr[:-1], cover.indptr[1:],
                                                             strict=True)]
    _, first, merged = np.unique(np.array(signature, dtype=object), return_index=True,
                                 return_inverse=True)
    weight = np.bincount(merged.ravel(), weights=demand[keep], minlength=len(first))
    cover = cover[first]
    n_y = len(first)
    sets = _conflicts(candidate_xy, min_spacing, groups)
    greedy = _greedy_cover(cover, weight, k, sets)
    start = None
    if len(greedy) == k or at_most:
        start = np.zeros(m + n_y)
        start[greedy] = 1.0
        start[m:] = np.minimum(1.0, cover[:, greedy].sum(axis=1).A1)
    # y_i - sum_{j in N_i} x_j <= 0 ; columns: x (m) then y (n_y)
    coverage_rows = sparse.hstack([-cover, sparse.identity(n_y)], format="csr")
    count_row = sparse.csr_matrix(np.r_[np.ones(m), np.zeros(n_y)][None, :])
    conflicts = _conflict_rows(sets, m)
    conflicts = sparse.hstack([conflicts, sparse.csr_matrix((conflicts.shape[0], n_y))])
    rows = sparse.vstack([coverage_rows, count_row, conflicts], format="csr")
    lower = np.r_[np.full(n_y, -np.inf), 0 if at_most else k,
                  np.full(conflicts.shape[0], -np.inf)]
    upper = np.r_[np.zeros(n_y), k, np.ones(conflicts.shape[0])]
    cost = np.r_[np.zeros(m), weight]
    chosen, gap, seconds, status = _solve(
        m, n_y, cost, rows, lower, upper, maximise=True,
        time_limit=time_limit, seed=seed, started=started, start=start,
    )
    covered = float(demand[covers(demand_xy, candidate_xy[chosen], radius)].sum())
    return Solution(chosen, covered, gap, status, _solver_name(), seconds)


def _greedy_cover(
    cover: sparse.csr_matrix, weight: np.ndarray, k: int, sets: list[np.ndarray]
) -> np.ndarray:
    """Greedy MCLP (each step adds the site covering most uncovered demand)."""
    by_site = cover.T.tocsr()
    uncovered = weight.copy()
    allowed = np.ones(cover.shape[1], dtype=bool)
    partners: dict[int, list[np.ndarray]] = {}
    for members in sets:
        for j in members:
            partners.setdefault(int(j), []).append(members)
    chosen: list[int] = []
    for _ in range(k):
        gain = np.where(allowed, by_site @ uncovered, -1.0)
        j = int(np.argmax(gain))
        if gain[j] < 0:
            break
        chosen.append(j)
        allowed[j] = False
        for members in partners.get(j, []):
            allowed[members] = False
        uncovered[by_site.indices[by_site.indptr[j]:by_site.indptr[j + 1]]] = 0.0
    return np.array(chosen, dtype=int)


def covers(points_xy: np.ndarray, sites_xy: np.ndarray, radius: float) -> np.ndarray:
    """Whether each point lies within ``radius`` of any site (boolean array)."""
    points_xy = np.asarray(points_xy, dtype=float).reshape(-1, 2)
    if len(sites_xy) == 0:
        return np.zeros(len(points_xy), dtype=bool)
    distance, _ = cKDTree(np.asarray(sites_xy, dtype=float).reshape(-1, 2)).query(points_xy)
    return distance <= radius


def p_median(
    demand_xy: np.ndarray,
    demand: np.ndarray,
    candidate_xy: np.ndarray,
    k: int,
    *,
    min_spacing: float = 0.0,
    groups: np.ndarray | None = None,
    time_limit: float = 60.0,
    seed: int = 0,
    at_most: bool = False,
) -> Solution:
    """Choose ``k`` candidates minimising the demand-weighted distance to the nearest one.

    Parameters
    ----------
    demand_xy, candidate_xy : ndarray, shape (n, 2)
        Coordinates in metres.
    demand : ndarray
        Demand weights.
    k : int
        Number of sites.
    min_spacing : float
        Chosen sites are at least this far apart (metres); 0 for no constraint.
    groups : ndarray, optional
        A label per candidate: at most one site per label.
    time_limit : float
        Solver time limit in seconds.
    seed : int
        Solver random seed.
    at_most : bool
        Choose between 1 and ``k`` sites (fewer when the spacing or group
        constraints allow no more).

    Returns
    -------
    Solution
        ``objective`` is the total demand-weighted distance (weight × metres).

    Raises
    ------
    ConfigError
        If demand × candidates exceeds ``MAX_PMEDIAN_PAIRS``: aggregate demand
        into larger cells, use fewer candidates, or use MCLP.
    """
    started = time.perf_counter()
    demand_xy, demand, candidate_xy = _prepare(demand_xy, demand, candidate_xy, k)
    keep = np.flatnonzero(demand > 0)
    n, m = len(keep), len(candidate_xy)
    if n * m > MAX_PMEDIAN_PAIRS:
        raise ConfigError(
            f"p-median over {n:,} demand points × {m:,} candidates is too large for an "
            f"exact solve (limit {MAX_PMEDIAN_PAIRS:,} pairs): use larger cells, fewer "
            "candidates or --method mclp"
        )
    dist = np.hypot(
        demand_xy[keep, None, 0] - candidate_xy[None, :, 0],
        demand_xy[keep, None, 1] - candidate_xy[None, :, 1],
    )
    # columns: x (m) then z (n*m, row-major by demand); rows: assignment, linking, count
    z = m + np.arange(n * m).reshape(n, m)
    assign = sparse.csr_matrix(
        (np.ones(n * m), (np.repeat(np.arange(n), m), z.ravel())), shape=(n, m + n * m)
    )
    link = sparse.csr_matrix(
        (np.r_[np.ones(n * m), -np.ones(n * m)],
         (np.r_[np.arange(n * m), np.arange(n * m)], np.r_[z.ravel(), np.tile(np.arange(m), n)])),
        shape=(n * m, m + n * m),
    )
    count_row = sparse.csr_matrix(np.r_[np.ones(m), np.zeros(n * m)][None, :])
    conflicts = _conflict_rows(_conflicts(candidate_xy, min_spacing, groups), m)
    conflicts = sparse.hstack([conflicts, sparse.csr_matrix((conflicts.shape[0], n * m))])
    rows = sparse.vstack([assign, link, count_row, conflicts], format="csr")
    lower = np.r_[np.ones(n), np.full(n * m, -np.inf), 1 if at_most else k,
                  np.full(conflicts.shape[0], -np.inf)]
    upper = np.r_[np.ones(n), np.zeros(n * m), k, np.ones(conflicts.shape[0])]
    cost = np.r_[np.zeros(m), (demand[keep, None] * dist).ravel()]
    chosen, gap, seconds, status = _solve(
        m, n * m, cost, rows, lower, upper, maximise=False,
        time_limit=time_limit, seed=seed, started=started,
    )
    total = float((demand[keep] * dist[:, chosen].min(axis=1)).sum())
    return Solution(chosen, total, gap, status, _solver_name(), seconds)
