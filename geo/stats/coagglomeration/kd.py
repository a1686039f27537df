"""Duranton–Overman Kd of many industry pairs, one pass over the site pairs for all of them."""

from __future__ import annotations

import math

import numba
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
)
from geo.stats.ripley import FunctionResult

HISTOGRAM_MEMORY = 256 * 2**20  # bytes of Kd pair histograms held at once


def coagglomeration_kd(
    x: np.ndarray,
    y: np.ndarray,
    types: np.ndarray,
    pairs: list[tuple[str, str]],
    *,
    members: dict[str, tuple[str, ...]] | None = None,
    weights: np.ndarray | None = None,
    rmax: float = 10_000.0,
    n_r: int = 201,
    bandwidth: str | float = "nrd0",
    adjust: float = 1.0,
    nsim: int = 99,
    seed: int = 0,
    alpha: float = 0.05,
) -> PairStudy:
    """Duranton–Overman K-density of every pair, with global bands, in one pass.

    Each pair's curve is :func:`geo.stats.kdensity.kd_function` (exact estimator)
    with the same seed, its own bandwidth (R's rule on the pair's observed
    distances up to ``2 rmax``, as dbmss) and the study's bin width (the
    finest any pair needs, ``min(h / 25, rmax / 2000)``). A pair ``(a, a)``
    is the univariate Kd of ``a``.

    Parameters
    ----------
    x, y : ndarray
        Coordinates (metres) of all sites.
    types : ndarray
        Type of each site (None: none).
    pairs : list of (str, str)
        Type pairs.
    members : dict, optional
        Composite types: a name used in ``pairs`` and the types it unites
        (``{"producer_services": ("digital", "tech", ...)}``); the two sides
        of a pair may not share a type.
    weights : ndarray, optional
        Employment of each site (pair weights are the products).
    rmax, n_r, bandwidth, adjust, nsim, seed, alpha
        As :func:`geo.stats.kdensity.kd_function`; ``bandwidth`` is ``nrd0``,
        ``SJ`` or metres.

    Returns
    -------
    PairStudy
        Table columns: ``a``, ``b``, ``n_a``, ``n_b``, ``bandwidth_m``,
        ``Gamma`` (localisation), ``Psi`` (dispersion), ``significant``
        (Gamma > 0), ``dispersed`` (Psi > 0), ``localised_from_m`` and
        ``localised_to_m`` (the distances above the upper band), ``kd_peak_m``.
    """
    return _run(kd_plan(x, y, types, pairs, members=members, weights=weights, rmax=rmax,
                        n_r=n_r, bandwidth=bandwidth, adjust=adjust, nsim=nsim, seed=seed,
                        alpha=alpha))


def kd_plan(
    x: np.ndarray,
    y: np.ndarray,
    types: np.ndarray,
    pairs: list[tuple[str, str]],
    *,
    members: dict[str, tuple[str, ...]] | None = None,
    weights: np.ndarray | None = None,
    rmax: float = 10_000.0,
    n_r: int = 201,
    bandwidth: str | float = "nrd0",
    adjust: float = 1.0,
    nsim: int = 99,
    seed: int = 0,
    alpha: float = 0.05,
) -> StudyPlan:
    """Prepare :func:`coagglomeration_kd` (bandwidths and bins) for computing in blocks.

    Parameters are those of :func:`coagglomeration_kd`. The bandwidths take
    one pass over the observed site pairs (within ``2 rmax``) here.

    Returns
    -------
    StudyPlan
        Compute it with :func:`study_block` on ranges of labellings, then
        :func:`combine_blocks` and :meth:`StudyPlan.finish`.
    """
    from geo.stats.kdensity import FINE_BINS_PER_BANDWIDTH, fine_grid

    x, y = np.asarray(x, float), np.asarray(y, float)
    types = np.asarray(types, dtype=object)
    _check_sites(x, y, types, nsim)
    if isinstance(bandwidth, str) and bandwidth not in ("nrd0", "SJ"):
        raise ConfigError(f"unknown bandwidth '{bandwidth}': use nrd0, SJ or a number of metres")
    if not isinstance(bandwidth, str) and not float(bandwidth) > 0:
        raise ConfigError("the bandwidth must be positive")
    if not rmax > 0:
        raise ConfigError("rmax must be positive")
    w = np.ones(len(x)) if weights is None else np.asarray(weights, float)
    if (~np.isfinite(w) | (w < 0)).any():
        raise ConfigError("weights must be finite and non-negative")
    plan = _Composition(types, pairs, members, symmetric=True)
    codes, n_types = plan.codes, len(plan.names)
    typed = codes >= 0
    counts = np.bincount(codes[typed], minlength=n_types)
    sums = np.bincount(codes[typed], weights=w[typed], minlength=n_types)
    squares = np.bincount(codes[typed], weights=w[typed] ** 2, minlength=n_types)
    h, within = _kd_bandwidths(x, y, plan, bandwidth, rmax)
    h = h * adjust
    usable = np.isfinite(h) & (h > 0)
    if not usable.any():
        raise ConfigError(f"no pair has two distances within {2 * rmax:g} m to choose a bandwidth")
    # bins of at most h / 25 for every pair, each a multiple of the finest so one pass serves
    # all; pairs sharing site pairs (composite types) share the finest
    step = float(h[usable].min()) / FINE_BINS_PER_BANDWIDTH
    shared = sum(len(parts) for parts in plan.parts) > len(plan.base)
    factor = np.ones(len(pairs), np.int64)
    if not shared:
        factor[usable] = np.maximum(
            np.floor(h[usable] / FINE_BINS_PER_BANDWIDTH / step + 1e-9), 1).astype(np.int64)
    lengths = np.array([len(fine_grid(hu, rmax, f * step)) if ok else 0
                        for hu, ok, f in zip(h, usable, factor, strict=True)], np.int64)
    base_lengths = np.zeros(len(plan.base), np.int64)
    base_factor = np.ones(len(plan.base), np.int64)
    for u, parts in enumerate(plan.parts):
        base_factor[parts] = factor[u]
        base_lengths[parts] = np.maximum(base_lengths[parts], lengths[u])
    totals, sizes = [], []
    for u in range(len(pairs)):
        left, right = plan.side_codes(u)
        same = np.array_equal(left, right)
        if same:
            totals.append((sums[left].sum() ** 2 - squares[left].sum()) / 2)
        else:
            totals.append(sums[left].sum() * sums[right].sum())
        sizes.append((int(counts[left].sum()), int(counts[right].sum()), bool(same)))
    return StudyPlan("Kd", list(pairs), x, y, codes, nsim, seed, np.linspace(0, rmax, n_r),
                     plan, {
                         "weights": None if weights is None else w, "h": h, "usable": usable,
                         "within": within, "step": step, "factor": factor, "lengths": lengths,
                         "base_lengths": base_lengths, "base_factor": base_factor,
                         "grid": fine_grid(float(h[usable].max()), rmax, step),
                         "totals": totals, "sizes": sizes, "rmax": rmax,
                         "bandwidth": bandwidth, "adjust": adjust, "alpha": alpha},
                     _kd_block, _kd_finish)


@numba.njit(cache=True)
def _smooth(hist, step, h, r):
    """:func:`geo.stats.kdensity.smooth_histogram` before dividing by the total, column by column.

    A matrix product (BLAS) may sum in an order that depends on the number
    of columns; here every output adds its bins in their order, so a
    labelling's curve does not depend on the block it is computed in.
    """
    n_r = len(r)
    out = np.zeros((n_r, hist.shape[1]))
    norm = h * math.sqrt(2 * math.pi)
    for j in range(hist.shape[0]):
        d = 0.0 if j == 0 else j * step - step / 2
        for k in range(n_r):
            lo = (r[k] - d) / h
            hi = (r[k] + d) / h
            weight = (math.exp(-0.5 * (lo * lo)) + math.exp(-0.5 * (hi * hi))) / norm
            for s in range(hist.shape[1]):
                out[k, s] += weight * hist[j, s]
    return out


def _kd_block(study: StudyPlan, start: int, stop: int) -> np.ndarray:
    """Kd curves of labellings ``start..stop-1`` (NaN for pairs without a bandwidth)."""
    from geo.stats.typepairs import symmetric_histograms

    o = study.options
    plan = study.composition
    tl, wl = _labellings(study.codes, study.nsim, study.seed, o["weights"], start, stop)
    width = stop - start
    curves = np.full((len(study.pairs), len(study.r), width), np.nan)
    block = max(1, min(width, HISTOGRAM_MEMORY // max(int(o["base_lengths"].sum()) * 8, 1)))
    for first in range(0, width, block):
        cols = slice(first, min(first + block, width))
        hists = symmetric_histograms(study.x, study.y, o["grid"], tl[:, cols], plan.pidx,
                                     o["base_lengths"], None if wl is None else wl[:, cols],
                                     o["base_factor"])
        for u, parts in enumerate(plan.parts):
            if o["usable"][u]:
                hist = sum(hists[v][:o["lengths"][u]] for v in parts)
                curves[u, :, cols] = _smooth(np.ascontiguousarray(hist),
                                             float(o["factor"][u] * o["step"]),
                                             float(o["h"][u]), study.r) / o["totals"][u]
    return curves


def _kd_finish(study: StudyPlan, curves: np.ndarray) -> PairStudy:
    """Kd study from every labelling's curves: bands, Gamma, Psi and the table."""
    o = study.options
    r, nsim, seed, bandwidth = study.r, study.nsim, study.seed, o["bandwidth"]
    h, usable, factor, step = o["h"], o["usable"], o["factor"], o["step"]
    weighted = o["weights"] is not None
    rows, results = [], []
    for u, (a, b) in enumerate(study.pairs):
        n_a, n_b, same = o["sizes"][u]
        row = {"a": a, "b": b, "n_a": n_a, "n_b": n_b,
               "bandwidth_m": float(h[u]) if usable[u] else np.nan,
               "bin_width_m": float(factor[u] * step) if usable[u] else np.nan,
               "distances_within_2rmax": o["within"][u]}
        if not usable[u]:
            rows.append(row | {"note": "fewer than 2 distances within 2 rmax"})
            continue
        result = _kd_result(r, curves[u], a, None if same else b, n_a, None if same else n_b,
                            o["alpha"], {"weighted": weighted, "bandwidth_m": float(h[u]),
                                         "bandwidth_rule": bandwidth
                                         if isinstance(bandwidth, str) else "given",
                                         "adjust": o["adjust"], "estimator": "exact",
                                         "bin_width_m": float(factor[u] * step), "nsim": nsim,
                                         "seed": seed, "n_sites": len(study.x)})
        row["kd_peak_m"] = float(r[np.nanargmax(result.observed)])
        if nsim:
            gamma = result.parameters["Gamma_localisation"]
            psi = result.parameters["Psi_dispersion"]
            above = r[result.observed > result.hi]
            row |= {"Gamma": gamma, "Psi": psi, "significant": gamma > 0, "dispersed": psi > 0,
                    "localised_from_m": float(above.min()) if len(above) else np.nan,
                    "localised_to_m": float(above.max()) if len(above) else np.nan}
        rows.append(row)
        results.append(result)
    return PairStudy("Kd", pd.DataFrame(rows), results, {
        "statistic": "Kd", "pairs": len(study.pairs), "rmax_m": o["rmax"], "n_r": len(r),
        "bandwidth": bandwidth, "adjust": o["adjust"], "finest_bin_m": step, "nsim": nsim,
        "seed": seed, "alpha": o["alpha"], "weighted": weighted, "n_sites": len(study.x),
        "null": "types (with employment) permuted over all sites"})


def _kd_bandwidths(x, y, plan: _Composition, bandwidth, rmax: float) -> tuple[np.ndarray, list]:
    """Bandwidth of each requested pair (before ``adjust``) and its distances within 2 rmax.

    One distance pass serves every requested pair, composite ones included
    (their sums are those of their base pairs); a second only where the
    quartiles may change the bandwidth (:mod:`geo.stats.pair_distances`).
    """
    from geo.stats.bandwidths import bandwidth as rule_bandwidth
    from geo.stats.kdensity import SJ_BINS
    from geo.stats.pair_distances import pair_distance_statistics

    n_pairs = len(plan.parts)
    if not isinstance(bandwidth, str):
        return np.full(n_pairs, float(bandwidth)), [None] * n_pairs
    stats = pair_distance_statistics(x, y, plan.codes, plan.pidx, 2 * rmax,
                                     sj_bins=SJ_BINS if bandwidth == "SJ" else 0,
                                     groups=plan.parts, quartiles="as_needed")
    h = np.array([rule_bandwidth(bandwidth, s) if s["n"] >= 2 else np.nan for s in stats])
    return h, [s["n"] for s in stats]


def _kd_result(r: np.ndarray, curves: np.ndarray, a: str, b: str | None, n_a: int,
               n_b: int | None, alpha: float, parameters: dict) -> FunctionResult:
    """One pair's Kd with its global bands, Gamma and Psi (as :func:`kd_function` returns)."""
    from geo.stats.kdensity import global_bands, localisation

    nsim = curves.shape[1] - 1
    result = FunctionResult(
        "Kd" if b is None else "Kd_bilateral", r, curves[:, 0], np.full(len(r), np.nan),
        parameters={"function": "Kd", "a": a, "b": b, **parameters, "alpha": alpha,
                    "n_a": n_a, "n_b": n_b,
                    "null": "types (with employment) permuted over all sites" if nsim else None},
    )
    if nsim:
        sims = curves[:, 1:].T
        result.theoretical = sims.mean(axis=0)
        result.lo, result.hi = global_bands(sims, alpha)
        result.envelope = "global"
        gamma, psi = localisation(result.observed, result.lo, result.hi)
        result.parameters["Gamma_localisation"] = gamma
        result.parameters["Psi_dispersion"] = psi
    return result
