import hashlib
import time

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pytest
from shapely.geometry import box

from geo.errors import ConfigError, CoordinateError, InputError, OutputError
from geo.io import crs
from geo.io.firms import FirmTable, normalise_firms, read_firms

# A simple study area around Hangzhou; the real district layer is not needed here.
AREA = box(118.3, 29.1, 120.8, 30.6)

OUTPUT_COLUMNS = [
    "firm_id", "name", "industry_code", "section", "division", "group", "field", "high_tech",
    "employees", "revenue", "registered_capital", "capital_currency", "year", "founded", "closed",
    "reported_district", "address", "lon", "lat", "source_row", "flag_zh", "flag_en",
    "suspect_position", "snapped_m", "synthetic", "geometry",
]

# The shared fixture: eight firms with Chinese names, leading-zero ids and codes.
FIRMS = pd.DataFrame(
    {
        "firm_id": ["000101", "000102", "000103", "000104", "000105", "000106", "000107", "000108"],
        "name": [
            "杭州海康数字科技有限公司", "浙江西湖生物医药股份有限公司", "钱塘精密仪器厂",
            "滨江云服务有限公司", "余杭物流仓储有限公司", "上城金融服务有限公司",
            "萧山纺织有限公司", "临安农业服务合作社",
        ],
        "industry_code": ["C3911", "2710", "c4011", "I6510", "G5920", "J6620", "C1751", "0511"],
        "lon": [120.2101, 120.1302, 120.5003, 120.1904, 120.0305, 120.1706, 120.2707, 119.7208],
        "lat": [30.1901, 30.2702, 30.3103, 30.2104, 30.4205, 30.2506, 30.1807, 30.2308],
        "employees": [120, 85, 40, 300, 60, 25, 150, 8],
        "revenue": [5600.5, 2300.0, 800.25, 12000.0, 900.0, 15000.0, 3100.0, 50.0],
        "year": [2012, 2005, 1998, 2015, 2018, 2010, 1995, 2020],
    }
)
EXPECTED = {
    "industry_code": ["C3911", "C2710", "C4011", "I6510", "G5920", "J6620", "C1751", "A0511"],
    "group": [
        "manufacturing", "manufacturing", "manufacturing", "producer_services",
        "producer_services", "producer_services", "manufacturing", "other",
    ],
    "field": [None, None, None, "digital", "logistics", "finance", None, None],
    "high_tech": [True, True, True, False, False, False, False, False],
}
COMPARE = [
    "firm_id", "name", "industry_code", "section", "division", "group", "field", "high_tech",
    "employees", "revenue", "year", "source_row", "synthetic",
]


def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def as_text(frame):
    return frame.astype(str)


def write_csv(frame, path, encoding="utf-8", sep=","):
    path.write_bytes(as_text(frame).to_csv(index=False, sep=sep).encode(encoding))
    return path


def write_xlsx(frame, path, sheet="企业"):
    book = openpyxl.Workbook()
    first = book.active
    first.title = "说明"
    first.append(["本表为测试数据"])
    sheet_ = book.create_sheet(sheet)
    sheet_.append(list(frame.columns))
    for row in frame.itertuples(index=False):
        # ids and codes as text cells (leading zeros), numbers as numbers
        sheet_.append([v.item() if isinstance(v, np.generic) else v for v in row])
    book.save(path)
    return path


def as_layer(frame, epsg=4326):
    points = gpd.GeoDataFrame(
        frame.drop(columns=["lon", "lat"]),
        geometry=gpd.points_from_xy(frame["lon"], frame["lat"]),
        crs="EPSG:4326",
    )
    return points.to_crs(epsg=epsg) if epsg != 4326 else points


@pytest.fixture(scope="module")
def reference():
    return normalise_firms(FIRMS, source="reference", study_area=AREA)


def check_same(table, reference):
    firms = table.firms
    assert list(firms.columns) == OUTPUT_COLUMNS
    assert table.summary["n_rejected"] == 0, table.rejects.to_dict("records")
    pd.testing.assert_frame_equal(
        pd.DataFrame(firms[COMPARE]).reset_index(drop=True),
        pd.DataFrame(reference.firms[COMPARE]).reset_index(drop=True),
        check_dtype=False,
    )
    np.testing.assert_allclose(firms["lon"], reference.firms["lon"], atol=1e-7)
    np.testing.assert_allclose(firms["lat"], reference.firms["lat"], atol=1e-7)
    assert firms.crs.to_epsg() == 4326


# --------------------------------------------------------------------------- contract


def test_normalised_contract(reference):
    firms = reference.firms
    assert isinstance(reference, FirmTable)
    assert isinstance(firms, gpd.GeoDataFrame)
    assert list(firms.columns) == OUTPUT_COLUMNS
    assert firms.crs.to_epsg() == 4326
    assert list(firms["firm_id"]) == list(FIRMS["firm_id"])
    assert list(firms["name"]) == list(FIRMS["name"])
    for column, values in EXPECTED.items():
        assert list(firms[column]) == values, column
    assert firms["high_tech"].dtype == bool
    assert firms["employees"].dtype == np.float64
    assert firms["revenue"].dtype == np.float64
    assert str(firms["year"].dtype) == "Int64"
    # spreadsheet rows: the header is row 1
    assert list(firms["source_row"]) == list(range(2, 10))
    assert not firms["synthetic"].any()
    assert list(firms["section"]) == [c[0] for c in EXPECTED["industry_code"]]
    assert list(firms["division"]) == [c[1:3] for c in EXPECTED["industry_code"]]
    np.testing.assert_array_equal(firms.geometry.x, FIRMS["lon"])
    np.testing.assert_array_equal(firms.geometry.y, FIRMS["lat"])
    assert firms.attrs["source"] == "reference"
    assert "wgs84" in firms.attrs["coords"]
    assert firms.attrs["synthetic"] is False
    assert reference.summary["n_read"] == 8
    assert reference.summary["n_valid"] == 8
    assert reference.summary["rejected_by_reason"] == {}
    assert reference.summary["firm_id_generated"] is False
    assert list(reference.rejects.columns[:5]) == [
        "source_row", "column", "reason_zh", "reason_en", "outside_m"]


def test_synthetic_flag_and_any_index():
    frame = FIRMS.set_index(pd.Index(list("abcdefgh")))
    table = normalise_firms(frame, source="seed", study_area=AREA, synthetic=True)
    assert table.firms["synthetic"].all()
    assert table.firms.attrs["synthetic"] is True
    assert list(table.firms["source_row"]) == list(range(2, 10))


def test_input_dataframe_is_not_modified():
    frame = as_text(FIRMS)
    frame.loc[2, "lon"] = "abc"
    frame.loc[3, "firm_id"] = "000101"
    before = frame.copy()
    numeric = FIRMS.copy()
    normalise_firms(frame, source="t", study_area=AREA)
    normalise_firms(numeric, source="t", study_area=AREA, coords="gcj02")
    pd.testing.assert_frame_equal(frame, before)
    pd.testing.assert_frame_equal(numeric, FIRMS)


def test_empty_dataframe_gives_empty_table():
    table = normalise_firms(FIRMS.iloc[:0], source="t", study_area=AREA)
    assert len(table.firms) == 0 and len(table.rejects) == 0
    assert list(table.firms.columns) == OUTPUT_COLUMNS
    assert table.summary["n_read"] == 0


# --------------------------------------------------------------------------- readers


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
def test_csv_encodings(tmp_path, reference, encoding):
    path = write_csv(FIRMS, tmp_path / "firms.csv", encoding)
    table = read_firms(path, study_area=AREA)
    check_same(table, reference)
    assert table.source == str(path)
    assert table.firms.attrs["source"] == str(path)


def test_gb18030_only_characters(tmp_path):
    # "𠀀" exists in GB18030 but not in GBK: detection must fall through to GB18030
    frame = FIRMS.copy()
    frame.loc[0, "name"] = "𠀀科技有限公司"
    path = write_csv(frame, tmp_path / "firms.csv", "gb18030")
    table = read_firms(path, study_area=AREA)
    assert table.firms.loc[0, "name"] == "𠀀科技有限公司"
    assert "encoding: GB18030" in table.summary["notes"]


def test_explicit_encoding_overrides_and_wrong_one_fails(tmp_path, reference):
    path = write_csv(FIRMS, tmp_path / "firms.csv", "gbk")
    check_same(read_firms(path, encoding="gbk", study_area=AREA), reference)
    with pytest.raises(InputError, match="not valid utf-8") as info:
        read_firms(path, encoding="utf-8", study_area=AREA)
    assert str(path) in str(info.value)
    with pytest.raises(ConfigError, match="unknown encoding"):
        read_firms(path, encoding="klingon", study_area=AREA)


def test_undecodable_file(tmp_path):
    path = tmp_path / "firms.csv"
    path.write_bytes(b"name,lon,lat,industry_code\n\x80\x80\xff\x80,120.1,30.2,3911\n")
    with pytest.raises(InputError, match="cannot decode") as info:
        read_firms(path)
    assert str(path) in str(info.value)


def test_tsv_and_txt_delimiters(tmp_path, reference):
    check_same(read_firms(write_csv(FIRMS, tmp_path / "a.tsv", sep="\t"), study_area=AREA),
               reference)
    check_same(read_firms(write_csv(FIRMS, tmp_path / "b.txt", sep="\t"), study_area=AREA),
               reference)
    check_same(read_firms(write_csv(FIRMS, tmp_path / "c.csv", sep=";"), study_area=AREA),
               reference)
    utf16 = tmp_path / "d.txt"  # Excel's "Unicode text" export
    utf16.write_bytes(as_text(FIRMS).to_csv(index=False, sep="\t").encode("utf-16"))
    check_same(read_firms(utf16, study_area=AREA), reference)


def test_xlsx(tmp_path, reference):
    path = write_xlsx(FIRMS, tmp_path / "firms.xlsx")
    check_same(read_firms(path, sheet="企业", study_area=AREA), reference)
    with pytest.raises(InputError, match="no worksheet 'Sheet9'.*说明, 企业"):
        read_firms(path, sheet="Sheet9", study_area=AREA)
    # by default the first sheet with the fields is read (here after a notes sheet)
    table = read_firms(path, study_area=AREA)
    check_same(table, reference)
    assert any("worksheet: 企业" in note and "--sheet" in note for note in table.summary["notes"])


def test_xlsx_numeric_codes_and_ids(tmp_path):
    frame = FIRMS.copy()
    frame["industry_code"] = [3911, 2710, 4011, 6510, 5920, 6620, 1751, 511]
    frame["firm_id"] = range(1, 9)
    path = write_xlsx(frame, tmp_path / "firms.xlsx")
    table = read_firms(path, sheet="企业", study_area=AREA)
    assert list(table.firms["firm_id"]) == [str(i) for i in range(1, 9)]
    # 0511 stored as the number 511 could be group 511 (wholesale): in a column of
    # 4-digit classes it is read as class 0511 and flagged for a check
    last = table.firms.iloc[-1]
    assert last["industry_code"] == "A0511"
    assert "read as class 0511" in last["flag_en"] and "0511" in last["flag_zh"]
    flagged = table.summary["flagged_by_reason"]
    assert flagged["ambiguous industry code read by the column's level"] == 1


@pytest.mark.filterwarnings("ignore:.*(truncated|laundered).*")
@pytest.mark.parametrize(
    ("suffix", "driver"),
    [(".gpkg", "GPKG"), (".geojson", "GeoJSON"), (".shp", "ESRI Shapefile"), (".parquet", None)],
)
def test_geometry_readers(tmp_path, reference, suffix, driver):
    path = tmp_path / f"firms{suffix}"
    layer = as_layer(FIRMS)
    if driver is None:
        layer.to_parquet(path)
    else:
        layer.to_file(path, driver=driver)
    before = sha256(path)
    table = read_firms(path, study_area=AREA)
    check_same(table, reference)
    assert sha256(path) == before


@pytest.mark.filterwarnings("ignore:.*(truncated|laundered).*")
def test_gbk_shapefile_without_cpg(tmp_path, reference):
    path = tmp_path / "firms.shp"
    as_layer(FIRMS).to_file(path, encoding="GBK")
    path.with_suffix(".cpg").unlink()
    table = read_firms(path, study_area=AREA)
    check_same(table, reference)
    assert "Shapefile without .cpg: attributes read as GB18030" in table.summary["notes"]


def test_geometry_in_projected_crs_is_reprojected(tmp_path, reference):
    path = tmp_path / "firms.gpkg"
    as_layer(FIRMS, epsg=4549).to_file(path, layer="firms", driver="GPKG")
    table = read_firms(path, study_area=AREA)
    check_same(table, reference)
    assert "4549" in table.firms.attrs["coords"]


def test_plain_parquet_with_lon_lat_columns(tmp_path, reference):
    path = tmp_path / "firms.parquet"
    FIRMS.to_parquet(path)
    check_same(read_firms(path, study_area=AREA), reference)


def test_geopackage_layers(tmp_path, reference):
    path = tmp_path / "firms.gpkg"
    as_layer(FIRMS).to_file(path, layer="firms", driver="GPKG")
    gpd.GeoDataFrame({"n": [1]}, geometry=[AREA], crs=4326).to_file(
        path, layer="area", driver="GPKG"
    )
    table = read_firms(path, study_area=AREA)  # the only point layer is picked
    check_same(table, reference)
    assert any("only point layer" in note for note in table.summary["notes"])
    check_same(read_firms(path, layer="firms", study_area=AREA), reference)
    with pytest.raises(InputError, match="no layer 'nope'"):
        read_firms(path, layer="nope")
    with pytest.raises(InputError, match="Polygon geometries"):
        read_firms(path, layer="area")


def test_gcj02_geometry_labelled_wgs84(tmp_path, reference):
    lon, lat = crs.wgs84_to_gcj02(FIRMS["lon"], FIRMS["lat"])
    frame = FIRMS.assign(lon=lon, lat=lat)
    path = tmp_path / "amap.geojson"
    as_layer(frame).to_file(path, driver="GeoJSON")
    table = read_firms(path, coords="gcj02", study_area=AREA)
    np.testing.assert_allclose(table.firms["lon"], FIRMS["lon"], atol=1e-6)
    np.testing.assert_allclose(table.firms["lat"], FIRMS["lat"], atol=1e-6)
    assert any("GCJ-02" in note for note in table.summary["notes"])


def test_geometry_without_crs_uses_declared_coords(tmp_path):
    lon, lat = crs.wgs84_to_bd09(FIRMS["lon"], FIRMS["lat"])
    frame = FIRMS.assign(lon=lon, lat=lat)
    layer = as_layer(frame).set_crs(None, allow_override=True)
    path = tmp_path / "baidu.parquet"
    layer.to_parquet(path)
    table = read_firms(path, coords="bd09", study_area=AREA)
    np.testing.assert_allclose(table.firms["lon"], FIRMS["lon"], atol=1e-6)
    np.testing.assert_allclose(table.firms["lat"], FIRMS["lat"], atol=1e-6)


@pytest.mark.parametrize(
    ("system", "forward"), [("gcj02", crs.wgs84_to_gcj02), ("bd09", crs.wgs84_to_bd09)]
)
def test_declared_gcj02_bd09_are_converted(tmp_path, system, forward):
    x, y = forward(FIRMS["lon"], FIRMS["lat"])
    path = write_csv(FIRMS.assign(lon=x, lat=y), tmp_path / "firms.csv")
    table = read_firms(path, coords=system, study_area=AREA)
    expected_lon, expected_lat = crs.to_wgs84(x, y, crs.parse_coord_system(system))
    np.testing.assert_allclose(table.firms["lon"], expected_lon, atol=1e-9)
    np.testing.assert_allclose(table.firms["lat"], expected_lat, atol=1e-9)
    np.testing.assert_allclose(table.firms["lon"], FIRMS["lon"], atol=1e-6)
    np.testing.assert_allclose(table.firms.geometry.y, FIRMS["lat"], atol=1e-6)
    assert table.firms.attrs["coords"] == crs.parse_coord_system(system).label()


def test_projected_file_with_declared_crs(tmp_path, reference):
    x, y = crs.from_wgs84(FIRMS["lon"], FIRMS["lat"], crs.parse_coord_system(4549))
    path = write_csv(FIRMS.assign(lon=x, lat=y), tmp_path / "firms.csv")
    check_same(read_firms(path, coords="4549", study_area=AREA), reference)


# --------------------------------------------------------------------------- headers


def test_chinese_headers(tmp_path, reference):
    frame = FIRMS.rename(
        columns={
            "firm_id": "统一社会信用代码", "name": "企业名称", "industry_code": "行业代码",
            "lon": "经度", "lat": "纬度", "employees": "从业人员", "revenue": "营业收入",
            "year": "成立年份",
        }
    )
    table = read_firms(write_csv(frame, tmp_path / "firms.csv", "gbk"), study_area=AREA)
    check_same(table, reference)
    assert table.summary["columns"]["lon"] == "经度"


def test_english_variants_and_explicit_mapping(tmp_path, reference):
    frame = FIRMS.rename(
        columns={"firm_id": "ID", "name": "Company_Name", "industry_code": "Code",
                 "lon": "Longitude", "lat": " LATITUDE ", "employees": "Staff",
                 "revenue": "营收", "year": "Founded"}
    )
    path = write_csv(frame, tmp_path / "firms.csv")
    table = read_firms(path, columns={"revenue": "营收"}, study_area=AREA)
    check_same(table, reference)
    other = FIRMS.rename(columns={"industry_code": "行业小类", "lon": "东经", "lat": "北纬"})
    path = write_csv(other, tmp_path / "other.csv")
    table = read_firms(
        path, columns={"industry_code": "行业小类", "lon": "东经", "lat": "北纬"}, study_area=AREA
    )
    check_same(table, reference)
    with pytest.raises(InputError, match="column '经度X' .* not in the file"):
        read_firms(path, columns={"lon": "经度X"})
    with pytest.raises(ConfigError, match="unknown field"):
        read_firms(path, columns={"longitude": "东经"})


def test_missing_coordinate_columns_message(tmp_path):
    frame = FIRMS.rename(columns={"lon": "GPS经", "lat": "GPS纬"})
    path = write_csv(frame, tmp_path / "firms.csv")
    with pytest.raises(InputError) as info:
        read_firms(path, study_area=AREA)
    message = str(info.value)
    assert str(path) in message
    assert "required field(s) not found: lon" in message and "; lat" in message
    # the candidates are named, with the option that maps them
    assert "perhaps one of: GPS经" in message and "--column lon=GPS经" in message
    assert "--column lat=GPS纬" in message
    assert "经度" in message and "longitude" in message  # the accepted names


def test_missing_firm_id_column_generates_ids(reference):
    table = normalise_firms(FIRMS.drop(columns=["firm_id"]), source="t", study_area=AREA)
    assert list(table.firms["firm_id"]) == [str(i) for i in range(2, 10)]  # spreadsheet rows
    assert table.summary["firm_id_generated"] is True
    assert any("firm_id" in note for note in table.summary["notes"])


# --------------------------------------------------------------------------- validation

BAD_ROWS = [
    # (overrides of a valid row, expected column, expected reason fragment, category)
    ({"lon": ""}, "lon/lat", "missing coordinates", "missing coordinates"),
    ({"lat": "北纬30度"}, "lon/lat", "non-numeric coordinates", "non-numeric coordinates"),
    ({"lon": "30.25", "lat": "120.15"}, "lon/lat", "longitude and latitude swapped",
     "longitude and latitude swapped"),
    ({"lon": "502345.1", "lat": "3345678.9"}, "lon/lat", "projected metres",
     "coordinates look like projected metres, not degrees"),
    ({"lon": "121.47", "lat": "31.23"}, "lon/lat", "outside the study area",
     "outside the study area"),
    ({"lon": "120.95", "lat": "30.0"}, "lon/lat", "outside the study area",
     "outside the study area"),  # within the bbox margin, outside the polygon
    ({"industry_code": "I3911"}, "industry_code",
     "invalid industry code 'I3911': section I does not contain division 39",
     "invalid industry code"),
    ({"industry_code": "X12"}, "industry_code", "unknown section letter X",
     "invalid industry code"),
    ({"industry_code": ""}, "industry_code", "missing industry code", "missing industry code"),
    ({"firm_id": "000101"}, "firm_id", "duplicate firm_id '000101' (first at row 2)",
     "duplicate firm_id"),
    ({"firm_id": "  "}, "firm_id", "missing firm_id", "missing firm_id"),
    ({"employees": "-3"}, "employees", "negative employees", "negative employees"),
    ({"employees": "很多"}, "employees", "non-numeric employees", "non-numeric employees"),
    ({"revenue": "12万"}, "revenue", "non-numeric revenue", "non-numeric revenue"),
    ({"year": "二〇一〇"}, "year", "non-numeric year", "non-numeric year"),
    ({"year": "2010.5"}, "year", "not a whole number", "non-numeric year"),
    ({"year": "10"}, "year", "implausible year", "implausible year"),
]


def bad_file_frame():
    """20 valid rows (ids F001...) then one row per BAD_ROWS case, as text."""
    rng = np.random.default_rng(3)
    n = 20
    frame = pd.DataFrame(
        {
            "firm_id": ["000101"] + [f"F{i:03d}" for i in range(2, n + 1)],
            "name": [f"测试企业{i}号" for i in range(1, n + 1)],
            "industry_code": rng.choice(["C3911", "I6510", "F5123", "L7212"], n),
            "lon": np.round(rng.uniform(119.5, 120.5, n), 5),
            "lat": np.round(rng.uniform(29.8, 30.5, n), 5),
            "employees": rng.integers(1, 500, n),
            "revenue": np.round(rng.uniform(10, 9000, n), 1),
            "year": rng.integers(1990, 2024, n),
        }
    ).astype(str)
    template = frame.iloc[1].to_dict()
    rows = []
    for i, (override, *_rest) in enumerate(BAD_ROWS):
        row = dict(template, firm_id=f"B{i:03d}", name=f"问题企业{i}")
        row.update(override)
        rows.append(row)
    return pd.concat([frame, pd.DataFrame(rows)], ignore_index=True)


def test_every_validation_error_gives_a_reject_row(tmp_path):
    frame = bad_file_frame()
    path = write_csv(frame, tmp_path / "firms.csv", "gbk")
    before = sha256(path)
    table = read_firms(path, study_area=AREA)
    assert sha256(path) == before
    rejects = table.rejects.set_index("source_row")
    assert len(rejects) == len(BAD_ROWS)
    for i, (_override, column, fragment, _category) in enumerate(BAD_ROWS):
        row = 22 + i  # header row 1, 20 valid rows
        assert row in rejects.index, (row, fragment)
        assert rejects.loc[row, "column"] == column, (row, rejects.loc[row].to_dict())
        assert fragment in rejects.loc[row, "reason_en"], (row, rejects.loc[row, "reason_en"])
        # the original values follow, as text
        assert rejects.loc[row, "name"] == f"问题企业{i}"
    summary = table.summary
    assert summary["n_read"] == 20 + len(BAD_ROWS)
    assert summary["n_valid"] == 20
    assert summary["n_rejected"] == len(BAD_ROWS)
    assert summary["n_valid"] + summary["n_rejected"] == summary["n_read"]
    assert sum(summary["rejected_by_reason"].values()) == summary["n_rejected"]
    expected = pd.Series([case[3] for case in BAD_ROWS]).value_counts().to_dict()
    assert summary["rejected_by_reason"] == expected
    assert len(table.firms) == 20
    assert table.firms["source_row"].tolist() == list(range(2, 22))
    assert table.firms["firm_id"].is_unique


def test_several_problems_in_one_row():
    frame = as_text(FIRMS)
    frame.loc[4, ["industry_code", "employees", "lon"]] = ["Z99", "-1", ""]
    table = normalise_firms(frame, source="t", study_area=AREA)
    reject = table.rejects.iloc[0]
    assert reject["source_row"] == 6
    assert reject["column"] == "lon/lat, industry_code, employees"
    assert reject["reason_en"].count(";") == 2
    assert table.summary["rejected_by_reason"] == {"missing coordinates": 1}


def test_numbers_with_separators_and_blanks_are_accepted():
    frame = as_text(FIRMS)
    frame.loc[0, "employees"] = "1,200"
    frame.loc[1, "revenue"] = ""
    frame.loc[2, "year"] = "NULL"
    frame.loc[3, "lon"] = " １２０.１９０４ "
    table = normalise_firms(frame, source="t", study_area=AREA)
    assert table.summary["n_rejected"] == 0
    firms = table.firms
    assert firms.loc[0, "employees"] == 1200
    assert np.isnan(firms.loc[1, "revenue"])
    assert firms["year"].isna().tolist()[2]
    assert firms.loc[3, "lon"] == pytest.approx(120.1904)


def test_without_study_area_only_impossible_positions_are_rejected():
    frame = as_text(FIRMS)
    frame.loc[0, ["lon", "lat"]] = ["121.47", "31.23"]  # Shanghai: fine without a study area
    frame.loc[1, ["lon", "lat"]] = ["30.27", "120.13"]  # latitude 120 is impossible
    table = normalise_firms(frame, source="t")
    assert table.rejects["source_row"].tolist() == [3]
    assert "swapped" in table.rejects.loc[0, "reason_en"]
    assert "经纬度颠倒" in table.rejects.loc[0, "reason_zh"]


def test_swapped_file_raises(tmp_path):
    frame = FIRMS.rename(columns={"lon": "lat", "lat": "lon"})
    path = write_csv(frame, tmp_path / "firms.csv")
    with pytest.raises(CoordinateError, match="swapped") as info:
        read_firms(path, study_area=AREA)
    assert str(path) in str(info.value)


def test_projected_file_raises(tmp_path):
    x, y = crs.from_wgs84(FIRMS["lon"], FIRMS["lat"], crs.parse_coord_system(4549))
    path = write_csv(FIRMS.assign(lon=x, lat=y), tmp_path / "firms.csv")
    with pytest.raises(CoordinateError, match="projected metres") as info:
        read_firms(path, study_area=AREA)
    assert "--coords" in str(info.value)


def test_wrong_columns_with_text_coordinates_raise(tmp_path):
    frame = as_text(FIRMS)
    frame["lon"] = "杭州市西湖区"
    with pytest.raises(InputError, match="not numbers"):
        normalise_firms(frame, source="t", study_area=AREA)


# --------------------------------------------------------------------------- rejects file


def test_write_rejects(tmp_path):
    frame = bad_file_frame()
    table = read_firms(write_csv(frame, tmp_path / "firms.csv"), study_area=AREA)
    target = tmp_path / "out" / "rejects.csv"
    assert table.write_rejects(target) == target
    data = target.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    text = data.decode("utf-8-sig")
    assert "问题企业0" in text and "北纬30度" in text
    back = pd.read_csv(target, encoding="utf-8-sig", dtype=str)
    assert list(back.columns[:4]) == ["source_row", "column", "reason_zh", "reason_en"]
    assert len(back) == len(BAD_ROWS)
    assert back["firm_id"].iloc[0] == "B000"
    assert sorted(p.name for p in target.parent.iterdir()) == ["rejects.csv"]  # no temp files


def test_write_rejects_only_when_there_are_rejects(tmp_path, reference):
    target = tmp_path / "rejects.csv"
    assert reference.write_rejects(target) is None
    assert not target.exists()


def test_write_rejects_never_overwrites_the_input(tmp_path):
    frame = as_text(FIRMS)
    frame.loc[0, "lon"] = ""
    path = write_csv(frame, tmp_path / "firms.csv")
    table = read_firms(path, study_area=AREA)
    before = sha256(path)
    with pytest.raises(OutputError):
        table.write_rejects(path)
    assert sha256(path) == before


# --------------------------------------------------------------------------- file errors


def test_missing_empty_and_header_only_files(tmp_path):
    with pytest.raises(InputError, match="not found") as info:
        read_firms(tmp_path / "nope.csv")
    assert "nope.csv" in str(info.value)
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match="empty"):
        read_firms(empty)
    blank = tmp_path / "blank.csv"
    blank.write_bytes(b"\xef\xbb\xbf\n  \n")
    with pytest.raises(InputError, match="empty"):
        read_firms(blank)
    header = tmp_path / "header.csv"
    header.write_text("name,industry_code,lon,lat\n", encoding="utf-8")
    with pytest.raises(InputError, match="no data rows"):
        read_firms(header)
    with pytest.raises(InputError, match="folder"):
        read_firms(tmp_path)


@pytest.mark.parametrize("suffix", [".xlsx", ".gpkg", ".parquet", ".geojson", ".shp", ".csv"])
def test_corrupt_files(tmp_path, suffix):
    path = tmp_path / f"firms{suffix}"
    path.write_bytes(b"this is not really a " + suffix.encode() + b" file \x00\x01\x02" * 10)
    with pytest.raises(InputError) as info:
        read_firms(path)
    assert str(path) in str(info.value)


def test_unsupported_and_old_excel(tmp_path):
    for name, fragment in (("firms.xls", "xlsx"), ("firms.dbf", "unsupported")):
        path = tmp_path / name
        path.write_bytes(b"x")
        with pytest.raises(InputError, match=fragment):
            read_firms(path)


def test_ragged_csv(tmp_path):
    # a line longer than the header costs that row, not the file
    path = tmp_path / "firms.csv"
    path.write_text("name,industry_code,lon,lat\n甲,3911,120.1,30.2\n乙,3911,120.1,30.2,9,9\n",
                    encoding="utf-8")
    table = read_firms(path)
    assert table.summary["n_valid"] == 1
    assert table.rejects["source_row"].tolist() == [3]
    assert "line 3: 6 fields where the header has 4" in table.rejects["reason_en"][0]


# --------------------------------------------------------------------------- speed


def test_a_hundred_thousand_rows_validate_quickly():
    rng = np.random.default_rng(5)
    n = 100_000
    frame = pd.DataFrame(
        {
            "firm_id": np.char.add("F", np.arange(n).astype(str)),
            "name": np.full(n, "企业"),
            "industry_code": rng.choice(["C3911", "I6510", "2710", "F5123"], n),
            "lon": rng.uniform(119.0, 120.5, n).astype(str),
            "lat": rng.uniform(29.5, 30.5, n).astype(str),
            "employees": rng.integers(1, 900, n).astype(str),
        }
    )
    start = time.perf_counter()
    table = normalise_firms(frame, source="t", study_area=AREA)
    assert time.perf_counter() - start < 5
    assert table.summary["n_valid"] == n


def test_other_columns_travel_along_and_clashes_are_renamed():
    raw = pd.DataFrame({
        "企业名称": ["甲", "乙"], "行业代码": ["3911", "6510"], "经度": ["120.15", "120.2"],
        "纬度": ["30.28", "30.25"], "类别": ["工厂", "服务"], "group": ["x", "y"],
        "geometry": ["a", "b"],
    })
    table = normalise_firms(raw, source="example")
    firms = table.firms
    assert firms["类别"].tolist() == ["工厂", "服务"]
    assert firms["group"].tolist() == ["manufacturing", "producer_services"]
    assert firms["group_input"].tolist() == ["x", "y"]
    assert firms["geometry_input"].tolist() == ["a", "b"]
    assert firms.geometry.name == "geometry"


def test_seed_file_read_back_stays_synthetic(tmp_path):
    from geo.export.layers import write_layer
    from geo.io.firms import read_firms
    from geo.io.seed import generate_firms

    path = write_layer(generate_firms(300, 1).firms, tmp_path / "seed.csv")
    table = read_firms(path)
    assert table.firms["synthetic"].all()
    assert "synthetic_input" not in table.firms.columns
