"""The bundled zone layers (layers/) and the loader geo.io.zones."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import shapely

from geo.errors import GeoError, InputError
from geo.io.crs import DEFAULT_ANALYSIS_CRS, WGS84, transform_geometries, wgs84_to_gcj02
from geo.io.zones import (
    REQUIRED_COLUMNS,
    assign_points,
    layer_names,
    load_catalog,
    load_layer,
    study_area,
)
from geo.resources import bundled_dir

PUBLISHED_CITY_KM2 = 16_850.0
DISTRICTS = {
    "330102": ("上城区", "Shangcheng"),
    "330105": ("拱墅区", "Gongshu"),
    "330106": ("西湖区", "Xihu"),
    "330108": ("滨江区", "Binjiang"),
    "330109": ("萧山区", "Xiaoshan"),
    "330110": ("余杭区", "Yuhang"),
    "330111": ("富阳区", "Fuyang"),
    "330112": ("临安区", "Lin'an"),
    "330113": ("临平区", "Linping"),
    "330114": ("钱塘区", "Qiantang"),
    "330122": ("桐庐县", "Tonglu"),
    "330127": ("淳安县", "Chun'an"),
    "330182": ("建德市", "Jiande"),
}
FOCUS_FIELDS = {"digital", "tech", "finance", "logistics", "business", "design"}


@pytest.fixture(scope="module")
def layers() -> dict[str, gpd.GeoDataFrame]:
    return {name: load_layer(name) for name in layer_names()}


@pytest.fixture(scope="module")
def districts_m(layers) -> gpd.GeoDataFrame:
    return layers["districts"].to_crs(DEFAULT_ANALYSIS_CRS)


# --- the bundled layers -------------------------------------------------------------


def test_catalog_and_files_match():
    folder = bundled_dir("layers")
    catalog = load_catalog()
    files = {path.name for path in folder.glob("*.geojson")}
    assert files == {entry["file"] for entry in catalog.values()}
    for name, entry in catalog.items():
        for key in ("title_zh", "title_en", "geometry", "crs", "source", "licence",
                    "accuracy", "built_by", "date"):
            assert entry.get(key), f"{name}: catalog lacks {key}"
        assert entry["crs"] == "EPSG:4326"
        assert entry["built_by"] == "layers/build/build_layers.py"


def test_every_layer_has_required_columns_crs_and_valid_geometries(layers):
    catalog = load_catalog()
    for name, frame in layers.items():
        assert frame.crs == WGS84, name
        assert set(REQUIRED_COLUMNS) <= set(frame.columns), name
        assert set(catalog[name]["columns"]) <= set(frame.columns), name
        assert frame["zone_id"].is_unique, name
        assert frame.geometry.is_valid.all(), name
        assert not frame.geometry.is_empty.any(), name
        for column in REQUIRED_COLUMNS:
            assert frame[column].astype(str).str.len().gt(0).all(), (name, column)
        assert frame.attrs["repaired"] == []


def test_coordinates_are_rounded_to_six_decimals(layers):
    for name, frame in layers.items():
        xy = shapely.get_coordinates(frame.geometry.to_numpy())
        assert np.allclose(xy, np.round(xy, 6), rtol=0, atol=1e-9), name


def test_thirteen_districts_with_adcodes_and_names(layers):
    districts = layers["districts"].set_index("zone_id")
    assert set(districts.index) == set(DISTRICTS)
    assert (districts.index == districts["adcode"]).all()
    for adcode, (zh, en) in DISTRICTS.items():
        assert (districts.loc[adcode, "name_zh"], districts.loc[adcode, "name_en"]) == (zh, en)


def test_district_union_area_close_to_published(districts_m):
    union_km2 = shapely.union_all(districts_m.geometry.to_numpy()).area / 1e6
    assert abs(union_km2 / PUBLISHED_CITY_KM2 - 1) < 0.02, union_km2
    assert np.allclose(districts_m.area / 1e6, districts_m["area_km2"], atol=0.01)


def test_districts_neither_overlap_nor_leave_gaps(districts_m):
    geoms = districts_m.geometry.to_numpy()
    tree = shapely.STRtree(geoms)
    overlap = sum(
        shapely.intersection(geoms[i], geoms[j]).area
        for i, j in tree.query(geoms, predicate="intersects").T
        if i < j
    )
    assert overlap / 1e6 < 0.1
    union = shapely.union_all(geoms)
    holes = sum(
        shapely.Polygon(ring).area for part in shapely.get_parts(union) for ring in part.interiors
    )
    assert holes / 1e6 < 0.1
    assert len(shapely.get_parts(union)) == 1  # the city is one piece


def test_study_area_is_union_of_districts(layers):
    area = study_area()
    assert area.is_valid and area.geom_type in ("Polygon", "MultiPolygon")
    assert area.contains(shapely.Point(120.21, 30.25))  # Qianjiang New City
    assert not area.contains(shapely.Point(121.47, 31.23))  # Shanghai
    assert area.equals(study_area(layers["districts"]))


def test_towns_lie_in_their_district_and_platform(layers):
    towns = layers["town_centres"]
    polygons = layers["towns"].set_index("zone_id")
    districts = layers["districts"].set_index("zone_id")
    platforms = layers["platforms"].set_index("zone_id")
    assert len(towns) >= 20
    assert set(towns["zone_id"]) == set(polygons.index)
    assert set(towns["focus_field"]) <= FOCUS_FIELDS
    for town in towns.itertuples():
        where = districts.loc[town.district]
        assert where.geometry.contains(town.geometry), town.zone_id
        assert town.district_name_zh == where.name_zh
        assert polygons.loc[town.zone_id].geometry.contains(town.geometry), town.zone_id
        assert where.geometry.buffer(1e-6).covers(polygons.loc[town.zone_id].geometry)
        if town.platform_id:
            assert platforms.loc[town.platform_id].geometry.contains(town.geometry), town.zone_id


def test_platforms_intersect_the_districts_they_list(layers):
    platforms = layers["platforms"]
    districts = layers["districts"].set_index("zone_id")
    assert len(platforms) == 5
    assert (platforms["accuracy"] == "approximate").all()
    for platform in platforms.itertuples():
        listed = platform.districts.split(",")
        assert set(listed) <= set(districts.index)
        for adcode in listed:
            overlap = platform.geometry.intersection(districts.loc[adcode].geometry)
            assert overlap.area > 0, (platform.zone_id, adcode)
        outside = platform.geometry.difference(shapely.union_all(districts.loc[listed].geometry))
        assert outside.area < 1e-6, platform.zone_id  # clipped to its districts


def test_platform_areas_match_published_where_fitted(layers):
    platforms = layers["platforms"].set_index("zone_id")
    area = platforms.to_crs(DEFAULT_ANALYSIS_CRS).area / 1e6
    for zone_id in ("chengxi_corridor", "airport_zone"):
        assert area[zone_id] == pytest.approx(platforms.loc[zone_id, "published_area_km2"],
                                              rel=0.01)
    assert area["qiantang_new_area"] == pytest.approx(531.7, rel=0.03)


# --- user files --------------------------------------------------------------------


def square(lon: float, lat: float, half: float = 0.01) -> shapely.Polygon:
    return shapely.box(lon - half, lat - half, lon + half, lat + half)


@pytest.fixture
def parks() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"park_code": ["P1", "P2"], "name": ["甲园", "乙园"]},
        geometry=[square(120.20, 30.25), square(120.30, 30.30)],
        crs=WGS84,
    )


def writers():
    yield "gpkg", lambda frame, path: frame.to_file(path, driver="GPKG")
    yield "shp", lambda frame, path: frame.to_file(path, driver="ESRI Shapefile")
    yield "geojson", lambda frame, path: frame.to_file(path, driver="GeoJSON")
    yield "parquet", lambda frame, path: frame.to_parquet(path)
    if "KML" in pyogrio.list_drivers(write=True):
        yield "kml", lambda frame, path: frame.to_file(path, driver="KML")


@pytest.mark.parametrize("suffix, write", list(writers()), ids=[s for s, _ in writers()])
def test_user_files_in_every_format(tmp_path, parks, suffix, write):
    path = tmp_path / f"parks.{suffix}"
    write(parks, path)
    loaded = load_layer(path, id_column="park_code")
    assert loaded.crs == WGS84
    assert set(REQUIRED_COLUMNS) <= set(loaded.columns)
    assert loaded["source"].eq(path.name).all()
    assert loaded["accuracy"].eq("user supplied").all()
    assert loaded["zone_id"].tolist() == ["P1", "P2"]
    assert loaded["name_zh"].tolist() == ["甲园", "乙园"]
    assert np.allclose(loaded.to_crs(DEFAULT_ANALYSIS_CRS).area,
                       parks.to_crs(DEFAULT_ANALYSIS_CRS).area, rtol=1e-6)


def test_projected_user_file_is_reprojected(tmp_path, parks):
    path = tmp_path / "parks_4549.gpkg"
    parks.rename(columns={"name": "名称"}).to_crs(DEFAULT_ANALYSIS_CRS).to_file(path)
    loaded = load_layer(path)
    assert loaded.crs == WGS84
    assert loaded["zone_id"].tolist() == ["1", "2"]  # "park_code" is no obvious id: row numbers
    assert loaded["name_en"].tolist() == ["甲园", "乙园"]  # "名称" is an obvious name
    assert np.allclose(shapely.get_coordinates(loaded.geometry.to_numpy()),
                       shapely.get_coordinates(parks.geometry.to_numpy()), atol=1e-8)


def test_gcj02_file_without_crs(tmp_path):
    truth = square(120.20, 30.25)
    (gcj_square,) = transform_geometries([truth], wgs84_to_gcj02)
    path = tmp_path / "amap.shp"
    with pytest.warns(UserWarning, match="crs"):
        gpd.GeoDataFrame({"id": [7]}, geometry=[gcj_square], crs=None).to_file(path)
    assert pyogrio.read_info(path)["crs"] is None
    loaded = load_layer(path, coords="gcj02")
    assert loaded["zone_id"].tolist() == ["7"]  # "id" is an obvious id column
    back = shapely.normalize(loaded.geometry.iloc[0])
    assert shapely.equals_exact(back, shapely.normalize(truth), tolerance=1e-7)
    # read as WGS84 it would be about 500 m off
    naive = load_layer(path).geometry.iloc[0].exterior.coords[0]
    assert shapely.Point(naive).distance(shapely.Point(truth.exterior.coords[0])) > 0.003


def test_duplicate_ids_are_an_error(tmp_path, parks):
    path = tmp_path / "dup.geojson"
    parks.assign(park_code=["P1", "P1"]).to_file(path)
    with pytest.raises(InputError, match="P1") as info:
        load_layer(path, id_column="park_code")
    assert "dup.geojson" in str(info.value) and "unique" in str(info.value)


def test_empty_geometry_is_an_error_naming_rows(tmp_path, parks):
    path = tmp_path / "empty.gpkg"
    frame = parks.copy()
    frame.loc[1, "geometry"] = None
    frame.to_file(path)
    with pytest.raises(InputError, match="rows 2") as info:
        load_layer(path)
    assert "empty.gpkg" in str(info.value)


def test_bow_tie_is_repaired(tmp_path):
    bow_tie = shapely.Polygon(
        [(120.20, 30.20), (120.22, 30.22), (120.22, 30.20), (120.20, 30.22), (120.20, 30.20)]
    )
    frame = gpd.GeoDataFrame(
        {"zone_id": ["ok", "bow"], "name": ["好", "蝴蝶结"]},
        geometry=[square(120.3, 30.3), bow_tie],
        crs=WGS84,
    )
    path = tmp_path / "bow.geojson"
    frame.to_file(path)
    loaded = load_layer(path)
    assert loaded.geometry.is_valid.all()
    assert loaded.attrs["repaired"] == ["bow"]
    assert loaded.geometry.iloc[1].area == pytest.approx(2e-4)  # both triangles kept


def test_unknown_name_lists_available_layers():
    with pytest.raises(GeoError) as info:
        load_layer("no_such_layer")
    message = str(info.value)
    for name in ("districts", "platforms", "towns"):
        assert name in message


def test_unreadable_file_is_an_input_error(tmp_path):
    path = tmp_path / "broken.gpkg"
    path.write_bytes(b"not a geopackage at all")
    with pytest.raises(InputError, match="cannot read"):
        load_layer(path)


def test_missing_named_column_is_an_input_error(tmp_path, parks):
    path = tmp_path / "parks.geojson"
    parks.to_file(path)
    with pytest.raises(InputError, match="park_code"):
        load_layer(path, id_column="nope")


# --- assigning points ----------------------------------------------------------------


def test_assign_points_prefers_the_smallest_zone(layers):
    towns = layers["towns"].to_crs(DEFAULT_ANALYSIS_CRS)
    centres = layers["town_centres"].set_index("zone_id")
    points = gpd.GeoDataFrame(
        geometry=[centres.loc["dream_town"].geometry, shapely.Point(121.47, 31.23)], crs=WGS84
    ).to_crs(DEFAULT_ANALYSIS_CRS)
    assigned = assign_points(points, towns)
    assert assigned.iloc[0] == "dream_town"  # not the larger Future Sci-Tech City around it
    assert assigned.isna().iloc[1]


def test_assign_points_hand_made_squares():
    zones = gpd.GeoDataFrame(
        {"zone_id": ["a", "b", "small"]},
        geometry=[shapely.box(0, 0, 10, 10), shapely.box(10, 0, 20, 10), shapely.box(1, 1, 2, 2)],
        crs=DEFAULT_ANALYSIS_CRS,
    )
    points = gpd.GeoDataFrame(
        geometry=shapely.points([(5, 5), (15, 5), (1.5, 1.5), (10, 5), (30, 30)]),
        crs=DEFAULT_ANALYSIS_CRS,
        index=[10, 11, 12, 13, 14],
    )
    assigned = assign_points(points, zones)
    assert list(assigned.index) == [10, 11, 12, 13, 14]
    # the shared edge x=10 belongs to both squares: ties go to the first-listed smallest
    assert assigned.iloc[:3].tolist() == ["a", "b", "small"]
    assert assigned.iloc[3] in {"a", "b"}
    assert assigned.isna().iloc[4]
    empty = assign_points(points.iloc[:0], zones)
    assert empty.empty



def test_town_polygons_have_the_planned_area(layers):
    towns = layers["towns"]
    area = towns.to_crs(DEFAULT_ANALYSIS_CRS).area.to_numpy() / 1e6
    planned = towns["published_area_km2"].fillna(3.0).to_numpy()
    assert np.allclose(area, planned, rtol=0.01)


def test_projected_file_without_crs_needs_coords(tmp_path, parks):
    path = tmp_path / "metres.shp"
    with pytest.warns(UserWarning, match="crs"):
        parks.to_crs(DEFAULT_ANALYSIS_CRS).set_crs(None, allow_override=True).to_file(path)
    with pytest.raises(InputError, match="coords"):
        load_layer(path)
    loaded = load_layer(path, coords="4549")
    assert loaded.crs == WGS84
    assert np.allclose(loaded.total_bounds, parks.total_bounds, atol=1e-7)


def test_multi_layer_file_needs_a_layer_name(tmp_path, parks):
    path = tmp_path / "two.gpkg"
    parks.to_file(path, layer="parks")
    parks.iloc[:1].to_file(path, layer="other")
    with pytest.raises(InputError, match="parks, other|other, parks"):
        load_layer(path)
    assert len(load_layer(path, layer="other")) == 1
