"""The pair engine for many industry pairs at once: one pass over the site pairs serves them all.

A study of co-agglomeration across industry pairs (Duranton & Overman 2005;
Ellison, Glaeser & Kerr 2010) asks the same distance question of hundreds of
type pairs, each with counterfactuals. Under the counterfactual used here
(the types of all firms permuted over all sites, with their employment), one
permutation relabels every type at once, so a single visit of a site pair
counts it for the type pair its two ends carry in that labelling: the work
does not grow with the number of type pairs, where pair-by-pair runs repeat
it for each.

Inputs shared by the kernels:

``tl`` (n, S) int16
    type code of the firm at each site in each labelling (``-1``: a type in
    no wanted pair);
``pidx`` (T, T) int
    index ``u`` of the wanted pair of types ``(a, b)`` or ``-1``.

Kd (:func:`symmetric_histograms`) takes the labellings one at a time: the
sites with a wanted type are sorted into a grid of their own and each of
their pairs is visited once, so pairs of untyped sites cost nothing and each
labelling's histogram is one contiguous block. Cross-K
(:func:`ordered_histograms`) and M (:func:`m_sums`) visit every site pair once
and update all labellings in it. Either way threads split the *labellings*,
not the space: every number is summed in the same order on any number of
threads, and no histogram is duplicated per thread.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from geo.stats.pairs import (
    _FORWARD_X,
    _FORWARD_Y,
    TIES_CEIL,
    TIES_CLOSED,
    TIES_LEFT,
    TIES_SQUARED,
    _first_r,
    _grid,
    search_from,
)
from geo.stats.threads import run_kernel

# ----------------------------------------------------------------- symmetric (Kd)


@numba.njit(cache=True)
def _symmetric_labelling(x, y, r, step, codes, w, weighted, pidx, offsets, lengths, factors,
                         which, out):
    """Site pairs of one labelling by distance cell, per type pair, into ``out`` (rows,).

    Only the sites carrying a type of some wanted pair take part (``codes >=
    0``): sorted into their own grid, every pair of them within ``r[-1]`` is
    visited once. A pair at distance ``d`` lands in cell ``k``, the first
    ``r[k] > d`` (spatstat's ``whist``; ``d == r[-1]`` in the last cell);
    type pair ``u`` merges ``f = factors[which[u]]`` cells into one,
    ``(k + f - 1) // f``, and ``out[offsets[u] + that]`` adds 1 (or the
    product of the two weights) while it is below ``lengths[u]``.
    """
    keep = np.flatnonzero(codes >= 0)
    if len(keep) < 2:
        return
    # by type first, so that the grid's stable sort leaves each cell's sites grouped by type:
    # whether a pair is wanted then changes in runs the CPU predicts, not at random
    keep = keep[np.argsort(codes[keep], kind="mergesort")]
    order, starts, nx, ny, _, _, _ = _grid(x[keep], y[keep], r[-1])
    # the typed sites in grid order: a cell's sites sit side by side in memory
    site = keep[order]
    xs, ys, cs = x[site], y[site], codes[site]
    ws = w[site] if weighted else xs
    fu = factors[which]  # cells merged per type pair
    # where each site's run of one type in its cell ends: runs of unwanted types are skipped
    run_end = np.empty(len(site), np.int64)
    for cell in range(nx * ny):
        end = starts[cell + 1]
        for q in range(end - 1, starts[cell] - 1, -1):
            if q + 1 < end and cs[q + 1] == cs[q]:
                run_end[q] = run_end[q + 1]
            else:
                run_end[q] = q + 1
    # the weighting a constant in each inlined copy of the loop: no per-pair switch
    if weighted:
        _symmetric_loop(True, xs, ys, cs, ws, starts, run_end, nx, ny, r, step, pidx, offsets,
                        lengths, fu, out)
    else:
        _symmetric_loop(False, xs, ys, cs, ws, starts, run_end, nx, ny, r, step, pidx, offsets,
                        lengths, fu, out)


@numba.njit(cache=True, inline="always")
def _symmetric_loop(weighted, xs, ys, cs, ws, starts, run_end, nx, ny, r, step, pidx, offsets,
                    lengths, fu, out):
    """Visit the site pairs of :func:`_symmetric_labelling` (sites in grid order).

    A neighbour cell is read run by run (``run_end``): a run of a type not
    paired with the reference site's is skipped whole, and a wanted run
    has one type pair throughout.
    """
    n_r = len(r)
    rmax = r[n_r - 1]
    reach = rmax * rmax * (1.0 + 1e-12)
    for cell in range(nx * ny):
        cyy, cxx = cell // nx, cell % nx
        for i in range(starts[cell], starts[cell + 1]):
            ci = cs[i]
            xi, yi = xs[i], ys[i]
            for nb in range(5):
                gx, gy = cxx + _FORWARD_X[nb], cyy + _FORWARD_Y[nb]
                if gx < 0 or gx >= nx or gy >= ny:
                    continue
                other = gy * nx + gx
                j = i + 1 if nb == 0 else starts[other]
                end = starts[other + 1]
                while j < end:
                    stop = run_end[j]
                    u = pidx[ci, cs[j]]
                    if u < 0:
                        j = stop
                        continue
                    f, base, length = fu[u], offsets[u], lengths[u]
                    for q in range(j, stop):
                        dx = xs[q] - xi
                        dy = ys[q] - yi
                        dd = dx * dx + dy * dy
                        if dd > reach:
                            continue
                        d = math.sqrt(dd)
                        if d > rmax:
                            continue
                        k = n_r - 1 if d == rmax else search_from(r, d, int(d / step) + 1, True)
                        cell_u = k if f == 1 else (k + f - 1) // f  # a division: ~15 cycles
                        if cell_u >= length:
                            continue
                        if weighted:
                            out[base + cell_u] += ws[i] * ws[q]
                        else:
                            out[base + cell_u] += 1.0
                    j = stop


@numba.njit(parallel=True, cache=True)
def _symmetric_parallel(x, y, r, step, tl, wl, weighted, pidx, offsets, lengths, factors, which,
                        rows):
    """Histograms of every labelling (:func:`_symmetric_labelling`), labellings in parallel."""
    n_sim = tl.shape[1]
    out = np.zeros((n_sim, rows))
    for s in numba.prange(n_sim):
        _symmetric_labelling(x, y, r, step, tl[:, s], wl[:, s], weighted,
                             pidx, offsets, lengths, factors, which, out[s])
    return out


@numba.njit(cache=True)
def _symmetric_serial(x, y, r, step, tl, wl, weighted, pidx, offsets, lengths, factors, which,
                      rows):
    """Compute the same histograms in one thread."""
    n_sim = tl.shape[1]
    out = np.zeros((n_sim, rows))
    for s in range(n_sim):
        _symmetric_labelling(x, y, r, step, tl[:, s], wl[:, s], weighted,
                             pidx, offsets, lengths, factors, which, out[s])
    return out


def symmetric_histograms(
    x: np.ndarray,
    y: np.ndarray,
    r: np.ndarray,
    tl: np.ndarray,
    pidx: np.ndarray,
    lengths: np.ndarray,
    weights: np.ndarray | None = None,
    factor: np.ndarray | None = None,
) -> list[np.ndarray]:
    """Histograms of unordered site pairs by distance for every type pair and labelling.

    Parameters
    ----------
    x, y : ndarray
        Site coordinates (metres).
    r : ndarray
        Cell bounds, evenly spaced from 0 (``np.arange(0, stop, step)``).
    tl : ndarray of int16, shape (n, S)
        Type code of each site in each labelling (-1: none).
    pidx : ndarray of int, shape (T, T)
        Symmetric: index of the type pair ``{a, b}`` or -1.
    lengths : ndarray of int64
        Cells kept for each type pair.
    weights : ndarray, shape (n, S), optional
        Weight of each site's firm in each labelling; a pair adds the product.
    factor : ndarray of int64, optional
        Per type pair, how many cells of ``r`` make one of its cells (1 by
        default): its cells are those of ``r[::factor]``.

    Returns
    -------
    list of ndarray
        Per type pair, its ``(lengths[u], S)`` histogram: cell ``k`` holds the
        pairs with ``k - 1 <= d / (factor step) < k``.
    """
    lengths = np.ascontiguousarray(lengths, np.int64)
    factor = np.ones(len(lengths), np.int64) if factor is None else np.asarray(factor, np.int64)
    factors, which = np.unique(factor, return_inverse=True)
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    weighted = weights is not None
    # unweighted: a one-row stand-in, so every labelling has a column to pass
    wl = np.ascontiguousarray(weights, float) if weighted else np.zeros((1, tl.shape[1]))
    r = np.ascontiguousarray(r, float)
    step = float(r[1] - r[0])
    # one labelling per column, read down the column: Fortran order keeps each contiguous
    codes = np.asfortranarray(tl, np.int16)
    out = run_kernel(_symmetric_parallel, _symmetric_serial, tl.size,
                     np.ascontiguousarray(x, float), np.ascontiguousarray(y, float), r, step,
                     codes, np.asfortranarray(wl), weighted, np.ascontiguousarray(pidx, np.int64),
                     offsets, lengths, factors.astype(np.int64), which.astype(np.int64),
                     int(lengths.sum()))
    return [out[:, o:o + n].T for o, n in zip(offsets, lengths, strict=True)]


# ----------------------------------------------------------------- ordered, border (cross-K)


@numba.njit(cache=True)
def _ordered_block(s0, s1, x, y, starts, nx, ny, r, r2, ties, dr, tl, table,
                   border, bnd, bidx, main, cens):
    """Ordered pairs a -> b by distance cell per type pair, for labellings ``s0:s1``.

    Each tie rule gets its own copy of the loop (:func:`_ordered_loop`
    inlined with the rule a constant): deciding it per pair made the loop
    2.5 times slower.
    """
    if ties == TIES_LEFT:
        _ordered_loop(TIES_LEFT, s0, s1, x, y, starts, nx, ny, r, r2, dr, tl, table, border, bnd,
                      bidx, main, cens)
    elif ties == TIES_CEIL:
        _ordered_loop(TIES_CEIL, s0, s1, x, y, starts, nx, ny, r, r2, dr, tl, table, border, bnd,
                      bidx, main, cens)
    elif ties == TIES_CLOSED:
        _ordered_loop(TIES_CLOSED, s0, s1, x, y, starts, nx, ny, r, r2, dr, tl, table, border,
                      bnd, bidx, main, cens)
    else:
        _ordered_loop(TIES_SQUARED, s0, s1, x, y, starts, nx, ny, r, r2, dr, tl, table, border,
                      bnd, bidx, main, cens)


@numba.njit(cache=True, inline="always")
def _ordered_loop(ties, s0, s1, x, y, starts, nx, ny, r, r2, dr, tl, table, border, bnd, bidx,
                  main, cens):
    """Visit the site pairs of :func:`_ordered_block` with tie rule ``ties``.

    The sites (``x``, ``y``, ``tl``, ``bnd``, ``bidx``) are in grid order:
    cell ``c`` holds ``starts[c]:starts[c + 1]``. With ``border``
    (spatstat's binned reduced sample, ``Kount``) only pairs with
    ``d <= b[a]`` count, and each also lands in ``cens`` at the cell of
    ``b[a]``.
    """
    n_r = len(r)
    rmax2 = r[n_r - 1] * r[n_r - 1]
    reach = rmax2 * (1.0 + 1e-12) + 1e-300
    for cell in range(nx * ny):
        cyy, cxx = cell // nx, cell % nx
        for i in range(starts[cell], starts[cell + 1]):
            for nb in range(5):
                gx, gy = cxx + _FORWARD_X[nb], cyy + _FORWARD_Y[nb]
                if gx < 0 or gx >= nx or gy >= ny:
                    continue
                other = gy * nx + gx
                first = i + 1 if nb == 0 else starts[other]
                for j in range(first, starts[other + 1]):
                    dx = x[j] - x[i]
                    dy = y[j] - y[i]
                    dd = dx * dx + dy * dy
                    if dd > reach:
                        continue
                    d = math.sqrt(dd)
                    k = _first_r(d, dd, r, r2, ties, dr, rmax2)
                    if k >= n_r:
                        continue
                    _count_pair(i, j, d, k, s0, s1, tl, table, border, bnd, bidx, main, cens)


@numba.njit(cache=True, inline="always")
def _count_pair(i, j, d, k, s0, s1, tl, table, border, bnd, bidx, main, cens):
    """Count the pair at distance cell ``k`` both ways, in labellings ``s0:s1``.

    ``table[ta + 1, tb + 1]`` is the type pair, or the last slot of ``main``
    (discarded) for a pair nobody wants: no branch on the labels, whose
    outcome the CPU could not predict.
    """
    n_r = main.shape[0]
    for direction in range(2):
        a, b = (i, j) if direction == 0 else (j, i)
        if border and d > bnd[a]:
            continue
        kb = bidx[a]
        if border and kb < n_r:
            for s in range(s0, s1):
                u = table[tl[a, s] + 1, tl[b, s] + 1]
                main[k, u, s] += 1.0
                cens[kb, u, s] += 1.0
        else:
            for s in range(s0, s1):
                main[k, table[tl[a, s] + 1, tl[b, s] + 1], s] += 1.0


@numba.njit(cache=True)
def _sites_in_grid_order(x, y, r, tl, bnd, bidx):
    """Return the grid of cell ``r[-1]`` and the sites' data in its order, cell by cell.

    A cell's sites (and their labels) then sit side by side in memory. Done
    once, before the kernels: a parallel kernel that calls it compiles with
    dynamic globals, which numba cannot cache.
    """
    order, starts, nx, ny, _, _, _ = _grid(x, y, r[-1])
    return starts, nx, ny, x[order], y[order], tl[order], bnd[order], bidx[order]


@numba.njit(parallel=True, cache=True)
def _ordered_parallel(threads, starts, nx, ny, xs, ys, r, r2, ties, dr, ts, table, n_slots,
                      border, bs, bis):
    """Build :func:`_ordered_block` histograms, labellings split over ``threads`` blocks."""
    main = np.zeros((len(r), n_slots, ts.shape[1]))
    cens = np.zeros((len(r), n_slots, ts.shape[1]))
    n_sim = ts.shape[1]
    n_blocks = min(threads, n_sim)
    # each thread a contiguous range of labellings: no cache line written by two threads
    for block in numba.prange(n_blocks):
        _ordered_block(block * n_sim // n_blocks, (block + 1) * n_sim // n_blocks, xs, ys,
                       starts, nx, ny, r, r2, ties, dr, ts, table, border, bs, bis, main, cens)
    return main, cens


@numba.njit(cache=True)
def _ordered_serial(starts, nx, ny, xs, ys, r, r2, ties, dr, ts, table, n_slots, border, bs,
                    bis):
    """Compute the same histograms in one thread."""
    main = np.zeros((len(r), n_slots, ts.shape[1]))
    cens = np.zeros((len(r), n_slots, ts.shape[1]))
    _ordered_block(0, ts.shape[1], xs, ys, starts, nx, ny, r, r2, ties, dr, ts, table, border,
                   bs, bis, main, cens)
    return main, cens


def ordered_histograms(
    x: np.ndarray,
    y: np.ndarray,
    r: np.ndarray,
    tl: np.ndarray,
    pidx: np.ndarray,
    n_pairs: int,
    *,
    ties: int,
    boundary_distance: np.ndarray | None = None,
    boundary_cell: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Histograms of ordered pairs (reference a, neighbour b) for every type pair and labelling.

    Parameters
    ----------
    x, y : ndarray
        Site coordinates (metres).
    r : ndarray
        Increasing distances.
    tl : ndarray of int16, shape (n, S)
        Type code of each site in each labelling (-1: none).
    pidx : ndarray of int32, shape (T, T)
        Index of the ordered type pair ``(a, b)`` or -1.
    n_pairs : int
        Number of type pairs.
    ties : int
        Tie rule of :mod:`geo.stats.pairs`.
    boundary_distance, boundary_cell : ndarray, optional
        Both for spatstat's binned border correction: each site's distance to
        the window boundary and its ``whist`` cell.

    Returns
    -------
    tuple of ndarray
        ``(main, cens)`` of shape ``(len(r), n_pairs, S)`` as
        :func:`geo.stats.pairs.pair_histograms` with ``BORDER_BINNED`` (``cens``
        is zero without a border correction).
    """
    r = np.ascontiguousarray(r, float)
    n = len(x)
    border = boundary_distance is not None
    bnd = np.asarray(boundary_distance, float) if border else np.zeros(n)
    bidx = (np.ascontiguousarray(boundary_cell, np.int64) if border
            else np.full(n, len(r), np.int64))
    dr = r[-1] / (len(r) - 1)
    starts, nx, ny, xs, ys, ts, bs, bis = _sites_in_grid_order(
        np.ascontiguousarray(x, float), np.ascontiguousarray(y, float), r,
        np.ascontiguousarray(tl, np.int16), bnd, bidx)
    # type codes shifted by one (-1: none -> 0); unwanted pairs go to a slot dropped below
    pidx = np.asarray(pidx)
    table = np.full((pidx.shape[0] + 1, pidx.shape[1] + 1), n_pairs, np.int32)
    table[1:, 1:] = np.where(pidx >= 0, pidx, n_pairs)
    main, cens = run_kernel(_ordered_parallel, _ordered_serial, tl.size, starts, nx, ny, xs, ys,
                            r, r * r, int(ties), float(dr), ts, table, int(n_pairs) + 1, border,
                            bs, bis, blocks=True)
    return np.ascontiguousarray(main[:, :n_pairs]), np.ascontiguousarray(cens[:, :n_pairs])


# ----------------------------------------------------------------- per reference point (M)


@numba.njit(cache=True)
def _m_block(s0, s1, x, y, w, r, tl, col_of, n_cols, ref_ptr, ref_col, ref_u, total_w,
             starts, nx, ny, top, ratio, ratio_w):
    """Marcon–Puech sums of every reference point for labellings ``s0:s1``.

    The sites (``x``, ``y``, ``w``, ``tl``) are in grid order: cell ``c``
    holds ``starts[c]:starts[c + 1]``, of side at least ``r[-1]``. For a
    reference point ``i`` of type ``A`` in labelling ``s`` and each wanted
    neighbour type ``B`` of ``A`` (``ref_ptr[A]`` .. ``ref_ptr[A + 1]`` in
    ``ref_col``/``ref_u``): ``top[k, u, s]`` adds the share of B in the
    weight of ``i``'s neighbours within ``r[k]``; ``ratio[k, A, s]`` and
    ``ratio_w[k, A, s]`` add ``1 / (W - w_i)`` and ``w_i / (W - w_i)``, from
    which the denominator of every pair of ``A`` follows. Points with no
    neighbour within ``r[k]`` leave both sums, as in :func:`geo.stats.mfunction.m_function`.
    ``col_of[b + 1]`` is the column of neighbour type ``b``, ``n_cols`` (a
    column dropped) for a type no pair wants: no branch on the labels.
    """
    n_r = len(r)
    r2 = r[n_r - 1] * r[n_r - 1]
    step = r[n_r - 1] / (n_r - 1) if n_r > 1 else 0.0  # a guess of the cell: see search_from
    den = np.zeros(n_r)
    num = np.zeros((n_r, n_cols + 1, tl.shape[1]))
    acc = np.zeros((n_cols + 1, tl.shape[1]))
    for cell in range(nx * ny):
        cyy, cxx = cell // nx, cell % nx
        for i in range(starts[cell], starts[cell + 1]):
            is_ref = False
            for s in range(s0, s1):
                a = tl[i, s]
                if a >= 0 and ref_ptr[a + 1] > ref_ptr[a]:
                    is_ref = True
                    break
            if not is_ref:
                continue
            den[:] = 0.0
            num[:, :, s0:s1] = 0.0
            for gy in range(cyy - 1, cyy + 2):
                if gy < 0 or gy >= ny:
                    continue
                for gx in range(cxx - 1, cxx + 2):
                    if gx < 0 or gx >= nx:
                        continue
                    other = gy * nx + gx
                    for j in range(starts[other], starts[other + 1]):
                        if j == i:
                            continue
                        dx = x[j] - x[i]
                        dy = y[j] - y[i]
                        dd = dx * dx + dy * dy
                        if dd > r2:
                            continue
                        d = math.sqrt(dd)
                        k = search_from(r, d, int(d / step), False)
                        wj = w[j]
                        den[k] += wj
                        for s in range(s0, s1):
                            num[k, col_of[tl[j, s] + 1], s] += wj
            total = 0.0
            acc[:, s0:s1] = 0.0
            inverse = 1.0 / (total_w - w[i])
            for k in range(n_r):
                total += den[k]
                for c in range(n_cols):
                    for s in range(s0, s1):
                        acc[c, s] += num[k, c, s]
                if total <= 0.0:
                    continue
                for s in range(s0, s1):
                    a = tl[i, s]
                    if a < 0:
                        continue
                    for p in range(ref_ptr[a], ref_ptr[a + 1]):
                        top[k, ref_u[p], s] += acc[ref_col[p], s] / total
                    ratio[k, a, s] += inverse
                    ratio_w[k, a, s] += w[i] * inverse


@numba.njit(parallel=True, cache=True)
def _m_parallel(threads, x, y, w, r, tl, col_of, n_cols, ref_ptr, ref_col, ref_u, total_w,
                n_pairs, n_types, starts, nx, ny):
    """Sum :func:`_m_block` with the labellings split over ``threads`` contiguous blocks."""
    top = np.zeros((len(r), n_pairs, tl.shape[1]))
    ratio = np.zeros((len(r), n_types, tl.shape[1]))
    ratio_w = np.zeros((len(r), n_types, tl.shape[1]))
    n_sim = tl.shape[1]
    n_blocks = min(threads, n_sim)
    for block in numba.prange(n_blocks):
        _m_block(block * n_sim // n_blocks, (block + 1) * n_sim // n_blocks, x, y, w, r, tl,
                 col_of, n_cols, ref_ptr, ref_col, ref_u, total_w, starts, nx, ny, top, ratio,
                 ratio_w)
    return top, ratio, ratio_w


@numba.njit(cache=True)
def _m_serial(x, y, w, r, tl, col_of, n_cols, ref_ptr, ref_col, ref_u, total_w, n_pairs,
              n_types, starts, nx, ny):
    """Compute the same sums in one thread."""
    top = np.zeros((len(r), n_pairs, tl.shape[1]))
    ratio = np.zeros((len(r), n_types, tl.shape[1]))
    ratio_w = np.zeros((len(r), n_types, tl.shape[1]))
    _m_block(0, tl.shape[1], x, y, w, r, tl, col_of, n_cols, ref_ptr, ref_col, ref_u, total_w,
             starts, nx, ny, top, ratio, ratio_w)
    return top, ratio, ratio_w


def m_sums(
    x: np.ndarray,
    y: np.ndarray,
    r: np.ndarray,
    tl: np.ndarray,
    pairs: np.ndarray,
    n_types: int,
    weights: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Marcon–Puech sums for many (reference, neighbour) type pairs in one pass.

    Parameters
    ----------
    x, y : ndarray
        Site coordinates (metres).
    r : ndarray
        Increasing distances from 0 (``d <= r`` counts).
    tl : ndarray of int16, shape (n, S)
        Type code of each site in each labelling (-1: none).
    pairs : ndarray of int, shape (P, 2)
        Reference and neighbour type code of each wanted pair.
    n_types : int
        Number of type codes.
    weights : ndarray, optional
        Weight of each site (it stays with the location: random labelling).

    Returns
    -------
    tuple of ndarray
        ``top`` ``(len(r), P, S)`` and ``ratio``, ``ratio_w`` ``(len(r), T, S)``
        (see :func:`_m_block`).
    """
    pairs = np.asarray(pairs, np.int64).reshape(-1, 2)
    w = np.ones(len(x)) if weights is None else np.ascontiguousarray(weights, float)
    neighbours = np.unique(pairs[:, 1])
    col_of = np.full(n_types, -1, np.int64)
    col_of[neighbours] = np.arange(len(neighbours))
    by_ref = np.argsort(pairs[:, 0], kind="stable")
    ref_ptr = np.searchsorted(pairs[by_ref, 0], np.arange(n_types + 1)).astype(np.int64)
    ref_col = col_of[pairs[by_ref, 1]]
    ref_u = by_ref.astype(np.int64)
    r = np.ascontiguousarray(r, float)
    # the sites, weights and labels in grid order (the weights ride in the boundary slot)
    starts, nx, ny, xs, ys, ts, ws, _ = _sites_in_grid_order(
        np.ascontiguousarray(x, float), np.ascontiguousarray(y, float), r,
        np.ascontiguousarray(tl, np.int16), w, np.zeros(len(x), np.int64))
    col_ext = np.concatenate([[len(neighbours)], np.where(col_of >= 0, col_of, len(neighbours))])
    return run_kernel(_m_parallel, _m_serial, tl.size, xs, ys, ws, r, ts,
                      col_ext.astype(np.int64), len(neighbours), ref_ptr, ref_col, ref_u,
                      float(w.sum()), len(pairs), int(n_types), starts, nx, ny, blocks=True)
