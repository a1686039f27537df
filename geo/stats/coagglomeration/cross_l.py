"""Cross-L (Ripley's cross-K, as L) of many industry pairs in one pass."""

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
from geo.stats.ripley import FunctionResult, Window


def coagglomeration_cross_l(
    x: np.ndarray,
    y: np.ndarray,
    window: Window,
    types: np.ndarray,
    pairs: list[tuple[str, str]],
    *,
    r: np.ndarray,
    members: dict[str, tuple[str, ...]] | None = None,
    correction: str = "border",
    nsim: int = 99,
    seed: int = 0,
    envelope: str = "pointwise",
    nrank: int = 1,
) -> PairStudy:
    """Cross-type L function of every ordered pair (reference a, neighbour b) in one pass.

    Each pair's curve equals :func:`geo.stats.ripley.kfunction` with ``fun="L"``,
    ``relabel="all"`` and the same seed: spatstat's ``Lcross`` estimator
    (``border``: its binned reduced sample; or ``none``) with ties as spatstat.

    Parameters
    ----------
    x, y : ndarray
        Coordinates (metres) of all sites, inside ``window``.
    window : Window
        Observation window.
    types : ndarray
        Type of each site (None: none).
    pairs : list of (str, str)
        Ordered type pairs.
    r : ndarray
        Distances, evenly spaced from 0.
    members : dict, optional
        Composite types (see :func:`coagglomeration_kd`).
    correction : {"border", "none"}
        Edge correction.
    nsim, seed, envelope, nrank
        As :func:`geo.stats.ripley.kfunction`.

    Returns
    -------
    PairStudy
        Table columns: ``a``, ``b``, ``n_a``, ``n_b``, ``l_excess_m`` (the
        largest ``L(r) - r``), ``r_at_excess_m``, ``above_envelope_m`` and
        ``below_envelope_m`` (the first distance above / below the envelope),
        ``p_value`` (global maximum-absolute-deviation test), ``significant``
        (p <= 0.05 and L above the envelope somewhere).
    """
    return _run(cross_l_plan(x, y, window, types, pairs, r=r, members=members,
                             correction=correction, nsim=nsim, seed=seed, envelope=envelope,
                             nrank=nrank))


def cross_l_plan(
    x: np.ndarray,
    y: np.ndarray,
    window: Window,
    types: np.ndarray,
    pairs: list[tuple[str, str]],
    *,
    r: np.ndarray,
    members: dict[str, tuple[str, ...]] | None = None,
    correction: str = "border",
    nsim: int = 99,
    seed: int = 0,
    envelope: str = "pointwise",
    nrank: int = 1,
) -> StudyPlan:
    """Prepare :func:`coagglomeration_cross_l` (boundary distances) for computing in blocks.

    Parameters are those of :func:`coagglomeration_cross_l`; the window is
    used here only (the plan keeps its area and each site's boundary distance).

    Returns
    -------
    StudyPlan
        Compute it with :func:`study_block`, :func:`combine_blocks` and
        :meth:`StudyPlan.finish`.
    """
    from geo.stats.ripley import _check, _whist_cells

    if correction not in ("border", "none"):
        raise ConfigError(f"correction '{correction}' for many pairs: use border or none "
                          "(translate and isotropic: one pair at a time, geo index crossk)")
    r = _check(correction, r, "spatstat", None)
    x, y = np.asarray(x, float), np.asarray(y, float)
    types = np.asarray(types, dtype=object)
    _check_sites(x, y, types, nsim)
    if not window.contains(x, y).all():
        raise ConfigError("some points lie outside the window")
    same = sorted({a for a, b in pairs if a == b})
    if same:
        raise ConfigError(f"cross-L of a type with itself ({', '.join(same[:5])}): that is "
                          "Ripley's univariate L (geo index crossk without --b)")
    plan = _Composition(types, pairs, members, symmetric=False)
    counts = np.bincount(plan.codes[plan.codes >= 0], minlength=len(plan.names)).astype(float)
    sizes = []
    for u in range(len(pairs)):
        left, right = plan.side_codes(u)
        sizes.append((counts[left].sum(), counts[right].sum()))
    options = {"correction": correction, "envelope": envelope, "nrank": nrank,
               "area": window.area, "sizes": sizes}
    if correction == "border":
        options["boundary"] = window.boundary_distance(x, y)
        options["cell"] = _whist_cells(options["boundary"], r)
    return StudyPlan("cross-L", list(pairs), x, y, plan.codes, nsim, seed, r, plan, options,
                     _cross_l_block, _cross_l_finish)


def _cross_l_block(study: StudyPlan, start: int, stop: int) -> np.ndarray:
    """Cross-L curves of labellings ``start..stop-1``."""
    from geo.stats.pairs import TIES_LEFT
    from geo.stats.ripley import _reduced_sample
    from geo.stats.typepairs import ordered_histograms

    o, plan, r = study.options, study.composition, study.r
    n_types, n_r, width = len(plan.names), len(r), stop - start
    tl, _ = _labellings(study.codes, study.nsim, study.seed, None, start, stop)
    if o["correction"] == "border":
        cell = o["cell"]
        main, cens = ordered_histograms(study.x, study.y, r, tl, plan.pidx, len(plan.base),
                                        ties=TIES_LEFT, boundary_distance=o["boundary"],
                                        boundary_cell=cell)
        # reference points of each type by the cell of their boundary distance, per labelling
        by_cell = np.zeros((n_types, n_r + 1, width))
        capped = np.minimum(cell, n_r)
        for s in range(width):
            typed = tl[:, s] >= 0
            flat = tl[typed, s].astype(np.int64) * (n_r + 1) + capped[typed]
            by_cell[:, :, s] = np.bincount(flat, minlength=n_types * (n_r + 1)).reshape(
                n_types, n_r + 1)
    else:
        main, _ = ordered_histograms(study.x, study.y, r, tl, plan.pidx, len(plan.base),
                                     ties=TIES_LEFT)
    curves = np.empty((len(study.pairs), n_r, width))
    for u, parts in enumerate(plan.parts):
        left, _ = plan.side_codes(u)
        n_a, n_b = o["sizes"][u]
        with np.errstate(divide="ignore", invalid="ignore"):
            if o["correction"] == "border":
                numerator, denom = _reduced_sample(_sum_of(main, parts, 1),
                                                   _sum_of(cens, parts, 1),
                                                   _sum_of(by_cell, left, 0))
                k = numerator / (n_b / o["area"] * denom)
            else:
                k = np.cumsum(_sum_of(main, parts, 1), axis=0) / (n_a * n_b / o["area"])
            curves[u] = np.sqrt(k / np.pi)
    return curves


def _cross_l_finish(study: StudyPlan, curves: np.ndarray) -> PairStudy:
    """Cross-L study from every labelling's curves: envelopes, tests and the table."""
    o, r, nsim, seed = study.options, study.r, study.nsim, study.seed
    correction, envelope, nrank = o["correction"], o["envelope"], o["nrank"]
    rows, results = [], []
    for u, (a, b) in enumerate(study.pairs):
        n_a, n_b = o["sizes"][u]
        result = FunctionResult(
            "Lcross", r, curves[u, :, 0], r.copy(),
            parameters={"function": "Lcross", "a": a, "b": b, "correction": correction,
                        "ties": "spatstat", "border": "binned" if correction == "border"
                        else None, "nsim": nsim, "seed": seed,
                        "envelope": envelope if nsim else None, "nrank": nrank,
                        "n_a": int(n_a), "n_b": int(n_b), "window_area_m2": o["area"],
                        "null": "random labelling of all points" if nsim else None},
        )
        excess = result.observed - r
        best = int(np.nanargmax(excess)) if np.isfinite(excess).any() else 0
        row = {"a": a, "b": b, "n_a": int(n_a), "n_b": int(n_b),
               "l_excess_m": float(excess[best]), "r_at_excess_m": float(r[best])}
        if nsim:
            p_value = _significance(result, curves[u, :, 1:].T, envelope, nrank)
            above, below = r[result.observed > result.hi], r[result.observed < result.lo]
            row |= {"above_envelope_m": float(above.min()) if len(above) else np.nan,
                    "below_envelope_m": float(below.min()) if len(below) else np.nan,
                    "p_value": p_value, "significant": bool(p_value <= 0.05 and len(above))}
        rows.append(row)
        results.append(result)
    return PairStudy("cross-L", pd.DataFrame(rows), results, {
        "statistic": "cross-L", "pairs": len(study.pairs), "correction": correction,
        "rmax_m": float(r[-1]), "n_r": len(r), "nsim": nsim, "seed": seed,
        "envelope": envelope, "n_sites": len(study.x),
        "null": "random labelling of all points"})
