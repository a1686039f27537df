import numpy as np
import prcoords
import pyproj
import pytest
import shapely

from geo.errors import ConfigError, CoordinateError
from geo.io import crs

# Hangzhou-wide sample of WGS84 points (the study area with a margin).
RNG = np.random.default_rng(20261122)
LON = RNG.uniform(118.3, 120.8, 500)
LAT = RNG.uniform(29.1, 30.6, 500)


def metres(lon1, lat1, lon2, lat2):
    geod = pyproj.Geod(ellps="WGS84")
    return geod.inv(lon1, lat1, lon2, lat2)[2]


def test_wgs84_to_gcj02_matches_independent_implementation():
    glon, glat = crs.wgs84_to_gcj02(LON, LAT)
    for i in range(0, 500, 25):
        ref = prcoords.wgs_gcj((LAT[i], LON[i]))
        assert glon[i] == pytest.approx(ref.lon, abs=1e-9)
        assert glat[i] == pytest.approx(ref.lat, abs=1e-9)


def test_gcj02_to_bd09_matches_independent_implementation():
    blon, blat = crs.gcj02_to_bd09(LON, LAT)
    for i in range(0, 500, 25):
        ref = prcoords.gcj_bd((LAT[i], LON[i]))
        assert blon[i] == pytest.approx(ref.lon, abs=1e-9)
        assert blat[i] == pytest.approx(ref.lat, abs=1e-9)


def test_known_offset_in_hangzhou_is_a_few_hundred_metres():
    # West Lake (WGS84 120.1485, 30.2425): GCJ-02 shifts Hangzhou by roughly 500 m
    # to the south-east; hand check of the published formula's magnitude.
    glon, glat = crs.wgs84_to_gcj02(120.1485, 30.2425)
    assert 300 < metres(120.1485, 30.2425, glon, glat) < 700
    assert glon > 120.1485 and glat < 30.2425


@pytest.mark.parametrize(
    ("forward", "inverse"),
    [
        (crs.wgs84_to_gcj02, crs.gcj02_to_wgs84),
        (crs.wgs84_to_bd09, crs.bd09_to_wgs84),
        (crs.gcj02_to_bd09, crs.bd09_to_gcj02),
    ],
)
def test_inverse_round_trip_error_below_half_a_metre(forward, inverse):
    back_lon, back_lat = inverse(*forward(LON, LAT))
    assert np.max(metres(LON, LAT, back_lon, back_lat)) < 0.5
    # the iteration actually converges far below the requirement
    assert np.max(np.abs(back_lon - LON)) < 1e-8


def test_points_outside_china_untouched():
    lon = np.array([2.35, -74.0, 151.2])
    lat = np.array([48.85, 40.7, -33.9])
    for func in (crs.wgs84_to_gcj02, crs.gcj02_to_wgs84, crs.wgs84_to_bd09, crs.bd09_to_wgs84):
        out_lon, out_lat = func(lon, lat)
        np.testing.assert_array_equal(out_lon, lon)
        np.testing.assert_array_equal(out_lat, lat)


def test_scalar_and_nan_inputs():
    lon, lat = crs.gcj02_to_wgs84(np.array([120.2, np.nan]), np.array([30.2, np.nan]))
    assert np.isfinite(lon[0]) and np.isnan(lon[1])


def test_polygon_vertices_converted():
    poly = shapely.Polygon([(120.1, 30.2), (120.2, 30.2), (120.2, 30.3), (120.1, 30.3)])
    (out,) = crs.transform_geometries([poly], crs.gcj02_to_wgs84)
    ref_lon, ref_lat = crs.gcj02_to_wgs84(*np.asarray(poly.exterior.coords).T)
    np.testing.assert_allclose(np.asarray(out.exterior.coords), np.column_stack([ref_lon, ref_lat]))
    assert out.is_valid
    assert np.asarray(poly.exterior.coords)[0, 0] == 120.1  # input not modified


@pytest.mark.parametrize(
    ("spec", "name"),
    [
        ("wgs84", "wgs84"),
        ("GCJ-02", "gcj02"),
        ("bd09", "bd09"),
        ("cgcs2000", "cgcs2000"),
        ("4549", "EPSG:4549"),
        ("EPSG:32650", "EPSG:32650"),
        (4326, "wgs84"),
    ],
)
def test_parse_coord_system(spec, name):
    assert crs.parse_coord_system(spec).name == name


def test_parse_coord_system_rejects_nonsense():
    with pytest.raises(ConfigError, match="unknown coordinate system"):
        crs.parse_coord_system("mercator-ish")


def test_projected_round_trip_default_analysis_crs():
    system = crs.parse_coord_system(crs.DEFAULT_ANALYSIS_CRS)
    x, y = crs.from_wgs84(LON, LAT, system)
    assert np.all((x > 300_000) & (x < 700_000))  # GK 3-degree, no zone prefix
    lon, lat = crs.to_wgs84(x, y, system)
    np.testing.assert_allclose(lon, LON, atol=1e-9)
    np.testing.assert_allclose(lat, LAT, atol=1e-9)


def test_cgcs2000_equals_wgs84_at_metre_level():
    lon, lat = crs.to_wgs84(LON, LAT, crs.parse_coord_system("cgcs2000"))
    assert np.max(metres(LON, LAT, lon, lat)) < 1.0


BBOX = (118.3, 29.1, 120.8, 30.6)


def test_diagnose_positions():
    x = np.array([120.1, 30.2, 500000.0, 116.4, np.nan])
    y = np.array([30.2, 120.1, 3340000.0, 39.9, 30.0])
    got = crs.diagnose_positions(x, y, BBOX)
    assert list(got) == [
        crs.POSITION_OK,
        crs.POSITION_SWAPPED,
        crs.POSITION_PROJECTED,
        crs.POSITION_OUTSIDE,
        crs.POSITION_MISSING,
    ]


def test_check_plausible_names_the_cause():
    system = crs.parse_coord_system("wgs84")
    swapped = crs.diagnose_positions(LAT, LON, BBOX)
    with pytest.raises(CoordinateError, match="swapped") as info:
        crs.check_plausible(swapped, file="f.csv", system=system, columns=("lon", "lat"))
    assert "f.csv" in str(info.value)
    metres_ = crs.diagnose_positions(LON * 4000, LAT * 110000, BBOX)
    with pytest.raises(CoordinateError, match="projected metres"):
        crs.check_plausible(metres_, file="f.csv", system=system, columns=("x", "y"))
    # a few bad rows are left to per-row rejection
    mostly_ok = crs.diagnose_positions(np.r_[LON, 0.0], np.r_[LAT, 0.0], BBOX)
    crs.check_plausible(mostly_ok, file="f.csv", system=system, columns=("lon", "lat"))


def test_centres_of_circles_and_crescents_in_wgs84_and_gcj02():
    import geopandas as gpd

    centre = shapely.Point(500_000.0, 3_350_000.0)  # Hangzhou in EPSG:4549
    circle = centre.buffer(3000, quad_segs=32)  # a proposed zone
    # a crescent: its centroid lies in the hollow, outside the area
    crescent = centre.buffer(5000).difference(shapely.Point(500_300.0, 3_350_000.0).buffer(4800))
    frame = gpd.GeoDataFrame({"name": ["zone", "cluster"]}, geometry=[circle, crescent],
                             crs=crs.DEFAULT_ANALYSIS_CRS, index=[7, 9]).to_crs(crs.WGS84)
    table = crs.attribute_table(frame, crs.DEFAULT_ANALYSIS_CRS)
    assert list(table.columns) == ["name", "centre_lon", "centre_lat", "centre_lon_gcj02",
                                   "centre_lat_gcj02"]
    assert list(table.index) == [7, 9]
    to_wgs = pyproj.Transformer.from_crs(crs.DEFAULT_ANALYSIS_CRS, crs.WGS84, always_xy=True)
    lon, lat = to_wgs.transform(centre.x, centre.y)
    assert metres(lon, lat, table.loc[7, "centre_lon"], table.loc[7, "centre_lat"]) < 0.2
    ref = prcoords.wgs_gcj((table.loc[7, "centre_lat"], table.loc[7, "centre_lon"]))
    assert table.loc[7, "centre_lon_gcj02"] == pytest.approx(ref.lon, abs=2e-6)
    assert table.loc[7, "centre_lat_gcj02"] == pytest.approx(ref.lat, abs=2e-6)
    inside = shapely.Point(table.loc[9, "centre_lon"], table.loc[9, "centre_lat"])
    assert frame.geometry.iloc[1].contains(inside)
    assert not frame.geometry.iloc[1].contains(frame.to_crs(crs.DEFAULT_ANALYSIS_CRS)
                                               .centroid.to_crs(crs.WGS84).iloc[1])
