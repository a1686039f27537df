"""Kernel bandwidths and R's binned density estimate, as R's ``stats`` computes them.

Written by hand because no Python library reproduces R's numbers, which the
distance functions must match (dbmss's ``Kdhat`` calls them):

- :func:`nrd0`: Silverman's rule of thumb, R ``bw.nrd0`` (Silverman 1986, eq. 3.31):
  ``0.9 min(sd, IQR / 1.34) n^(-1/5)``.
- :func:`sheather_jones`: R ``bw.SJ(method = "ste")`` (Sheather & Jones 1991,
  JRSS B 53(3), the "solve-the-equation" plug-in), on R's 1000 binned pairwise
  differences, with R's root finder (Brent's ``zeroin``, :func:`zeroin`) and
  its tolerance, which leaves the root only within 10 % of the lower search bound.
- :func:`r_density`: R ``density.default`` with a Gaussian kernel: linear
  binning on ``n`` points (at least 512, a power of two above), convolution by
  FFT, linear interpolation (the coordinates of R < 4.4, ``old.coords = TRUE``).

Summaries of the data (count, sd, quartiles, SJ bins) come from
:func:`geo.stats.pair_distances.distance_statistics`, so pair distances are never listed.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from geo.errors import ConfigError

DBL_EPSILON = np.finfo(float).eps


def nrd0(n: int, sd: float, q25: float | None, q75: float | None, first: float) -> float:
    """R's ``bw.nrd0`` from a sample's size, sd, quartiles and first value.

    Parameters
    ----------
    n : int
        Sample size.
    sd : float
        Standard deviation (n - 1 denominator).
    q25, q75 : float or None
        Quartiles (R ``quantile`` type 7); None when the IQR is known to
        exceed 1.34 sd (:func:`geo.stats.pair_distances.pair_distance_statistics`),
        so that R's ``min(sd, IQR / 1.34)`` is sd.
    first : float
        The sample's first value (R's fallback when sd and IQR are 0).

    Returns
    -------
    float
    """
    if n < 2:
        raise ConfigError("need at least 2 distances to choose a bandwidth")
    lo = sd if q25 is None else min(sd, (q75 - q25) / 1.34)
    if not lo:
        lo = sd or abs(first) or 1.0
    return 0.9 * lo * n ** (-0.2)


def _phi(n: int, width: float, counts: np.ndarray, h: float, order: int) -> float:
    """R's ``bw_phi4`` / ``bw_phi6``: binned estimates of density functionals."""
    delta = (np.arange(len(counts)) * width / h) ** 2
    keep = delta < 1000.0  # R's DELMAX: the rest contributes nothing
    delta, c = delta[keep], counts[keep]
    if order == 4:
        term = np.exp(-delta / 2) * (delta * delta - 6 * delta + 3)
        total = 2 * np.sum(term * c) + n * 3.0
        return total / (n * (n - 1.0) * h**5) / math.sqrt(2 * math.pi)
    term = np.exp(-delta / 2) * (delta * delta * delta - 15 * delta * delta + 45 * delta - 15)
    total = 2 * np.sum(term * c) - 15.0 * n
    return total / (n * (n - 1.0) * h**7) / math.sqrt(2 * math.pi)


def zeroin(f: Callable[[float], float], ax: float, bx: float, fa: float, fb: float,
           tol: float, maxit: int = 1000) -> float:
    """Brent's root finder as R's ``uniroot`` runs it (``R_zeroin2``).

    Brent (1973), *Algorithms for Minimization without Derivatives*, ch. 4:
    bisection safeguarding inverse quadratic and linear interpolation, stopping
    when the bracket is within ``2 eps |b| + tol / 2``.

    Parameters
    ----------
    f : callable
        Function with a sign change on ``[ax, bx]``.
    ax, bx : float
        Bracket.
    fa, fb : float
        ``f(ax)``, ``f(bx)``.
    tol : float
        Absolute tolerance.
    maxit : int
        Iterations (R's default 1000).

    Returns
    -------
    float
    """
    a, b, c, fc = ax, bx, ax, fa
    if fa == 0.0:
        return a
    if fb == 0.0:
        return b
    for _ in range(maxit + 1):
        prev_step = b - a
        if abs(fc) < abs(fb):
            a, b, c = b, c, b
            fa, fb, fc = fb, fc, fb
        tol_act = 2 * DBL_EPSILON * abs(b) + tol / 2
        new_step = (c - b) / 2
        if abs(new_step) <= tol_act or fb == 0.0:
            return b
        if abs(prev_step) >= tol_act and abs(fa) > abs(fb):
            cb = c - b
            if a == c:  # linear interpolation
                t1 = fb / fa
                p = cb * t1
                q = 1.0 - t1
            else:  # inverse quadratic interpolation
                q = fa / fc
                t1 = fb / fc
                t2 = fb / fa
                p = t2 * (cb * q * (q - t1) - (b - a) * (t1 - 1.0))
                q = (q - 1.0) * (t1 - 1.0) * (t2 - 1.0)
            if p > 0:
                q = -q
            else:
                p = -p
            if p < (0.75 * cb * q - abs(tol_act * q) / 2) and p < abs(prev_step * q / 2):
                new_step = p / q
        if abs(new_step) < tol_act:
            new_step = tol_act if new_step > 0 else -tol_act
        a, fa = b, fb
        b += new_step
        fb = f(b)
        if (fb > 0 and fc > 0) or (fb < 0 and fc < 0):
            c, fc = a, fa
    return b


def sheather_jones(n: int, sd: float, q25: float, q75: float, width: float,
                   bin_counts: np.ndarray) -> float:
    """R's ``bw.SJ(x, nb = len(bin_counts))`` ("ste") from a summary of ``x``.

    Parameters
    ----------
    n : int
        Sample size.
    sd : float
        Standard deviation.
    q25, q75 : float
        Quartiles (type 7).
    width : float
        R's bin width ``1.01 (max - min) / nb``.
    bin_counts : ndarray
        Counts of ``trunc(x / width)`` from the smallest bin on (``nb`` bins).

    Returns
    -------
    float
    """
    if n < 2:
        raise ConfigError("need at least 2 distances to choose a bandwidth")
    c = np.asarray(bin_counts, float)
    # pairs of values by the number of bins between them (R's bw_den_binned)
    lags = np.correlate(c, c, mode="full")[len(c) - 1:]
    lags[0] = np.sum(c * (c - 1)) / 2
    scale = min(sd, (q75 - q25) / 1.349)
    a = 1.24 * scale * n ** (-1 / 7)
    b = 1.23 * scale * n ** (-1 / 9)
    c1 = 1 / (2 * math.sqrt(math.pi) * n)
    td = -_phi(n, width, lags, b, 6)
    if not math.isfinite(td) or td <= 0:
        raise ConfigError("the distances are too sparse for the Sheather-Jones bandwidth")
    alph2 = 1.357 * (_phi(n, width, lags, a, 4) / td) ** (1 / 7)
    if not math.isfinite(alph2):
        raise ConfigError("the distances are too sparse for the Sheather-Jones bandwidth")

    def equation(h: float) -> float:
        return (c1 / _phi(n, width, lags, alph2 * h ** (5 / 7), 4)) ** (1 / 5) - h

    hmax = 1.144 * scale * n ** (-1 / 5)
    lower, upper = 0.1 * hmax, hmax
    f_lower, f_upper = equation(lower), equation(upper)
    tries = 1
    while f_lower * f_upper > 0:
        if tries > 99:
            raise ConfigError("no Sheather-Jones bandwidth in the search range")
        if tries % 2:
            upper *= 1.2
            f_upper = equation(upper)
        else:
            lower /= 1.2
            f_lower = equation(lower)
        tries += 1
    # R's default tol = 0.1 * lower is a promise: evaluated now, with the widened lower
    return zeroin(equation, lower, upper, f_lower, f_upper, 0.1 * lower)


def summary(values: np.ndarray, sj_bins: int = 0) -> dict:
    """Summarise a listed sample as :func:`geo.stats.pair_distances.distance_statistics` does.

    Parameters
    ----------
    values : ndarray
        The sample (in R's order: ``first`` is its first value).
    sj_bins : int
        Number of ``bw.SJ`` bins; 0 skips them.

    Returns
    -------
    dict
    """
    v = np.asarray(values, float)
    q25, q75 = np.percentile(v, [25, 75]) if len(v) else (np.nan, np.nan)
    out = {"n": len(v), "sd": float(np.std(v, ddof=1)) if len(v) > 1 else np.nan,
           "q25": float(q25), "q75": float(q75), "min": float(v.min()) if len(v) else np.nan,
           "first": float(v[0]) if len(v) else np.nan}
    if sj_bins and len(v) > 1:
        width = (v.max() - v.min()) * 1.01 / sj_bins
        cells = np.trunc(v / width).astype(np.int64)
        counts = np.bincount(cells - cells.min(), minlength=sj_bins)[:sj_bins]
        out["sj_width"], out["sj_counts"] = width, counts
    return out


def bandwidth(rule: str | float, stats: dict) -> float:
    """Choose a bandwidth by R's rule ``"nrd0"`` or ``"SJ"`` from a summary, or take a number.

    Parameters
    ----------
    rule : {"nrd0", "SJ"} or float
        Rule, or the bandwidth itself.
    stats : dict
        Summary of the sample (:func:`summary` or
        :func:`geo.stats.pair_distances.distance_statistics`).

    Returns
    -------
    float
    """
    if not isinstance(rule, str):
        return float(rule)
    if rule == "nrd0":
        # sd = IQR = 0 only when every value is the same: any of them is R's x[1]
        return nrd0(stats["n"], stats["sd"], stats["q25"], stats["q75"],
                    stats.get("first", stats["min"]))
    if rule == "SJ":
        return sheather_jones(stats["n"], stats["sd"], stats["q25"], stats["q75"],
                              stats["sj_width"], stats["sj_counts"])
    raise ConfigError(f"unknown bandwidth '{rule}': use nrd0, SJ or a number of metres")


def r_seq(start: float, stop: float, length: int) -> np.ndarray:
    """R's ``seq.int(from, to, length.out = length)``: ``from + i by``, the last exactly ``to``."""
    out = start + np.arange(length) * ((stop - start) / (length - 1))
    out[-1] = stop
    return out


def _bin_dist(x: np.ndarray, w: np.ndarray, lo: float, hi: float, n: int) -> np.ndarray:
    """R's ``BinDist``: linear binning of ``x`` on ``n`` points from lo to hi (2n zero-padded)."""
    delta = (hi - lo) / (n - 1)
    pos = (x - lo) / delta
    ix = np.floor(pos)
    fx = pos - ix
    ix = ix.astype(np.int64)
    y = np.zeros(2 * n)
    inner = (ix >= 0) & (ix <= n - 2)
    y += np.bincount(ix[inner], weights=w[inner] * (1 - fx[inner]), minlength=2 * n)
    y += np.bincount(ix[inner] + 1, weights=w[inner] * fx[inner], minlength=2 * n)
    y[0] += np.sum(w[ix == -1] * fx[ix == -1])
    last = ix == n - 1
    y[n - 1] += np.sum(w[last] * (1 - fx[last]))
    return y


def r_density(x: np.ndarray, weights: np.ndarray, bw: float, start: float, stop: float,
              n: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """R's ``density(x, weights = weights, bw = bw, from = start, to = stop, n = n)``.

    Gaussian kernel; ``weights`` sum to 1 (R's ``totMass`` is then 1).

    Parameters
    ----------
    x, weights : ndarray
        Values and their weights.
    bw : float
        Bandwidth (the kernel's standard deviation).
    start, stop : float
        Range of the returned grid.
    n : int
        Points of the returned grid.

    Returns
    -------
    tuple of ndarray
        ``(grid, density)``.
    """
    n_user = n
    n = max(n, 512)
    if n > 512:
        n = 2 ** math.ceil(math.log2(n))
    lo, up = start - 4 * bw, stop + 4 * bw
    y = _bin_dist(np.asarray(x, float), np.asarray(weights, float), lo, up, n)
    kords = r_seq(0.0, 2 * (up - lo), 2 * n)
    kords[n + 1:] = -kords[n - 1:0:-1]
    kords = np.exp(-0.5 * (kords / bw) ** 2) / (bw * math.sqrt(2 * math.pi))
    conv = np.fft.ifft(np.fft.fft(y) * np.conj(np.fft.fft(kords))).real[:n]
    conv = np.maximum(conv, 0.0)
    grid = r_seq(start, stop, n_user)
    return grid, np.interp(grid, r_seq(lo, up, n), conv)
