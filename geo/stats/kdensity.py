r"""Duranton–Overman K-density (Kd), univariate and bilateral, with global confidence bands.

Duranton & Overman (2005), "Testing for localization using micro-geographic
data", Review of Economic Studies 72(4), 1077-1106; bilateral version:
Duranton & Overman (2008), "Exploring the detailed location patterns of U.K.
manufacturing industries using microgeographic data", Journal of Regional
Science 48(1), 213-243.

For the pairs of firms of an industry (univariate: the :math:`n(n-1)/2`
pairs of A; bilateral: the :math:`n_A n_B` pairs between A and B), with pair
weights :math:`w_p` (1, or the product of employments):

.. math::
    \hat K_d(r) = \frac{\sum_p w_p \left[\phi_h(r - d_p) + \phi_h(r + d_p)\right]}
                       {\sum_p w_p}

a Gaussian kernel density of pair distances reflected at zero, so it
integrates to 1 over :math:`[0, \infty)`; the sum in the denominator runs over
*all* pairs (not only those closer than the maximum distance). The bandwidth
(``bandwidth``, times ``adjust``) is a number of metres, or R's rule ``nrd0``
(Silverman, the default) or ``SJ`` (Sheather & Jones) applied, as the R
package dbmss (``Kdhat``) does, to the observed unweighted distances up to
twice the maximum distance; both computed exactly (:mod:`geo.stats.bandwidths`,
:func:`geo.stats.pair_distances.distance_statistics`: equal to R's ``bw.nrd0``/``bw.SJ`` of
the listed distances).

Counterfactuals (D&O 2005): the firms of A and B are relocated to sites drawn
without replacement from all firms' sites, i.e. the types (with their
employment) are permuted over all sites. Global bands (D&O 2005, sec. 4.3):
the upper band is the same local percentile at every distance chosen so that
a share ``alpha / 2`` of counterfactuals lies above it somewhere; the lower
band likewise. Localisation :math:`\Gamma = \sum_r \max(\hat K_d(r) - \bar K(r), 0)`,
dispersion :math:`\Psi = \sum_r \max(\underline K(r) - \hat K_d(r), 0)` when
:math:`\Gamma = 0` (else 0), summed over the r grid.

Two estimators:

``estimator="exact"``
    pair distances binned at a width of at most ``h/25`` and smoothed exactly
    with the Gaussian (2e-3 of the peak against the unbinned sum), every pair
    reflected; the observed bandwidth is kept for all counterfactuals, so every
    curve is smoothed alike (as D&O's bands compare like with like).
``estimator="dbmss"``
    dbmss's binned approximation, step by step (``Kdhat(..., Approximate = k)``,
    its default from 10,000 points, read from dbmss's ``Kdhat.R`` and
    ``CountNbd.cpp``): pair weights in ``2048 k`` bins of ``[0, 2 rmax]``
    (``d^2 <= r^2`` closes a bin) plus one for farther pairs; the bandwidth by
    the rule over the *distinct non-empty bins* (their centres, unweighted,
    which can differ from the rule on the distances by tens of percent); bins
    below 4 bandwidths mirrored at 0; R's ``density()`` on 512 points
    (:func:`geo.stats.bandwidths.r_density`) renormalised by the mirrored mass; linear
    interpolation at r. Each counterfactual gets its own bandwidth, as in
    dbmss's envelopes. dbmss's exact mode (``Approximate = 0``, its default
    below 10,000 points) lists every distance and is not reproduced: its
    curve differs from ``estimator="exact"`` by R ``density()``'s binning.
"""

from __future__ import annotations

import numpy as np

from geo.errors import ConfigError
from geo.stats.bandwidths import bandwidth as rule_bandwidth
from geo.stats.bandwidths import r_density, r_seq, summary
from geo.stats.pair_distances import distance_statistics
from geo.stats.pairs import NONE, TIES_SQUARED, pair_histograms
from geo.stats.ripley import FunctionResult

FINE_BINS_PER_BANDWIDTH = 25
ESTIMATORS = ("exact", "dbmss")
SJ_BINS = 1000  # R's bw.SJ default nb
DBMSS_DENSITY_POINTS = 512  # Kdhat's n


def _labels(
    types: np.ndarray, weights: np.ndarray | None, a: str, b: str | None, nsim: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per-site A and B weights for the observed and permuted labellings."""
    rng = np.random.default_rng(seed)
    n = len(types)
    w = np.ones(n) if weights is None else np.asarray(weights, float)
    codes = np.where(types == a, 1, np.where(types == b, 2, 0)) if b else (types == a) * 1
    # 0/1 bytes when unweighted: an eighth of the memory traffic of floats
    dtype = np.uint8 if weights is None else float
    label_a = np.empty((n, 1 + nsim), dtype)
    label_b = np.empty((n, 1 + nsim), dtype)
    for s in range(1 + nsim):
        perm = np.arange(n) if s == 0 else rng.permutation(n)
        c, ws = codes[perm], w[perm]  # type and weight move together to a new site
        label_a[:, s] = np.where(c == 1, ws, 0.0)
        label_b[:, s] = np.where(c == (2 if b else 1), ws, 0.0)
    return label_a, label_b


def _observed_bandwidth(x, y, types, a, b, rule, rmax: float) -> tuple[float, dict]:
    """Bandwidth by ``rule`` of the observed unweighted distances up to 2 rmax (dbmss)."""
    if not isinstance(rule, str):
        return float(rule), {}
    keep = (types == a) | (types == (b or a))
    is_a, is_b = types[keep] == a, types[keep] == (b or a)
    stats = distance_statistics(x[keep], y[keep], is_a, is_b, 2 * rmax,
                                sj_bins=SJ_BINS if rule == "SJ" else 0, quartiles="as_needed")
    if stats["n"] < 2:
        raise ConfigError(f"fewer than 2 pairs within {2 * rmax:g} m to choose a bandwidth")
    return rule_bandwidth(rule, stats), {"bandwidth_pairs": stats["n"]}


def fine_step(h: float, rmax: float) -> float:
    """Width of the exact estimator's distance bins: at most ``h / 25`` and ``rmax / 2000``."""
    return min(h / FINE_BINS_PER_BANDWIDTH, rmax / 2000)


def fine_grid(h: float, rmax: float, step: float) -> np.ndarray:
    """Bin bounds of the exact estimator: ``0, step, ...`` to ``rmax + 5 h``."""
    return np.arange(0, rmax + 5 * h + step, step)


def smooth_histogram(hist: np.ndarray, step: float, h: float, r: np.ndarray,
                     total: np.ndarray) -> np.ndarray:
    """Kd at ``r`` from pair weights binned on :func:`fine_grid` (one column per labelling).

    Each bin's weight sits at its centre (the first bin, of zero-length
    pairs, at 0); the Gaussian is reflected at 0 and the sum divided by the
    total pair weight ``total`` (pairs at any distance).
    """
    d = np.concatenate([[0.0], np.arange(1, len(hist)) * step - step / 2])
    kernel = (
        np.exp(-0.5 * ((r[:, None] - d[None, :]) / h) ** 2)
        + np.exp(-0.5 * ((r[:, None] + d[None, :]) / h) ** 2)
    ) / (h * np.sqrt(2 * np.pi))
    return (kernel @ hist) / total[None, :]


def _exact_curves(x, y, label_a, label_b, same: bool, h: float, rmax: float,
                  r: np.ndarray, step: float) -> np.ndarray:
    """Kd of every labelling: distances binned finely, then exact Gaussian smoothing."""
    r_fine = fine_grid(h, rmax, step)
    hist, _ = pair_histograms(x, y, r_fine, label_a, label_b, correction=NONE)
    if same:
        hist = hist / 2
    return smooth_histogram(hist, step, h, r, _total_pair_weight(label_a, label_b, same))


def _dbmss_curves(x, y, label_a, label_b, same: bool, rule, adjust: float, rmax: float,
                  r: np.ndarray, approximate: int) -> tuple[np.ndarray, np.ndarray]:
    """Kd of every labelling by dbmss's binned approximation, and each bandwidth."""
    rseq = r_seq(0.0, 2 * rmax, 2048 * approximate)
    hist, _ = pair_histograms(x, y, rseq, label_a, label_b, correction=NONE, ties=TIES_SQUARED)
    # dbmss counts a pair of one type twice (once from each end): so do the histograms
    far = _total_pair_weight(label_a, label_b, same) * (2 if same else 1) - hist.sum(axis=0)
    centres = np.concatenate([[0.0], (rseq[1:] + rseq[:-1]) / 2])
    curves = np.empty((len(r), hist.shape[1]))
    bandwidths = np.empty(hist.shape[1])
    for s in range(hist.shape[1]):
        occupied = centres[hist[:, s] > 0]
        stats = summary(occupied, sj_bins=SJ_BINS if rule == "SJ" else 0)
        h = rule_bandwidth(rule, stats) * adjust
        values = np.concatenate([centres, [2 * rmax + 4 * h]])
        weights = np.concatenate([hist[:, s], [far[s]]])
        mirrored = np.flatnonzero(values <= 4 * h)[1:]  # bins below 4h but the one at 0
        values = np.concatenate([values, -values[mirrored]])
        weights = np.concatenate([weights, weights[mirrored]])
        weights = weights / weights.sum()
        grid, density = r_density(values, weights, h, 0.0, rmax, DBMSS_DENSITY_POINTS)
        below, mass = r_density(values, weights, h, values.min() - 3 * h, 0.0)
        density = density / (1 - mass.mean() * (below[-1] - below[0]))
        curves[:, s] = np.interp(r, grid, density)
        bandwidths[s] = h
    return curves, bandwidths


def kd_function(
    x: np.ndarray,
    y: np.ndarray,
    types: np.ndarray,
    a: str,
    b: str | None = None,
    *,
    weights: np.ndarray | None = None,
    rmax: float = 10_000.0,
    n_r: int = 201,
    bandwidth: str | float = "nrd0",
    adjust: float = 1.0,
    estimator: str = "exact",
    approximate: int = 1,
    bin_width: float | None = None,
    nsim: int = 0,
    seed: int = 0,
    alpha: float = 0.05,
) -> FunctionResult:
    """Duranton–Overman K-density of type A (or A with B) with global bands.

    Parameters
    ----------
    x, y : ndarray
        Coordinates (metres) of *all* sites (every firm): the counterfactual
        locations are drawn from them.
    types : ndarray
        Type of each site.
    a, b : str
        Industry A; with ``b`` the bilateral K-density of A and B.
    weights : ndarray, optional
        Employment of each site: pair weights are the products.
    rmax : float
        Largest distance (metres).
    n_r : int
        Number of distances ``0 .. rmax``.
    bandwidth : {"nrd0", "SJ"} or float
        R's rule (of the observed distances up to 2 rmax; with
        ``estimator="dbmss"``, of the non-empty bins as dbmss does) or metres.
    adjust : float
        Bandwidth multiplier.
    estimator : {"exact", "dbmss"}
        See the module docstring.
    approximate : int
        dbmss's ``Approximate`` (bins per rmax / 1024) with ``estimator="dbmss"``.
    bin_width : float, optional
        Width (metres) of the exact estimator's distance bins; default
        :func:`fine_step` (``min(h / 25, rmax / 2000)``).
    nsim : int
        Counterfactuals (0: none).
    seed : int
        Seed of the counterfactuals.
    alpha : float
        Global band level: ``alpha / 2`` of the counterfactuals exceed each band.

    Returns
    -------
    FunctionResult
        ``observed`` Kd(r); ``theoretical`` is the mean of the counterfactuals
        (NaN without); parameters include the bandwidth, Gamma and Psi.
    """
    types = np.asarray(types, dtype=object)
    x, y = np.asarray(x, float), np.asarray(y, float)
    n_a = int((types == a).sum())
    n_b = int((types == b).sum()) if b else n_a
    if n_a < (1 if b else 2) or n_b < 1:
        raise ConfigError(f"too few firms of type {a}{' or ' + b if b else ''}")
    if rmax <= 0:
        raise ConfigError("rmax must be positive")
    if estimator not in ESTIMATORS:
        raise ConfigError(f"unknown estimator '{estimator}': use {', '.join(ESTIMATORS)}")
    if estimator == "dbmss" and (int(approximate) != approximate or approximate < 1):
        raise ConfigError("estimator='dbmss' reproduces dbmss's binned approximation: "
                          "approximate must be a whole number >= 1")
    if isinstance(bandwidth, str) and bandwidth not in ("nrd0", "SJ"):
        raise ConfigError(f"unknown bandwidth '{bandwidth}': use nrd0, SJ or a number of metres")
    if not isinstance(bandwidth, str) and not bandwidth > 0:
        raise ConfigError("the bandwidth must be positive")
    w = None if weights is None else np.asarray(weights, float)
    if w is not None and (~np.isfinite(w) | (w < 0)).any():
        raise ConfigError("weights must be finite and non-negative")
    label_a, label_b = _labels(types, w, a, b, nsim, seed)
    r = np.linspace(0, rmax, n_r)
    extra = {}
    if estimator == "dbmss":
        curves, h_all = _dbmss_curves(x, y, label_a, label_b, not b, bandwidth, adjust, rmax, r,
                                      int(approximate))
        h = float(h_all[0])
        extra = {"approximate": int(approximate), "bandwidth_per_simulation": True}
    else:
        h, extra = _observed_bandwidth(x, y, types, a, b, bandwidth, rmax)
        h *= adjust
        step = fine_step(h, rmax) if bin_width is None else float(bin_width)
        if not step > 0:
            raise ConfigError("bin_width must be positive")
        curves = _exact_curves(x, y, label_a, label_b, not b, h, rmax, r, step)
        extra["bin_width_m"] = step
    result = FunctionResult(
        "Kd" if not b else "Kd_bilateral", r, curves[:, 0], np.full(n_r, np.nan),
        parameters={
            "function": "Kd", "a": a, "b": b, "weighted": w is not None, "bandwidth_m": h,
            "bandwidth_rule": bandwidth if isinstance(bandwidth, str) else "given",
            "adjust": adjust, "estimator": estimator, **extra, "nsim": nsim, "seed": seed,
            "alpha": alpha, "n_a": n_a, "n_b": n_b if b else None, "n_sites": len(x),
            "null": "types (with employment) permuted over all sites" if nsim else None,
        },
    )
    if nsim:
        sims = curves[:, 1:].T
        result.simulations = sims
        result.theoretical = sims.mean(axis=0)
        result.lo, result.hi = global_bands(sims, alpha)
        result.envelope = "global"
        gamma, psi = localisation(result.observed, result.lo, result.hi)
        result.parameters["Gamma_localisation"] = gamma
        result.parameters["Psi_dispersion"] = psi
    return result


def _total_pair_weight(label_a: np.ndarray, label_b: np.ndarray, same: bool) -> np.ndarray:
    """Sum of pair weights over all pairs (not only close ones), per labelling."""
    la, lb = label_a.astype(float), label_b.astype(float)
    sa, sb = la.sum(axis=0), lb.sum(axis=0)
    if same:
        return (sa * sa - (la**2).sum(axis=0)) / 2
    return sa * sb


def localisation(observed: np.ndarray, lower: np.ndarray, upper: np.ndarray
                 ) -> tuple[float, float]:
    """Duranton–Overman localisation Gamma and dispersion Psi of a Kd curve against its bands.

    Gamma sums the excess over the upper band; Psi the shortfall under the
    lower band, counted only where Gamma is 0 (D&O 2005, sec. 4.3).
    """
    above = float(np.maximum(observed - upper, 0).sum())
    below = float(np.maximum(lower - observed, 0).sum())
    return above, (below if above == 0 else 0.0)


def global_bands(sims: np.ndarray, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Duranton–Overman global bands: one local percentile for all distances.

    The upper band is the pointwise ``q``-quantile of the counterfactuals with
    ``q`` the smallest value such that at most ``alpha / 2`` of them exceed it
    anywhere; the lower band likewise from below.

    Parameters
    ----------
    sims : ndarray, shape (nsim, n_r)
        Counterfactual curves.
    alpha : float
        Total level of the two bands.

    Returns
    -------
    tuple of ndarray
        ``(lower, upper)``.
    """
    nsim = sims.shape[0]
    ordered = np.sort(sims, axis=0)
    allowed = int(np.floor(alpha / 2 * nsim))
    upper = ordered[-1]
    for rank in range(nsim - 1, -1, -1):
        band = ordered[rank]
        if np.sum(np.any(sims > band + 1e-15, axis=1)) > allowed:
            break
        upper = band
    lower = ordered[0]
    for rank in range(nsim):
        band = ordered[rank]
        if np.sum(np.any(sims < band - 1e-15, axis=1)) > allowed:
            break
        lower = band
    return lower, upper
