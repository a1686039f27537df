"""Marcon–Puech M of many industry pairs in one pass."""

from __future__ import annotations

import numpy as np
import pandas as pd

from geo.errors import ConfigError
from geo.stats.coagglomeration.study import (
    PairStudy,
    StudyPlan,
    _check_sites,
    _Composition,
    _labellings,
    _run,
    _significance,
    _sum_of,
)
from geo.stats.ripley import FunctionResult


def coagglomeration_m(
    x: np.ndarray,
    y: np.ndarray,
    types: np.ndarray,
    pairs: list[tuple[str, str]],
    *,
    members: dict[str, tuple[str, ...]] | None = None,
    weights: np.ndarray | None = None,
    r: np.ndarray,
    nsim: int = 99,
    seed: int = 0,
    envelope: str = "pointwise",
    nrank: int = 1,
) -> PairStudy:
    """Marcon–Puech M of every (reference a, neighbour b) pair in one pass.

    Each pair's curve equals :func:`geo.stats.mfunction.m_function` with the same
    seed (types permuted over the sites, weights staying with the locations).

    Parameters
    ----------
    x, y : ndarray
        Coordinates (metres) of all sites.
    types : ndarray
        Type of each site (None: none).
    pairs : list of (str, str)
        (reference, neighbour) pairs.
    members : dict, optional
        Composite types (see :func:`coagglomeration_kd`).
    weights : ndarray, optional
        Weight of each site (employment).
    r : ndarray
        Increasing distances from 0.
    nsim, seed, envelope, nrank
        As :func:`geo.stats.mfunction.m_function`.

    Returns
    -------
    PairStudy
        Table columns: ``a`` (reference), ``b`` (neighbour), ``n_a``, ``n_b``,
        ``m_max`` and ``r_at_max_m``, ``above_envelope_m``, ``p_value``
        (global test), ``significant``.
    """
    return _run(m_plan(x, y, types, pairs, members=members, weights=weights, r=r, nsim=nsim,
                       seed=seed, envelope=envelope, nrank=nrank))


def m_plan(
    x: np.ndarray,
    y: np.ndarray,
    types: np.ndarray,
    pairs: list[tuple[str, str]],
    *,
    members: dict[str, tuple[str, ...]] | None = None,
    weights: np.ndarray | None = None,
    r: np.ndarray,
    nsim: int = 99,
    seed: int = 0,
    envelope: str = "pointwise",
    nrank: int = 1,
) -> StudyPlan:
    """Prepare :func:`coagglomeration_m` for computing in blocks.

    Parameters are those of :func:`coagglomeration_m`.

    Returns
    -------
    StudyPlan
        Compute it with :func:`study_block`, :func:`combine_blocks` and
        :meth:`StudyPlan.finish`.
    """
    x, y = np.asarray(x, float), np.asarray(y, float)
    types = np.asarray(types, dtype=object)
    _check_sites(x, y, types, nsim)
    r = np.asarray(r, float)
    if len(r) < 2 or r[0] != 0 or np.any(np.diff(r) <= 0):
        raise ConfigError("r must start at 0 and increase")
    w = np.ones(len(x)) if weights is None else np.asarray(weights, float)
    if (~np.isfinite(w) | (w < 0)).any():
        raise ConfigError("weights must be finite and non-negative")
    plan = _Composition(types, pairs, members, symmetric=False)
    counts = np.bincount(plan.codes[plan.codes >= 0], minlength=len(plan.names))
    sizes = []
    for u in range(len(pairs)):
        left, right = plan.side_codes(u)
        sizes.append((int(counts[left].sum()), int(counts[right].sum())))
    return StudyPlan("M", list(pairs), x, y, plan.codes, nsim, seed, r, plan, {
        "w": w, "weighted": weights is not None, "sizes": sizes, "envelope": envelope,
        "nrank": nrank}, _m_block, _m_finish)


def _m_block(study: StudyPlan, start: int, stop: int) -> np.ndarray:
    """M curves of labellings ``start..stop-1``."""
    from geo.stats.typepairs import m_sums

    o, plan = study.options, study.composition
    n_types, w, width = len(plan.names), o["w"], stop - start
    # weights stay with the locations: permute the types only
    tl, _ = _labellings(study.codes, study.nsim, study.seed, None, start, stop)
    top, ratio, ratio_w = m_sums(study.x, study.y, study.r, tl, np.array(plan.base, np.int64),
                                 n_types, weights=w)
    weight_of_type = np.empty((n_types, width))
    for s in range(width):
        typed = tl[:, s] >= 0
        weight_of_type[:, s] = np.bincount(tl[typed, s], weights=w[typed], minlength=n_types)
    curves = np.empty((len(study.pairs), len(study.r), width))
    for u, (a, b) in enumerate(study.pairs):
        left, right = plan.side_codes(u)
        bottom = _sum_of(weight_of_type, right, 0)[None, :] * _sum_of(ratio, left, 1)
        if a == b:
            bottom = bottom - _sum_of(ratio_w, left, 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            curves[u] = _sum_of(top, plan.parts[u], 1) / bottom
    return curves


def _m_finish(study: StudyPlan, curves: np.ndarray) -> PairStudy:
    """M study from every labelling's curves: envelopes, tests and the table."""
    o, r, nsim, seed = study.options, study.r, study.nsim, study.seed
    envelope, nrank = o["envelope"], o["nrank"]
    rows, results = [], []
    for u, (a, b) in enumerate(study.pairs):
        n_a, n_b = o["sizes"][u]
        result = FunctionResult(
            "M", r, curves[u, :, 0], np.ones(len(r)),
            parameters={"function": "M", "reference": a, "neighbour": b,
                        "weighted": o["weighted"], "nsim": nsim, "seed": seed,
                        "envelope": envelope if nsim else None,
                        "null": "random labelling (weights stay with locations)"
                        if nsim else None,
                        "n_reference": n_a, "n_neighbour": n_b},
        )
        finite = np.isfinite(result.observed)
        best = int(np.flatnonzero(finite)[np.argmax(result.observed[finite])]) if finite.any() \
            else 0
        row = {"a": a, "b": b, "n_a": n_a, "n_b": n_b,
               "m_max": float(result.observed[best]) if finite.any() else np.nan,
               "r_at_max_m": float(r[best])}
        if nsim:
            p_value = _significance(result, curves[u, :, 1:].T, envelope, nrank)
            above = r[result.observed > result.hi]
            row |= {"above_envelope_m": float(above.min()) if len(above) else np.nan,
                    "p_value": p_value, "significant": bool(p_value <= 0.05 and len(above))}
        rows.append(row)
        results.append(result)
    return PairStudy("M", pd.DataFrame(rows), results, {
        "statistic": "M", "pairs": len(study.pairs), "rmax_m": float(r[-1]), "n_r": len(r),
        "nsim": nsim, "seed": seed, "envelope": envelope, "weighted": o["weighted"],
        "n_sites": len(study.x), "null": "random labelling (weights stay with locations)"})
