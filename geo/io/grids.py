"""Regular zone grids over the study area: square, hexagonal and H3 cells.

A grid is an ordinary zone layer (``zone_id``, ``name_zh``, ``name_en``,
``source``, ``accuracy``, ``geometry`` in WGS84), so every zonal measure works
on it like on districts. Square and hexagonal cells are built in the analysis
CRS (metres) and keep only the cells that touch the study area; cells are not
clipped, so every cell has the same area.

Grid specifications, as accepted by :func:`parse_grid_spec` and the CLI:
``square:500`` (or ``grid:500``) — squares of 500 m side; ``hex:500`` — regular
hexagons 500 m across the flats (the distance between neighbouring centres);
``h3:8`` — Uber H3 cells at resolution 8.

Examples
--------
>>> from geo.io.zones import load_layer, study_area
>>> cells = make_grid("square:2000", study_area(load_layer("districts")))
>>> cells.crs.to_epsg()
4326
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import shapely

from geo.errors import ConfigError
from geo.io.crs import DEFAULT_ANALYSIS_CRS, WGS84

_SPEC = re.compile(r"^(square|grid|hex|h3):(\d+(?:\.\d+)?)$", re.IGNORECASE)
# More cells than this is almost surely a unit mistake (metres vs km) and would
# exhaust memory; the message says how to proceed.
MAX_CELLS = 5_000_000


@dataclass(frozen=True)
class GridSpec:
    """A grid: ``kind`` (square, hex or h3) and ``size`` (metres, or H3 resolution)."""

    kind: str
    size: float

    def __str__(self) -> str:
        size = int(self.size) if float(self.size).is_integer() else self.size
        return f"{self.kind}:{size}"


def parse_grid_spec(text: str) -> GridSpec | None:
    """Parse ``square:500``, ``grid:500``, ``hex:500`` or ``h3:8``.

    Parameters
    ----------
    text : str
        The specification.

    Returns
    -------
    GridSpec or None
        None when ``text`` is not a grid specification (it may be a layer
        name or a file).

    Raises
    ------
    ConfigError
        If it looks like a grid but the size is out of range.
    """
    match = _SPEC.match(str(text).strip())
    if not match:
        return None
    kind = match.group(1).lower()
    kind = "square" if kind == "grid" else kind
    size = float(match.group(2))
    if kind == "h3":
        if not size.is_integer() or not 0 <= size <= 15:
            raise ConfigError(f"H3 resolution must be an integer 0-15, got '{match.group(2)}'")
    elif size <= 0:
        raise ConfigError(f"grid cell size must be positive metres, got '{match.group(2)}'")
    return GridSpec(kind, size)


def make_grid(
    spec: str | GridSpec,
    area: shapely.Geometry,
    analysis_crs: str = DEFAULT_ANALYSIS_CRS,
) -> gpd.GeoDataFrame:
    """Build the cells of a grid that touch the study area.

    Parameters
    ----------
    spec : str or GridSpec
        Grid specification (see the module docstring).
    area : shapely.Geometry
        Study area in WGS84 degrees.
    analysis_crs : str
        Projected CRS (metres) in which square and hexagonal cells are regular.

    Returns
    -------
    GeoDataFrame
        One row per cell in WGS84 with ``zone_id``, ``name_zh``, ``name_en``,
        ``source``, ``accuracy``, ``area_km2`` and, for square and hex grids,
        the cell's ``row`` and ``col``.

    Raises
    ------
    ConfigError
        If the specification is invalid or the grid would have too many cells.
    """
    if isinstance(spec, str):
        parsed = parse_grid_spec(spec)
        if parsed is None:
            raise ConfigError(
                f"'{spec}' is not a grid specification: use square:METRES, hex:METRES or h3:RES"
            )
        spec = parsed
    if spec.kind == "h3":
        cells = _h3_cells(int(spec.size), area)
    else:
        projected = gpd.GeoSeries([area], crs=WGS84).to_crs(analysis_crs).iloc[0]
        builder = _square_cells if spec.kind == "square" else _hex_cells
        cells = builder(spec.size, projected, analysis_crs).to_crs(WGS84)
    label = {"square": "正方形网格", "hex": "六边形网格", "h3": "H3 网格"}[spec.kind]
    cells.insert(1, "name_zh", [f"{label} {z}" for z in cells["zone_id"]])
    cells.insert(2, "name_en", [f"{spec.kind} cell {z}" for z in cells["zone_id"]])
    cells["source"] = f"generated grid {spec}"
    cells["accuracy"] = "exact (generated)"
    cells.attrs["grid"] = str(spec)
    return cells


def _check_size(n: int, spec: str) -> None:
    if n > MAX_CELLS:
        raise ConfigError(
            f"the grid {spec} would have {n:,} cells over the study area's bounding box "
            f"(limit {MAX_CELLS:,}); use a larger cell size (sizes are in metres)"
        )


def _keep_touching(
    polygons: np.ndarray, rows: np.ndarray, cols: np.ndarray, area: shapely.Geometry, crs: str
) -> gpd.GeoDataFrame:
    """Keep the cells that intersect ``area`` (a prepared query: one pass)."""
    hits = shapely.STRtree(polygons).query(area, predicate="intersects")
    hits.sort()
    width = len(str(max(rows.max(initial=0), cols.max(initial=0))))
    ids = [f"r{r:0{width}d}c{c:0{width}d}" for r, c in zip(rows[hits], cols[hits], strict=True)]
    cells = gpd.GeoDataFrame(
        {"zone_id": ids, "row": rows[hits], "col": cols[hits]},
        geometry=polygons[hits],
        crs=crs,
    )
    cells["area_km2"] = shapely.area(polygons[hits]) / 1e6
    return cells


def _square_cells(size: float, area: shapely.Geometry, crs: str) -> gpd.GeoDataFrame:
    x0, y0, x1, y1 = area.bounds
    # anchor at multiples of the size so the same spec gives the same cells everywhere
    x0, y0 = math.floor(x0 / size) * size, math.floor(y0 / size) * size
    n_cols, n_rows = math.ceil((x1 - x0) / size), math.ceil((y1 - y0) / size)
    _check_size(n_cols * n_rows, f"square:{size:g}")
    rows, cols = np.divmod(np.arange(n_rows * n_cols), n_cols)
    xmin, ymin = x0 + cols * size, y0 + rows * size
    polygons = shapely.box(xmin, ymin, xmin + size, ymin + size)
    return _keep_touching(polygons, rows, cols, area, crs)


def _hex_cells(size: float, area: shapely.Geometry, crs: str) -> gpd.GeoDataFrame:
    """Pointy-top hexagons ``size`` metres across the flats, rows offset by half a cell."""
    radius = size / math.sqrt(3)  # centre-to-vertex
    dy = 1.5 * radius
    x0, y0, x1, y1 = area.bounds
    x0 = math.floor(x0 / size) * size - size
    y0 = math.floor(y0 / dy) * dy - dy
    n_cols = math.ceil((x1 - x0) / size) + 2
    n_rows = math.ceil((y1 - y0) / dy) + 2
    _check_size(n_cols * n_rows, f"hex:{size:g}")
    rows, cols = np.divmod(np.arange(n_rows * n_cols), n_cols)
    cx = x0 + cols * size + (rows % 2) * size / 2
    cy = y0 + rows * dy
    angles = np.deg2rad(30 + 60 * np.arange(6))
    ring = np.stack(
        [cx[:, None] + radius * np.cos(angles), cy[:, None] + radius * np.sin(angles)], axis=-1
    )
    polygons = shapely.polygons(ring)
    return _keep_touching(polygons, rows, cols, area, crs)


def _h3_cells(resolution: int, area: shapely.Geometry) -> gpd.GeoDataFrame:
    """H3 cells whose centre lies in the area, plus those the boundary crosses."""
    import h3

    parts = shapely.get_parts(area)
    ids: set[str] = set()
    for part in parts:
        shape = h3.geo_to_h3shape(part.__geo_interface__)
        ids.update(h3.h3shape_to_cells_experimental(shape, resolution, contain="overlap"))
    if len(ids) > MAX_CELLS:
        _check_size(len(ids), f"h3:{resolution}")
    ordered = sorted(ids)
    polygons = [
        shapely.Polygon([(lng, lat) for lat, lng in h3.cell_to_boundary(cell)])
        for cell in ordered
    ]
    cells = gpd.GeoDataFrame({"zone_id": ordered}, geometry=polygons, crs=WGS84)
    cells["area_km2"] = [h3.cell_area(cell, unit="km^2") for cell in ordered]
    return cells
