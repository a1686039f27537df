"""Location-allocation for new producer-service zones: MCLP and p-median (PySAL spopt).

Maximal covering (Church & ReVelle 1974): choose ``k`` candidate sites that
maximise the demand (manufacturing) within ``radius`` of a chosen site.
p-median (Hakimi 1964; ReVelle & Swain 1970): choose ``k`` sites minimising
the demand-weighted distance from every demand point to its nearest chosen
site. Both are solved exactly as integer programmes by spopt with the CBC
solver that PuLP ships (``time_limit`` seconds at most; the MIP gap is
reported).
"""

from __future__ import annotations

import warnings

import numpy as np
import pulp
from scipy.spatial.distance import cdist

from geo.errors import ConfigError


def _solve(build, time_limit: float, *args) -> np.ndarray:
    """Build an spopt model, solve it with CBC and return the chosen sites (sorted)."""
    # PuLP warns about its 4.0 API on every variable spopt creates the 3.x way
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        model = build(*args)
        model.solve(pulp.PULP_CBC_CMD(msg=False, timeLimit=time_limit, threads=2))
    return np.sort(np.flatnonzero([v.value() > 0.5 for v in model.fac_vars]))


def maximal_covering(
    demand_xy: np.ndarray,
    demand: np.ndarray,
    candidate_xy: np.ndarray,
    k: int,
    radius: float,
    *,
    time_limit: float = 60.0,
) -> tuple[np.ndarray, float]:
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
    time_limit : float
        Solver time limit in seconds.

    Returns
    -------
    tuple
        Indices of the chosen candidates (sorted) and the demand they cover.
    """
    from spopt.locate import MCLP

    _check(k, len(candidate_xy))
    cost = cdist(np.asarray(demand_xy, float), np.asarray(candidate_xy, float))
    chosen = _solve(MCLP.from_cost_matrix, time_limit, cost, np.asarray(demand, float),
                    radius, k)
    covered = float(np.asarray(demand, float)[(cost[:, chosen] <= radius).any(axis=1)].sum())
    return chosen, covered


def p_median(
    demand_xy: np.ndarray,
    demand: np.ndarray,
    candidate_xy: np.ndarray,
    k: int,
    *,
    time_limit: float = 60.0,
) -> tuple[np.ndarray, float]:
    """Choose ``k`` candidates minimising the demand-weighted distance to the nearest one.

    Parameters
    ----------
    demand_xy, candidate_xy : ndarray, shape (n, 2)
        Coordinates in metres.
    demand : ndarray
        Demand weights.
    k : int
        Number of sites.
    time_limit : float
        Solver time limit in seconds.

    Returns
    -------
    tuple
        Indices of the chosen candidates (sorted) and the total weighted distance.
    """
    from spopt.locate import PMedian

    _check(k, len(candidate_xy))
    cost = cdist(np.asarray(demand_xy, float), np.asarray(candidate_xy, float))
    chosen = _solve(PMedian.from_cost_matrix, time_limit, cost, np.asarray(demand, float), k)
    total = float((np.asarray(demand, float) * cost[:, chosen].min(axis=1)).sum())
    return chosen, total


def _check(k: int, n: int) -> None:
    if not 1 <= k <= n:
        raise ConfigError(f"k must be between 1 and the number of candidates ({n}), got {k}")
