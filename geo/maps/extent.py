"""Map extents: the whole city, its urban core, or a box; one rule for every map.

The web map opens on the core and the static report maps frame it by default
(``--extent core|city|W,S,E,N``), so both must agree on what the core is:
:func:`core_extent`.
"""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np

from geo.errors import ConfigError

# Map extents: named ones, or a W,S,E,N box in WGS84 degrees.
EXTENTS = ("core", "city")
CORE_SHARE = 0.8  # the core holds this share of the enterprises
_CORE_CELLS = 60  # the core is grown on a grid of this many cells across the city
_CORE_MARGIN = 0.05  # fraction of the core's size added on each side
_CORE_MIN = 0.15  # the core is at least this fraction of the city's width and height

Extent = str | tuple[float, float, float, float]


def parse_extent(spec: str | tuple[float, float, float, float] | None,
                 option: str = "--extent") -> Extent:
    """Read a map extent: ``core``, ``city`` or ``W,S,E,N`` in WGS84 degrees.

    Parameters
    ----------
    spec : str or tuple of float or None
        The extent as typed (``"120.0,30.1,120.4,30.4"``) or as four numbers;
        None means ``core``.
    option : str
        Name of the option or setting, for the error message.

    Returns
    -------
    str or tuple of float
        ``"core"``, ``"city"`` or ``(west, south, east, north)``.

    Raises
    ------
    ConfigError
        If ``spec`` is none of these, or the box is empty or out of range.

    Examples
    --------
    >>> parse_extent("City"), parse_extent("120,30.1,120.4,30.4")
    ('city', (120.0, 30.1, 120.4, 30.4))
    """
    if spec is None:
        return "core"
    usage = (f"{option} takes core, city or W,S,E,N in WGS84 degrees "
             f"(e.g. 120.0,30.1,120.4,30.4), not '{spec}'")
    usage_zh = (f"{option} 应为 core、city 或 WGS84 经纬度范围 W,S,E,N"
                f"（如 120.0,30.1,120.4,30.4），而不是“{spec}”")
    if isinstance(spec, str):
        text = spec.strip().lower()
        if text in EXTENTS:
            return text
        parts = text.split(",")
    else:
        parts = list(spec)
    try:
        values = [float(part) for part in parts]
    except (TypeError, ValueError):
        values = []
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise ConfigError(usage, zh=usage_zh)
    west, south, east, north = values
    if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
        raise ConfigError(
            f"{usage}: west must be less than east and south less than north, longitudes "
            "within ±180 and latitudes within ±90",
            zh=f"{usage_zh}：须西 < 东、南 < 北，经度在 ±180 以内，纬度在 ±90 以内",
        )
    return (west, south, east, north)


def core_extent(x: np.ndarray, y: np.ndarray, bounds: np.ndarray | tuple[float, ...],
                share: float = CORE_SHARE, cells: int = _CORE_CELLS) -> np.ndarray:
    """Return the box around the densest area that holds ``share`` of the points.

    The rule: count the points on a grid of ``cells`` x ``cells`` over
    ``bounds``; start from the cell with the most points in its 3 x 3
    neighbourhood (so one crowded cell does not win on its own), and grow the
    box one row or column at a time, on the side whose new strip has the most
    points per cell, until it holds ``share`` of the points. The box gets a 5 %
    margin on each side and is at least 15 % of ``bounds`` across. Remote
    outliers and sparse rural counties therefore do not widen it; a second
    dense centre does when the first alone holds less than ``share``.

    Parameters
    ----------
    x, y : ndarray
        Point coordinates (projected, metres).
    bounds : array-like
        ``(xmin, ymin, xmax, ymax)`` of the whole area (the city).
    share : float
        Share of the points the box holds.
    cells : int
        Grid cells across ``bounds``.

    Returns
    -------
    ndarray
        ``(xmin, ymin, xmax, ymax)``, within ``bounds``; ``bounds`` itself
        when there are no points in it.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = np.r_[rng.normal(50, 2, 900), rng.uniform(0, 100, 100)]
    >>> y = np.r_[rng.normal(50, 2, 900), rng.uniform(0, 100, 100)]
    >>> box = core_extent(x, y, (0, 0, 100, 100))
    >>> bool(box[2] - box[0] < 30)
    True
    """
    x0, y0, x1, y1 = (float(v) for v in bounds)
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    inside = np.isfinite(x) & np.isfinite(y) & (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)
    if not inside.any() or x1 <= x0 or y1 <= y0:
        return np.array([x0, y0, x1, y1])
    counts = np.histogram2d(x[inside], y[inside], bins=cells, range=[[x0, x1], [y0, y1]])[0]
    padded = np.pad(counts, 1)
    smooth = sum(padded[1 + di:cells + 1 + di, 1 + dj:cells + 1 + dj]
                 for di in (-1, 0, 1) for dj in (-1, 0, 1))
    i, j = np.unravel_index(int(np.argmax(smooth)), smooth.shape)
    prefix = np.zeros((cells + 1, cells + 1))
    prefix[1:, 1:] = counts.cumsum(axis=0).cumsum(axis=1)

    def held(i0: int, i1: int, j0: int, j1: int) -> float:
        return prefix[i1 + 1, j1 + 1] - prefix[i0, j1 + 1] - prefix[i1 + 1, j0] + prefix[i0, j0]

    box = (i, i, j, j)
    target = share * counts.sum() - 1e-9
    while held(*box) < target:
        i0, i1, j0, j1 = box
        grown = [b for b in ((i0 - 1, i1, j0, j1), (i0, i1 + 1, j0, j1),
                             (i0, i1, j0 - 1, j1), (i0, i1, j0, j1 + 1))
                 if b[0] >= 0 and b[1] < cells and b[2] >= 0 and b[3] < cells]
        # points per cell of the strip each side would add
        gains = [(held(*b) - held(*box)) / ((b[1] - b[0] + 1) * (b[3] - b[2] + 1)
                                             - (i1 - i0 + 1) * (j1 - j0 + 1)) for b in grown]
        if max(gains) > 0:
            box = grown[int(np.argmax(gains))]
        else:  # empty strips all round: grow every side at once
            box = (max(i0 - 1, 0), min(i1 + 1, cells - 1), max(j0 - 1, 0), min(j1 + 1, cells - 1))
    i0, i1, j0, j1 = box
    width, depth = (x1 - x0) / cells, (y1 - y0) / cells
    core = np.array([x0 + i0 * width, y0 + j0 * depth, x0 + (i1 + 1) * width,
                     y0 + (j1 + 1) * depth])
    size = core[2:] - core[:2]
    size = np.maximum(size * (1 + 2 * _CORE_MARGIN), _CORE_MIN * np.array([x1 - x0, y1 - y0]))
    centre = (core[:2] + core[2:]) / 2
    low = np.clip(centre - size / 2, [x0, y0], [x1, y1])
    high = np.clip(centre + size / 2, [x0, y0], [x1, y1])
    return np.array([*low, *high])


def layers_core(layers: dict[str, gpd.GeoDataFrame], city: np.ndarray | None = None
                ) -> np.ndarray:
    """Return the urban core of a map's layers (:func:`core_extent` of its firms).

    Parameters
    ----------
    layers : dict of str to GeoDataFrame
        The map's layers, all in one CRS. The core is found from ``firms``,
        else from the ``ps_clusters`` areas; without either it is the city.
    city : array-like, optional
        ``(xmin, ymin, xmax, ymax)`` of the city; by default the districts'
        bounds, else those of every layer.

    Returns
    -------
    ndarray
        ``(xmin, ymin, xmax, ymax)`` in the layers' CRS.
    """
    if city is None:
        city = layers_city(layers)
    for name in ("firms", "ps_clusters"):  # the clusters when there are no firms
        frame = layers.get(name)
        if frame is not None and len(frame):
            points = frame.geometry.representative_point()
            return core_extent(points.x.to_numpy(), points.y.to_numpy(), city)
    return np.asarray(city, dtype=float)


def layers_city(layers: dict[str, gpd.GeoDataFrame]) -> np.ndarray:
    """Return the city's box: the districts' bounds, else those of every layer."""
    if "districts" in layers:
        return np.asarray(layers["districts"].total_bounds, dtype=float)
    boxes = np.array([gdf.total_bounds for gdf in layers.values() if len(gdf)])
    return np.array([*np.nanmin(boxes[:, :2], axis=0), *np.nanmax(boxes[:, 2:], axis=0)])
