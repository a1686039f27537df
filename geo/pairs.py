"""The pair engine: every point pair within a distance, visited once, for many labellings.

Distance-based statistics (Ripley's K, the M function, Kd) are sums over pairs
of points closer than a maximum distance. Simulation envelopes under random
labelling keep the points and permute their types, so the pairs never change:
the engine visits each pair once and updates the histograms of the observed
labelling and of every simulated one in the same visit.

Memory model: nothing per pair is stored. Points are sorted into square cells
of side ``rmax``; the cells are split into a fixed number of chunks handled in
parallel (numba ``prange``), each with its own histogram of shape
``(len(r), n_labellings)``; chunks are summed in a fixed order so results do
not depend on the number of threads. Memory is ``O(n * n_labellings)`` bytes
for the labels plus ``O(chunks * len(r) * n_labellings)`` for histograms,
whatever the number of pairs.

Histograms are indexed by distance: a pair lands in cell ``k``, the first
``r[k]`` at which it counts, so the cumulative sum at ``r[k]`` is the
statistic at ``r[k]``. *When* a distance ``d`` counts is the tie rule:

``TIES_LEFT``
    spatstat's ``whist`` (cells closed on the left): from the first ``r > d``;
    ``d == r[-1]`` counts at the end (the generic ``Kest`` and ``Kcross``).
``TIES_CEIL``
    spatstat's C routines for evenly spaced ``r`` (``Kborder``, ``Knone``,
    ``Krect``): from index ``ceil(d / dr)``, pairs with ``d < r[-1]`` only.
``TIES_CLOSED``
    the published definition ``d <= r``, compared exactly.
``TIES_SQUARED``
    dbmss's rule: from the first ``r`` with ``d**2 <= r**2`` (squares compared).

Every kernel is compiled twice, parallel and serial, and run through
:func:`geo.threads.run_kernel`, which picks the threads.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from geo.threads import run_kernel

N_CHUNKS = 16  # fixed: deterministic summation order on any number of cores
# a cell and its four forward neighbours: every pair of nearby cells is visited once
_FORWARD_X = (0, 1, -1, 0, 1)
_FORWARD_Y = (0, 0, 1, 1, 1)

# correction codes understood by the kernel
NONE, BORDER_BINNED, TRANSLATE_RECT, ISOTROPIC, BORDER_EXACT = 0, 1, 2, 3, 4
# tie rules (see the module docstring)
TIES_LEFT, TIES_CEIL, TIES_CLOSED, TIES_SQUARED = 0, 1, 2, 3


# ----------------------------------------------------------------- geometry


@numba.njit(cache=True)
def _grid(x: np.ndarray, y: np.ndarray, rmax: float):
    """Sort points into square cells of side >= rmax.

    The number of cells is bounded so a tiny ``rmax`` cannot exhaust memory.
    Returns the point order, cell starts, grid shape, cell size and origin.
    """
    x0, y0 = x.min(), y.min()
    extent = max(x.max() - x0, y.max() - y0)
    size = max(rmax, extent / 2048.0, 1e-9)
    nx = int((x.max() - x0) / size) + 1
    ny = int((y.max() - y0) / size) + 1
    cx = ((x - x0) / size).astype(np.int64)
    cy = ((y - y0) / size).astype(np.int64)
    cell = cy * nx + cx
    order = np.argsort(cell, kind="mergesort")
    starts = np.zeros(nx * ny + 1, np.int64)
    for c in cell:
        starts[c + 1] += 1
    for k in range(nx * ny):
        starts[k + 1] += starts[k]
    return order, starts, nx, ny, size, x0, y0


@numba.njit(cache=True)
def circle_inside_angle(cx, cy, r, ex0, ey0, ex1, ey1) -> float:
    """Angle (radians) of the circle (cx, cy, r) inside a polygon holding its centre.

    The edges must keep the polygon's interior on their left (outer rings
    counter-clockwise, holes clockwise). Along a ray from the centre the
    boundary crossings alternate exit, entry, ..., so the point at distance
    ``r`` is outside exactly when the signed count of crossings closer than
    ``r`` is 1. Integrated over directions, each edge contributes the signed
    angle it subtends at the centre over its part inside the disc (positive
    when it runs counter-clockwise around the centre, i.e. is an exit). Every
    term is a continuous function of the data: no crossing is ever counted or
    missed by a rounding error, at vertices on the circle or at tangents.

    A centre on the boundary takes the limit from inside: an edge through it
    hides half the directions (pi), a vertex at it the exterior angle there.
    """
    r2 = r * r
    outside = 0.0
    dir_in = dir_out = 0.0
    at_in = at_out = False
    for e in range(len(ex0)):
        ax, ay = ex0[e] - cx, ey0[e] - cy
        bx, by = ex1[e] - cx, ey1[e] - cy
        if ax == 0.0 and ay == 0.0:  # the centre is this edge's first vertex
            dir_out, at_out = math.atan2(by, bx), True
            continue
        if bx == 0.0 and by == 0.0:  # ... or its last vertex
            dir_in, at_in = math.atan2(ay, ax), True
            continue
        cross = ax * by - ay * bx
        dot = ax * bx + ay * by
        if dot < 0.0 and abs(cross) <= 1e-12 * math.sqrt((ax * ax + ay * ay) * (bx * bx + by * by)):
            outside += math.pi  # the centre lies on this edge
            continue
        dx, dy = bx - ax, by - ay
        a = dx * dx + dy * dy
        b = ax * dx + ay * dy
        # b^2 - a(|A|^2 - r^2) written as a r^2 - cross^2: no cancellation between large
        # terms when the edge is long and far and the circle small (a near-tangent)
        disc = a * r2 - cross * cross
        if disc <= 0.0:
            continue  # the edge's line misses the open disc
        sq = math.sqrt(disc)
        t0 = max((-b - sq) / a, 0.0)
        t1 = min((-b + sq) / a, 1.0)
        if t0 >= t1:
            continue
        px, py = ax + t0 * dx, ay + t0 * dy
        qx, qy = ax + t1 * dx, ay + t1 * dy
        outside += math.atan2(px * qy - py * qx, px * qx + py * qy)
    if at_in and at_out:
        # exterior angle at the vertex: from the incoming edge's far end round to the outgoing
        outside += (dir_out - dir_in) % (2.0 * math.pi)
    return 2.0 * math.pi - outside


@numba.njit(cache=True)
def _pair_weight(i, j, d, x, y, correction, bnd, rect, ex0, ey0, ex1, ey1, maxweight):
    """Edge-correction weight of the ordered pair i -> j."""
    if correction == TRANSLATE_RECT:
        w = (rect[1] - rect[0]) * (rect[3] - rect[2])
        w /= (rect[1] - rect[0] - abs(x[j] - x[i])) * (rect[3] - rect[2] - abs(y[j] - y[i]))
        return min(w, maxweight)
    if correction == ISOTROPIC:
        if d <= bnd[i]:
            return 1.0
        angle = circle_inside_angle(x[i], y[i], d, ex0, ey0, ex1, ey1)
        if angle <= 0.0:
            return maxweight
        return max(1.0, min(maxweight, 2.0 * math.pi / angle))
    return 1.0


# ----------------------------------------------------------------- histograms


@numba.njit(cache=True)
def _first_r(d, dd, r, r2, ties, dr, rmax2):
    """Index of the first r at which a pair at distance d counts; len(r) if never."""
    n = len(r)
    if ties == TIES_LEFT:
        if dd > rmax2 or d > r[n - 1]:  # closepairs keeps d^2 <= rmax^2; whist drops d > rmax
            return n
        if d == r[n - 1]:
            return n - 1
        return np.searchsorted(r, d, side="right")
    if ties == TIES_CEIL:
        if dd >= rmax2:
            return n
        return min(int(math.ceil(d / dr)), n)
    if ties == TIES_CLOSED:
        return np.searchsorted(r, d, side="left")
    return np.searchsorted(r2, dd, side="left")


@numba.njit(cache=True)
def _sweep_chunk(
    chunk, x, y, order, starts, nx, ny, r, r2, ties, dr, label_a, label_b, correction, bnd,
    bidx, rect, ex0, ey0, ex1, ey1, maxweight, mark_w,
):
    """Histograms ``main`` and ``cens`` of the pairs of one chunk of grid cells.

    They are allocated here, not passed in: the compiler then knows they share
    no memory with the labels and vectorises the loop over labellings.
    """
    n_r = len(r)
    n_sim = label_a.shape[1]
    main = np.zeros((n_r, n_sim))
    cens = np.zeros((n_r, n_sim))
    rmax = r[n_r - 1]
    rmax2 = rmax * rmax
    reach = rmax2 * (1.0 + 1e-12) + 1e-300  # every mode decides ties itself below
    for cell in range(chunk, nx * ny, N_CHUNKS):
        cyy, cxx = cell // nx, cell % nx
        for p in range(starts[cell], starts[cell + 1]):
            i = order[p]
            # neighbours: this cell (later points) and four forward cells
            for nb in range(5):
                gx, gy = cxx + _FORWARD_X[nb], cyy + _FORWARD_Y[nb]
                if gx < 0 or gx >= nx or gy >= ny:
                    continue
                other = gy * nx + gx
                first = p + 1 if nb == 0 else starts[other]
                for q in range(first, starts[other + 1]):
                    j = order[q]
                    dx = x[j] - x[i]
                    dy = y[j] - y[i]
                    dd = dx * dx + dy * dy
                    if dd > reach:
                        continue
                    d = math.sqrt(dd)
                    k = _first_r(d, dd, r, r2, ties, dr, rmax2)
                    if k >= n_r:
                        continue
                    if correction == NONE:
                        # symmetric weight: both directions in one visit
                        wi, wj = mark_w[i], mark_w[j]
                        for s in range(n_sim):
                            main[k, s] += (
                                wj * label_a[i, s] * label_b[j, s]
                                + wi * label_a[j, s] * label_b[i, s]
                            )
                        continue
                    for direction in range(2):
                        a, b = (i, j) if direction == 0 else (j, i)
                        w = mark_w[b]
                        if correction == BORDER_EXACT:
                            # counts for r[k] .. r[bidx[a] - 1], the r below b[a]
                            if k >= bidx[a]:
                                continue
                            if ties == TIES_CEIL:
                                reach_a = min(bnd[a], rmax)
                                if dd >= reach_a * reach_a:  # spatstat: d < b, strictly
                                    continue
                            elif d > bnd[a]:
                                continue
                            stop = bidx[a]
                            for s in range(n_sim):
                                hit = w * label_a[a, s] * label_b[b, s]
                                main[k, s] += hit
                                if stop < n_r:
                                    cens[stop, s] += hit
                        elif correction == BORDER_BINNED:
                            # spatstat's Kount: uncensored pairs by distance and by b[a]
                            if d > bnd[a]:
                                continue
                            kb = bidx[a]
                            for s in range(n_sim):
                                hit = w * label_a[a, s] * label_b[b, s]
                                main[k, s] += hit
                                if kb < n_r:
                                    cens[kb, s] += hit
                        else:
                            w *= _pair_weight(a, b, d, x, y, correction, bnd, rect, ex0, ey0,
                                              ex1, ey1, maxweight)
                            for s in range(n_sim):
                                main[k, s] += w * (label_a[a, s] * label_b[b, s])
    return main, cens


@numba.njit(parallel=True, cache=True)
def _accumulate_parallel(
    x, y, r, r2, ties, dr, label_a, label_b, correction, bnd, bidx, rect, ex0, ey0, ex1, ey1,
    maxweight, mark_w,
):
    """Histograms of every chunk, chunks in parallel (see :func:`pair_histograms`)."""
    order, starts, nx, ny, _, _, _ = _grid(x, y, r[-1])
    main = np.zeros((N_CHUNKS, len(r), label_a.shape[1]))
    cens = np.zeros((N_CHUNKS, len(r), label_a.shape[1]))
    for chunk in numba.prange(N_CHUNKS):
        main[chunk], cens[chunk] = _sweep_chunk(
            chunk, x, y, order, starts, nx, ny, r, r2, ties, dr, label_a, label_b, correction,
            bnd, bidx, rect, ex0, ey0, ex1, ey1, maxweight, mark_w)
    return main, cens


@numba.njit(cache=True)
def _accumulate_serial(
    x, y, r, r2, ties, dr, label_a, label_b, correction, bnd, bidx, rect, ex0, ey0, ex1, ey1,
    maxweight, mark_w,
):
    """Compute the same histograms, chunk after chunk, in one thread."""
    order, starts, nx, ny, _, _, _ = _grid(x, y, r[-1])
    main = np.zeros((N_CHUNKS, len(r), label_a.shape[1]))
    cens = np.zeros((N_CHUNKS, len(r), label_a.shape[1]))
    for chunk in range(N_CHUNKS):
        main[chunk], cens[chunk] = _sweep_chunk(
            chunk, x, y, order, starts, nx, ny, r, r2, ties, dr, label_a, label_b, correction,
            bnd, bidx, rect, ex0, ey0, ex1, ey1, maxweight, mark_w)
    return main, cens


def rectangle_edges(xmin: float, xmax: float, ymin: float, ymax: float) -> tuple:
    """Edges ``(x0, y0, x1, y1)`` of a rectangle, counter-clockwise."""
    return (np.array([xmin, xmax, xmax, xmin]), np.array([ymin, ymin, ymax, ymax]),
            np.array([xmax, xmax, xmin, xmin]), np.array([ymin, ymax, ymax, ymin]))


def pair_histograms(
    x: np.ndarray,
    y: np.ndarray,
    r: np.ndarray,
    label_a: np.ndarray,
    label_b: np.ndarray,
    *,
    correction: int = NONE,
    ties: int = TIES_LEFT,
    boundary_distance: np.ndarray | None = None,
    boundary_index: np.ndarray | None = None,
    rect: tuple[float, float, float, float] | None = None,
    edges: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None,
    mark_weights: np.ndarray | None = None,
    maxweight: float = 100.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Pair histograms of many labellings in one pass over the pairs.

    Parameters
    ----------
    x, y : ndarray
        Coordinates in metres.
    r : ndarray
        Increasing distances; ``r[-1]`` is the maximum. ``TIES_CEIL`` needs
        them evenly spaced from 0.
    label_a, label_b : ndarray of uint8 or float64, shape (n, S)
        For each labelling ``s``, whether (uint8 0/1) or how much (float, e.g.
        employment) a point counts as type A (the reference, ``i``) and type B
        (the neighbour, ``j``); a pair adds ``label_a[i, s] * label_b[j, s]``.
    correction : int
        ``NONE``, ``BORDER_BINNED`` (spatstat ``Kount``), ``BORDER_EXACT``
        (reduced sample, counted for ``r`` below ``b_i``), ``TRANSLATE_RECT``
        or ``ISOTROPIC``.
    ties : int
        Tie rule (see the module docstring).
    boundary_distance : ndarray, optional
        Distance ``b_i`` of each point to the window boundary (borders, ISOTROPIC).
    boundary_index : ndarray of int64, optional
        Per point, the first index of ``r`` where it is censored
        (``BORDER_EXACT``) or the histogram cell of ``b_i`` (``BORDER_BINNED``).
    rect : tuple, optional
        ``(xmin, xmax, ymin, ymax)`` of a rectangular window (TRANSLATE_RECT).
    edges : tuple of ndarray, optional
        ``(x0, y0, x1, y1)`` of the window's edges, interior on their left (ISOTROPIC).
    mark_weights : ndarray, optional
        Weight of each point as a neighbour (default 1).
    maxweight : float
        Cap on edge-correction weights (spatstat's default 100).

    Returns
    -------
    tuple of ndarray
        ``(main, cens)``, each ``(len(r), S)``: weights by the index of the
        first ``r`` at which a pair counts, and (borders) the pairs leaving
        the count (``BORDER_EXACT``) or by the cell of ``b_i`` (``BORDER_BINNED``).
    """
    r = np.ascontiguousarray(r, dtype=float)
    n = len(x)
    n_sim = label_a.shape[1]
    if n < 2:
        zero = np.zeros((len(r), n_sim))
        return zero, zero.copy()
    dtype = np.uint8 if label_a.dtype == np.uint8 and label_b.dtype == np.uint8 else float
    a = np.ascontiguousarray(label_a, dtype=dtype)
    b = np.ascontiguousarray(label_b, dtype=dtype)
    bnd = np.zeros(n) if boundary_distance is None else np.asarray(boundary_distance, float)
    bidx = (np.full(n, len(r), np.int64) if boundary_index is None
            else np.ascontiguousarray(boundary_index, np.int64))
    rect_arr = np.asarray(rect if rect is not None else (0.0, 1.0, 0.0, 1.0), dtype=float)
    ex0, ey0, ex1, ey1 = (np.zeros(1),) * 4 if edges is None else (
        np.ascontiguousarray(e, dtype=float) for e in edges)
    mw = np.ones(n) if mark_weights is None else np.asarray(mark_weights, dtype=float)
    dr = r[-1] / (len(r) - 1) if len(r) > 1 else 1.0  # spatstat's step: rmax / (nr - 1)
    main, cens = run_kernel(
        _accumulate_parallel, _accumulate_serial, n * n_sim,
        np.ascontiguousarray(x, dtype=float), np.ascontiguousarray(y, dtype=float), r, r * r,
        int(ties), float(dr), a, b, int(correction), bnd, bidx, rect_arr, ex0, ey0, ex1, ey1,
        float(maxweight), mw,
    )
    return main.sum(axis=0), cens.sum(axis=0)


# ----------------------------------------------------------------- distance statistics


@numba.njit(cache=True)
def _distances_chunk(chunk, x, y, order, starts, nx, ny, codes, pidx, dmax, width, wanted, out,
                     offsets, sj_width, sj_base, stats, hist, sj_hist):
    """One chunk of the distance passes: pairs of a wanted type pair with d <= dmax.

    A site pair counts for type pair ``u = pidx[codes[i], codes[j]]`` (-1:
    none). Pass 1 (``wanted`` empty): ``stats[u]`` = count, sum and sum of
    squares of ``d - dmax / 2``, min, max; ``hist[u]`` = counts in bins of
    ``width``. Pass 2: the distances of the bins given a slot in
    ``wanted[u]`` go to ``out`` from ``offsets``, and ``sj_hist[u]`` counts
    ``trunc(d / sj_width[u]) - sj_base[u]``.
    """
    shift = dmax / 2
    dmax2 = dmax * dmax * (1.0 + 1e-12)
    n_bins = hist.shape[1]
    for cell in range(chunk, nx * ny, N_CHUNKS):
        cyy, cxx = cell // nx, cell % nx
        for p in range(starts[cell], starts[cell + 1]):
            i = order[p]
            if codes[i] < 0:
                continue
            for nb in range(5):
                gx, gy = cxx + _FORWARD_X[nb], cyy + _FORWARD_Y[nb]
                if gx < 0 or gx >= nx or gy >= ny:
                    continue
                other = gy * nx + gx
                first = p + 1 if nb == 0 else starts[other]
                for q in range(first, starts[other + 1]):
                    j = order[q]
                    if codes[j] < 0:
                        continue
                    u = pidx[codes[i], codes[j]]
                    if u < 0:
                        continue
                    dx = x[i] - x[j]
                    dy = y[i] - y[j]
                    dd = dx * dx + dy * dy
                    if dd > dmax2:
                        continue
                    d = math.sqrt(dd)
                    if d > dmax:
                        continue
                    k = min(int(d / width), n_bins - 1)
                    if wanted.shape[1] == 0:
                        stats[u, 0] += 1.0
                        stats[u, 1] += d - shift
                        stats[u, 2] += (d - shift) * (d - shift)
                        stats[u, 3] = min(stats[u, 3], d)
                        stats[u, 4] = max(stats[u, 4], d)
                        hist[u, k] += 1
                        continue
                    slot = wanted[u, k]
                    if slot >= 0:
                        out[offsets[slot]] = d
                        offsets[slot] += 1
                    if sj_width[u] > 0.0:
                        s = int(d / sj_width[u]) - sj_base[u]
                        if s < sj_hist.shape[1]:
                            sj_hist[u, s] += 1.0


@numba.njit(parallel=True, cache=True)
def _distance_pass_parallel(x, y, codes, pidx, n_pairs, dmax, width, n_bins, wanted, n_out,
                            offsets, sj_width, sj_base, sj_bins):
    """One distance pass (see :func:`_distances_chunk`), chunks in parallel."""
    order, starts, nx, ny, _, _, _ = _grid(x, y, dmax)
    stats = np.zeros((N_CHUNKS, n_pairs, 5))
    stats[:, :, 3], stats[:, :, 4] = np.inf, -np.inf
    hist = np.zeros((N_CHUNKS, n_pairs, n_bins), np.int32)
    sj_hist = np.zeros((N_CHUNKS, n_pairs, sj_bins))
    out = np.empty(n_out)
    for chunk in numba.prange(N_CHUNKS):
        _distances_chunk(chunk, x, y, order, starts, nx, ny, codes, pidx, dmax, width, wanted,
                         out, offsets[chunk], sj_width, sj_base, stats[chunk], hist[chunk],
                         sj_hist[chunk])
    return stats, hist, out, sj_hist


@numba.njit(cache=True)
def _distance_pass_serial(x, y, codes, pidx, n_pairs, dmax, width, n_bins, wanted, n_out,
                          offsets, sj_width, sj_base, sj_bins):
    """Compute one distance pass in one thread."""
    order, starts, nx, ny, _, _, _ = _grid(x, y, dmax)
    stats = np.zeros((N_CHUNKS, n_pairs, 5))
    stats[:, :, 3], stats[:, :, 4] = np.inf, -np.inf
    hist = np.zeros((N_CHUNKS, n_pairs, n_bins), np.int32)
    sj_hist = np.zeros((N_CHUNKS, n_pairs, sj_bins))
    out = np.empty(n_out)
    for chunk in range(N_CHUNKS):
        _distances_chunk(chunk, x, y, order, starts, nx, ny, codes, pidx, dmax, width, wanted,
                         out, offsets[chunk], sj_width, sj_base, stats[chunk], hist[chunk],
                         sj_hist[chunk])
    return stats, hist, out, sj_hist


DISTANCE_BINS = 1 << 16  # pass-1 bins for one pair: each order statistic is sought in one bin
MIN_DISTANCE_BINS = 256  # ... shared out among many pairs, but never fewer than this


def _quartiles(n: int, order_stat: dict[int, float]) -> list[float]:
    """R's type-7 quartiles from the order statistics they need."""
    out = []
    for pos in (1 + (n - 1) * 0.25, 1 + (n - 1) * 0.75):
        low, high = order_stat[int(np.floor(pos))], order_stat[int(np.ceil(pos))]
        h = pos - np.floor(pos)
        out.append(float(low if h == 0 or high == low else (1 - h) * low + h * high))
    return out


def pair_distance_statistics(
    x: np.ndarray, y: np.ndarray, codes: np.ndarray, pidx: np.ndarray, dmax: float,
    sj_bins: int = 0,
) -> list[dict]:
    """Exact summaries of the distances up to ``dmax`` of many type pairs, in two passes.

    Every unordered site pair ``(i, j)`` with ``d <= dmax`` is one distance of
    type pair ``pidx[codes[i], codes[j]]``, as the R package dbmss lists the
    distances of one pair of types. Nothing is stored per site pair: the
    first pass counts, sums and bins each type pair's distances; the second
    picks the order statistics of R's type-7 quartiles out of their bins
    and, for ``sj_bins``, counts the distances in R's ``bw.SJ`` bins.

    Parameters
    ----------
    x, y : ndarray
        Coordinates.
    codes : ndarray of int
        Type code of each site (-1: in no pair).
    pidx : ndarray of int, shape (T, T)
        Symmetric: the index of type pair ``{a, b}``, or -1.
    dmax : float
        Largest distance.
    sj_bins : int
        Number of ``bw.SJ`` bins (``nb``, 1000 in R); 0 skips them.

    Returns
    -------
    list of dict
        Per type pair: ``n`` and, when ``n > 0``, ``mean``, ``sd`` (n - 1
        denominator), ``q25``, ``q75`` (R ``quantile`` type 7), ``min``,
        ``max`` and, with ``sj_bins``, ``sj_width`` and ``sj_counts`` (R's
        ``trunc(x / d)`` bins from the smallest).
    """
    x, y = np.ascontiguousarray(x, float), np.ascontiguousarray(y, float)
    codes = np.ascontiguousarray(codes, np.int64)
    pidx = np.ascontiguousarray(pidx, np.int64)
    n_pairs = int(pidx.max()) + 1
    n_bins = max(MIN_DISTANCE_BINS, DISTANCE_BINS // max(n_pairs, 1))
    width = dmax / n_bins
    no_sj = np.zeros(n_pairs)
    work = len(x) * 4
    stats, hist, _, _ = run_kernel(
        _distance_pass_parallel, _distance_pass_serial, work, x, y, codes, pidx, n_pairs,
        float(dmax), width, n_bins, np.full((n_pairs, 0), -1, np.int64), 0,
        np.zeros((N_CHUNKS, 0), np.int64), no_sj, np.zeros(n_pairs, np.int64), 0)
    stats = _combine(stats)
    total = hist.sum(axis=0, dtype=np.int64)  # (pairs, bins)
    counts = stats[:, 0].astype(np.int64)
    # pass 2: the bins holding each pair's quartile order statistics get slots
    wanted = np.full((n_pairs, n_bins), -1, np.int64)
    slots, ranks_of = [], {}
    for u in np.flatnonzero(counts):
        n = counts[u]
        positions = np.array([1 + (n - 1) * 0.25, 1 + (n - 1) * 0.75])
        ranks = np.unique(np.concatenate([np.floor(positions), np.ceil(positions)]))
        cum = np.cumsum(total[u])
        bins = np.searchsorted(cum, ranks.astype(np.int64), side="left")
        ranks_of[u] = (ranks.astype(np.int64), bins, cum)
        for bin_ in np.unique(bins):
            wanted[u, bin_] = len(slots)
            slots.append((u, bin_))
    per_chunk = (hist[:, [u for u, _ in slots], [b for _, b in slots]] if slots
                 else np.zeros((N_CHUNKS, 0), np.int64)).astype(np.int64)
    sizes = per_chunk.sum(axis=0)
    slot_start = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    offsets = slot_start[None, :] + np.cumsum(per_chunk, axis=0) - per_chunk
    lo, hi = stats[:, 3], stats[:, 4]
    sj_width = np.where(counts > 0, (hi - lo) * 1.01 / max(sj_bins, 1), 0.0) if sj_bins else no_sj
    with np.errstate(divide="ignore", invalid="ignore"):
        sj_base = np.where(sj_width > 0, lo / np.where(sj_width > 0, sj_width, 1), 0)
    sj_base = sj_base.astype(np.int64)
    _, _, picked, sj_hist = run_kernel(
        _distance_pass_parallel, _distance_pass_serial, work, x, y, codes, pidx, n_pairs,
        float(dmax), width, n_bins, wanted, int(sizes.sum()), np.ascontiguousarray(offsets),
        sj_width, sj_base, max(sj_bins, 0))
    sj_counts = sj_hist.sum(axis=0)
    out = []
    for u in range(n_pairs):
        n = int(counts[u])
        if n == 0:
            out.append({"n": 0})
            continue
        ranks, bins, cum = ranks_of[u]
        order_stat = {}
        for bin_ in np.unique(bins):
            slot = wanted[u, bin_]
            values = np.sort(picked[slot_start[slot]:slot_start[slot] + sizes[slot]])
            before = cum[bin_] - total[u, bin_]
            for rank in ranks[bins == bin_]:
                order_stat[int(rank)] = values[rank - 1 - before]
        mean_shifted = stats[u, 1] / n
        var = (stats[u, 2] - n * mean_shifted**2) / (n - 1) if n > 1 else np.nan
        q25, q75 = _quartiles(n, order_stat)
        row = {"n": n, "mean": dmax / 2 + mean_shifted, "sd": float(np.sqrt(var)), "q25": q25,
               "q75": q75, "min": float(lo[u]), "max": float(hi[u])}
        if sj_bins:
            row["sj_width"], row["sj_counts"] = float(sj_width[u]), sj_counts[u]
        out.append(row)
    return out


def _combine(stats: np.ndarray) -> np.ndarray:
    """Per-chunk (count, sum, sum of squares, min, max) combined, chunks in a fixed order."""
    out = stats[:, :, :3].sum(axis=0)
    return np.column_stack([out, stats[:, :, 3].min(axis=0), stats[:, :, 4].max(axis=0)])


def distance_statistics(
    x: np.ndarray, y: np.ndarray, is_a: np.ndarray, is_b: np.ndarray, dmax: float,
    sj_bins: int = 0,
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
    return pair_distance_statistics(x, y, codes, pidx, dmax, sj_bins)[0]
