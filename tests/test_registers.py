"""Real-looking registers in, right answers out (tests/data/registers, made by make_registers.py).

Each file plants the damage a planner's register carries (Excel-stripped zeros,
names instead of codes, census headers, geocoder fallbacks, near-boundary
points, GB/T 4754-2011 codes, a notes sheet); ``expected.json`` records what
every row truly is. These tests check the reader against that ground truth.
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely

from geo.io.firms import read_firms
from geo.io.industry_codes import code_table, name_key
from geo.io.quality import distance_outside
from geo.io.zones import load_layer, study_area

DATA = Path(__file__).parent / "data" / "registers"
EXPECTED = json.loads((DATA / "expected.json").read_text(encoding="utf-8"))["files"]
CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def districts():
    return load_layer("districts")


@pytest.fixture(scope="module")
def tables(districts):
    return {
        name: read_firms(DATA / name, coords=EXPECTED[name]["coords"], districts=districts)
        for name in EXPECTED
    }


def rows_of(name):
    return {row["row"]: row for row in EXPECTED[name]["rows"]}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_row_is_accounted_for(tables, name):
    table = tables[name]
    s = table.summary
    assert s["n_read"] == s["n_valid"] + s["n_rejected"]
    assert s["n_read"] + s["blank_rows"] == EXPECTED[name]["summary"]["n_rows"]
    kept = set(table.firms["source_row"])
    rejected = set(table.rejects["source_row"])
    assert not kept & rejected
    for number, row in rows_of(name).items():
        status = row["status"]
        if status == "map":
            assert number in kept, (name, number, table.rejects.loc[
                table.rejects["source_row"] == number, "reason_en"].tolist())
        elif status == "reject":
            assert number in rejected, (name, number)
        elif status == "map_or_reject":
            assert number in kept | rejected, (name, number)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_groups_match_the_truth(tables, name):
    firms = tables[name].firms.set_index("source_row")
    for number, row in rows_of(name).items():
        if number not in firms.index or row["group"] is None:
            continue
        if "group_changes_if_read_as_2017" in row["planted"]:
            continue  # a 2011 code that is also a valid 2017 code: see the next test
        assert firms.loc[number, "group"] == row["group"], (name, number, row)


def test_no_firm_contradicts_its_own_section_or_division_column(tables):
    table = code_table()
    for name in ("excel_gbk_stripped.csv", "names_only_qichacha.csv"):
        firms = tables[name].firms.set_index("source_row")
        for number, row in rows_of(name).items():
            if number not in firms.index:
                continue
            code = firms.loc[number, "industry_code"]
            for column in ("section_column", "division_column"):
                claim = row.get(column)
                hits = table.names.get(name_key(str(claim)), []) if claim else []
                if claim and re.fullmatch(r"[A-T]", str(claim)):
                    hits = [claim]
                elif claim and re.fullmatch(r"\d{2}", str(claim)):
                    hits = [claim]
                for hit in hits[:1]:
                    section = hit if hit.isalpha() else table.codes[hit][1]
                    assert code[0] == section, (name, number, code, claim)
                    if hit.isdigit():
                        assert code[1:3] == hit, (name, number, code, claim)


def test_stripped_zeros_come_back_from_the_section_column(tables):
    name = "excel_gbk_stripped.csv"
    firms = tables[name].firms.set_index("source_row")
    planted = EXPECTED[name]["summary"]["planted_rows"]
    for number in planted["zero_stripped_code"]:
        truth = rows_of(name)[number]
        assert firms.loc[number, "industry_code"] == truth["code"]
        assert "leading zero restored" in firms.loc[number, "flag_en"]
        assert "已补回开头的 0" in firms.loc[number, "flag_zh"]
    for number in planted["genuine_group_code"]:  # real 3-digit groups stay groups
        assert firms.loc[number, "industry_code"] == rows_of(name)[number]["code"]
    rejects = tables[name].rejects.set_index("source_row")
    for number in planted["section_contradicts_code"]:
        assert "contradicts" in rejects.loc[number, "reason_en"]
        assert "不符" in rejects.loc[number, "reason_zh"]


def test_names_instead_of_codes(tables):
    name = "names_only_qichacha.csv"
    table = tables[name]
    firms = table.firms.set_index("source_row")
    for number, row in rows_of(name).items():
        if row["status"] == "map":
            assert firms.loc[number, "industry_code"] == row["code"], row
    # names that match nothing are listed for the user
    note = next(n for n in table.summary["notes"] if n.startswith("industry names not in"))
    for number in EXPECTED[name]["summary"]["planted_rows"]["industry_name_unrecognised"]:
        row = rows_of(name)[number]
        assert str(row["division_column"]) in note or str(row["section_column"]) in note


def test_header_mapping_is_reported(tables):
    for name, expected in EXPECTED.items():
        table = tables[name]
        for field, column in expected["header_mapping"].items():
            assert table.summary["columns"][field] == column, (name, field)
        for field in expected.get("must_not_map", {}):
            if field == "year":
                continue  # a founding date maps to the year, parsed (see below)
            assert field not in table.summary["columns"], (name, field)
        lines = "\n".join(table.mapping.report("zh") + table.mapping.report("en"))
        for field, column in expected["header_mapping"].items():
            assert f"({field}) ← {column}" in lines
    census = tables["census_headers.csv"]
    assert census.summary["units"]["revenue"] == "千元"
    assert census.firms["employees"].sum() == EXPECTED["census_headers.csv"]["employees_total"]
    dates = tables["excel_gbk_stripped.csv"].firms["year"]
    assert dates.notna().all() and dates.between(1980, 2026).all()


def test_reasons_are_bilingual(tables):
    for table in tables.values():
        for frame, zh, en in ((table.rejects, "reason_zh", "reason_en"),
                              (table.flagged(), "flag_zh", "flag_en")):
            for text_zh, text_en in zip(frame[zh], frame[en], strict=True):
                assert CJK.search(text_zh), text_zh
                # English reasons quote file values (Chinese names) but are English prose
                prose = CJK.sub("", re.sub(r"'[^']*'|“[^”]*”|\([^)]*\)", "", text_en))
                assert re.search(r"[a-z]{3,}", prose), text_en


def test_geocoder_fallbacks_are_flagged_not_lost(tables):
    name = "geocode_fallbacks.csv"
    table = tables[name]
    firms = table.firms.set_index("source_row")
    planted = EXPECTED[name]["summary"]["planted_rows"]
    for kind in ("city_centre_fallback", "district_centre_fallback"):
        for number in planted[kind]:
            assert firms.loc[number, "suspect_position"], (kind, number)
            assert "share this exact point" in firms.loc[number, "flag_en"]
    for number in planted["district_label_mismatch"]:
        assert firms.loc[number, "suspect_position"]
        assert "outside" in firms.loc[number, "flag_en"] and "所属区县" in firms.loc[
            number, "flag_en"]
    flagged = set(firms.index[firms["suspect_position"]])
    assert flagged == set(planted["city_centre_fallback"] + planted["district_centre_fallback"]
                          + planted["district_label_mismatch"])
    assert table.summary["n_suspect_position"] == len(flagged)
    rejects = table.rejects.set_index("source_row")
    for number in planted["outside_city_geocode"]:
        assert rejects.loc[number, "outside_m"] > 100_000  # Shanghai


def test_the_bundled_geocoder_centres_are_flagged(districts):
    """A lone firm on Amap's centre of 西湖区 is flagged even with no neighbours."""
    frame = pd.DataFrame({"行业代码": ["6513", "6513"], "经度": ["120.130194", "120.10"],
                          "纬度": ["30.259463", "30.28"]})
    table = read_firms_frame(frame, districts)
    flags = table.firms["flag_en"].tolist()
    assert "centre of 西湖区" in flags[0] and flags[1] is None
    assert table.firms["suspect_position"].tolist() == [True, False]


def read_firms_frame(frame, districts):
    from geo.io.firms import normalise_firms

    return normalise_firms(frame, source="t", coords="gcj02", districts=districts)


def test_near_boundary_points_give_their_distance(tables, districts):
    name = "near_boundary.csv"
    rejects = tables[name].rejects.set_index("source_row")
    truth = rows_of(name)
    for number in EXPECTED[name]["summary"]["planted_rows"]["outside_near_boundary"]:
        expected = truth[number]["distance_outside_m"]
        assert rejects.loc[number, "outside_m"] == pytest.approx(expected, abs=1.0)
        assert "outside the study area by" in rejects.loc[number, "reason_en"]
        assert "在研究区外" in rejects.loc[number, "reason_zh"]


def test_boundary_tolerance_keeps_and_snaps_near_points(districts):
    name = "near_boundary.csv"
    table = read_firms(DATA / name, coords="gcj02", districts=districts,
                       boundary_tolerance=1000)
    truth = rows_of(name)
    firms = table.firms.set_index("source_row")
    area = study_area(districts)
    for number in EXPECTED[name]["summary"]["planted_rows"]["outside_near_boundary"]:
        distance = truth[number]["distance_outside_m"]
        if distance <= 1000:
            assert number in firms.index
            # moved onto the area, 1 m inside: the distance recorded is the move
            assert firms.loc[number, "snapped_m"] == pytest.approx(distance + 1, abs=2)
            lon, lat = firms.loc[number, ["lon", "lat"]]
            assert shapely.intersects_xy(area, lon, lat)
            assert "moved" in firms.loc[number, "flag_en"]
        else:
            assert number in set(table.rejects["source_row"])
    kept = firms[firms["snapped_m"].notna()]
    assert table.summary["n_snapped"] == len(kept) > 0
    assert np.all(distance_outside(kept["lon"].to_numpy(), kept["lat"].to_numpy(), area) == 0)


def test_codes_that_2017_lacks_are_flagged(tables):
    name = "mixed_2011_2017.csv"
    firms = tables[name].firms.set_index("source_row")
    table = code_table()
    for number, row in rows_of(name).items():
        raw = str(row["raw_code"])
        missing = raw.lstrip("ABCDEFGHIJKLMNOPQRST") not in table.codes
        flag = firms.loc[number, "flag_en"]
        if missing:
            assert flag is not None and "not a GB/T 4754-2017" in flag, (number, raw)
        else:
            assert flag is None or "not a GB/T 4754-2017" not in flag, (number, raw)


def test_notes_sheet_is_skipped(tables):
    name = "hostile_text.xlsx"
    table = tables[name]
    assert any("worksheet: 企业名录" in note for note in table.summary["notes"])
    assert table.summary["n_valid"] == EXPECTED[name]["summary"]["n_rows"]
    firms = table.firms.set_index("source_row")
    for number in EXPECTED[name]["summary"]["planted_rows"]["zero_stripped_code"]:
        assert firms.loc[number, "industry_code"] == rows_of(name)[number]["code"]


def test_the_corpus_script_reproduces_the_files(tmp_path):
    """The fixtures are what make_registers.py writes (byte for byte)."""
    subprocess.run([sys.executable, str(DATA / "make_registers.py"), "--out", str(tmp_path)],
                   check=True, capture_output=True)
    for name in [*EXPECTED, "expected.json"]:
        assert (tmp_path / name).read_bytes() == (DATA / name).read_bytes(), name


def geo_cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "geo", *args], capture_output=True, text=True,
                          timeout=900, env=env)


@pytest.mark.slow
def test_run_site_and_export_on_the_gbk_register(tmp_path):
    """The Excel-saved GBK register with rejects goes through run, site and export."""
    register = DATA / "excel_gbk_stripped.csv"
    before = register.read_bytes()
    run_dir = tmp_path / "run"
    proc = geo_cli("run", "--firms", str(register), "--coords", "gcj02", "--out", str(run_dir),
                   "--lang", "zh", "--sites", "2")
    assert proc.returncode == 0, proc.stderr
    # the mapping, the row accounting and the stages are printed in Chinese
    assert "企业名称 (name) ← 企业名称" in proc.stdout
    assert "读取 120 行：115 行有效" in proc.stdout and "5 行被拒" in proc.stdout
    assert "读取企业名录" in proc.stderr
    rejects = pd.read_csv(run_dir / "rejects.csv", encoding="utf-8-sig", dtype=str)
    assert sorted(rejects["source_row"].astype(int)) == EXPECTED[register.name]["summary"][
        "planted_rows"]["section_contradicts_code"]
    assert rejects["reason_zh"].str.contains("不符").all()
    flagged = pd.read_csv(run_dir / "flagged.csv", encoding="utf-8-sig", dtype=str)
    assert len(flagged) == 12
    site_dir = tmp_path / "site"
    proc = geo_cli("site", "--firms", str(register), "--coords", "gcj02", "--out",
                   str(site_dir), "--k", "2", "--mask", "none")
    assert proc.returncode == 0, proc.stderr
    assert (site_dir / "rejects.csv").is_file() and (site_dir / "sites.csv").is_file()
    export_dir = tmp_path / "export"
    proc = geo_cli("export", str(run_dir), "-f", "geojson", "--out", str(export_dir))
    assert proc.returncode == 0, proc.stderr
    firms = json.loads((export_dir / "firms.geojson").read_text(encoding="utf-8"))
    assert len(firms["features"]) == 115
    assert register.read_bytes() == before  # the input is never modified


def test_messages_follow_the_locale(tmp_path):
    env = {**os.environ, "LANG": "zh_CN.UTF-8", "LC_ALL": "", "LC_MESSAGES": ""}
    proc = geo_cli("validate", str(DATA / "census_headers.csv"), "--coords", "gcj02",
                   "--rejects", str(tmp_path / "r.csv"), "--flagged", str(tmp_path / "f.csv"),
                   env=env)
    assert proc.returncode == 0, proc.stderr
    assert "列映射" in proc.stdout and "读取 100 行：100 行有效" in proc.stdout
    assert "营业收入 (revenue) ← 营业收入(千元) [千元]" in proc.stdout
    proc = geo_cli("validate", str(tmp_path / "missing.csv"), env=env)
    assert proc.returncode == 2 and "找不到文件" in proc.stderr
    env["LANG"] = "en_US.UTF-8"
    proc = geo_cli("validate", str(tmp_path / "missing.csv"), env=env)
    assert proc.returncode == 2 and "file not found" in proc.stderr
