"""No command overwrites a file without --force, and none ever replaces its input (issue 17)."""

import hashlib

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from typer.testing import CliRunner

from geo.cli import app
from geo.errors import OutputError
from geo.outputs import check_output_files, looks_like_report

FIRMS = (
    "firm_id,name,industry_code,lon,lat,employees\n"
    "1,杭州海康数字科技有限公司,C3911,120.2101,30.1901,120\n"
    "2,滨江云服务有限公司,I6510,120.1904,30.2104,300\n"
    "3,上城金融服务有限公司,J6620,120.1706,30.2506,25\n"
    "4,余杭物流仓储有限公司,G5920,120.0305,30.4205,60\n"
)
NO_COORDINATES = "5,坐标缺失有限公司,C3911,,,10\n"


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _invoke(*args):
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert "Traceback" not in result.output
    return result


@pytest.fixture
def layer(tmp_path):
    path = tmp_path / "zones.geojson"
    gpd.GeoDataFrame({"name_zh": ["甲"]}, geometry=[shapely.box(120.1, 30.2, 120.2, 30.3)],
                     crs="EPSG:4326").to_file(path)
    return path


@pytest.mark.parametrize("command", [
    ["index", "zonal", "--n", "300", "--out", "{out}.xlsx"],
    ["index", "zonal", "--n", "300", "--out", "{out}.csv", "--gpkg", "{existing}"],
    ["index", "crossk", "--n", "300", "--out", "{existing}"],
    ["index", "crossk", "--n", "300", "--out", "{out}.csv", "--plot", "{existing}"],
    ["index", "kd", "--n", "300", "--out", "{out}.csv"],
    ["index", "m", "--n", "300", "--out", "{out}.csv"],
    ["index", "clq", "--n", "300", "--out", "{out}.csv", "--local", "{existing}"],
    ["clusters", "--n", "300", "--out", "{existing}"],
    ["clusters", "--n", "300", "--out", "{out}.gpkg", "--density", "{out}.tif"],
    ["map", "{layer}", "--out", "{existing}"],
    ["map", "{layer}", "--static", "--out", "{folder}"],
    ["seed", "--n", "300", "--out", "{existing}"],
    ["export", "{layer}", "--format", "gpkg", "--out", "{existing}"],
    ["export", "{layer}", "--format", "xlsx", "--out", "{out}.xlsx"],
])
def test_every_command_refuses_to_overwrite_without_force(tmp_path, layer, command):
    out = tmp_path / "result"
    existing = tmp_path / "mine.gpkg"
    folder = tmp_path / "maps"
    folder.mkdir()
    # the files each command would replace, made by the user
    for path in (existing, tmp_path / "result.xlsx", tmp_path / "result.csv",
                 tmp_path / "result.tif", folder / "map_clusters.png"):
        path.write_text("the user's own file", encoding="utf-8")
    before = {p: _digest(p) for p in tmp_path.rglob("*") if p.is_file()}
    args = [a.format(out=out, existing=existing, layer=layer, folder=folder) for a in command]
    result = _invoke(*args)
    assert result.exit_code == 2, result.output
    assert "--force" in result.output and "Error" not in result.output
    assert {p: _digest(p) for p in tmp_path.rglob("*") if p.is_file()} == before


def test_force_replaces_and_an_input_is_never_replaced(tmp_path, layer):
    out = tmp_path / "zones.gpkg"
    out.write_text("old", encoding="utf-8")
    result = _invoke("export", layer, "--format", "gpkg", "--out", out, "--force")
    assert result.exit_code == 0, result.output
    assert gpd.read_file(out, layer="zones")["name_zh"].tolist() == ["甲"]
    # the export of a file onto itself: refused, even with --force
    result = _invoke("export", out, "--format", "gpkg", "--out", out, "--force")
    assert result.exit_code == 2 and "--force" in result.output
    assert gpd.read_file(out, layer="zones")["name_zh"].tolist() == ["甲"]


def test_validate_refreshes_its_own_reports_and_keeps_other_files(tmp_path):
    data = tmp_path / "firms.csv"
    data.write_text(FIRMS + NO_COORDINATES, encoding="utf-8")
    rejects = tmp_path / "firms.rejects.csv"
    assert _invoke("validate", data).exit_code == 1
    assert looks_like_report(rejects)
    first = rejects.read_bytes()
    # validating again refreshes geo's own rejects file without --force
    assert _invoke("validate", data).exit_code == 1
    assert rejects.read_bytes() == first
    # the data fixed: the out-of-date rejects file goes
    data.write_text(FIRMS, encoding="utf-8")
    result = _invoke("validate", data)
    assert result.exit_code == 0 and "out-of-date" in result.output
    assert not rejects.exists()
    # a file of that name that geo did not write is kept, unless --force
    rejects.write_text("my notes on the rejects", encoding="utf-8")
    data.write_text(FIRMS + NO_COORDINATES, encoding="utf-8")
    result = _invoke("validate", data)
    assert result.exit_code == 2 and "--force" in result.output
    assert rejects.read_text(encoding="utf-8") == "my notes on the rejects"
    assert _invoke("validate", data, "--force").exit_code == 1
    assert looks_like_report(rejects)
    # and the input itself never, with or without --force
    result = _invoke("validate", data, "--rejects", data, "--force")
    assert result.exit_code == 2 and "never replaces its inputs" in result.output
    assert data.read_text(encoding="utf-8") == FIRMS + NO_COORDINATES


def test_index_rejects_beside_the_output_are_refreshed(tmp_path):
    data = tmp_path / "firms.csv"
    data.write_text(FIRMS + NO_COORDINATES, encoding="utf-8")
    out = tmp_path / "k.csv"
    args = ["index", "crossk", "--firms", data, "--out", out, "--nsim", "0", "--nr", "9",
            "--type-column", "industry_code", "--a", "C3911", "--b", "I6510"]
    first = _invoke(*args)
    assert first.exit_code == 0, first.output
    assert looks_like_report(tmp_path / "k_rejects.csv")
    # the table and the plot are the user's now: refused; the rejects beside them are geo's
    again = _invoke(*args)
    assert again.exit_code == 2 and "k.csv exists" in again.output
    assert _invoke(*args, "--force").exit_code == 0


def test_report_detection_and_the_checks(tmp_path):
    report = tmp_path / "a.rejects.csv"
    pd.DataFrame({"source_row": [2], "column": ["lon"], "reason_zh": ["缺少坐标"],
                  "reason_en": ["missing coordinates"]}).to_csv(report, index=False,
                                                                encoding="utf-8-sig")
    flagged = tmp_path / "a.flagged.csv"
    flagged.write_text("source_row,firm_id,name,industry_code,flag_zh,flag_en\n",
                       encoding="utf-8")
    other = tmp_path / "b.csv"
    other.write_text("source_row,comment\n2,mine\n", encoding="utf-8")
    assert looks_like_report(report) and looks_like_report(flagged)
    assert not looks_like_report(other) and not looks_like_report(tmp_path / "missing.csv")
    check_output_files([report, flagged], reports=[report, flagged])
    with pytest.raises(OutputError, match="exists"):
        check_output_files([other], reports=[other])
    with pytest.raises(OutputError, match="is a folder"):
        check_output_files([tmp_path], force=True)
    link = tmp_path / "link.csv"
    link.symlink_to(other)
    with pytest.raises(OutputError, match="never replaces its inputs"):
        check_output_files([link], force=True, inputs=[other])
