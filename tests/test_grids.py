"""Square, hexagonal and H3 grids over the study area."""

import math

import geopandas as gpd
import numpy as np
import pytest
import shapely

from geo.errors import ConfigError
from geo.io.crs import DEFAULT_ANALYSIS_CRS, WGS84
from geo.io.grids import GridSpec, make_grid, parse_grid_spec
from geo.io.zones import assign_points, load_layer, study_area


@pytest.fixture(scope="module")
def area():
    return study_area(load_layer("districts"))


def test_parse_grid_spec():
    assert parse_grid_spec("square:500") == GridSpec("square", 500.0)
    assert parse_grid_spec("grid:250.5") == GridSpec("square", 250.5)
    assert parse_grid_spec("HEX:1000") == GridSpec("hex", 1000.0)
    assert parse_grid_spec("h3:8") == GridSpec("h3", 8.0)
    assert str(parse_grid_spec("h3:8")) == "h3:8"
    assert parse_grid_spec("districts") is None
    assert parse_grid_spec("my_zones.gpkg") is None
    with pytest.raises(ConfigError, match="H3 resolution"):
        parse_grid_spec("h3:16")
    with pytest.raises(ConfigError, match="positive"):
        parse_grid_spec("square:0")


def test_square_grid_cells_are_regular_and_cover_the_study_area(area):
    cells = make_grid("square:5000", area)
    assert cells.crs.to_epsg() == 4326
    assert cells["zone_id"].is_unique
    projected = cells.to_crs(DEFAULT_ANALYSIS_CRS)
    assert np.allclose(projected.area / 1e6, 25.0, rtol=1e-9)
    assert np.allclose(cells["area_km2"], 25.0)
    union = shapely.union_all(projected.geometry.to_numpy())
    area_m = gpd.GeoSeries([area], crs=WGS84).to_crs(DEFAULT_ANALYSIS_CRS).iloc[0]
    assert area_m.difference(union).area / area_m.area < 1e-9
    # every cell touches the study area
    assert projected.intersects(area_m).all()
    # whole city (16,850 km2) plus ragged edges: between 674 and ~1.5x as many cells
    assert 16_850 / 25 < len(cells) < 1.5 * 16_850 / 25
    assert set(cells.columns) >= {"name_zh", "name_en", "source", "accuracy", "row", "col"}


def test_hex_grid_has_hexagons_of_the_given_width(area):
    cells = make_grid("hex:4000", area)
    projected = cells.to_crs(DEFAULT_ANALYSIS_CRS)
    # regular hexagon with flat-to-flat width d: area = sqrt(3)/2 d^2
    assert np.allclose(projected.area, math.sqrt(3) / 2 * 4000**2, rtol=1e-9)
    assert (shapely.get_num_coordinates(projected.geometry.to_numpy()) == 7).all()
    # neighbouring cells share edges: no gaps inside the tiling
    union = shapely.union_all(projected.geometry.to_numpy())
    area_m = gpd.GeoSeries([area], crs=WGS84).to_crs(DEFAULT_ANALYSIS_CRS).iloc[0]
    assert area_m.difference(union).area / area_m.area < 1e-9


def test_h3_grid(area):
    import h3

    cells = make_grid("h3:6", area)
    assert cells["zone_id"].is_unique
    assert all(h3.get_resolution(c) == 6 for c in cells["zone_id"])
    # resolution 6 hexagons average about 36 km2
    assert 20 < cells["area_km2"].mean() < 50
    # a firm's H3 cell is among the cells, and point-in-polygon agrees with H3
    lat, lng = 30.2741, 120.1551
    cell = h3.latlng_to_cell(lat, lng, 6)
    assert cell in set(cells["zone_id"])
    point = gpd.GeoDataFrame(geometry=[shapely.Point(lng, lat)], crs=WGS84)
    assert assign_points(point, cells).iloc[0] == cell


def test_grid_with_too_many_cells_is_refused(area):
    with pytest.raises(ConfigError, match="metres"):
        make_grid("square:1", area)
