r"""Kernel density surfaces of firms as GeoTIFF rasters, with highest-density contours.

The density at a cell centre is the Gaussian kernel estimate

.. math::
    \hat f(s) = \frac{1}{2\pi h^2} \sum_i w_i \exp\left(-\frac{|s - x_i|^2}{2h^2}\right)

expressed in firms (or employees) per km2. Firms are binned on the raster
grid and convolved with the Gaussian (``scipy.ndimage.gaussian_filter``,
truncated at 4 bandwidths): the binning moves a firm by at most half a cell, so
keep the cell well below the bandwidth (the default is h/5). The bandwidth is
fixed in metres or Silverman's rule for two dimensions,
:math:`h = \sigma\, n^{-1/6}` with :math:`\sigma` the root mean of the
coordinate variances (Silverman 1986, eq. 4.14 with d = 2).

Contours enclose the densest cells holding a given share of the estimated
mass ("highest density regions"): the 50 % contour is the smallest area with
half of the firms' kernel mass.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.errors import ConfigError
from geo.outputs import atomic_path


def silverman_2d(x: np.ndarray, y: np.ndarray) -> float:
    """Silverman's rule of thumb for a 2-D Gaussian kernel (metres)."""
    n = len(x)
    if n < 2:
        raise ConfigError("at least two firms are needed for a density surface")
    sigma = np.sqrt((np.var(x, ddof=1) + np.var(y, ddof=1)) / 2)
    return float(sigma * n ** (-1 / 6))


def kernel_density(
    x: np.ndarray,
    y: np.ndarray,
    area: shapely.Geometry,
    *,
    bandwidth: float | None = None,
    cell: float | None = None,
    weights: np.ndarray | None = None,
) -> tuple[np.ndarray, tuple[float, float, float, float], float, float]:
    """Density raster of points over ``area`` (all in metres).

    Parameters
    ----------
    x, y : ndarray
        Coordinates.
    area : shapely.Geometry
        Study area in the same CRS; cells outside are NaN.
    bandwidth : float, optional
        Gaussian bandwidth in metres (default: Silverman's rule).
    cell : float, optional
        Cell size in metres (default: bandwidth / 5, at least 50 m).
    weights : ndarray, optional
        Weight per point (employment).

    Returns
    -------
    tuple
        ``(raster, (xmin, ymax, cell, cell), bandwidth, cell)``: density per
        km2 with row 0 at the top, the raster's origin and cell size.
    """
    from scipy.ndimage import gaussian_filter

    h = silverman_2d(x, y) if bandwidth is None else float(bandwidth)
    if h <= 0:
        raise ConfigError("the bandwidth must be positive")
    size = max(h / 5, 50.0) if cell is None else float(cell)
    pad = 4 * h
    x0, y0, x1, y1 = area.bounds
    x0, y0, x1, y1 = x0 - pad, y0 - pad, x1 + pad, y1 + pad
    nx, ny = int(np.ceil((x1 - x0) / size)), int(np.ceil((y1 - y0) / size))
    if nx * ny > 60_000_000:
        raise ConfigError(f"the raster would have {nx * ny:,} cells; use a larger --cell")
    w = np.ones(len(x)) if weights is None else np.nan_to_num(np.asarray(weights, float))
    counts, _, _ = np.histogram2d(
        y, x, bins=[ny, nx], range=[[y0, y0 + ny * size], [x0, x0 + nx * size]], weights=w
    )
    # counts per cell, smoothed: mass per cell -> density per km2
    smooth = gaussian_filter(counts, sigma=h / size, mode="constant", truncate=4.0)
    density = smooth / (size * size) * 1e6
    density = density[::-1]  # row 0 at the top (north), as GeoTIFF expects
    centres_x = x0 + (np.arange(nx) + 0.5) * size
    centres_y = y0 + ny * size - (np.arange(ny) + 0.5) * size
    gx, gy = np.meshgrid(centres_x, centres_y)
    inside = shapely.contains_xy(area, gx, gy)
    density = np.where(inside, density, np.nan)
    return density, (x0, y0 + ny * size, size, size), h, size


def write_geotiff(
    raster: np.ndarray, origin: tuple[float, float, float, float], crs: str, path: str | Path,
    *, description: str = "", synthetic: bool = False,
) -> Path:
    """Write a float raster as a compressed GeoTIFF (NaN as nodata), atomically."""
    import rasterio
    from rasterio.transform import from_origin

    path = Path(path)
    x0, y_top, dx, dy = origin
    profile = {
        "driver": "GTiff", "height": raster.shape[0], "width": raster.shape[1], "count": 1,
        "dtype": "float32", "crs": crs, "transform": from_origin(x0, y_top, dx, dy),
        "nodata": np.nan, "compress": "deflate",
    }
    with atomic_path(path) as tmp, rasterio.open(tmp, "w", **profile) as dst:
        dst.write(raster.astype(np.float32), 1)
        dst.update_tags(description=description, units="per km2",
                        synthetic=str(synthetic).lower(), generator="geo")
    return path


def density_contours(
    raster: np.ndarray,
    origin: tuple[float, float, float, float],
    crs: str,
    shares: tuple[float, ...] = (0.5, 0.75, 0.9),
) -> gpd.GeoDataFrame:
    """Highest-density-region polygons holding each share of the kernel mass.

    Parameters
    ----------
    raster : ndarray
        Density raster (NaN outside the area).
    origin : tuple
        ``(xmin, ymax, cell, cell)`` from :func:`kernel_density`.
    crs : str
        CRS of the raster.
    shares : tuple of float
        Mass shares (0-1) of the contours.

    Returns
    -------
    GeoDataFrame
        One (multi)polygon per share: ``share``, ``threshold`` (density per
        km2 at the contour), ``area_km2``.
    """
    from rasterio import features
    from rasterio.transform import from_origin

    values = np.nan_to_num(raster, nan=0.0)
    flat = np.sort(values.ravel())[::-1]
    cumulative = np.cumsum(flat) / flat.sum()
    transform = from_origin(*origin)
    rows = []
    for share in shares:
        if not 0 < share < 1:
            raise ConfigError(f"contour shares must be between 0 and 1, got {share}")
        threshold = float(flat[min(np.searchsorted(cumulative, share), len(flat) - 1)])
        mask = (values >= threshold).astype(np.uint8)
        polygons = [shapely.geometry.shape(geom) for geom, value in
                    features.shapes(mask, mask=mask.astype(bool), transform=transform)
                    if value == 1]
        geometry = shapely.union_all(polygons)
        rows.append({"share": share, "threshold_per_km2": threshold,
                     "area_km2": geometry.area / 1e6, "geometry": geometry})
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=crs)


def density_layers(
    firms: gpd.GeoDataFrame,
    groups: dict[str, np.ndarray],
    area_wgs84: shapely.Geometry,
    folder: str | Path,
    *,
    analysis_crs: str,
    bandwidth: float = 1000.0,
    cell: float = 200.0,
    synthetic: bool = False,
) -> tuple[list[Path], gpd.GeoDataFrame]:
    """Write ``density_<group>.tif`` for each group and return their contours.

    Parameters
    ----------
    firms : GeoDataFrame
        Firms (any CRS).
    groups : dict of str to ndarray of bool
        Group name to the firms it holds.
    area_wgs84 : shapely.Geometry
        Study area (WGS84).
    folder : str or Path
        Where the rasters go.
    analysis_crs : str
        Projected CRS of the rasters.
    bandwidth, cell : float
        Kernel bandwidth and cell size, metres.
    synthetic : bool
        Flag written into the rasters' tags.

    Returns
    -------
    tuple
        Raster paths, and the 50/75/90 % contours of every group (WGS84,
        columns ``group``, ``share``, ``threshold_per_km2``, ``area_km2``).
    """
    projected = firms.to_crs(analysis_crs)
    x, y = projected.geometry.x.to_numpy(), projected.geometry.y.to_numpy()
    area = gpd.GeoSeries([area_wgs84], crs="EPSG:4326").to_crs(analysis_crs).iloc[0]
    paths, contours = [], []
    for name, mask in groups.items():
        if mask.sum() < 2:
            continue
        raster, origin, _, _ = kernel_density(x[mask], y[mask], area, bandwidth=bandwidth,
                                              cell=cell)
        paths.append(write_geotiff(
            raster, origin, analysis_crs, Path(folder) / f"density_{name}.tif",
            description=f"kernel density of {name} firms, bandwidth {bandwidth:g} m",
            synthetic=synthetic,
        ))
        contours.append(density_contours(raster, origin, analysis_crs).assign(group=name))
    frame = gpd.GeoDataFrame(
        pd.concat(contours, ignore_index=True), geometry="geometry", crs=analysis_crs
    ) if contours else gpd.GeoDataFrame(geometry=[], crs=analysis_crs)
    return paths, frame.to_crs("EPSG:4326")
