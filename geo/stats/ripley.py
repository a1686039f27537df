r"""Ripley's K and L functions, univariate and cross-type, with spatstat's estimators.

For a pattern of :math:`n` points in a window :math:`W` of area :math:`|W|`
(Ripley 1976, 1977; Baddeley, Rubak & Turner 2015, *Spatial Point Patterns*,
ch. 7 and 14):

.. math::
    \hat K(r) = \frac{|W|}{n(n-1)} \sum_{i \ne j} 1\{d_{ij} \le r\}\, e_{ij}, \qquad
    \hat K_{AB}(r) = \frac{|W|}{n_A n_B} \sum_{i \in A} \sum_{j \in B}
    1\{d_{ij} \le r\}\, e_{ij}

with the edge-correction weight :math:`e_{ij}` of ``none`` (1), ``translate``
(:math:`|W| / |W \cap (W + x_j - x_i)|`) or ``isotropic`` (Ripley: :math:`2\pi`
over the angle of the circle centred at :math:`x_i` through :math:`x_j` that
lies inside :math:`W`), both capped at 100; and ``border``, the reduced-sample
estimator counting only centres :math:`i` farther than :math:`r` from the
boundary. :math:`L(r) = \sqrt{K(r)/\pi}`; under complete spatial randomness
:math:`K(r) = \pi r^2`.

The estimators are those of spatstat's ``Kest`` and ``Kcross`` (spatstat.explore
3.0), including their discretisation, so values agree to rounding. With
``ties="spatstat"`` (the default) the call takes the route spatstat's would for
the same r, window and correction, and counts ties as that route does:

- ``Kest`` with evenly spaced r and the border or no correction: spatstat's C
  routines (``Kborder``, ``Knone``): a pair counts from ``r`` index
  ``ceil(d / dr)``, only pairs with ``d < r_max`` (``d < b_i``) count, and the
  border estimate keeps the centres with ``b_i > r`` (``border="exact"``);
- ``Kest`` with evenly spaced r on a rectangle, isotropic or translate: its
  ``Krect`` routine (the same ``ceil`` rule, coordinates from the corner);
- otherwise (``Kcross``, uneven r, polygons): histograms with cells closed on
  the left (``d < r``, ``d <= r_max`` at the end) and the binned reduced sample
  of ``Kount`` (``border="binned"``).

``ties="closed"`` counts ``d <= r`` exactly at every r, and the border estimate
keeps the centres with ``b_i >= r``. Undefined ranges are spatstat's too (NA
beyond the distances where the translate and isotropic estimators are
defined). One documented difference: for polygonal windows spatstat's
translate correction approximates the window's set covariance on a 128 x 128
pixel mask; here it is computed exactly from the polygons (it equals spatstat's
``edge.Trans(..., exact = TRUE)``), which is slow, so it is limited to
:data:`MAX_EXACT_TRANSLATE_PAIRS` pairs.

Envelopes come from random labelling: the points stay, their types are
permuted (seeded), and one pass of the pair engine (:mod:`geo.stats.pairs`) serves the
observed pattern and every simulation.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import shapely
from shapely.affinity import translate

from geo.errors import ConfigError
from geo.stats.pairs import (
    BORDER_BINNED,
    BORDER_EXACT,
    ISOTROPIC,
    NONE,
    TIES_CEIL,
    TIES_CLOSED,
    TIES_LEFT,
    TRANSLATE_RECT,
    pair_histograms,
    rectangle_edges,
)

CORRECTIONS = ("none", "border", "translate", "isotropic")
TIES = ("spatstat", "closed")
BORDERS = ("binned", "exact")
MAX_EXACT_TRANSLATE_PAIRS = 2_000_000


@dataclass(frozen=True)
class Window:
    """Observation window in metres: a rectangle or (multi)polygon.

    Build with :meth:`rectangle` or :meth:`from_geometry`.
    """

    geometry: shapely.Geometry
    is_rectangle: bool

    @classmethod
    def rectangle(cls, xmin: float, xmax: float, ymin: float, ymax: float) -> Window:
        """Make an axis-aligned rectangle."""
        return cls(shapely.box(xmin, ymin, xmax, ymax), True)

    @classmethod
    def from_geometry(cls, geometry: shapely.Geometry) -> Window:
        """Make a polygonal window (recognised as a rectangle when it is one)."""
        geometry = shapely.make_valid(geometry)
        if geometry.is_empty or geometry.area <= 0:
            raise ConfigError("the window is empty")
        envelope = shapely.envelope(geometry)
        rect = shapely.equals_exact(shapely.normalize(envelope), shapely.normalize(geometry), 0)
        return cls(envelope if rect else geometry, bool(rect))

    @property
    def area(self) -> float:
        """Area in square metres."""
        return float(self.geometry.area)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """``(xmin, xmax, ymin, ymax)``."""
        x0, y0, x1, y1 = self.geometry.bounds
        return x0, x1, y0, y1

    @property
    def diameter(self) -> float:
        """Largest distance between two points of the window (spatstat ``diameter``)."""
        hull = np.asarray(shapely.convex_hull(self.geometry).exterior.coords)
        diff = hull[:, None, :] - hull[None, :, :]
        return float(np.sqrt((diff**2).sum(axis=-1)).max())

    def edges(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Boundary segments ``(x0, y0, x1, y1)``, the interior on their left.

        Outer rings run counter-clockwise and holes clockwise, as the
        isotropic correction (:func:`geo.stats.pairs.circle_inside_angle`) needs.
        """
        oriented = shapely.orient_polygons(self.geometry)
        rings = shapely.get_rings(shapely.get_parts(oriented))
        x0, y0, x1, y1 = [], [], [], []
        for ring in rings:
            xy = np.asarray(ring.coords)
            x0.append(xy[:-1, 0])
            y0.append(xy[:-1, 1])
            x1.append(xy[1:, 0])
            y1.append(xy[1:, 1])
        return tuple(np.concatenate(v) for v in (x0, y0, x1, y1))  # type: ignore[return-value]

    def boundary_distance(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Distance of each point to the window's boundary (spatstat ``bdist.points``).

        Polygons: the candidate edges come from a tree, then the distance is
        computed as spatstat does (nearest endpoint, or the perpendicular in
        the segment's frame), so ties at lattice distances fall the same way.
        """
        x, y = np.asarray(x, float), np.asarray(y, float)
        if self.is_rectangle:
            x0, x1, y0, y1 = self.bounds
            return np.minimum.reduce([x - x0, x1 - x, y - y0, y1 - y])
        x0, y0, x1, y1 = self.edges()
        segments = shapely.linestrings(
            np.stack([np.column_stack([x0, y0]), np.column_stack([x1, y1])], axis=1)
        )
        tree = shapely.STRtree(segments)
        points = shapely.points(x, y)
        _, nearest = tree.query_nearest(points, return_distance=True, all_matches=False)
        # every edge about as near as the nearest one: O(log edges) per point
        pt, seg = tree.query(points, predicate="dwithin", distance=nearest * (1 + 1e-9) + 1e-9)
        dist2 = _segment_distance2(x[pt], y[pt], x0[seg], y0[seg], x1[seg], y1[seg])
        best = np.full(len(x), np.inf)
        np.minimum.at(best, pt, dist2)
        return np.sqrt(best)

    def contains(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Whether each point lies in the window (boundary included)."""
        return shapely.intersects_xy(self.geometry, x, y)


def _segment_distance2(px, py, x0, y0, x1, y1) -> np.ndarray:
    """Squared distance from points to segments, computed as spatstat's ``nndist2segs``."""
    dx, dy = x1 - x0, y1 - y0
    length = np.hypot(dx, dy)
    xd0, yd0 = px - x0, py - y0
    xd1, yd1 = px - x1, py - y1
    out = np.minimum(xd0 * xd0 + yd0 * yd0, xd1 * xd1 + yd1 * yd1)
    with np.errstate(divide="ignore", invalid="ignore"):
        co, si = dx / length, dy / length
        along = xd0 * co + yd0 * si
        across = -xd0 * si + yd0 * co
    beside = (length > np.finfo(float).eps) & (along >= 0) & (along <= length)
    return np.where(beside, np.minimum(out, across * across), out)


@dataclass
class FunctionResult:
    """A summary function with its envelope.

    Attributes
    ----------
    name : str
        ``K``, ``L``, ``Kcross``, ``Lcross``, ``Kd``, ``M``...
    r : ndarray
        Distances (metres).
    observed : ndarray
        Estimate for the data (NaN where undefined).
    theoretical : ndarray
        Value under the null model (``pi r^2`` for K, ``r`` for L...).
    lo, hi : ndarray or None
        Envelope from the simulations.
    envelope : str or None
        ``pointwise`` or ``global``.
    p_value : float or None
        Monte Carlo p-value of the global test, where defined.
    parameters : dict
        Everything needed to reproduce the result.
    simulations : ndarray or None
        Simulated curves, shape (nsim, len(r)).
    """

    name: str
    r: np.ndarray
    observed: np.ndarray
    theoretical: np.ndarray
    lo: np.ndarray | None = None
    hi: np.ndarray | None = None
    envelope: str | None = None
    p_value: float | None = None
    parameters: dict = field(default_factory=dict)
    simulations: np.ndarray | None = None

    def to_frame(self) -> pd.DataFrame:
        """Tidy table: ``r``, ``observed``, ``theoretical``, ``lo``, ``hi``."""
        frame = pd.DataFrame(
            {"r": self.r, "observed": self.observed, "theoretical": self.theoretical}
        )
        if self.lo is not None:
            frame["lo"], frame["hi"] = self.lo, self.hi
        frame.insert(0, "function", self.name)
        return frame


def default_r(rmax: float, n: int = 257) -> np.ndarray:
    """Evenly spaced distances ``0 .. rmax`` (``n`` values)."""
    return np.linspace(0.0, float(rmax), int(n))


def _check(correction: str, r: np.ndarray, ties: str, border: str | None) -> np.ndarray:
    if correction not in CORRECTIONS:
        raise ConfigError(f"unknown correction '{correction}': use {', '.join(CORRECTIONS)}")
    if ties not in TIES:
        raise ConfigError(f"unknown ties '{ties}': use {', '.join(TIES)}")
    if border is not None and border not in BORDERS:
        raise ConfigError(f"unknown border '{border}': use {', '.join(BORDERS)}")
    r = np.asarray(r, dtype=float)
    if r.ndim != 1 or len(r) < 2 or not np.all(np.isfinite(r)) or np.any(np.diff(r) <= 0):
        raise ConfigError("invalid r values: give at least two increasing distances")
    if r[0] < 0 or (ties == "spatstat" and r[0] != 0):
        raise ConfigError("invalid r values: the first must be 0 (spatstat's rule; "
                          "ties='closed' accepts any first value >= 0)")
    return r


def spatstat_even(r: np.ndarray) -> bool:
    """Whether spatstat treats ``r`` as evenly spaced (``as.breakpts`` on ``c(-dr, r)``)."""
    steps = np.diff(np.concatenate([[-(r[1] - r[0])], r]))
    return bool(np.ptp(steps) < 1e-7 * steps.mean())


def _route(cross: bool, even: bool, rectangle: bool, correction: str, ties: str,
           border: str | None) -> tuple[int, str]:
    """Tie rule and border variant of the spatstat routine ``Kest``/``Kcross`` would use."""
    if ties == "closed":
        if border == "binned":
            raise ConfigError("border='binned' is spatstat's binned reduced sample: "
                              "use it with ties='spatstat'")
        return TIES_CLOSED, "exact"
    fast = not cross and even and (
        correction in ("border", "none") or (rectangle and correction != "border"))
    border = border or ("exact" if fast else "binned")
    if border == "exact" and not even:
        raise ConfigError("spatstat's exact border routine needs evenly spaced r: use "
                          "border='binned' or ties='closed'")
    if correction == "border":
        return (TIES_CEIL, "exact") if border == "exact" else (TIES_LEFT, "binned")
    return (TIES_CEIL if fast else TIES_LEFT), border


def _reduced_sample(nco: np.ndarray, ncc: np.ndarray, b_cells: np.ndarray) -> tuple:
    """Reduced-sample numerator and denominator per cell (spatstat ``reduced.sample``).

    ``nco`` and ``ncc`` are (cells, S) histograms of the counted pairs by
    distance and by the centre's boundary distance; ``b_cells`` (cells, S) the
    histogram of the centres' boundary distances plus, in the last row, those
    beyond the largest r.
    """
    cen, upper = b_cells[:-1], b_cells[-1]
    cc = np.cumsum(cen[::-1], axis=0)[::-1] + upper
    shifted = np.vstack([np.zeros((1, ncc.shape[1])), np.cumsum(ncc, axis=0)[:-1]])
    return np.cumsum(nco, axis=0) - shifted, cc


def _whist_cells(v: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Histogram cell of each value as spatstat's ``whist`` on breaks ``c(-dr, r)``.

    Cell ``k`` holds ``r[k-1] <= v < r[k]`` (the last is closed); values
    beyond ``r[-1]`` get ``len(r)``.
    """
    cells = np.searchsorted(r, v, side="right")
    return np.where(v == r[-1], len(r) - 1, cells)


def _censoring_index(b: np.ndarray, r: np.ndarray, ties: int) -> np.ndarray:
    """First index of ``r`` from which a centre at boundary distance ``b`` is left out."""
    if ties == TIES_CEIL:
        dr = r[-1] / (len(r) - 1)
        # spatstat's Kborder: counted for r index l < b / dr (ratio, as in its C code)
        return np.minimum(np.ceil(b / dr) - 1, len(r) - 1).astype(np.int64) + 1
    return np.searchsorted(r, b, side="right")  # kept while r <= b


def _estimate(
    x: np.ndarray,
    y: np.ndarray,
    window: Window,
    r: np.ndarray,
    correction: str,
    label_a: np.ndarray,
    label_b: np.ndarray,
    cross: bool,
    ties: int,
    border: str,
) -> tuple[np.ndarray, float]:
    """K estimates for each labelling (columns) and the distance from which they are NA."""
    area = window.area
    n_a = label_a.sum(axis=0).astype(float)
    n_b = label_b.sum(axis=0).astype(float)
    # Kest divides by n(n-1) ordered pairs; Kcross by nA * nB
    pairs = n_a * n_b if cross else n_a * (n_a - 1)
    rect = window.bounds if window.is_rectangle else None
    limit = np.inf
    if correction == "translate" and not window.is_rectangle:
        main = _translate_polygon(x, y, window, r, label_a, label_b, ties)
    else:
        bnd = window.boundary_distance(x, y) if correction in ("border", "isotropic") else None
        code = {"none": NONE, "translate": TRANSLATE_RECT, "isotropic": ISOTROPIC,
                "border": BORDER_EXACT if border == "exact" else BORDER_BINNED}[correction]
        index = None
        if correction == "border":
            index = (_censoring_index(bnd, r, ties) if border == "exact"
                     else _whist_cells(bnd, r))
        edges = None
        if correction == "isotropic":
            edges = rectangle_edges(*rect) if window.is_rectangle else window.edges()
        if ties == TIES_CEIL and correction in ("translate", "isotropic"):
            # spatstat's Krect works from the rectangle's corner
            x, y = x - rect[0], y - rect[2]
            rect = (0.0, rect[1] - rect[0], 0.0, rect[3] - rect[2])
            edges = rectangle_edges(*rect)
        main, cens = pair_histograms(
            x, y, r, label_a, label_b, correction=code, ties=ties, boundary_distance=bnd,
            boundary_index=index, rect=rect, edges=edges,
        )
    if correction == "border" and border == "exact":
        numerator = np.cumsum(main - cens, axis=0)
        by_index = np.zeros((len(r) + 1, label_a.shape[1]))
        np.add.at(by_index, index, label_a.astype(float))
        denom = np.cumsum(by_index[::-1], axis=0)[::-1][1:]  # centres kept at each r
        lam = (n_b if cross else n_a) / area
        with np.errstate(divide="ignore", invalid="ignore"):
            return numerator / (lam * denom), limit
    if correction == "border":
        cells = np.zeros((len(r) + 1, label_a.shape[1]))
        np.add.at(cells, np.minimum(index, len(r)), label_a.astype(float))
        numerator, denom = _reduced_sample(main, cens, cells)
        lam = (n_b if cross else n_a) / area
        with np.errstate(divide="ignore", invalid="ignore"):
            return numerator / (lam * denom), limit
    with np.errstate(divide="ignore", invalid="ignore"):
        k = np.cumsum(main, axis=0) / (pairs / area)
    if correction in ("translate", "isotropic"):
        if cross or (ties == TIES_CEIL and correction == "translate"):
            limit = window.diameter / 2  # Kcross; Kest's Krect routine
        elif correction == "translate":
            limit = _translate_limit(window)
        else:
            limit = _bounding_radius(window)
        k[r >= limit] = np.nan
    return k, limit


def _bounding_radius(window: Window) -> float:
    """Radius of the smallest circle containing the window (spatstat ``boundingradius``)."""
    circle = shapely.minimum_bounding_radius(window.geometry)
    return float(circle)


def _translate_limit(window: Window) -> float:
    """Distance from which spatstat's generic ``Kest`` reports the translate estimate as NA."""
    x0, x1, y0, y1 = window.bounds
    if window.is_rectangle:
        return float(min(x1 - x0, y1 - y0))  # spatstat rmax.Trans: the short side
    # the shortest shift that leaves W and W + v disjoint, over 360 directions
    # (spatstat computes the same on a pixel mask of the set covariance)
    limit = np.inf
    span = float(np.hypot(x1 - x0, y1 - y0))
    for theta in np.deg2rad(np.arange(0, 180, 0.5)):
        lo, hi = 0.0, span
        for _ in range(40):
            mid = (lo + hi) / 2
            moved = translate(window.geometry, mid * np.cos(theta), mid * np.sin(theta))
            lo, hi = (mid, hi) if window.geometry.intersection(moved).area > 0 else (lo, mid)
        limit = min(limit, lo)
    return float(limit)


def _translate_polygon(
    x: np.ndarray, y: np.ndarray, window: Window, r: np.ndarray, label_a, label_b, ties: int
) -> np.ndarray:
    """Exact translate-corrected histograms for a polygonal window (pairs listed)."""
    from scipy.spatial import cKDTree

    pairs = cKDTree(np.column_stack([x, y])).query_pairs(float(r[-1]) * (1 + 1e-12),
                                                         output_type="ndarray")
    if len(pairs) > MAX_EXACT_TRANSLATE_PAIRS:
        raise ConfigError(
            f"the exact translate correction on a polygonal window needs {len(pairs):,} pair "
            f"overlaps (limit {MAX_EXACT_TRANSLATE_PAIRS:,}); use border or isotropic, a "
            "rectangular window or a smaller maximum distance"
        )
    i, j = pairs[:, 0], pairs[:, 1]
    dx, dy = x[j] - x[i], y[j] - y[i]
    dd = dx * dx + dy * dy
    d = np.sqrt(dd)
    if ties == TIES_CLOSED:
        cells = np.searchsorted(r, d, side="left")
    else:  # spatstat: closepairs keeps d^2 <= rmax^2, whist cells closed on the left
        cells = np.where(dd <= r[-1] * r[-1], _whist_cells(d, r), len(r))
    keep = cells < len(r)
    i, j, dx, dy, cells = i[keep], j[keep], dx[keep], dy[keep], cells[keep]
    shapely.prepare(window.geometry)
    moved = np.array(
        [translate(window.geometry, a, b) for a, b in zip(dx, dy, strict=True)], dtype=object
    )
    overlap = shapely.area(shapely.intersection(window.geometry, moved))
    weight = np.minimum(window.area / overlap, 100.0)
    out = np.zeros((len(r), label_a.shape[1]))
    for s in range(label_a.shape[1]):
        hits = label_a[i, s] * label_b[j, s] + label_a[j, s] * label_b[i, s]
        out[:, s] = np.bincount(cells, weights=weight * hits, minlength=len(r))
    return out


def _labels_for(
    types: np.ndarray, a: str, b: str | None, nsim: int, seed: int, relabel: str = "pair"
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Observed and randomly relabelled type indicators, shape (n, 1 + nsim).

    Cross-type (``b`` given) with ``relabel="pair"``: the pattern is the points
    of type A or B; each simulation permutes their types. With
    ``relabel="all"``: the pattern is every point and each simulation
    permutes all types over all points (one permutation of the sites per
    simulation, as :mod:`geo.stats.coagglomeration` draws them for every pair at
    once). Univariate: the pattern is every point; each simulation draws as
    many A points from all sites.
    """
    types = np.asarray(types, dtype=object)
    rng = np.random.default_rng(seed)
    if b is not None and relabel == "all":
        n = len(types)
        label_a = np.empty((n, 1 + nsim), np.uint8)
        label_b = np.empty((n, 1 + nsim), np.uint8)
        for s in range(1 + nsim):
            t = types if s == 0 else types[rng.permutation(n)]
            label_a[:, s], label_b[:, s] = t == a, t == b
        return np.ones(n, bool), label_a, label_b
    keep = np.ones(len(types), bool) if b is None else (types == a) | (types == b)
    n = int(keep.sum())
    label_a = np.empty((n, 1 + nsim), np.uint8)
    label_a[:, 0] = types[keep] == a
    for s in range(nsim):
        label_a[:, 1 + s] = rng.permutation(label_a[:, 0])
    label_b = label_a if b is None else 1 - label_a
    return keep, label_a, label_b


def kfunction(
    x: np.ndarray,
    y: np.ndarray,
    window: Window,
    *,
    types: np.ndarray | None = None,
    a: str | None = None,
    b: str | None = None,
    r: np.ndarray | None = None,
    rmax: float | None = None,
    correction: str = "border",
    ties: str = "spatstat",
    border: str | None = None,
    nsim: int = 0,
    seed: int = 0,
    envelope: str = "pointwise",
    nrank: int = 1,
    fun: str = "K",
    relabel: str = "pair",
) -> FunctionResult:
    """Ripley's K (or L) function, univariate or cross-type, with an envelope.

    Parameters
    ----------
    x, y : ndarray
        Coordinates in metres, inside ``window``.
    window : Window
        Observation window.
    types : ndarray, optional
        Type of each point. Without it the function is univariate over all points.
    a, b : str, optional
        Types: ``a`` alone gives the univariate function of the A points
        (simulations draw A from all sites); ``a`` and ``b`` the cross-type
        function A -> B (simulations permute A and B labels among their points).
    r : ndarray, optional
        Increasing distances, evenly spaced or not, from 0 (any first value
        >= 0 with ``ties="closed"``); default 257 values up to ``rmax``.
    rmax : float, optional
        Maximum distance when ``r`` is not given.
    correction : {"border", "none", "translate", "isotropic"}
        Edge correction (spatstat's names).
    ties : {"spatstat", "closed"}
        ``"spatstat"``: count pairs at a distance equal to some r as the
        spatstat routine for this call does (see the module docstring);
        ``"closed"``: count ``d <= r`` exactly.
    border : {"binned", "exact"}, optional
        Border correction variant: spatstat's binned reduced sample
        (``Kount``: the generic ``Kest`` and ``Kcross``) or the direct one
        (pairs with ``d <= r`` around centres farther than r from the
        boundary: ``Kest``'s routine for evenly spaced r). Default: the one
        spatstat uses for this call (``"exact"`` with ``ties="closed"``).
    nsim : int
        Number of random-labelling simulations for the envelope (0: none).
    seed : int
        Seed of the simulations.
    envelope : {"pointwise", "global"}
        Pointwise envelope (the ``nrank``-th extremes at each r) or global
        maximum-absolute-deviation envelope (spatstat ``global = TRUE``).
    nrank : int
        Rank of the envelope bounds.
    fun : {"K", "L"}
        Return K or L = sqrt(K / pi).
    relabel : {"pair", "all"}
        Cross-type null: permute the A and B labels among the A and B points
        (``"pair"``), or permute every point's type over all points
        (``"all"``: the null of :mod:`geo.stats.coagglomeration`, which tests many
        pairs with the same permutations).

    Returns
    -------
    FunctionResult

    Examples
    --------
    >>> w = Window.rectangle(0, 10, 0, 10)
    >>> k = kfunction([1, 4, 1], [1, 1, 5], w, r=[0, 3, 5], correction="none",
    ...               ties="closed")
    >>> [round(v, 4) for v in k.observed]
    [0.0, 33.3333, 100.0]
    """
    if fun not in ("K", "L"):
        raise ConfigError(f"unknown function '{fun}': use K or L")
    if r is None:
        if rmax is None:
            raise ConfigError("give r values or rmax")
        r = default_r(rmax)
    r = _check(correction, r, ties, border)
    x, y = np.asarray(x, float), np.asarray(y, float)
    if not window.contains(x, y).all():
        raise ConfigError("some points lie outside the window")
    if types is None:
        types, a = np.full(len(x), "all", dtype=object), "all"
    elif a is None:
        raise ConfigError("give the type a (and b for the cross-type function)")
    if relabel not in ("pair", "all"):
        raise ConfigError(f"unknown relabel '{relabel}': use pair or all")
    keep, label_a, label_b = _labels_for(types, a, b, nsim, seed, relabel)
    if label_a[:, 0].sum() < (1 if b else 2) or (b and label_b[:, 0].sum() < 1):
        raise ConfigError(f"too few points of type {a}{' or ' + b if b else ''}")
    tie_code, border_used = _route(b is not None, spatstat_even(r), window.is_rectangle,
                                   correction, ties, border)
    k, limit = _estimate(x[keep], y[keep], window, r, correction, label_a, label_b,
                         b is not None, tie_code, border_used)
    if fun == "L":
        with np.errstate(invalid="ignore"):
            k = np.sqrt(k / np.pi)
        theo = r.copy()
    else:
        theo = np.pi * r**2
    name = fun + ("cross" if b else "")
    result = FunctionResult(
        name, r, k[:, 0], theo,
        parameters={
            "function": name, "a": a, "b": b, "correction": correction, "ties": ties,
            "border": border_used if correction == "border" else None,
            "tie_rule": {TIES_LEFT: "d < r (spatstat whist)",
                         TIES_CEIL: "ceil(d / dr) (spatstat C routine)",
                         TIES_CLOSED: "d <= r"}[tie_code],
            "undefined_from_m": None if np.isinf(limit) else float(limit),
            "nsim": nsim, "seed": seed, "envelope": envelope if nsim else None,
            "nrank": nrank, "n_a": int(label_a[:, 0].sum()),
            "n_b": int(label_b[:, 0].sum()) if b else None,
            "window_area_m2": window.area,
            "null": (("random labelling of all points" if relabel == "all" else
                      "random labelling of A and B") if b else "A drawn from all sites")
            if nsim else None,
        },
    )
    if nsim:
        add_envelope(result, k[:, 1:].T, envelope, nrank)
    return result


def add_envelope(
    result: FunctionResult, sims: np.ndarray, kind: str = "pointwise", nrank: int = 1
) -> FunctionResult:
    """Attach a pointwise or global envelope (and p-value) from simulated curves.

    Pointwise: at each r the ``nrank``-th smallest and largest simulated
    values (significance ``2 nrank / (nsim + 1)`` at each r separately).
    Global (spatstat ``envelope(..., global = TRUE)``): the band ``mean ±
    D_(nrank)`` with ``D_s = max_r |sim_s(r) - mean(r)|`` over the distances
    where every curve is defined, and the maximum-absolute-deviation test
    p-value ``(1 + #{D_s >= D_obs}) / (nsim + 1)``.

    Parameters
    ----------
    result : FunctionResult
        Observed function (modified in place).
    sims : ndarray, shape (nsim, len(r))
        Simulated curves.
    kind : {"pointwise", "global"}
        Envelope type.
    nrank : int
        Rank of the bounds.

    Returns
    -------
    FunctionResult
    """
    nsim = sims.shape[0]
    if not 1 <= nrank <= nsim // 2 + 1:
        raise ConfigError(f"nrank must be between 1 and {nsim // 2 + 1} for {nsim} simulations")
    result.simulations = sims
    if kind == "pointwise":
        ordered = np.sort(sims, axis=0)
        result.lo, result.hi = ordered[nrank - 1], ordered[nsim - nrank]
    elif kind == "global":
        defined = np.all(np.isfinite(sims), axis=0) & np.isfinite(result.observed)
        centre = np.full(sims.shape[1], np.nan)  # undefined where every curve is (M at r = 0)
        some = np.isfinite(sims).any(axis=0)
        centre[some] = np.nanmean(sims[:, some], axis=0)
        dev = np.abs(sims[:, defined] - centre[defined]).max(axis=1)
        d_obs = np.abs(result.observed[defined] - centre[defined]).max()
        bound = np.sort(dev)[nsim - nrank]
        result.lo, result.hi = centre - bound, centre + bound
        result.p_value = float((1 + np.sum(dev >= d_obs)) / (nsim + 1))
    else:
        raise ConfigError(f"unknown envelope '{kind}': use pointwise or global")
    result.envelope = kind
    return result
