"""Hostile and broken input files (issue 17, the input half).

Each test builds its file in ``tmp_path`` and checks that one bad line, byte or
sheet costs one row (rejected with its line, byte offset and reason in both
languages) or a clear message, never the file and never a traceback; and that
every row read is accounted for (rows in = valid + rejected).
"""

import os
import subprocess
import sys

import geopandas as gpd
import numpy as np
import openpyxl
import openpyxl.chart
import pandas as pd
import pytest
from shapely.geometry import LineString, Point, Polygon, box

from geo.errors import ConfigError, InputError
from geo.io.crs import parse_coord_system
from geo.io.firms import read_firms
from geo.io.zones import load_layer, load_zones

AREA = box(118.3, 29.1, 120.8, 30.6)
HEADER = "企业名称,行业代码,经度,纬度,从业人员"
ROWS = [
    "杭州海康数字科技有限公司,3911,120.21,30.19,120",
    "浙江西湖生物医药股份有限公司,2710,120.13,30.27,85",
    "钱塘精密仪器厂,4011,120.50,30.31,40",
    "滨江云服务有限公司,6520,120.19,30.21,300",
    "余杭物流仓储有限公司,5920,120.03,30.42,60",
]
NAMES = [row.split(",")[0] for row in ROWS]
LOCAL_CS = ('LOCAL_CS["Local",LOCAL_DATUM["Local",0],UNIT["metre",1],AXIS["X",EAST],'
            'AXIS["Y",NORTH]]')


def text_file(path, lines, encoding="utf-8"):
    """Write lines (str, or bytes already encoded) as a file, header first."""
    data = b"".join((line if isinstance(line, bytes) else line.encode(encoding)) + b"\n"
                    for line in [HEADER, *lines])
    path.write_bytes(data)
    return path


def accounted(table):
    s = table.summary
    assert s["n_read"] == s["n_valid"] + s["n_rejected"]
    assert len(table.firms) == s["n_valid"] and len(table.rejects) == s["n_rejected"]
    assert table.rejects["reason_zh"].str.len().gt(0).all()
    assert table.rejects["reason_en"].str.len().gt(0).all()
    return s


def geo_validate(path, *args):
    proc = subprocess.run([sys.executable, "-m", "geo", "validate", str(path), "--lang", "en",
                           *args], capture_output=True, text=True, timeout=300)
    assert proc.returncode in (0, 1, 2), proc.stderr
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout
    return proc


# --------------------------------------------------------------------------- bad lines


# (what is wrong with line 4, the line as written, the reason category, the words of the reason)
BAD_LINES = {
    "unquoted comma": ("钱塘精密,仪器厂,4011,120.50,30.31,40", "too many fields",
                       "line 4: 6 fields where the header has 5"),
    "unclosed quote": ('"钱塘精密仪器厂,4011,120.50,30.31,40', "unclosed quote",
                       "line 4: a double quote"),
    "NUL byte": ("钱塘精密仪器厂\x00,4011,120.50,30.31,40", "NUL byte",
                 "line 4: a NUL byte (0x00) at byte offset"),
    "invalid byte": (b"\xff\xfe\xff,4011,120.50,30.31,40", "undecodable bytes",
                     "line 4: byte 0xFF at byte offset"),
}


@pytest.mark.parametrize("case", BAD_LINES)
def test_one_bad_line_costs_one_row(tmp_path, case):
    line, category, words = BAD_LINES[case]
    path = text_file(tmp_path / "firms.csv", [*ROWS[:2], line, *ROWS[3:]])
    table = read_firms(path, study_area=AREA)
    s = accounted(table)
    assert (s["n_read"], s["n_valid"], s["n_rejected"]) == (5, 4, 1)
    assert s["rejected_by_reason"] == {category: 1}
    reject = table.rejects.iloc[0]
    assert reject["source_row"] == 4
    assert words in reject["reason_en"] and "第 4 行" in reject["reason_zh"]
    assert table.firms["name"].tolist() == NAMES[:2] + NAMES[3:]
    assert table.firms["source_row"].tolist() == [2, 3, 5, 6]


def test_byte_offsets_point_at_the_byte(tmp_path):
    lines = [*ROWS[:2], b"\xe9\x92\xb1\xff,4011,120.50,30.31,40", *ROWS[3:]]
    path = text_file(tmp_path / "firms.csv", lines)
    table = read_firms(path, study_area=AREA)
    data = path.read_bytes()
    offset = int(table.rejects["reason_en"][0].split("byte offset ")[1].split()[0].replace(",", ""))
    assert data[offset] == 0xFF
    # the value is shown with the bad byte escaped, the good character kept
    assert table.rejects["企业名称"][0] == "钱\\xff"


def test_unclosed_quote_on_the_last_line(tmp_path):
    path = text_file(tmp_path / "firms.csv", [*ROWS, '"钱塘精密仪器厂,4011,120.50,30.31,40'])
    table = read_firms(path, study_area=AREA)
    accounted(table)
    assert table.summary["n_valid"] == 5
    assert table.rejects["source_row"].tolist() == [7]
    assert table.summary["rejected_by_reason"] == {"unclosed quote": 1}


def test_several_bad_lines_and_blank_rows_keep_their_numbers(tmp_path):
    lines = [ROWS[0], "", "甲,乙,3911,120.1,30.2,9", ROWS[1], b"\xff,3911,120.1,30.2,1",
             "\x00", ROWS[2], '"乙,3911,120.1,30.2,1']
    table = read_firms(text_file(tmp_path / "firms.csv", lines), study_area=AREA)
    s = accounted(table)
    assert (s["n_read"], s["n_valid"], s["n_rejected"], s["blank_rows"]) == (7, 3, 4, 1)
    assert table.firms["source_row"].tolist() == [2, 5, 8]
    assert table.rejects["source_row"].tolist() == [4, 6, 7, 9]


def test_quoted_line_break_is_one_row(tmp_path):
    lines = [ROWS[0], '"钱塘精密\n仪器厂",4011,120.50,30.31,40', *ROWS[1:]]
    table = read_firms(text_file(tmp_path / "firms.csv", lines), study_area=AREA)
    accounted(table)
    assert table.summary["n_rejected"] == 0
    assert table.firms["name"][1] == "钱塘精密\n仪器厂"
    # a record over two lines is one spreadsheet row
    assert table.firms["source_row"].tolist() == [2, 3, 4, 5, 6, 7]


def test_a_quote_that_swallows_lines_costs_only_its_own(tmp_path):
    # the quote opened on line 3 closes on line 6: lines 4-5 must not vanish into it
    lines = [ROWS[0], '"坏公司,3911,120.1,30.2,1', ROWS[1], ROWS[2], '"好公司",3911,120.1,30.2,1']
    table = read_firms(text_file(tmp_path / "firms.csv", lines), study_area=AREA)
    accounted(table)
    assert table.rejects["source_row"].tolist() == [3]
    assert table.firms["name"].tolist() == [NAMES[0], NAMES[1], NAMES[2], "好公司"]


def test_short_rows_are_read_with_empty_cells(tmp_path):
    lines = [ROWS[0], "钱塘精密仪器厂,4011,120.50,30.31"]  # no employees: some exporters do
    table = read_firms(text_file(tmp_path / "firms.csv", lines), study_area=AREA)
    assert table.summary["n_valid"] == 2
    assert np.isnan(table.firms["employees"][1])


def test_mostly_broken_files_are_refused(tmp_path):
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"name,industry_code,lon,lat\n" + b"\x00\x01\x02\x03,1,2,3\n" * 20)
    with pytest.raises(InputError, match="binary data"):
        read_firms(binary)
    garbage = tmp_path / "garbage.csv"
    garbage.write_bytes(b"name,industry_code,lon,lat\n" + b"\x80\xff\x80,3911,120.1,30.2\n" * 5)
    with pytest.raises(InputError, match="cannot decode.*line 2") as info:
        read_firms(garbage)
    assert "无法" in info.value.text("zh")


def test_header_that_cannot_be_read_is_an_error(tmp_path):
    path = tmp_path / "firms.csv"
    path.write_bytes(b"\xff\xfe\xfd,\x00lon,lat\n" + "\n".join(ROWS).encode() + b"\n")
    with pytest.raises(InputError, match="header"):
        read_firms(path)


# --------------------------------------------------------------------------- encodings


def test_gbk_rows_in_a_utf8_file_are_kept_and_flagged(tmp_path):
    lines = [ROWS[0], ROWS[1].encode("gbk"), *ROWS[2:4], ROWS[4].encode("gbk")]
    table = read_firms(text_file(tmp_path / "firms.csv", lines), study_area=AREA)
    s = accounted(table)
    assert s["n_valid"] == 5
    assert table.firms["name"].tolist() == NAMES
    assert s["flagged_by_reason"]["mixed encoding"] == 2
    assert "encoding: UTF-8" in s["notes"]
    flagged = table.flagged()
    assert flagged["source_row"].tolist() == [3, 6]
    assert "line 3 is in GBK" in flagged["flag_en"][0] and "GBK" in flagged["flag_zh"][0]


def test_a_utf8_row_in_a_gbk_file(tmp_path):
    # the GBK file also has a byte GBK cannot decode, so it is read line by line
    lines = [row.encode("gbk") for row in ROWS[:3]] + [ROWS[3].encode("utf-8"),
                                                       b"\xff,3911,120.1,30.2,1"]
    table = read_firms(text_file(tmp_path / "firms.csv", lines, "gbk"), study_area=AREA)
    s = accounted(table)
    assert table.firms["name"].tolist() == NAMES[:4]
    assert s["flagged_by_reason"]["mixed encoding"] == 1
    assert table.rejects["source_row"].tolist() == [6]


def test_a_damaged_line_in_a_gbk_file(tmp_path):
    lines = [row.encode("gbk") for row in ROWS] + [b"\x81\x30,3911,120.1,30.2,1"]
    table = read_firms(text_file(tmp_path / "firms.csv", lines, "gbk"), study_area=AREA)
    accounted(table)
    assert table.firms["name"].tolist() == NAMES
    assert "encoding: GB18030" in table.summary["notes"]
    assert "byte 0x81 at byte offset" in table.rejects["reason_en"][0]


TRADITIONAL = ["臺北市電腦軟體開發股份有限公司", "香港國際貿易有限公司", "廣東機械製造廠",
               "高雄數位科技服務有限公司"]


def test_big5_is_read_as_big5_never_garbled(tmp_path):
    path = tmp_path / "firms.csv"
    lines = ["企業名稱,行業代碼,經度,緯度"] + [f"{n},3911,120.1{i},30.2" for i, n in
                                              enumerate(TRADITIONAL)]
    path.write_bytes(("\n".join(lines) + "\n").encode("big5"))
    table = read_firms(path, study_area=AREA)
    accounted(table)
    assert table.firms["name"].tolist() == TRADITIONAL
    assert "encoding: Big5" in table.summary["notes"]
    assert any("traditional Chinese" in note for note in table.summary["notes"])
    # the traditional headers are matched to their fields
    assert table.mapping.fields["name"] == "企業名稱"
    assert table.mapping.fields["lat"] == "緯度"
    proc = geo_validate(path)
    assert "Big5" in proc.stdout


def test_gbk_with_rare_characters_stays_gbk(tmp_path):
    names = [f"喆堃{n}" for n in NAMES]  # characters outside GB2312, in real company names
    lines = [",".join([n, *row.split(",")[1:]]) for n, row in zip(names, ROWS, strict=True)]
    table = read_firms(text_file(tmp_path / "firms.csv", lines, "gbk"), study_area=AREA)
    assert table.firms["name"].tolist() == names
    assert "encoding: GBK" in table.summary["notes"]


def test_utf8_rows_in_a_file_that_decodes_as_gbk(tmp_path):
    # UTF-8 Chinese can decode as GBK nonsense without an error: such lines are found
    names = ["浙江云栖西溪物流集团", "浙江云栖西溪科技集团"]
    lines = [row.encode("gbk") for row in ROWS[:3]] + [
        f"{name},6520,120.19,30.21,3".encode() for name in names]
    path = text_file(tmp_path / "firms.csv", lines, "gbk")
    path.read_bytes().decode("gbk")  # the premise: the whole file decodes as GBK
    table = read_firms(path, study_area=AREA)
    accounted(table)
    assert table.firms["name"].tolist() == NAMES[:3] + names
    assert table.summary["flagged_by_reason"]["mixed encoding"] == 2


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_utf16_without_byte_order_mark(tmp_path, codec):
    path = tmp_path / "firms.csv"
    path.write_bytes("\n".join([HEADER, *ROWS]).encode(codec))
    table = read_firms(path, study_area=AREA)
    assert table.firms["name"].tolist() == NAMES
    assert any("no byte order mark" in note for note in table.summary["notes"])


def test_other_encodings_are_refused_not_garbled(tmp_path):
    path = tmp_path / "firms.csv"
    names = ["杭州山田電機有限公司", "杭州佐藤ソフト有限公司", "浙江鈴木物流有限公司",
             "寧波高橋精密機械有限公司", "杭州田中ソフトウェア開発有限公司"]
    lines = [f"{n},3911,120.1{i},30.2,5" for i, n in enumerate(names)]
    path.write_bytes("\n".join(["name,industry_code,lon,lat,employees", *lines]).encode(
        "shift_jis"))
    with pytest.raises(InputError, match="--encoding") as info:
        read_firms(path)
    assert "neither Chinese in GBK" in str(info.value) and "--encoding" in info.value.text("zh")
    table = read_firms(path, encoding="shift_jis", study_area=AREA)
    assert table.firms["name"].tolist() == names


def test_explicit_wrong_encoding_is_refused_with_the_line(tmp_path):
    path = text_file(tmp_path / "firms.csv", ROWS, "gbk")
    with pytest.raises(InputError, match=r"not valid utf-8 \(line 1: byte 0x"):
        read_firms(path, encoding="utf-8")


# --------------------------------------------------------------------------- delimiters


@pytest.mark.parametrize("header_too", [False, True])
def test_trailing_delimiter_on_every_line(tmp_path, header_too):
    path = tmp_path / "firms.csv"
    head = HEADER + ("," if header_too else "")
    path.write_text("\n".join([head, *(row + "," for row in ROWS)]) + "\n", encoding="utf-8")
    table = read_firms(path, study_area=AREA)
    accounted(table)
    assert table.summary["n_valid"] == 5
    assert table.firms["name"].tolist() == NAMES
    assert table.firms["lon"].round(2).tolist() == [120.21, 120.13, 120.5, 120.19, 120.03]
    assert any("ends with ','" in note for note in table.summary["notes"])
    assert not table.summary["unused_columns"]
    proc = geo_validate(path)
    assert proc.returncode == 0 and "projected" not in proc.stdout + proc.stderr


def test_trailing_delimiter_with_a_bad_line(tmp_path):
    path = tmp_path / "firms.csv"
    lines = [row + "," for row in ROWS[:4]] + ["甲,有限公司,3911,120.1,30.2,9,"]
    path.write_text("\n".join([HEADER, *lines]) + "\n", encoding="utf-8")
    table = read_firms(path, study_area=AREA)
    accounted(table)
    assert table.firms["name"].tolist() == NAMES[:4]
    assert table.rejects["source_row"].tolist() == [6]
    assert "6 fields where the header has 5" in table.rejects["reason_en"][0]


def test_backslash_escaped_quotes_as_mysql_writes_them(tmp_path):
    lines = [ROWS[0], '"杭州\\"滨江\\"软件",6520,120.19,30.21,3', *ROWS[1:]]
    table = read_firms(text_file(tmp_path / "firms.csv", lines), study_area=AREA)
    accounted(table)
    assert table.firms["name"][1] == '杭州"滨江"软件'
    assert any("backslash" in note for note in table.summary["notes"])


# --------------------------------------------------------------------------- workbooks


def workbook(path, sheets, hidden=()):
    book = openpyxl.Workbook()
    book.active.title = "说明"
    book.active.append(["本表为测试数据"])
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
        if name in hidden:
            sheet.sheet_state = "hidden"
    book.save(path)
    return path


XLSX_HEADER = ["企业名称", "行业代码", "经度", "纬度"]
XLSX_ROWS = [[n, *r.split(",")[1:4]] for n, r in zip(NAMES, ROWS, strict=True)]


def test_firms_over_several_sheets_are_all_read(tmp_path):
    path = workbook(tmp_path / "firms.xlsx", {
        "一季度": [XLSX_HEADER, *XLSX_ROWS[:3]],
        "二季度": [XLSX_HEADER, XLSX_ROWS[3], ["坏公司", "3911", "x", "30.2"], XLSX_ROWS[4]],
        "备份": [XLSX_HEADER, *XLSX_ROWS],
        "统计": [["区县", "企业数"], ["西湖区", 5]],
    }, hidden=("备份",))
    table = read_firms(path, study_area=AREA)
    s = accounted(table)
    assert (s["n_read"], s["n_valid"], s["n_rejected"]) == (6, 5, 1)
    firms = table.firms
    assert firms["source_sheet"].tolist() == ["一季度"] * 3 + ["二季度"] * 2
    assert firms["source_row"].tolist() == [2, 3, 4, 2, 4]  # each sheet's own rows
    # ids generated from rows must not collide between sheets
    assert firms["firm_id"].is_unique and firms["firm_id"][3] == "二季度:2"
    assert list(firms.columns).index("source_sheet") == list(firms.columns).index("source_row") + 1
    rejects = table.rejects
    assert rejects[["source_row", "source_sheet"]].values.tolist() == [[3, "二季度"]]
    notes = " | ".join(s["notes"])
    assert "一季度 (3 rows), 二季度 (3 rows)" in notes and "source_sheet" in notes
    assert "备份 (5 rows, hidden) is not read" in notes
    assert "统计 (1 row) is not read: its header differs" in notes


def test_duplicate_ids_across_sheets_name_the_sheet(tmp_path):
    header = ["统一社会信用代码", *XLSX_HEADER]
    path = workbook(tmp_path / "firms.xlsx", {
        "A": [header, ["91330100X1", *XLSX_ROWS[0]]],
        "B": [header, ["91330100X1", *XLSX_ROWS[1]]],
    })
    table = read_firms(path, study_area=AREA)
    reason = table.rejects["reason_en"][0]
    assert "first at row 2 of worksheet A" in reason
    assert table.rejects["source_sheet"].tolist() == ["B"]


def test_chart_sheet_before_the_data(tmp_path):
    path = tmp_path / "firms.xlsx"
    book = openpyxl.Workbook()
    data = book.active
    data.title = "企业"
    for row in [XLSX_HEADER, *XLSX_ROWS]:
        data.append(row)
    chart = book.create_chartsheet("图表", 0)
    bars = openpyxl.chart.BarChart()
    bars.add_data(openpyxl.chart.Reference(data, min_col=3, min_row=1, max_row=6))
    chart.add_chart(bars)
    book.save(path)
    table = read_firms(path, study_area=AREA)
    assert table.summary["n_valid"] == 5
    with pytest.raises(InputError, match="is a chart"):
        read_firms(path, sheet="图表")


def test_one_sheet_workbook_has_no_sheet_column(tmp_path):
    path = workbook(tmp_path / "firms.xlsx", {"企业": [XLSX_HEADER, *XLSX_ROWS]})
    table = read_firms(path, study_area=AREA)
    assert "source_sheet" not in table.firms.columns
    assert "source_sheet" not in table.rejects.columns
    assert any(n.startswith("worksheet: 企业") for n in table.summary["notes"])


def test_no_sheet_with_the_fields_names_the_sheets_and_sheet_option(tmp_path):
    path = workbook(tmp_path / "firms.xlsx", {"数据": [["名字", "坐标"], ["甲", "1"], ["乙", "2"]]})
    with pytest.raises(InputError) as info:
        read_firms(path)
    message = info.value.text("en")
    assert "--sheet" in message and "说明, 数据" in message and "Worksheet '数据'" in message
    assert "--sheet" in info.value.text("zh") and "工作表" in info.value.text("zh")


def test_sheet_chosen_by_the_user_mapping(tmp_path):
    path = workbook(tmp_path / "firms.xlsx", {
        "数据": [["名字", "代码", "东", "北"], *[[r[0], r[1], r[2], r[3]] for r in XLSX_ROWS]]})
    mapping = {"name": "名字", "industry_code": "代码", "lon": "东", "lat": "北"}
    table = read_firms(path, columns=mapping, study_area=AREA)
    assert table.summary["n_valid"] == 5


# --------------------------------------------------------------------------- other formats


def test_parquet_list_and_struct_columns_become_json(tmp_path):
    path = tmp_path / "firms.parquet"
    pd.DataFrame({
        "企业名称": NAMES[:2], "行业代码": ["3911", "2710"], "经度": [120.2, 120.1],
        "纬度": [30.2, 30.3], "标签": [["制造", "高新"], []], "联系": [{"tel": "0571"}, None],
    }).to_parquet(path)
    table = read_firms(path, study_area=AREA)
    accounted(table)
    assert table.firms["标签"].tolist() == ['["制造", "高新"]', "[]"]
    assert table.firms["联系"][0] == '{"tel": "0571"}'
    assert any("JSON" in note for note in table.summary["notes"])
    geo_validate(path)


def test_local_cs_firms_file_is_a_clear_error(tmp_path):
    path = tmp_path / "firms.gpkg"
    gpd.GeoDataFrame({"企业名称": ["甲"], "行业代码": ["3911"]}, geometry=[Point(10, 20)],
                     crs=LOCAL_CS).to_file(path)
    with pytest.raises(InputError, match="local engineering CRS") as info:
        read_firms(path)
    assert "局部工程坐标系" in info.value.text("zh")
    proc = geo_validate(path)
    assert proc.returncode == 2 and "LOCAL_CS" in proc.stderr


def test_local_cs_zone_file_is_a_clear_error(tmp_path):
    path = tmp_path / "zones.shp"
    gpd.GeoDataFrame({"name": ["a"]}, geometry=[box(0, 0, 10, 10)], crs=LOCAL_CS).to_file(path)
    with pytest.raises(InputError, match="local engineering CRS"):
        load_zones(path)


@pytest.mark.parametrize(("spec", "kind"), [("EPSG:5773", "vertical"), ("5773", "vertical"),
                                            ("4978", "geocentric"), (LOCAL_CS, "engineering")])
def test_coords_must_be_horizontal(spec, kind):
    with pytest.raises(ConfigError, match=kind) as info:
        parse_coord_system(spec)
    assert info.value.message_zh


def test_compound_coords_use_their_horizontal_part():
    assert parse_coord_system("EPSG:4326+5773").is_geographic


def test_vertical_coords_on_the_command_line(tmp_path):
    path = text_file(tmp_path / "firms.csv", ROWS)
    proc = geo_validate(path, "--coords", "EPSG:5773")
    assert proc.returncode == 2
    assert "vertical" in proc.stderr and "swapped" not in proc.stderr + proc.stdout


SHP = {"企业名称": NAMES[:2], "统一社会信用代码": ["91330100MA01", "91330100MA02"],
       "行业代码": ["3911", "2710"], "从业人员期末人数": [10, 20]}


@pytest.mark.filterwarnings("ignore:.*(truncated|laundered|Normalized).*")
@pytest.mark.parametrize(("encoding", "cpg"), [("GBK", None), ("GBK", "UTF-8"), ("UTF-8", None)])
def test_shapefile_encodings_and_cut_field_names(tmp_path, encoding, cpg):
    path = tmp_path / "firms.shp"
    gpd.GeoDataFrame(SHP, geometry=[Point(120.2, 30.2), Point(120.3, 30.3)], crs=4326).to_file(
        path, encoding=encoding)
    if cpg:
        path.with_suffix(".cpg").write_text(cpg)
    table = read_firms(path, study_area=AREA)
    accounted(table)
    assert table.firms["name"].tolist() == NAMES[:2]
    assert table.firms["firm_id"].tolist() == SHP["统一社会信用代码"]
    assert table.firms["employees"].tolist() == [10, 20]
    assert any("cut at 10 bytes" in note for note in table.summary["notes"])


@pytest.mark.filterwarnings("ignore:.*(truncated|laundered|Normalized).*")
def test_gbk_zone_shapefile_labelled_utf8(tmp_path):
    path = tmp_path / "zones.shp"
    gpd.GeoDataFrame({"名称": ["西湖区", "上城区"]}, geometry=[box(120, 30, 120.1, 30.1),
                     box(120.1, 30, 120.2, 30.1)], crs=4326).to_file(path, encoding="GBK")
    path.with_suffix(".cpg").write_text("UTF-8")
    zones = load_zones(path)
    assert zones["name_zh"].tolist() == ["西湖区", "上城区"]
    assert "GB18030" in zones.attrs["notes"][0]


# --------------------------------------------------------------------------- zones


def test_points_or_lines_as_zones_are_an_error(tmp_path):
    points = tmp_path / "points.geojson"
    gpd.GeoDataFrame({"name": ["a", "b"]}, geometry=[Point(120.1, 30.2), Point(120.2, 30.3)],
                     crs=4326).to_file(points)
    with pytest.raises(InputError, match="zones must be polygons, but all its features are Point"):
        load_zones(points)
    assert len(load_layer(points)) == 2  # sites (e.g. candidates) may be points
    mixed = tmp_path / "mixed.geojson"
    gpd.GeoDataFrame({"name": ["a", "b"]}, geometry=[
        box(120, 30, 120.1, 30.1), LineString([(120, 30), (120.2, 30.3)])], crs=4326).to_file(mixed)
    with pytest.raises(InputError, match=r"1 of 2 features are LineString \(rows 2") as info:
        load_zones(mixed)
    assert "请删除这些要素" in info.value.text("zh")


def geo_cli(*args, cwd=None):
    proc = subprocess.run([sys.executable, "-m", "geo", *map(str, args)], capture_output=True,
                          text=True, timeout=300, cwd=cwd, env={**os.environ, "LANG": "C.UTF-8",
                                                                "COLUMNS": "200"})
    assert "Traceback" not in proc.stderr + proc.stdout
    return proc


def test_map_of_points_in_a_zone_layer_warns(tmp_path):
    points = tmp_path / "platforms.geojson"
    gpd.GeoDataFrame({"name": ["a", "b"]}, geometry=[Point(120.1, 30.2), Point(120.2, 30.3)],
                     crs=4326).to_file(points)
    proc = geo_cli("map", points, "--offline", "--out", tmp_path / "map.html")
    assert proc.returncode == 0, proc.stderr
    out = " ".join(proc.stdout.split())
    assert "layer 'platforms' is drawn as zones (polygons), but 2 of 2 features are Point" in out


def test_map_and_export_repair_or_refuse_damaged_layers(tmp_path):
    """Self-intersecting, NaN and null geometries; no CRS; a LOCAL_CS .prj."""
    bowtie = Polygon([(120.1, 30.2), (120.2, 30.3), (120.2, 30.2), (120.1, 30.3)])
    nan = Polygon([(120.1, 30.2), (120.2, 30.2), (float("nan"), 30.3)])
    damaged = tmp_path / "towns.gpkg"
    gpd.GeoDataFrame({"name": ["a", "b", "c", "d"]},
                     geometry=[bowtie, nan, None, box(120.3, 30.2, 120.4, 30.3)],
                     crs=4326).to_file(damaged)
    proc = geo_cli("map", damaged, "--offline", "--out", tmp_path / "map.html")
    assert proc.returncode == 0, proc.stderr
    out = " ".join(proc.stdout.split())
    assert "1 invalid geometry repaired" in out and "NaN or infinite coordinate" in out
    assert "layer 'towns': 2 of 4 features have no geometry and are not drawn" in out
    proc = geo_cli("export", damaged, "-f", "geojson", "--out", tmp_path / "gj")
    assert proc.returncode == 0, proc.stderr
    exported = gpd.read_file(tmp_path / "gj" / "towns.geojson")
    present = exported.geometry.dropna()
    assert len(present) == 2 and present.is_valid.all()

    no_crs = tmp_path / "platforms.shp"
    gpd.GeoDataFrame({"name": ["a"]}, geometry=[box(511000, 3342000, 512000, 3343000)]
                     ).to_file(no_crs)
    for command in (["map", no_crs, "--lang", "en", "--out", tmp_path / "m2.html"],
                    ["export", no_crs, "-f", "kml", "--out", tmp_path / "kml"]):
        proc = geo_cli(*command)
        assert proc.returncode == 2
        assert "declares no coordinate system" in " ".join(proc.stderr.split())
    lonlat = tmp_path / "lonlat.shp"
    gpd.GeoDataFrame({"name": ["a"]}, geometry=[box(120.1, 30.2, 120.2, 30.3)]).to_file(lonlat)
    proc = geo_cli("export", lonlat, "-f", "kml", "--out", tmp_path / "kml2")
    assert proc.returncode == 0 and "read as WGS84" in " ".join(proc.stdout.split())

    local = tmp_path / "local.shp"
    gpd.GeoDataFrame({"name": ["a"]}, geometry=[box(0, 0, 10, 10)], crs=LOCAL_CS).to_file(local)
    proc = geo_cli("map", local, "--lang", "en", "--out", tmp_path / "m3.html")
    assert proc.returncode == 2 and "local engineering CRS" in " ".join(proc.stderr.split())


# --------------------------------------------------------------------------- plausibility


def test_implausible_figures_are_flagged_and_left_empty(tmp_path):
    path = tmp_path / "firms.csv"
    path.write_text(
        "企业名称,行业代码,经度,纬度,从业人员,营业收入(万元),注册资本\n"
        "甲,3911,120.11,30.21,1e15,500,100万元\n"
        "乙,3911,120.12,30.22,120,2e9,100万元\n"
        "丙,3911,120.13,30.23,120,900,200000亿元\n"
        "丁,3911,120.14,30.24,500000,1e9,8000亿元\n"
        "戊,3911,120.15,30.25,-3,1,1万元\n",
        encoding="utf-8")
    table = read_firms(path, study_area=AREA)
    s = accounted(table)
    assert s["n_valid"] == 4 and s["rejected_by_reason"] == {"negative employees": 1}
    assert s["flagged_by_reason"] == {"implausible employees": 1, "implausible revenue": 1,
                                      "implausible registered_capital": 1}
    firms = table.firms.set_index("name")
    assert np.isnan(firms.loc["甲", "employees"])
    assert np.isnan(firms.loc["乙", "revenue"])  # 2e9 万元 = 2e13 yuan
    assert np.isnan(firms.loc["丙", "registered_capital"])
    # the bounds themselves are plausible (the largest registered capital is ~8,300亿元)
    assert firms.loc["丁", ["employees", "revenue", "registered_capital"]].tolist() == [
        500_000, 1e9, 8000e4]
    assert pd.isna(firms.loc["丁", "flag_en"])
    assert "1,000,000,000,000,000 is beyond the plausible 500,000" in firms.loc["甲", "flag_en"]
    assert "超出单个企业的合理上限" in firms.loc["甲", "flag_zh"]
    assert "revenue 2,000,000,000万元 is beyond the plausible 1,000,000,000万元" in firms.loc[
        "乙", "flag_en"]


# --------------------------------------------------------------------------- command line


@pytest.mark.parametrize("case", ["unquoted comma", "NUL byte", "invalid byte"])
def test_validate_reports_the_bad_line(tmp_path, case):
    line = BAD_LINES[case][0]
    path = text_file(tmp_path / "firms.csv", [*ROWS[:2], line, *ROWS[3:]])
    proc = geo_validate(path)
    assert proc.returncode == 1
    assert "5 rows read: 4 valid" in proc.stdout and "1 rejected" in proc.stdout
    rejects = pd.read_csv(tmp_path / "firms.rejects.csv", encoding="utf-8-sig", dtype=str)
    assert rejects["source_row"].tolist() == ["4"]


def test_validate_on_a_gbk_mixed_file(tmp_path):
    lines = [ROWS[0], ROWS[1].encode("gbk"), *ROWS[2:]]
    proc = geo_validate(text_file(tmp_path / "firms.csv", lines))
    assert proc.returncode == 0 and "mixed encoding" in proc.stdout


# --------------------------------------------------------------------------- speed


def test_line_path_on_a_large_file(tmp_path):
    """A 200,000-row file with one bad line takes the line path and loses only that line.

    Its speed is measured by ``bench/validate_register.py``, not here.
    """
    n = 200_000
    body = "\n".join(f"企业{i},3911,119.{i % 1000:03d},30.2,{i % 500}" for i in range(n))
    path = tmp_path / "firms.csv"
    path.write_bytes((HEADER + "\n" + body + "\n甲,乙,3911,120.1,30.2,1\n").encode("utf-8"))
    table = read_firms(path, study_area=AREA, shared_min=0)
    s = accounted(table)
    assert (s["n_valid"], s["n_rejected"]) == (n, 1)
