r"""Spatial accessibility of producer services for manufacturing: two-step floating catchment.

Two-step floating catchment area (Luo & Wang 2003, Environment and Planning B
30(6); Gaussian decay: Dai 2010, Landscape and Urban Planning 97(3)). With
demand :math:`P_k` at locations :math:`k` (manufacturing firms or employment),
supply :math:`S_j` at :math:`j` (producer services), a catchment radius
:math:`d_0` and a decay :math:`f`:

.. math::
    R_j = \frac{S_j}{\sum_{k:\, d_{kj} \le d_0} P_k\, f(d_{kj})}, \qquad
    A_i = \sum_{j:\, d_{ij} \le d_0} R_j\, f(d_{ij})

``uniform``: :math:`f = 1` (the original 2SFCA); ``gaussian``:
:math:`f(d) = \frac{e^{-\frac12 (d/d_0)^2} - e^{-\frac12}}{1 - e^{-\frac12}}`
(1 at the location, 0 at the edge of the catchment). :math:`A_i` is supply
per unit of demand reachable from :math:`i`; its demand-weighted mean equals
total supply over total demand when every supply has some demand in reach.

Memory model: no pair is stored. Both steps are sums over the pairs within
the radius (:func:`sums_within`): the points are sorted into square cells of
a quarter of the radius and each centre scans, row by row, the cells its
disc reaches, in a numba kernel run by :func:`geo.stats.threads.run_kernel`. Memory
is ``O(n)`` however many pairs there are: the default run on a million firms
has 842 million supply-demand pairs within 3 km, 20 GB as a pair list. No
maintained library computes weighted sums within a radius without listing
the pairs (cKDTree's ``sparse_distance_matrix`` and ``query_ball_point`` list
them; the ``access`` package builds a cost matrix), hence this kernel. A pair
counts when ``dx**2 + dy**2 <= radius**2``, compared exactly as cKDTree does.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from geo.errors import ConfigError
from geo.stats.threads import run_kernel

DECAYS = ("uniform", "gaussian")

N_BLOCKS = 64  # fixed units of parallel work; each centre's sum never depends on threads
TILE = 64  # consecutive centres (sorted by cell) a block takes at a time: cells stay in cache
CELLS_PER_RADIUS = 4  # cells of a quarter radius: the rows' cell ranges hug the disc
MAX_CELLS_A_SIDE = 2048  # a tiny radius cannot make the cell index exhaust memory


@numba.njit(cache=True, inline="always")
def _decayed(dd, radius, gaussian, edge, scale):
    """Decay at squared distance ``dd``, as (d / radius) ** 2 with d = sqrt(dd) in numpy."""
    if not gaussian:
        return 1.0
    t = math.sqrt(dd) / radius
    return (math.exp(-0.5 * (t * t)) - edge) / scale


@numba.njit(cache=True)
def _gather_block(block, qx, qy, qorder, sx, sy, sw, starts, nx, ny, size, x0, y0, r2, radius,
                  gaussian, tol, out):
    """Add up the sums of one block's centres: every N_BLOCKS-th run of TILE of them."""
    n_q = len(qorder)
    n_tiles = (n_q + TILE - 1) // TILE
    k = sw.shape[1]
    # the same exp as the pairs': a pair exactly at the radius weighs exactly 0
    edge = math.exp(-0.5)
    scale = 1.0 - edge
    acc = np.zeros(k)
    for tile in range(block, n_tiles, N_BLOCKS):
        for i in range(tile * TILE, min((tile + 1) * TILE, n_q)):
            q = qorder[i]
            x, y = qx[q], qy[q]
            acc[:] = 0.0
            total = 0.0  # k == 1 keeps its sum in a register
            row0 = max(int(math.floor((y - radius - tol - y0) / size)), 0)
            row1 = min(int(math.floor((y + radius + tol - y0) / size)), ny - 1)
            for gy in range(row0, row1 + 1):
                # the disc's half-width over this row of cells bounds the cells to scan
                bottom = y0 + gy * size
                gap = max(bottom - y, y - bottom - size, 0.0)
                gap = max(gap - tol, 0.0)
                half = math.sqrt(max(r2 - gap * gap, 0.0)) + tol
                col0 = max(int(math.floor((x - half - x0) / size)), 0)
                col1 = min(int(math.floor((x + half - x0) / size)), nx - 1)
                if col0 > col1:
                    continue
                # the cells of one row hold consecutive sorted points
                first, last = starts[gy * nx + col0], starts[gy * nx + col1 + 1]
                if k == 1:
                    for p in range(first, last):
                        dx = x - sx[p]
                        dy = y - sy[p]
                        dd = dx * dx + dy * dy
                        if dd <= r2:
                            total += sw[p, 0] * _decayed(dd, radius, gaussian, edge, scale)
                else:
                    for p in range(first, last):
                        dx = x - sx[p]
                        dy = y - sy[p]
                        dd = dx * dx + dy * dy
                        if dd <= r2:
                            f = _decayed(dd, radius, gaussian, edge, scale)
                            for c in range(k):
                                acc[c] += sw[p, c] * f
            if k == 1:
                out[q, 0] = total
            else:
                out[q, :] = acc


@numba.njit(parallel=True, cache=True)
def _sums_parallel(qx, qy, qorder, sx, sy, sw, starts, nx, ny, size, x0, y0, r2, radius,
                   gaussian, tol):
    """Blocks in parallel; each writes the rows of its own centres only."""
    out = np.zeros((len(qx), sw.shape[1]))
    for block in numba.prange(N_BLOCKS):
        _gather_block(block, qx, qy, qorder, sx, sy, sw, starts, nx, ny, size, x0, y0, r2,
                      radius, gaussian, tol, out)
    return out


@numba.njit(cache=True)
def _sums_serial(qx, qy, qorder, sx, sy, sw, starts, nx, ny, size, x0, y0, r2, radius,
                 gaussian, tol):
    """Compute the same sums, block after block, in one thread."""
    out = np.zeros((len(qx), sw.shape[1]))
    for block in range(N_BLOCKS):
        _gather_block(block, qx, qy, qorder, sx, sy, sw, starts, nx, ny, size, x0, y0, r2,
                      radius, gaussian, tol, out)
    return out


def sums_within(
    centres: np.ndarray,
    points: np.ndarray,
    radius: float,
    weights: np.ndarray,
    decay: str = "uniform",
) -> np.ndarray:
    """Sum the weights of the points within ``radius`` of each centre, with a distance decay.

    ``out[i] = sum of weights[p] * f(d(i, p)) over points p with d(i, p) <= radius``,
    without storing the pairs: memory is linear in the number of points and
    centres, whatever the number of pairs.

    Parameters
    ----------
    centres, points : ndarray, shape (n, 2)
        Coordinates in metres.
    radius : float
        Radius in metres (positive); a pair at exactly ``radius`` counts.
    weights : ndarray, shape (n_points,) or (n_points, k)
        Weight of each point, or ``k`` columns of weights summed together.
    decay : {"uniform", "gaussian"}
        ``f``: 1, or the Gaussian of the module docstring (1 at the centre,
        0 at the radius).

    Returns
    -------
    ndarray
        Shape ``(n_centres,)`` or ``(n_centres, k)``, as ``weights``; 0 for a
        centre with no point in reach.

    Examples
    --------
    >>> sums_within([[0, 0], [10, 0]], [[3, 4], [0, 1], [20, 0]], 5, [1.0, 2.0, 4.0])
    array([3., 0.])
    """
    if decay not in DECAYS:
        raise ConfigError(f"unknown decay '{decay}': use {', '.join(DECAYS)}")
    if not radius > 0:
        raise ConfigError("the radius must be positive")
    centres = np.asarray(centres, dtype=float).reshape(-1, 2)
    points = np.asarray(points, dtype=float).reshape(-1, 2)
    weights = np.asarray(weights, dtype=float)
    flat = weights.ndim == 1
    columns = weights[:, None] if flat else weights
    if columns.ndim != 2 or len(columns) != len(points):
        raise ConfigError(f"{len(columns)} weights for {len(points)} points: give one per point")
    out = np.zeros((len(centres), columns.shape[1]))
    if len(centres) and len(points):
        both = np.r_[centres, points]
        if not np.isfinite(both).all():
            raise ConfigError("coordinates must be finite")
        low, high = both.min(axis=0), both.max(axis=0)
        extent = float((high - low).max())
        size = max(radius / CELLS_PER_RADIUS, extent / MAX_CELLS_A_SIDE)
        nx, ny = (int(v) + 1 for v in (high - low) / size)
        pcx, pcy = ((points - low) / size).astype(np.int64).T
        cell = np.clip(pcy, 0, ny - 1) * nx + np.clip(pcx, 0, nx - 1)
        order = np.argsort(cell, kind="stable")  # by cell, then by index: a fixed order
        starts = np.zeros(nx * ny + 1, dtype=np.int64)
        np.cumsum(np.bincount(cell, minlength=nx * ny), out=starts[1:])
        qcx, qcy = ((centres - low) / size).astype(np.int64).T
        qorder = np.argsort(qcy * nx + qcx, kind="stable")
        out = run_kernel(
            _sums_parallel, _sums_serial, (len(centres) + len(points)) * columns.shape[1],
            np.ascontiguousarray(centres[:, 0]), np.ascontiguousarray(centres[:, 1]), qorder,
            points[order, 0], points[order, 1], np.ascontiguousarray(columns[order]),
            starts, nx, ny, float(size), float(low[0]), float(low[1]),
            float(radius) * float(radius), float(radius), decay == "gaussian",
            # cell ranges widened by this (metres) so rounding never leaves out a point in reach
            max(size * 1e-6, 16 * float(np.spacing(np.abs(both).max()))),
        )
    return out[:, 0] if flat else out


def two_step_fca(
    demand_xy: np.ndarray,
    demand: np.ndarray,
    supply_xy: np.ndarray,
    supply: np.ndarray,
    radius: float,
    decay: str = "gaussian",
) -> tuple[np.ndarray, np.ndarray]:
    """Compute the accessibility of each demand location and the ratio of each supply.

    Both steps are streamed over the pairs within the radius
    (:func:`sums_within`): memory is linear in the number of locations.

    Parameters
    ----------
    demand_xy, supply_xy : ndarray, shape (n, 2)
        Coordinates in metres.
    demand, supply : ndarray
        Weights (firms or employment).
    radius : float
        Catchment radius :math:`d_0` in metres; a pair at exactly :math:`d_0` counts.
    decay : {"uniform", "gaussian"}
        Distance decay within the catchment.

    Returns
    -------
    tuple of ndarray
        ``(A, R)``: accessibility per demand location (0 where no supply is in
        reach) and ratio per supply location (NaN where no demand is in reach).
    """
    if decay not in DECAYS:
        raise ConfigError(f"unknown decay '{decay}': use {', '.join(DECAYS)}")
    if radius <= 0:
        raise ConfigError("the catchment radius must be positive")
    demand_xy = np.asarray(demand_xy, float).reshape(-1, 2)
    supply_xy = np.asarray(supply_xy, float).reshape(-1, 2)
    demand, supply = np.asarray(demand, float), np.asarray(supply, float)
    reached = sums_within(supply_xy, demand_xy, radius, demand, decay)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(reached > 0, supply / reached, np.nan)
    access = sums_within(demand_xy, supply_xy, radius, np.nan_to_num(ratio), decay)
    return access, ratio
