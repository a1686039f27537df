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
:func:`geo.stats.threads.run_kernel`, which picks the threads.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from geo.stats.threads import run_kernel

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
def search_from(a, v, guess, right):
    """``np.searchsorted(a, v, side="right" if right else "left")``, trying ``guess`` first.

    With evenly spaced ``a`` the guess from ``v / step`` is nearly always
    right: two comparisons instead of a binary search (numba's
    ``searchsorted`` costs ~50 ns a call). A wrong guess falls back to the
    search, so the answer is the search's for any increasing ``a``.
    """
    n = len(a)
    k = min(max(guess, 0), n)
    if right:
        if (k == 0 or a[k - 1] <= v) and (k == n or a[k] > v):
            return k
    elif (k == 0 or a[k - 1] < v) and (k == n or a[k] >= v):
        return k
    lo, hi = 0, n  # the first index whose value is above v (right) or at least v (left)
    while lo < hi:
        mid = (lo + hi) >> 1
        if a[mid] > v or (not right and a[mid] == v):
            hi = mid
        else:
            lo = mid + 1
    return lo


@numba.njit(cache=True)
def _first_r(d, dd, r, r2, ties, dr, rmax2):
    """Index of the first r at which a pair at distance d counts; len(r) if never.

    ``dr`` is the step of evenly spaced ``r`` (a guess only: any increasing
    ``r`` gets the exact index).
    """
    n = len(r)
    guess = int(d / dr) if dr > 0.0 else 0
    if ties == TIES_LEFT:
        if dd > rmax2 or d > r[n - 1]:  # closepairs keeps d^2 <= rmax^2; whist drops d > rmax
            return n
        if d == r[n - 1]:
            return n - 1
        return search_from(r, d, guess + 1, True)
    if ties == TIES_CEIL:
        if dd >= rmax2:
            return n
        return min(int(math.ceil(d / dr)), n)
    if ties == TIES_CLOSED:
        return search_from(r, d, guess, False)
    return search_from(r2, dd, guess, False)


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
