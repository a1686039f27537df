"""Exact summaries of the pair distances a kernel bandwidth needs, without listing the pairs.

R's bandwidth rules (``bw.nrd0``, ``bw.SJ``) take a sample's size, standard
deviation and type-7 quartiles and, for SJ, its counts in 1000 bins between
its extremes. Kd (dbmss) applies them to the distances of every pair of its
two types within ``2 rmax``: on a city's register, billions of distances.

Pass 1 visits every wanted site pair once and keeps, per base type pair,
the count, sum and sum of squares, the extremes and a histogram in fine
bins; a requested pair (a union of base pairs: manufacturing with producer
services and with each of its fields) adds them up. Quartiles need exact
order statistics, which pass 2 picks out of the bins that hold them. Pass 2
runs only when something needs it: SJ's bins (they need the extremes), exact
quartiles asked for, or a pair whose bins cannot tell whether its IQR / 1.34
exceeds its sd. Both rules take the smaller of the two, so when the
interquartile range's lower bound from the bins already exceeds 1.34 sd, the
quartiles cannot change the bandwidth and pass 2 is not needed. On Hangzhou's
pattern that is the common case: one pass.

Only sites of a type in some wanted pair take part. They are sorted into
cells of side ``dmax``, by type within a cell, and their data copied in that
order, so a cell's sites sit side by side in memory. The cells are split into a fixed number of
chunks, each with its own sums, combined in a fixed order: the result does
not depend on the number of threads.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from geo.stats.pairs import _FORWARD_X, _FORWARD_Y, N_CHUNKS, _grid
from geo.stats.threads import run_kernel

DISTANCE_BINS = 1 << 16  # pass-1 bins for one pair: each order statistic is sought in one bin
MIN_DISTANCE_BINS = 256  # ... shared out among many pairs, but never fewer than this
QUARTILES = ("exact", "as_needed")


@numba.njit(cache=True)
def _sites_by_cell(x, y, codes, dmax):
    """Grid of cell ``dmax`` and the sites' coordinates and codes in its order."""
    order, starts, nx, ny, _, _, _ = _grid(x, y, dmax)
    return starts, nx, ny, x[order], y[order], codes[order]


@numba.njit(cache=True)
def _chunk(chunk, starts, nx, ny, xs, ys, cs, pidx, dmax, width, collect, wanted, out, offsets,
           sj_ptr, sj_pair, sj_width, sj_base, stats, hist, sj_hist):
    """One chunk of cells of a distance pass over the site pairs with ``d <= dmax``.

    A site pair counts for base pair ``v = pidx[cs[i], cs[j]]`` (-1: none).
    Pass 1 (not ``collect``): ``stats[v]`` = count, sum and sum of squares of
    ``d - dmax / 2``, min, max; ``hist[v]`` counts in bins of ``width``.
    Pass 2: a distance in a bin given a slot in ``wanted[v]`` goes to
    ``out`` at ``offsets[slot]``; for every requested pair ``q`` listed for
    ``v`` (``sj_pair[sj_ptr[v]:sj_ptr[v + 1]]``), ``sj_hist[q]`` counts R's
    ``trunc(d / sj_width[q]) - sj_base[q]``.
    """
    shift = dmax / 2
    dmax2 = dmax * dmax * (1.0 + 1e-12)
    n_bins = hist.shape[1]
    n_sj = sj_hist.shape[1]
    for cell in range(chunk, nx * ny, N_CHUNKS):
        cyy, cxx = cell // nx, cell % nx
        for i in range(starts[cell], starts[cell + 1]):
            ci, xi, yi = cs[i], xs[i], ys[i]
            for nb in range(5):
                gx, gy = cxx + _FORWARD_X[nb], cyy + _FORWARD_Y[nb]
                if gx < 0 or gx >= nx or gy >= ny:
                    continue
                other = gy * nx + gx
                first = i + 1 if nb == 0 else starts[other]
                for j in range(first, starts[other + 1]):
                    v = pidx[ci, cs[j]]
                    if v < 0:
                        continue
                    dx = xs[j] - xi
                    dy = ys[j] - yi
                    dd = dx * dx + dy * dy
                    if dd > dmax2:
                        continue
                    d = math.sqrt(dd)
                    if d > dmax:
                        continue
                    k = min(int(d / width), n_bins - 1)
                    if not collect:
                        e = d - shift
                        stats[v, 0] += 1.0
                        stats[v, 1] += e
                        stats[v, 2] += e * e
                        stats[v, 3] = min(stats[v, 3], d)
                        stats[v, 4] = max(stats[v, 4], d)
                        hist[v, k] += 1
                        continue
                    slot = wanted[v, k]
                    if slot >= 0:
                        out[offsets[slot]] = d
                        offsets[slot] += 1
                    for e in range(sj_ptr[v], sj_ptr[v + 1]):
                        q = sj_pair[e]
                        s = int(d / sj_width[q]) - sj_base[q]
                        if s < n_sj:
                            sj_hist[q, s] += 1.0


@numba.njit(parallel=True, cache=True)
def _pass_parallel(starts, nx, ny, xs, ys, cs, pidx, n_base, dmax, width, n_bins, collect,
                   wanted, n_out, offsets, sj_ptr, sj_pair, sj_width, sj_base, sj_bins):
    """One distance pass (see :func:`_chunk`), chunks in parallel."""
    stats = np.zeros((N_CHUNKS, n_base, 5))
    stats[:, :, 3], stats[:, :, 4] = np.inf, -np.inf
    hist = np.zeros((N_CHUNKS, n_base if not collect else 0, n_bins), np.int32)
    sj_hist = np.zeros((N_CHUNKS, len(sj_width), sj_bins))
    out = np.empty(n_out)
    for chunk in numba.prange(N_CHUNKS):
        _chunk(chunk, starts, nx, ny, xs, ys, cs, pidx, dmax, width, collect, wanted, out,
               offsets[chunk], sj_ptr, sj_pair, sj_width, sj_base, stats[chunk], hist[chunk],
               sj_hist[chunk])
    return stats, hist, out, sj_hist


@numba.njit(cache=True)
def _pass_serial(starts, nx, ny, xs, ys, cs, pidx, n_base, dmax, width, n_bins, collect,
                 wanted, n_out, offsets, sj_ptr, sj_pair, sj_width, sj_base, sj_bins):
    """Compute one distance pass in one thread."""
    stats = np.zeros((N_CHUNKS, n_base, 5))
    stats[:, :, 3], stats[:, :, 4] = np.inf, -np.inf
    hist = np.zeros((N_CHUNKS, n_base if not collect else 0, n_bins), np.int32)
    sj_hist = np.zeros((N_CHUNKS, len(sj_width), sj_bins))
    out = np.empty(n_out)
    for chunk in range(N_CHUNKS):
        _chunk(chunk, starts, nx, ny, xs, ys, cs, pidx, dmax, width, collect, wanted, out,
               offsets[chunk], sj_ptr, sj_pair, sj_width, sj_base, stats[chunk], hist[chunk],
               sj_hist[chunk])
    return stats, hist, out, sj_hist


def _rank_positions(n: int) -> np.ndarray:
    """Ranks (1-based) of the order statistics of R's type-7 quartiles of ``n`` values."""
    positions = np.array([1 + (n - 1) * 0.25, 1 + (n - 1) * 0.75])
    return np.unique(np.concatenate([np.floor(positions), np.ceil(positions)])).astype(np.int64)


def _quartiles(n: int, order_stat: dict[int, float]) -> list[float]:
    """R's type-7 quartiles from the order statistics they need."""
    out = []
    for pos in (1 + (n - 1) * 0.25, 1 + (n - 1) * 0.75):
        low, high = order_stat[int(np.floor(pos))], order_stat[int(np.ceil(pos))]
        h = pos - np.floor(pos)
        out.append(float(low if h == 0 or high == low else (1 - h) * low + h * high))
    return out


def _iqr_exceeds_sd(n: int, sd: float, cum: np.ndarray, width: float) -> bool:
    """Whether the bins prove ``(q75 - q25) / 1.34 > sd``, so R's ``min(sd, IQR / 1.34)`` is sd.

    ``q25`` is at most the upper edge of the bin of its higher order
    statistic, ``q75`` at least the lower edge of the bin of its lower one
    (a distance ``d`` is in bin ``trunc(d / width)``; the margins cover that
    division's rounding).
    """
    if not (n >= 2 and sd > 0):
        return False
    b25 = np.searchsorted(cum, int(np.ceil(1 + (n - 1) * 0.25)), side="left")
    b75 = np.searchsorted(cum, int(np.floor(1 + (n - 1) * 0.75)), side="left")
    q25_at_most = (b25 + 1) * width * (1 + 1e-12)
    q75_at_least = b75 * width * (1 - 1e-12)
    return (q75_at_least - q25_at_most) / 1.34 > sd * (1 + 1e-9)


def pair_distance_statistics(
    x: np.ndarray, y: np.ndarray, codes: np.ndarray, pidx: np.ndarray, dmax: float,
    sj_bins: int = 0, groups: list[list[int]] | None = None, quartiles: str = "exact",
) -> list[dict]:
    """Exact summaries of the distances up to ``dmax`` of many type pairs, in one or two passes.

    Every unordered site pair ``(i, j)`` with ``d <= dmax`` is one distance of
    base pair ``pidx[codes[i], codes[j]]``, as the R package dbmss lists the
    distances of one pair of types; a requested pair is a union of base pairs.

    Parameters
    ----------
    x, y : ndarray
        Coordinates.
    codes : ndarray of int
        Type code of each site (-1: in no pair).
    pidx : ndarray of int, shape (T, T)
        Symmetric: the index of base pair ``{a, b}``, or -1.
    dmax : float
        Largest distance.
    sj_bins : int
        Number of ``bw.SJ`` bins (``nb``, 1000 in R); 0 skips them.
    groups : list of list of int, optional
        The base pairs each requested pair unites (default: each base pair
        on its own). They need not be disjoint.
    quartiles : {"exact", "as_needed"}
        ``as_needed``: only where R's ``min(sd, IQR / 1.34)`` may take the
        IQR (with ``sj_bins``: always). Elsewhere ``q25`` and ``q75`` are
        None: the IQR is then proven to exceed 1.34 sd.

    Returns
    -------
    list of dict
        Per requested pair: ``n`` and, when ``n > 0``, ``mean``, ``sd`` (n - 1
        denominator), ``q25``, ``q75`` (R ``quantile`` type 7), ``min``,
        ``max`` and, with ``sj_bins``, ``sj_width`` and ``sj_counts`` (R's
        ``trunc(x / d)`` bins from the smallest).
    """
    if quartiles not in QUARTILES:
        raise ValueError(f"quartiles must be one of {QUARTILES}")
    codes = np.asarray(codes, np.int64)
    pidx = np.ascontiguousarray(pidx, np.int64)
    n_base = int(pidx.max()) + 1
    groups = [[v] for v in range(n_base)] if groups is None else [list(g) for g in groups]
    # only the sites of a type in some wanted pair take part
    involved = (pidx >= 0).any(axis=1)
    keep = (codes >= 0) & involved[np.maximum(codes, 0)]
    if keep.sum() < 2 or n_base < 1:
        return [{"n": 0} for _ in groups]
    # by type first: the grid's stable sort then leaves each cell's sites grouped by type, so
    # whether a pair is wanted changes in runs the CPU predicts
    site = np.flatnonzero(keep)
    site = site[np.argsort(codes[site], kind="stable")]
    grid = _sites_by_cell(np.ascontiguousarray(x, float)[site],
                          np.ascontiguousarray(y, float)[site],
                          np.ascontiguousarray(codes[site]), float(dmax))
    n_bins = max(MIN_DISTANCE_BINS, DISTANCE_BINS // n_base)
    width = dmax / n_bins
    work = int(keep.sum()) * 4
    empty_i = np.zeros(0, np.int64)

    def distance_pass(collect, wanted, n_out, offsets, sj_ptr, sj_pair, sj_width, sj_base):
        return run_kernel(_pass_parallel, _pass_serial, work, *grid, pidx, n_base, float(dmax),
                          width, n_bins, collect, wanted, n_out, offsets, sj_ptr, sj_pair,
                          sj_width, sj_base, sj_bins if collect else 0)

    stats, hist, _, _ = distance_pass(False, np.full((n_base, 0), -1, np.int64), 0,
                                      np.zeros((N_CHUNKS, 0), np.int64),
                                      np.zeros(n_base + 1, np.int64), empty_i, np.zeros(0),
                                      empty_i)
    base = np.column_stack([stats[:, :, :3].sum(axis=0), stats[:, :, 3].min(axis=0),
                            stats[:, :, 4].max(axis=0)])  # chunks in a fixed order
    base_hist = hist.sum(axis=0, dtype=np.int64)
    summaries = [_group_summary(base, base_hist, g, dmax) for g in groups]

    # pass 2: bins holding needed order statistics get a slot per base pair in them
    wanted = np.full((n_base, n_bins), -1, np.int64)
    slots: list[tuple[int, int]] = []
    for g, s in zip(groups, summaries, strict=True):
        n = s["n"]
        s["exact"] = n > 0 and (quartiles == "exact" or sj_bins > 0
                                or not _iqr_exceeds_sd(n, s["sd"], s["cum"], width))
        if not s["exact"]:
            continue
        s["bins"] = np.searchsorted(s["cum"], _rank_positions(n), side="left")
        for bin_ in np.unique(s["bins"]):
            for v in g:
                if wanted[v, bin_] < 0 and base_hist[v, bin_] > 0:
                    wanted[v, bin_] = len(slots)
                    slots.append((v, bin_))
    if not slots and not sj_bins:
        return [_row(s, dmax, None, None, None) for s in summaries]
    per_chunk = (hist[:, [v for v, _ in slots], [b for _, b in slots]].astype(np.int64)
                 if slots else np.zeros((N_CHUNKS, 0), np.int64))
    sizes = per_chunk.sum(axis=0)
    slot_start = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    offsets = slot_start[None, :] + np.cumsum(per_chunk, axis=0) - per_chunk
    sj_ptr, sj_pair, sj_width, sj_base = _sj_layout(summaries, groups, n_base, sj_bins)
    _, _, picked, sj_hist = distance_pass(True, wanted, int(sizes.sum()),
                                          np.ascontiguousarray(offsets), sj_ptr, sj_pair,
                                          sj_width, sj_base)
    sj_counts = sj_hist.sum(axis=0)

    def values(v: int, bin_: int) -> np.ndarray:
        slot = wanted[v, bin_]
        return picked[slot_start[slot]:slot_start[slot] + sizes[slot]] if slot >= 0 else picked[:0]

    out = []
    for q, (g, s) in enumerate(zip(groups, summaries, strict=True)):
        order_stat = None
        if s["n"] and s["exact"]:
            order_stat = {}
            ranks = _rank_positions(s["n"])
            for bin_ in np.unique(s["bins"]):
                found = np.sort(np.concatenate([values(v, bin_) for v in g]))
                before = s["cum"][bin_] - s["hist"][bin_]
                for rank in ranks[s["bins"] == bin_]:
                    order_stat[int(rank)] = found[rank - 1 - before]
        out.append(_row(s, dmax, order_stat, sj_width[q] if sj_bins else None,
                        sj_counts[q] if sj_bins else None))
    return out


def _group_summary(base: np.ndarray, base_hist: np.ndarray, group: list[int],
                   dmax: float) -> dict:
    """Count, sd, extremes and cumulative histogram of the union of base pairs ``group``."""
    rows = base[group]
    n = int(rows[:, 0].sum())
    if n == 0:
        return {"n": 0}
    mean_shifted = rows[:, 1].sum() / n
    var = (rows[:, 2].sum() - n * mean_shifted**2) / (n - 1) if n > 1 else np.nan
    hist = base_hist[group].sum(axis=0)
    return {"n": n, "mean": dmax / 2 + mean_shifted, "sd": float(np.sqrt(var)),
            "min": float(rows[:, 3].min()), "max": float(rows[:, 4].max()), "hist": hist,
            "cum": np.cumsum(hist)}


def _sj_layout(summaries: list[dict], groups: list[list[int]], n_base: int, sj_bins: int):
    """R's ``bw.SJ`` bins of each requested pair, and which requested pairs each base pair feeds."""
    n_req = len(groups)
    if not sj_bins:
        return np.zeros(n_base + 1, np.int64), np.zeros(0, np.int64), np.zeros(0), \
            np.zeros(0, np.int64)
    width = np.array([(s["max"] - s["min"]) * 1.01 / sj_bins if s["n"] else 0.0
                      for s in summaries])
    with np.errstate(divide="ignore", invalid="ignore"):
        lows = np.array([s.get("min", 0.0) for s in summaries])
        base_bin = np.where(width > 0, lows / np.where(width > 0, width, 1), 0).astype(np.int64)
    feeds = [[q for q in range(n_req) if v in groups[q] and width[q] > 0] for v in range(n_base)]
    ptr = np.concatenate([[0], np.cumsum([len(f) for f in feeds])]).astype(np.int64)
    pairs = np.array([q for f in feeds for q in f], np.int64)
    return ptr, pairs, width, base_bin


def _row(s: dict, dmax: float, order_stat: dict | None, sj_width, sj_counts) -> dict:
    """Return one requested pair's summary as :func:`pair_distance_statistics` gives it."""
    if not s["n"]:
        return {"n": 0}
    q25, q75 = _quartiles(s["n"], order_stat) if order_stat is not None else (None, None)
    row = {"n": s["n"], "mean": s["mean"], "sd": s["sd"], "q25": q25, "q75": q75,
           "min": s["min"], "max": s["max"]}
    if sj_width is not None:
        row["sj_width"], row["sj_counts"] = float(sj_width), sj_counts
    return row


def distance_statistics(
    x: np.ndarray, y: np.ndarray, is_a: np.ndarray, is_b: np.ndarray, dmax: float,
    sj_bins: int = 0, quartiles: str = "exact",
) -> dict:
    """Exact summary of the distances between A and B points up to ``dmax``.

    Every unordered pair with an A end and a B end (``is_a`` = ``is_b``: the
    pairs of A points) and ``d <= dmax`` is one distance, as the R package
    dbmss lists them (see :func:`pair_distance_statistics`).

    Parameters
    ----------
    x, y : ndarray
        Coordinates.
    is_a, is_b : ndarray of bool
        Which points are of type A and B: the same array, or disjoint.
    dmax : float
        Largest distance.
    sj_bins : int
        Number of ``bw.SJ`` bins (``nb``, 1000 in R); 0 skips them.
    quartiles : {"exact", "as_needed"}
        See :func:`pair_distance_statistics`.

    Returns
    -------
    dict
        As one entry of :func:`pair_distance_statistics`.
    """
    is_a, is_b = np.asarray(is_a, bool), np.asarray(is_b, bool)
    same = np.array_equal(is_a, is_b)
    if not same and (is_a & is_b).any():
        raise ValueError("is_a and is_b must be the same or disjoint")
    codes = np.where(is_a, 0, np.where(is_b, 1, -1))
    pidx = np.array([[0, 0], [0, -1]]) if same else np.array([[-1, 0], [0, -1]])
    return pair_distance_statistics(x, y, codes, pidx, dmax, sj_bins, quartiles=quartiles)[0]
