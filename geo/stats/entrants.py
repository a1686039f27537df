r"""Where new producer-service firms located: co-location of entrants with incumbent manufacturing.

The points are the incumbent manufacturing firms (active in the first year of
the period) and every producer-service firm active in the last year; the
*entrants* are the producer-service firms founded after the first year. For a
point :math:`j`, :math:`s_j` is the share of manufacturing among its nearest
neighbours (ties at the nearest distance share one unit, as in
:func:`geo.stats.colocation.nearest_neighbour_matrix`).

Leslie & Kronenfeld's (2011) quotient of entrants E to manufacturing M is

.. math::
    CLQ_{E \to M} = \frac{\sum_{i \in E} s_i / N_E}{N_M / (N - 1)}

against random labelling of every point. The question a planner asks is
narrower: given where producer services can be, did the new ones choose
manufacturing's neighbourhood? The null relocates the entrants among all
producer-service sites (manufacturing stays put), under which the expected mean
of :math:`s` is the mean over all producer-service sites. The *entrant ratio*

.. math::
    R = \frac{\sum_{i \in E} s_i / N_E}{\sum_{j \in S} s_j / N_S}

is 1 in expectation; ``1.4`` reads "the entrants locate next to manufacturing
1.4 times as often as chance". Its p-value comes from seeded relocations. The
same is computed for each producer-service field and, locally, for the entrants
of each zone (relocated among all producer-service sites).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from geo.errors import ConfigError
from geo.stats.colocation import nearest_neighbour_matrix
from geo.stats.panel import active_in_year


def _test(share: np.ndarray, chosen: np.ndarray, nsim: int,
          rng: np.random.Generator) -> tuple[float, float]:
    """Entrant ratio of the sites in ``chosen`` among all sites, and its one-sided p-value."""
    n = int(chosen.sum())
    expected = share.mean()
    if n == 0 or expected == 0:
        return np.nan, np.nan
    observed = share[chosen].mean()
    if nsim <= 0:
        return observed / expected, np.nan
    null = np.array([share[rng.choice(len(share), n, replace=False)].mean()
                     for _ in range(nsim)])
    return observed / expected, (1 + np.sum(null >= observed - 1e-12)) / (nsim + 1)


def entrant_colocation(
    firms: pd.DataFrame,
    x: np.ndarray,
    y: np.ndarray,
    first: int,
    last: int,
    *,
    zone_of: dict[str, Sequence] | None = None,
    zone_names: dict[str, dict[str, str]] | None = None,
    nsim: int = 999,
    seed: int = 0,
) -> pd.DataFrame:
    """Entrant ratio and CLQ of new producer-service firms to incumbent manufacturing.

    Parameters
    ----------
    firms : pandas.DataFrame
        Normalised firms: ``group``, ``field``, ``year`` and optionally ``closed``.
    x, y : numpy.ndarray
        Positions in metres, one per firm.
    first, last : int
        The period: entrants were founded after ``first`` and are active in
        ``last``; incumbent manufacturing is active in ``first``.
    zone_of : dict of str to array-like, optional
        Zone of each firm per layer, for the local rows.
    zone_names : dict of str to dict, optional
        Per layer, the name of each zone id (a ``name`` column).
    nsim : int
        Relocations for the p-values (0: none).
    seed : int
        Seed of the relocations.

    Returns
    -------
    DataFrame
        One row for all entrants, one per field, then one per zone of each
        layer: ``scope`` (``all``, ``field`` or the layer), ``key``, ``name``,
        ``n_entrants``, ``n_sites`` (producer-service sites), ``n_manufacturing``,
        ``share_entrants`` and ``share_sites`` (mean share of manufacturing
        among the nearest neighbours), ``ratio`` (entrant ratio R), ``p_value``
        (of R > 1), ``clq`` (Leslie & Kronenfeld's CLQ of entrants to
        manufacturing), with ``first`` and ``last``.

    Raises
    ------
    ConfigError
        If the period is empty or there are no entrants or no manufacturing.
    """
    if last <= first:
        raise ConfigError(f"the period of entrants must end after it starts, got {first}-{last}")
    group = firms["group"].to_numpy()
    founded = firms["year"].to_numpy(dtype=float, na_value=np.nan)
    manufacturing = (group == "manufacturing") & active_in_year(firms, first)
    sites = (group == "producer_services") & active_in_year(firms, last)
    with np.errstate(invalid="ignore"):
        entrants = sites & (founded > first)
    if not entrants.any() or not manufacturing.any():
        raise ConfigError(f"no producer-service firm founded in {first + 1}-{last}, or no "
                          f"manufacturing active in {first}: no entrants to locate")
    points = manufacturing | sites
    index = np.flatnonzero(points)
    neighbours = nearest_neighbour_matrix(np.asarray(x, float)[index], np.asarray(y, float)[index])
    share_all = neighbours @ manufacturing[index].astype(float)
    on_site = sites[index]
    share = share_all[on_site]  # the producer-service sites, in firm order
    entrant = entrants[index][on_site]
    n_total, n_m = len(index), int(manufacturing.sum())
    rng = np.random.default_rng(seed)
    field = firms["field"].to_numpy(dtype=object)[index][on_site]

    def row(scope: str, key: str, chosen: np.ndarray, pool: np.ndarray) -> dict:
        ratio, p = _test(share[pool], chosen[pool], nsim, rng)
        n = int(chosen[pool].sum())
        mean = share[pool][chosen[pool]].mean() if n else np.nan
        return {"scope": scope, "key": key, "n_entrants": n, "n_sites": int(pool.sum()),
                "n_manufacturing": n_m, "share_entrants": mean,
                "share_sites": share[pool].mean(), "ratio": ratio, "p_value": p,
                "clq": mean / (n_m / (n_total - 1)) if n else np.nan}

    everywhere = np.ones(len(share), dtype=bool)
    rows = [row("all", "producer_services", entrant, everywhere)]
    for name in sorted(set(field[entrant]) - {None}, key=str):
        rows.append(row("field", str(name), entrant & (field == name), everywhere))
    for layer, ids in (zone_of or {}).items():
        zone = pd.Series(np.asarray(ids, dtype=object)[index][on_site])
        for key in sorted(zone[entrant].dropna().unique(), key=str):
            rows.append(row(layer, str(key), entrant & (zone == key).to_numpy(), everywhere))
    table = pd.DataFrame(rows)
    names = zone_names or {}
    table.insert(2, "name", [names.get(scope, {}).get(key, "") for scope, key
                             in zip(table["scope"], table["key"], strict=True)])
    table["first"], table["last"] = first, last
    return table
