r"""Marcon–Puech M function, cross-type and weighted, with random-labelling envelopes.

Marcon & Puech (2010), "Measures of the geographic concentration of
industries: improving distance-based methods", Journal of Economic Geography
10(5), 745-762; estimator as in the R package dbmss (``Mhat``). For reference
type R, neighbour type N and point weights :math:`w` (1 or employment):

.. math::
    M(r) = \frac{\sum_{i \in R} \dfrac{\sum_{j \ne i,\, d_{ij} \le r,\, j \in N} w_j}
                                      {\sum_{j \ne i,\, d_{ij} \le r} w_j}}
                {\sum_{i \in R} \dfrac{W_N}{W - w_i}}

where :math:`W` is the total weight and :math:`W_N` that of type N (for
:math:`R = N` the global ratio is :math:`(W_R - w_i)/(W - w_i)`). Reference
points with no neighbour within :math:`r` leave both sums. :math:`M = 1`
when N is as frequent around R as in the whole area, above 1 when N
concentrates near R. It needs no edge correction: it compares
neighbourhoods with themselves.

Random labelling (dbmss ``RandomLabeling``): types are permuted over the
points, weights stay with the locations.

The kernel visits each reference point's neighbours once for the observed
labelling and every simulation: per point it keeps an ``(n_r, S)`` array of
neighbour weights, so memory is ``O(n * S)`` for the labels plus
``O(chunks * n_r * S)``; the threads follow :func:`geo.stats.pairs.run_kernel`.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from geo.errors import ConfigError
from geo.stats.pairs import N_CHUNKS, _grid
from geo.stats.ripley import FunctionResult, add_envelope
from geo.stats.threads import run_kernel


@numba.njit(cache=True)
def _m_chunk(chunk, x, y, w, r, ref, nbr, global_ratio, order, starts, nx, ny, size, x0, y0):
    """Sum the local and global ratios (``top``, ``bottom``) of one chunk of reference points.

    Allocated here so the compiler knows they share no memory with the inputs.
    """
    n_r = len(r)
    n_sim = ref.shape[1]
    top = np.zeros((n_r, n_sim))
    bottom = np.zeros((n_r, n_sim))
    r2 = r[-1] * r[-1]
    den = np.zeros(n_r)
    num = np.zeros((n_r, n_sim))
    acc = np.zeros(n_sim)
    for i in range(chunk, len(x), N_CHUNKS):
        # skip points that are never a reference point
        any_ref = False
        for s in range(n_sim):
            if ref[i, s]:
                any_ref = True
                break
        if not any_ref:
            continue
        den[:] = 0.0
        num[:, :] = 0.0
        cxx = int((x[i] - x0) / size)
        cyy = int((y[i] - y0) / size)
        for gy in range(cyy - 1, cyy + 2):
            if gy < 0 or gy >= ny:
                continue
            for gx in range(cxx - 1, cxx + 2):
                if gx < 0 or gx >= nx:
                    continue
                cell = gy * nx + gx
                for q in range(starts[cell], starts[cell + 1]):
                    j = order[q]
                    if j == i:
                        continue
                    dx = x[j] - x[i]
                    dy = y[j] - y[i]
                    dd = dx * dx + dy * dy
                    if dd > r2:
                        continue
                    k = np.searchsorted(r, math.sqrt(dd), side="left")
                    den[k] += w[j]
                    for s in range(n_sim):
                        num[k, s] += w[j] * nbr[j, s]
        total = 0.0
        acc[:] = 0.0
        for k in range(n_r):
            total += den[k]
            for s in range(n_sim):
                acc[s] += num[k, s]
            if total > 0.0:
                for s in range(n_sim):
                    if ref[i, s]:
                        top[k, s] += acc[s] / total
                        bottom[k, s] += global_ratio[i, s]
    return top, bottom


@numba.njit(parallel=True, cache=True)
def _m_parallel(x, y, w, r, ref, nbr, global_ratio):
    """Sum local and global ratios over reference points, per (r, labelling), in parallel."""
    order, starts, nx, ny, size, x0, y0 = _grid(x, y, r[-1])
    top = np.zeros((N_CHUNKS, len(r), ref.shape[1]))
    bottom = np.zeros((N_CHUNKS, len(r), ref.shape[1]))
    for chunk in numba.prange(N_CHUNKS):
        top[chunk], bottom[chunk] = _m_chunk(chunk, x, y, w, r, ref, nbr, global_ratio, order,
                                             starts, nx, ny, size, x0, y0)
    return top, bottom


@numba.njit(cache=True)
def _m_serial(x, y, w, r, ref, nbr, global_ratio):
    """Sum the same ratios chunk after chunk in one thread."""
    order, starts, nx, ny, size, x0, y0 = _grid(x, y, r[-1])
    top = np.zeros((N_CHUNKS, len(r), ref.shape[1]))
    bottom = np.zeros((N_CHUNKS, len(r), ref.shape[1]))
    for chunk in range(N_CHUNKS):
        top[chunk], bottom[chunk] = _m_chunk(chunk, x, y, w, r, ref, nbr, global_ratio, order,
                                             starts, nx, ny, size, x0, y0)
    return top, bottom


def m_function(
    x: np.ndarray,
    y: np.ndarray,
    types: np.ndarray,
    reference: str,
    neighbour: str,
    *,
    weights: np.ndarray | None = None,
    r: np.ndarray | None = None,
    rmax: float = 5000.0,
    nsim: int = 0,
    seed: int = 0,
    envelope: str = "pointwise",
    nrank: int = 1,
) -> FunctionResult:
    """Marcon–Puech M of neighbour type around reference type.

    Parameters
    ----------
    x, y : ndarray
        Coordinates (metres) of all points (every firm).
    types : ndarray
        Type of each point.
    reference, neighbour : str
        Reference type R (the centres) and neighbour type N.
    weights : ndarray, optional
        Weight of each point (employment); 1 by default.
    r : ndarray, optional
        Increasing distances from 0; default 65 values up to ``rmax``.
    rmax : float
        Largest distance when ``r`` is not given.
    nsim : int
        Random-labelling simulations (0: none).
    seed : int
        Seed of the simulations.
    envelope : {"pointwise", "global"}
        Envelope type (see :func:`geo.stats.ripley.add_envelope`).
    nrank : int
        Rank of the envelope bounds.

    Returns
    -------
    FunctionResult
        ``theoretical`` is 1.
    """
    types = np.asarray(types, dtype=object)
    x, y = np.asarray(x, float), np.asarray(y, float)
    n = len(x)
    r = np.linspace(0, rmax, 65) if r is None else np.asarray(r, float)
    if len(r) < 2 or r[0] != 0 or np.any(np.diff(r) <= 0):
        raise ConfigError("r must start at 0 and increase")
    w = np.ones(n) if weights is None else np.asarray(weights, float)
    if (~np.isfinite(w) | (w < 0)).any():
        raise ConfigError("weights must be finite and non-negative")
    if not (types == reference).any() or not (types == neighbour).any():
        raise ConfigError(f"no points of type {reference} or {neighbour}")
    rng = np.random.default_rng(seed)
    ref = np.empty((n, 1 + nsim), np.uint8)
    nbr = np.empty((n, 1 + nsim), np.uint8)
    g = np.empty((n, 1 + nsim))
    total = w.sum()
    for s in range(1 + nsim):
        t = types if s == 0 else rng.permutation(types)  # weights stay with locations
        ref[:, s], nbr[:, s] = t == reference, t == neighbour
        w_n = w[nbr[:, s] == 1].sum()
        with np.errstate(divide="ignore", invalid="ignore"):
            g[:, s] = (w_n - w * (reference == neighbour)) / (total - w)
    top, bottom = run_kernel(_m_parallel, _m_serial, n * (1 + nsim), x, y, w, r, ref, nbr, g)
    top, bottom = top.sum(axis=0), bottom.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        curves = top / bottom
    result = FunctionResult(
        "M", r, curves[:, 0], np.ones(len(r)),
        parameters={
            "function": "M", "reference": reference, "neighbour": neighbour,
            "weighted": weights is not None, "nsim": nsim, "seed": seed,
            "envelope": envelope if nsim else None,
            "null": "random labelling (weights stay with locations)" if nsim else None,
            "n_reference": int(ref[:, 0].sum()), "n_neighbour": int(nbr[:, 0].sum()),
        },
    )
    if nsim:
        add_envelope(result, curves[:, 1:].T, envelope, nrank)
    return result
