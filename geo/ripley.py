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
3.0), including their discretisation (histogram cells closed on the left, the
reduced-sample bookkeeping of ``Kount``, the weight cap, and NA beyond the
distances where the translate and isotropic estimators are defined), so values
agree to rounding. One documented difference: for polygonal windows spatstat's
translate correction approximates the window's set covariance on a 128 x 128
pixel mask; here it is computed exactly from the polygons (it equals spatstat's
``edge.Trans(..., exact = TRUE)``), which is slow, so it is limited to
:data:`MAX_EXACT_TRANSLATE_PAIRS` pairs.

Envelopes come from random labelling: the points stay, their types are
permuted (seeded), and one pass of the pair engine (:mod:`geo.pairs`) serves the
observed pattern and every simulation.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import shapely
from shapely.affinity import translate

from geo.errors import ConfigError
from geo.pairs import (
    BORDER,
    BORDER_DIRECT,
    ISOTROPIC,
    NONE,
    TRANSLATE_RECT,
    breaks_from_r,
    pair_histograms,
)

CORRECTIONS = ("none", "border", "translate", "isotropic")
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
        """Boundary segments as arrays ``(x0, y0, x1, y1)``."""
        rings = shapely.get_rings(shapely.get_parts(self.geometry))
        x0, y0, x1, y1 = [], [], [], []
        for ring in rings:
            xy = np.asarray(ring.coords)
            x0.append(xy[:-1, 0])
            y0.append(xy[:-1, 1])
            x1.append(xy[1:, 0])
            y1.append(xy[1:, 1])
        return tuple(np.concatenate(v) for v in (x0, y0, x1, y1))  # type: ignore[return-value]

    def boundary_distance(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Distance of each point to the window's boundary."""
        if self.is_rectangle:
            x0, x1, y0, y1 = self.bounds
            return np.minimum.reduce([x - x0, x1 - x, y - y0, y1 - y])
        # nearest boundary segment through a tree: O(log edges) per point, not O(edges)
        x0, y0, x1, y1 = self.edges()
        segments = shapely.linestrings(
            np.stack([np.column_stack([x0, y0]), np.column_stack([x1, y1])], axis=1)
        )
        points = shapely.points(np.asarray(x, float), np.asarray(y, float))
        _, dist = shapely.STRtree(segments).query_nearest(
            points, return_distance=True, all_matches=False
        )
        return dist

    def contains(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Whether each point lies in the window (boundary included)."""
        return shapely.intersects_xy(self.geometry, x, y)


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


def _check(correction: str, r: np.ndarray) -> np.ndarray:
    if correction not in CORRECTIONS:
        raise ConfigError(f"unknown correction '{correction}': use {', '.join(CORRECTIONS)}")
    r = np.asarray(r, dtype=float)
    try:
        breaks_from_r(r)
    except ValueError as exc:
        raise ConfigError(f"invalid r values: {exc}") from exc
    if not np.allclose(np.diff(r), r[1] - r[0], rtol=1e-9, atol=0):
        raise ConfigError("r values must be evenly spaced")
    return r


def _reduced_sample(nco: np.ndarray, ncc: np.ndarray, b_cells: np.ndarray) -> tuple:
    """Reduced-sample numerator and denominator per cell (spatstat ``reduced.sample``).

    ``nco`` and ``ncc`` are (cells, S) histograms of the counted pairs by
    distance and by the centre's boundary distance; ``b_cells`` (cells, S) the
    histogram of the centres' boundary distances plus, in the last row, those
    beyond the largest break.
    """
    cen, upper = b_cells[:-1], b_cells[-1]
    cc = np.cumsum(cen[::-1], axis=0)[::-1] + upper
    shifted = np.vstack([np.zeros((1, ncc.shape[1])), np.cumsum(ncc, axis=0)[:-1]])
    return np.cumsum(nco, axis=0) - shifted, cc


def _boundary_cells(b: np.ndarray, labels: np.ndarray, breaks: np.ndarray) -> np.ndarray:
    """Histogram of boundary distances of the labelled centres per labelling (+ overflow row)."""
    cells = np.searchsorted(breaks, b, side="right") - 1
    cells = np.where(b == breaks[-1], len(breaks) - 2, cells)
    over = b > breaks[-1]
    cells = np.where(over, len(breaks) - 1, cells)
    out = np.zeros((len(breaks), labels.shape[1]))
    for s in range(labels.shape[1]):
        out[:, s] = np.bincount(cells, weights=labels[:, s], minlength=len(breaks))
    return out


def _estimate(
    x: np.ndarray,
    y: np.ndarray,
    window: Window,
    r: np.ndarray,
    correction: str,
    label_a: np.ndarray,
    label_b: np.ndarray,
    cross: bool,
) -> np.ndarray:
    """K estimates for each labelling (columns), spatstat's estimators."""
    breaks = breaks_from_r(r)
    area = window.area
    n_a = label_a.sum(axis=0).astype(float)
    n_b = label_b.sum(axis=0).astype(float)
    # Kest divides by n(n-1) ordered pairs; Kcross by nA * nB
    pairs = n_a * n_b if cross else n_a * (n_a - 1)
    if correction == "translate" and not window.is_rectangle:
        main = _translate_polygon(x, y, window, r, label_a, label_b)
    else:
        # spatstat's Kest takes its fast path (plain reduced sample) for border;
        # Kcross goes through Kount's discretised bookkeeping
        code = {"none": NONE, "border": BORDER if cross else BORDER_DIRECT,
                "translate": TRANSLATE_RECT, "isotropic": ISOTROPIC}[correction]
        bnd = window.boundary_distance(x, y) if correction in ("border", "isotropic") else None
        main, cens = pair_histograms(
            x, y, r, label_a, label_b, correction=code, boundary_distance=bnd,
            rect=window.bounds if window.is_rectangle else None,
            edges=None if window.is_rectangle else window.edges(),
        )
    if correction == "border" and not cross:
        numerator = np.cumsum(main - cens, axis=0)
        denom = np.array([label_a[bnd >= rr].sum(axis=0) for rr in r], dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            return numerator / ((n_a / area) * denom)
    if correction == "border":
        numerator, denom = _reduced_sample(main, cens, _boundary_cells(bnd, label_a, breaks))
        lam_b = (n_b if cross else n_a) / area
        with np.errstate(divide="ignore", invalid="ignore"):
            return numerator / (lam_b * denom)
    with np.errstate(divide="ignore", invalid="ignore"):
        k = np.cumsum(main, axis=0) / (pairs / area)
    if correction in ("translate", "isotropic"):
        limit = _translate_limit(window, cross) if correction == "translate" else (
            window.diameter / 2 if cross else _bounding_radius(window)
        )
        k[r >= limit] = np.nan
    return k


def _bounding_radius(window: Window) -> float:
    """Radius of the smallest circle containing the window (spatstat ``boundingradius``)."""
    circle = shapely.minimum_bounding_radius(window.geometry)
    return float(circle)


def _translate_limit(window: Window, cross: bool) -> float:
    """Distance from which spatstat reports the translate estimate as NA."""
    if cross:
        return window.diameter / 2
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
    x: np.ndarray, y: np.ndarray, window: Window, r: np.ndarray, label_a, label_b
) -> np.ndarray:
    """Exact translate-corrected histograms for a polygonal window (pairs listed)."""
    from scipy.spatial import cKDTree

    pairs = cKDTree(np.column_stack([x, y])).query_pairs(float(r[-1]), output_type="ndarray")
    if len(pairs) > MAX_EXACT_TRANSLATE_PAIRS:
        raise ConfigError(
            f"the exact translate correction on a polygonal window needs {len(pairs):,} pair "
            f"overlaps (limit {MAX_EXACT_TRANSLATE_PAIRS:,}); use border or isotropic, a "
            "rectangular window or a smaller maximum distance"
        )
    i, j = pairs[:, 0], pairs[:, 1]
    dx, dy = x[j] - x[i], y[j] - y[i]
    d = np.hypot(dx, dy)
    shapely.prepare(window.geometry)
    moved = np.array(
        [translate(window.geometry, a, b) for a, b in zip(dx, dy, strict=True)], dtype=object
    )
    overlap = shapely.area(shapely.intersection(window.geometry, moved))
    weight = np.minimum(window.area / overlap, 100.0)
    breaks = breaks_from_r(r)
    cells = np.searchsorted(breaks, d, side="right") - 1
    cells = np.where(d >= breaks[-1], len(breaks) - 2, cells)
    out = np.zeros((len(breaks) - 1, label_a.shape[1]))
    for s in range(label_a.shape[1]):
        hits = label_a[i, s] * label_b[j, s] + label_a[j, s] * label_b[i, s]
        out[:, s] = np.bincount(cells, weights=weight * hits, minlength=len(breaks) - 1)
    return out


def _labels_for(
    types: np.ndarray, a: str, b: str | None, nsim: int, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Observed and randomly relabelled type indicators, shape (n, 1 + nsim).

    Cross-type (``b`` given): the pattern is the points of type A or B; each
    simulation permutes their types. Univariate: the pattern is every point
    (all sites); each simulation draws as many A points from all sites.
    """
    types = np.asarray(types, dtype=object)
    rng = np.random.default_rng(seed)
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
    nsim: int = 0,
    seed: int = 0,
    envelope: str = "pointwise",
    nrank: int = 1,
    fun: str = "K",
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
        Evenly spaced distances from 0; default 257 values up to ``rmax``.
    rmax : float, optional
        Maximum distance when ``r`` is not given.
    correction : {"border", "none", "translate", "isotropic"}
        Edge correction (spatstat's names).
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

    Returns
    -------
    FunctionResult
    """
    if fun not in ("K", "L"):
        raise ConfigError(f"unknown function '{fun}': use K or L")
    if r is None:
        if rmax is None:
            raise ConfigError("give r values or rmax")
        r = default_r(rmax)
    r = _check(correction, r)
    x, y = np.asarray(x, float), np.asarray(y, float)
    if not window.contains(x, y).all():
        raise ConfigError("some points lie outside the window")
    if types is None:
        types, a = np.full(len(x), "all", dtype=object), "all"
    elif a is None:
        raise ConfigError("give the type a (and b for the cross-type function)")
    keep, label_a, label_b = _labels_for(types, a, b, nsim, seed)
    if label_a[:, 0].sum() < (1 if b else 2) or (b and label_b[:, 0].sum() < 1):
        raise ConfigError(f"too few points of type {a}{' or ' + b if b else ''}")
    k = _estimate(x[keep], y[keep], window, r, correction, label_a, label_b, cross=b is not None)
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
            "function": name, "a": a, "b": b, "correction": correction, "nsim": nsim,
            "seed": seed, "envelope": envelope if nsim else None, "nrank": nrank,
            "n_a": int(label_a[:, 0].sum()),
            "n_b": int(label_b[:, 0].sum()) if b else None,
            "window_area_m2": window.area,
            "null": ("random labelling of A and B" if b else "A drawn from all sites")
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
        centre = np.nanmean(sims, axis=0) if nsim else result.theoretical
        defined = np.all(np.isfinite(sims), axis=0) & np.isfinite(result.observed)
        dev = np.abs(sims[:, defined] - centre[defined]).max(axis=1)
        d_obs = np.abs(result.observed[defined] - centre[defined]).max()
        bound = np.sort(dev)[nsim - nrank]
        result.lo, result.hi = centre - bound, centre + bound
        result.p_value = float((1 + np.sum(dev >= d_obs)) / (nsim + 1))
    else:
        raise ConfigError(f"unknown envelope '{kind}': use pointwise or global")
    result.envelope = kind
    return result
