"""Co-location quotients of many industry pairs from the same permutations."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from geo.stats.coagglomeration.study import PairStudy, _check_sites

if TYPE_CHECKING:
    import scipy.sparse as sp


def coagglomeration_clq(
    x: np.ndarray,
    y: np.ndarray,
    types: np.ndarray,
    pairs: list[tuple[str, str]],
    *,
    nsim: int = 99,
    seed: int = 0,
    neighbours: sp.csr_matrix | None = None,
) -> PairStudy:
    """Co-location quotients of every ordered pair, all from the same permutations.

    Every firm keeps its type (firms in no pair are ``other``), so each
    quotient is :func:`geo.stats.colocation.colocation_quotients` over all firms.

    Parameters
    ----------
    x, y : ndarray
        Coordinates (metres) of all sites.
    types : ndarray
        Type of each site (None: ``other``).
    pairs : list of (str, str)
        Ordered (a, b) pairs: b among a's nearest neighbours.
    nsim, seed
        Permutations and their seed.
    neighbours : optional
        The sites' nearest-neighbour matrix
        (:func:`geo.stats.colocation.nearest_neighbour_matrix`), when the caller has it.

    Returns
    -------
    PairStudy
        Table as :class:`geo.stats.colocation.CLQResult` plus ``significant``
        (p_colocation <= 0.05 and CLQ > 1); the global CLQ in the parameters.
    """
    from geo.stats.colocation import colocation_quotients

    types = np.asarray(types, dtype=object)
    _check_sites(np.asarray(x), np.asarray(y), types, nsim)
    labels = np.where(pd.isna(types), "other", types).astype(object)
    result = colocation_quotients(x, y, labels, pairs=list(pairs), nsim=nsim, seed=seed,
                                  neighbours=neighbours)
    table = result.table.copy()
    if nsim:
        table["significant"] = (table["p_colocation"] <= 0.05) & (table["clq"] > 1)
    return PairStudy("CLQ", table, [], {
        "statistic": "CLQ", "pairs": len(pairs), "nsim": nsim, "seed": seed,
        "global_clq": result.global_clq, "n_sites": len(x), **result.parameters})
