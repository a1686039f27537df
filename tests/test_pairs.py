"""The pair engine's geometry (issue 18, item 1) and its guessed search of distance cells.

Property tests compare :func:`geo.stats.pairs.circle_inside_angle` with an independent
numeric integration (the share of points on the circle that shapely finds inside
the window) on random rectangles and polygons, with circles through vertices,
tangent to edges, centred on the boundary, and coordinates on a 0.001 lattice.
"""

import math

import numpy as np
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geo.stats.pairs import circle_inside_angle, rectangle_edges, search_from
from geo.stats.ripley import Window

SAMPLES = 1 << 16  # directions of the numeric integration
SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


def numeric_inside_angle(polygon: shapely.Geometry, cx: float, cy: float, r: float) -> float:
    """Midpoint rule over SAMPLES directions of the indicator 'the circle's point is inside'."""
    theta = (np.arange(SAMPLES) + 0.5) * (2 * np.pi / SAMPLES)
    xs, ys = cx + r * np.cos(theta), cy + r * np.sin(theta)
    return float(shapely.intersects_xy(polygon, xs, ys).mean() * 2 * np.pi)


def tolerance(n_edges: int) -> float:
    # each switch between inside and outside costs the midpoint rule at most half a step
    return (2 * n_edges + 2) * np.pi / SAMPLES


def check(polygon: shapely.Geometry, cx: float, cy: float, r: float):
    edges = Window.from_geometry(polygon).edges() if not _is_box(polygon) else \
        rectangle_edges(*_box(polygon))
    ours = circle_inside_angle(cx, cy, r, *edges)
    want = numeric_inside_angle(polygon, cx, cy, r)
    assert abs(ours - want) <= tolerance(len(edges[0])), (ours, want)


def _is_box(polygon):
    return shapely.equals(polygon, shapely.envelope(polygon))


def _box(polygon):
    x0, y0, x1, y1 = polygon.bounds
    return x0, x1, y0, y1


coordinate = st.floats(-1000, 1000, allow_nan=False)
side = st.floats(0.01, 1000, allow_nan=False)
unit = st.floats(0, 1)


def _snap(value: float, lattice: bool) -> float:
    return round(value, 3) if lattice else value


def _radius(kind: str, cx, cy, vertices, scale, s):
    """A radius: random, through a vertex, or tangent to an edge's line."""
    if kind == "random":
        return s * 1.5 * scale
    k = int(s * len(vertices)) % len(vertices)
    (x0, y0), (x1, y1) = vertices[k], vertices[(k + 1) % len(vertices)]
    if kind == "vertex":
        return math.hypot(x0 - cx, y0 - cy)
    # perpendicular distance to the edge's line
    return abs((x1 - x0) * (y0 - cy) - (x0 - cx) * (y1 - y0)) / math.hypot(x1 - x0, y1 - y0)


@SETTINGS
@given(x0=coordinate, y0=coordinate, w=side, h=side, u=unit, v=unit, s=unit,
       kind=st.sampled_from(["random", "vertex", "tangent"]), lattice=st.booleans())
def test_rectangles_against_numeric_integration(x0, y0, w, h, u, v, s, kind, lattice):
    x0, y0 = _snap(x0, lattice), _snap(y0, lattice)
    x1, y1 = _snap(x0 + w, lattice), _snap(y0 + h, lattice)
    if x1 <= x0 or y1 <= y0:
        return
    cx, cy = _snap(x0 + u * (x1 - x0), lattice), _snap(y0 + v * (y1 - y0), lattice)
    vertices = [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]
    r = _radius(kind, cx, cy, vertices, math.hypot(x1 - x0, y1 - y0), s)
    if r <= 1e-9 * (x1 - x0 + y1 - y0):
        return
    check(shapely.box(x0, y0, x1, y1), cx, cy, r)


@st.composite
def star_polygons(draw):
    """A simple polygon star-shaped around its first point, sometimes clockwise or holed."""
    k = draw(st.integers(3, 12))
    angles = np.sort(np.array(draw(st.lists(st.floats(0, 2 * np.pi, exclude_max=True),
                                            min_size=k, max_size=k, unique=True))))
    if np.min(np.diff(np.concatenate([angles, [angles[0] + 2 * np.pi]]))) < 1e-3:
        angles = np.linspace(0, 2 * np.pi, k, endpoint=False)
    radii = np.array(draw(st.lists(st.floats(0.2, 1.0), min_size=k, max_size=k)))
    scale = draw(st.floats(0.01, 1000))
    ox, oy = draw(coordinate), draw(coordinate)
    lattice = draw(st.booleans())
    pts = [(_snap(ox + scale * rr * math.cos(a), lattice), _snap(oy + scale * rr * math.sin(a),
                                                                 lattice))
           for a, rr in zip(angles, radii, strict=True)]
    if draw(st.booleans()):
        pts = pts[::-1]  # clockwise input: Window.edges must orient it
    polygon = shapely.Polygon(pts)
    if draw(st.booleans()):
        # a small square hole between the star's centre and its first vertex
        hx, hy = ox + 0.5 * (pts[0][0] - ox), oy + 0.5 * (pts[0][1] - oy)
        e = 0.05 * scale
        hole = shapely.box(hx - e, hy - e, hx + e, hy + e)
        if polygon.contains(hole):
            polygon = polygon.difference(hole)
    return polygon, (ox, oy), scale


@SETTINGS
@given(shape=star_polygons(), where=st.sampled_from(["inside", "vertex", "edge"]), s=unit,
       kind=st.sampled_from(["random", "vertex", "tangent"]))
def test_polygons_against_numeric_integration(shape, where, s, kind):
    polygon, (ox, oy), scale = shape
    if not polygon.is_valid or polygon.area <= 0:
        return
    vertices = list(polygon.exterior.coords)[:-1]
    if where == "inside":
        cx, cy = ox + 0.01 * scale * (s - 0.5), oy
        if not polygon.contains(shapely.Point(cx, cy)):
            return
    elif where == "vertex":
        cx, cy = vertices[int(s * len(vertices)) % len(vertices)]
    else:  # the middle of an edge (on it up to rounding)
        k = int(s * len(vertices)) % len(vertices)
        (ax, ay), (bx, by) = vertices[k], vertices[(k + 1) % len(vertices)]
        cx, cy = (ax + bx) / 2, (ay + by) / 2
        if not polygon.intersects(shapely.Point(cx, cy)):
            return
    r = _radius(kind, cx, cy, vertices, scale, (s * 7.3) % 1)
    if r <= 1e-6 * scale:
        return
    check(polygon, cx, cy, r)


def test_tangent_and_vertex_circles_hand_computed():
    edges = rectangle_edges(0.0, 4.0, 0.0, 4.0)
    # tangent to the bottom edge from (2, 1): the whole circle is inside
    assert circle_inside_angle(2.0, 1.0, 1.0, *edges) == pytest.approx(2 * np.pi)
    # through the corner (0, 0) from (1, 1): the left and bottom edges cut off quarter arcs
    # each (acos(1 / sqrt 2) twice), so half the circle is inside
    assert circle_inside_angle(1.0, 1.0, math.sqrt(2), *edges) == pytest.approx(np.pi)
    # through the corners (0, 0) and (0, 2) of a 4 x 2 window: three quarter arcs are cut
    assert circle_inside_angle(1.0, 1.0, math.sqrt(2), *rectangle_edges(0.0, 4.0, 0.0, 2.0)) \
        == pytest.approx(np.pi / 2)
    # centred on the left edge: half; at the corner: a quarter; circles larger than the
    # window from the corner: nothing
    assert circle_inside_angle(0.0, 1.0, 0.5, *edges) == pytest.approx(np.pi)
    assert circle_inside_angle(0.0, 0.0, 1.0, *edges) == pytest.approx(np.pi / 2)
    assert circle_inside_angle(0.0, 0.0, 10.0, *edges) == pytest.approx(0, abs=1e-12)
    # the reflex corner of an L: three quarters of a small circle are inside
    lshape = Window.from_geometry(shapely.Polygon([(0, 0), (2, 0), (2, 1), (1, 1), (1, 2),
                                                   (0, 2)]))
    assert circle_inside_angle(1.0, 1.0, 0.5, *lshape.edges()) == pytest.approx(1.5 * np.pi)


def test_circles_through_a_corner_on_the_lattice_have_weight_two():
    """The 0.001-lattice case of issue 18: circles from lattice points through corner (0, 1).

    When only the left and top edges cut the circle, the arcs they cut off are
    2 acos(x / d) and 2 acos((1 - y) / d) with x^2 + (1 - y)^2 = d^2: they sum to pi,
    so half the circle is inside (spatstat's closed form gives weight 2). With the
    crossings counted on half-open edges, one circle in eight came out wrong.
    """
    edges = rectangle_edges(0.0, 1.0, 0.0, 1.0)
    rng = np.random.default_rng(18)
    checked = 0
    for cx, cy in np.round(rng.random((3000, 2)), 3):
        d = math.sqrt(cx * cx + (1 - cy) * (1 - cy))
        if d == 0 or min(1 - cx, cy) <= d:
            continue  # the right or bottom edge cuts the circle too
        assert 2 * np.pi / circle_inside_angle(cx, cy, d, *edges) == pytest.approx(2, rel=1e-12)
        checked += 1
    assert checked > 300


def test_search_from_is_searchsorted_for_any_guess():
    """The guessed search the kernels use equals numpy's on uneven arrays with ties."""
    rng = np.random.default_rng(12)
    for _ in range(200):
        n = int(rng.integers(1, 40))
        a = np.sort(np.round(rng.uniform(0, 10, n), int(rng.integers(0, 3))))  # ties
        values = np.concatenate([a, rng.uniform(-1, 11, 5), [a[0], a[-1], -np.inf, np.inf]])
        for v in values:
            for right in (True, False):
                want = np.searchsorted(a, v, side="right" if right else "left")
                for guess in (-3, 0, want - 1, want, want + 1, n, n + 3, int(rng.integers(0, n))):
                    assert search_from(a, v, guess, right) == want, (a, v, guess, right)
