"""Kernel density rasters and highest-density contours."""

import numpy as np
import pytest
import rasterio
import shapely

from geo.errors import ConfigError
from geo.stats.density import density_contours, kernel_density, silverman_2d, write_geotiff

AREA = shapely.box(0, 0, 10_000, 10_000)


def test_single_point_peak_and_unit_mass():
    # a Gaussian kernel of bandwidth h peaks at 1 / (2 pi h^2) per m2
    raster, origin, h, cell = kernel_density(np.array([5000.0]), np.array([5000.0]), AREA,
                                             bandwidth=500, cell=50)
    assert np.nanmax(raster) == pytest.approx(1e6 / (2 * np.pi * 500**2), rel=1e-3)
    assert np.nansum(raster) * cell * cell / 1e6 == pytest.approx(1.0, rel=1e-6)
    assert origin[2] == origin[3] == 50


def test_silverman_2d_and_hdr_area_of_a_normal_cloud():
    rng = np.random.default_rng(0)
    x, y = rng.normal(5000, 800, 5000), rng.normal(5000, 800, 5000)
    h = silverman_2d(x, y)
    sigma = np.sqrt((x.var(ddof=1) + y.var(ddof=1)) / 2)
    assert h == pytest.approx(sigma * 5000 ** (-1 / 6))
    raster, origin, h, _ = kernel_density(x, y, AREA)
    contours = density_contours(raster, origin, "EPSG:4549", shares=(0.5,))
    # the smoothed cloud is normal with variance 800^2 + h^2: its 50 % region is a
    # disc of area 2 ln 2 pi s^2
    expected = 2 * np.log(2) * np.pi * (800**2 + h**2) / 1e6
    assert contours["area_km2"].iloc[0] == pytest.approx(expected, rel=0.02)


def test_geotiff_is_georeferenced_and_flagged(tmp_path):
    raster, origin, _, _ = kernel_density(np.array([1000.0, 2000.0]), np.array([1000.0, 3000.0]),
                                          AREA, bandwidth=400)
    path = write_geotiff(raster, origin, "EPSG:4549", tmp_path / "d.tif", synthetic=True)
    with rasterio.open(path) as src:
        assert src.crs.to_epsg() == 4549
        assert src.tags()["synthetic"] == "true"
        data = src.read(1)
        assert np.isnan(src.nodata)
        assert np.nanmax(data) == pytest.approx(np.nanmax(raster), rel=1e-6)


def test_errors():
    with pytest.raises(ConfigError, match="two firms"):
        kernel_density(np.array([1.0]), np.array([1.0]), AREA)
    with pytest.raises(ConfigError, match="positive"):
        kernel_density(np.array([1.0, 2.0]), np.array([1.0, 2.0]), AREA, bandwidth=-1)
