"""Hostile names (issue 17): no script runs in the web map, no live formula in
spreadsheets, no markup in KML.

A platform file whose names are HTML (``<img src=x onerror=alert(1)>``) or
spreadsheet formulas goes through ``geo map FILE``, ``geo run --zone``,
``geo index zonal`` and ``geo export``. The pages are read as text and, where
Chromium is available, opened and hovered and clicked with ``alert`` recorded.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import geopandas as gpd
import openpyxl
import pandas as pd
import pyogrio
import pytest
from typer.testing import CliRunner

from geo.cli import app
from geo.config import load_config
from geo.errors import ConfigError
from geo.export.layers import write_tables
from geo.io.firms import read_firms
from geo.io.zones import load_layer, study_area
from geo.maps import load_recipe, web_map
from geo.safety import escape_html, formula_risk, neutralise_formulas, script_json

try:  # the Chromium of the browser tests; that module skips itself without selenium
    from test_browser import _open, driver  # noqa: F401 - driver is a fixture
except pytest.skip.Exception as skipped:
    _reason = str(skipped)

    @pytest.fixture
    def driver():
        pytest.skip(_reason)


XSS = "<img src=x onerror=alert(1)>"
SCRIPT = "</script><script>alert(2)</script>"
FORMULA = '=HYPERLINK("http://evil.example","点击")'
FORMULAS = (FORMULA, "@SUM(1+1)", "-2+3")  # names a spreadsheet would run
CHEAP_RUN = """
[seed]
n = 3000
[indices]
grid = "none"
[distance]
nsim = -1
[clusters]
permutations = 9
min_cluster_size = 20
[siting]
k = 2
[map]
offline = true  # the browser tests run with the network off
"""


@pytest.fixture(scope="module")
def platforms(tmp_path_factory) -> Path:
    """The bundled platforms renamed by an attacker, with tricky numbers and texts beside."""
    frame = load_layer("platforms")[["zone_id", "geometry"]].copy()
    frame["name_zh"] = [XSS, FORMULA, f"{XSS}2", "@SUM(1+1)", "-2+3"]
    frame["name_en"] = XSS
    frame["source"] = SCRIPT
    frame["score"] = [-3.5, 1.0, 2.0, 3.0, 4.0]  # a number: never touched
    frame["code"] = ["-3.5", "+86 571", "\tx", "\ry", "ok"]  # text
    path = tmp_path_factory.mktemp("hostile") / "platforms.geojson"
    frame.to_file(path)
    return path


def _invoke(*args: str) -> None:
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output


def _assert_inert_page(page: str) -> None:
    assert XSS not in page and "onerror=alert(1)>" not in page
    assert "<script>alert(2)" not in page
    # the names are still there, as text
    assert "&lt;img src=x onerror=alert(1)&gt;" in page or "\\u003cimg src=x" in page


# --------------------------------------------------------------------------- geo.safety


def test_formula_rule_spares_numbers_and_plain_text():
    table = pd.DataFrame({
        FORMULA: ["=1+1", "+1+cmd|' /C calc'!A0", "@SUM(A1)", "\t=1", "\r=1", "-3.5", "+2e3",
                  "-", "ok", None],
        "number": [-3.5, -1, 0, 1, 2, 3, 4, 5, 6, 7],
        "mixed": pd.Series([-3.5, "-1+1", 0, None, 2, 3, 4, 5, 6, "=A1"], dtype=object),
        "flag": pd.Series([True, None, *[False] * 8], dtype=object),  # no text at all
    })
    out = neutralise_formulas(table)
    assert out.columns.tolist() == [f"'{FORMULA}", "number", "mixed", "flag"]
    assert out.iloc[:9, 0].tolist() == [
        "'=1+1", "'+1+cmd|' /C calc'!A0", "'@SUM(A1)", "'\t=1", "'\r=1", "-3.5", "+2e3",
        "'-", "ok",
    ]
    assert out.iloc[9, 0] is table.iloc[9, 0]  # missing stays missing
    assert out["number"].tolist() == table["number"].tolist()
    assert out["mixed"].tolist() == [-3.5, "'-1+1", 0, None, 2, 3, 4, 5, 6, "'=A1"]
    assert out["flag"].tolist() == table["flag"].tolist()
    assert table.columns[0] == FORMULA  # the input is not changed
    assert neutralise_formulas(table, allow_formulas=True) is table
    assert formula_risk(FORMULA) and not formula_risk("-3.5") and not formula_risk("'" + FORMULA)


def test_script_json_cannot_end_the_script_and_means_the_same():
    value = {"name": SCRIPT, "note": "<!-- a & b \u2028"}
    text = script_json(value)
    assert "<" not in text and ">" not in text and "\u2028" not in text
    assert json.loads(text) == value
    assert escape_html(XSS) == "&lt;img src=x onerror=alert(1)&gt;"


def test_run_configuration_reads_allow_formulas(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text("[output]\nallow_formulas = true\n", encoding="utf-8")
    assert load_config(path).allow_formulas is True


# --------------------------------------------------------------------------- web map


@pytest.fixture(scope="module")
def mapped(platforms, tmp_path_factory) -> Path:
    """``geo map platforms.geojson``, for use without network."""
    out = tmp_path_factory.mktemp("map") / "map.html"
    _invoke("map", platforms, "--offline", "--out", out)
    return out


@pytest.fixture(scope="module")
def run_folder(platforms, tmp_path_factory) -> Path:
    """``geo run --zone platforms=FILE`` on a small synthetic population."""
    folder = tmp_path_factory.mktemp("run")
    config = folder / "cheap.toml"
    config.write_text(CHEAP_RUN, encoding="utf-8")
    _invoke("run", "-c", config, "--zone", f"platforms={platforms}", "--out", folder / "out")
    return folder / "out"


def test_geo_map_of_a_zone_file_escapes_its_names(mapped):
    _assert_inert_page(mapped.read_text(encoding="utf-8"))


def test_recipe_texts_are_escaped(platforms):
    """A recipe file is user input too: its texts reach titles, legends and the layer control."""
    recipe = load_recipe("default")
    style = dataclasses.replace(recipe.layer("platforms"), title_zh=XSS,
                                label_field={"zh": "name_zh"})
    firms = recipe.layer("firms")
    category = dataclasses.replace(firms.categories[0], zh=XSS)
    recipe = dataclasses.replace(
        recipe, title_zh=XSS, aliases={"name_zh": {"zh": XSS}},
        layers=(style, dataclasses.replace(firms, categories=(category,))),
    )
    zones = gpd.read_file(platforms)
    points = gpd.GeoDataFrame(
        {"name": [XSS], "map_class": [category.key]},
        geometry=zones.representative_point().iloc[:1].to_numpy(), crs=zones.crs,
    )
    m = web_map({"platforms": zones, "firms": points}, recipe, provenance=[SCRIPT])
    _assert_inert_page(m.get_root().render())


@pytest.mark.parametrize("color", ['"><img src=x onerror=alert(1)>', "red</script><script>"])
def test_recipe_colours_must_be_plain_css(tmp_path, color):
    """folium writes style colours into its scripts unescaped: only CSS tokens get there."""
    text = (Path(__file__).parents[1] / "maps" / "default.toml").read_text(encoding="utf-8")
    path = tmp_path / "recipe.toml"
    path.write_text(text.replace('"#e53935"', json.dumps(color), 1), encoding="utf-8")
    assert path.read_text(encoding="utf-8") != text
    with pytest.raises(ConfigError, match="not a CSS colour"):
        load_recipe(path)


@pytest.mark.slow
def test_geo_run_escapes_zone_cluster_and_site_names(run_folder):
    _assert_inert_page((run_folder / "map.html").read_text(encoding="utf-8"))
    # the map shows cluster names and site reasons built from the hostile names
    layers = run_folder / "layers.gpkg"
    clusters = pyogrio.read_dataframe(layers, layer="ps_clusters", read_geometry=False)
    sites = pyogrio.read_dataframe(layers, layer="site_zones", read_geometry=False)
    assert clusters["name_zh"].str.contains(XSS, regex=False).any()
    assert sites["reason_en"].str.contains(XSS, regex=False).any()


@pytest.mark.slow
def test_geo_run_tables_carry_no_formula(run_folder):
    cells = []
    for path in run_folder.glob("*.csv"):
        with path.open(encoding="utf-8-sig", newline="") as handle:
            cells += [cell for row in csv.reader(handle) for cell in row]
    assert not [c for c in cells if c.startswith(FORMULAS)]
    assert f"'{FORMULA}" in cells  # the zone measures name every zone


# Record alert/confirm/prompt before any script of the page runs.
_RECORD_DIALOGS = """
window.__dialogs = [];
for (const name of ["alert", "confirm", "prompt"]) {
  window[name] = function () { window.__dialogs.push(name); };
}
"""
# Switch every overlay on, then hover and click every feature with a hostile
# value; return what the tooltips and popups show.
_HOVER_AND_CLICK = """
const MAP = window[Object.keys(window).find(
    k => /^map_[0-9a-f]+$/.test(k) && window[k] instanceof L.Map)];
for (const box of document.querySelectorAll(".leaflet-control-layers-overlays input")) {
  if (!box.checked) box.click();
}
const hostile = [];
MAP.eachLayer(l => {
  if (l.feature && Object.values(l.feature.properties).some(v => String(v).includes("onerror")))
    hostile.push(l);
});
const shown = [];
for (const layer of hostile) {
  const where = layer.getBounds ? layer.getBounds().getCenter() : layer.getLatLng();
  layer.fire("mouseover", {latlng: where}, true);
  const tip = document.querySelector(".leaflet-tooltip");
  if (tip) shown.push(tip.textContent);
  layer.fire("mouseout", {latlng: where}, true);
  layer.fire("click", {latlng: where}, true);
  const popup = document.querySelector(".leaflet-popup-content");
  if (popup) shown.push(popup.textContent);
  MAP.closePopup();
}
return {hostile: hostile.length, shown: shown};
"""


def _assert_no_script_runs(driver, page: Path) -> None:
    import time

    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": _RECORD_DIALOGS})
    _open(driver, page)
    result = driver.execute_script(_HOVER_AND_CLICK)
    assert result["hostile"] > 0
    time.sleep(0.5)  # an injected <img src=x> would fail to load by now
    assert driver.execute_script("return window.__dialogs") == []
    assert driver.execute_script("return document.querySelectorAll('[onerror]').length") == 0
    assert any(XSS in text for text in result["shown"])  # shown as text


@pytest.mark.browser
def test_no_script_runs_in_geo_map_of_a_zone_file(driver, mapped):
    _assert_no_script_runs(driver, mapped)


@pytest.mark.browser
@pytest.mark.slow
def test_no_script_runs_in_the_run_map(driver, run_folder):
    _assert_no_script_runs(driver, run_folder / "map.html")


# --------------------------------------------------------------------------- spreadsheets


def _cells(path: Path) -> list:
    book = openpyxl.load_workbook(path)
    return [cell for sheet in book for row in sheet.iter_rows() for cell in row]


def _assert_no_live_formula(path: Path) -> None:
    cells = _cells(path)
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    hostile = [c for c in cells if isinstance(c.value, str) and c.value.startswith(FORMULAS)]
    assert {c.value for c in hostile} >= set(FORMULAS)  # the text is kept exactly
    assert all(c.data_type == "s" and c.quotePrefix for c in hostile)


def test_index_zonal_xlsx_has_no_live_formula(platforms, tmp_path):
    out = tmp_path / "x.xlsx"
    _invoke("index", "zonal", "--zones", platforms, "--n", 2000, "--out", out)
    _assert_no_live_formula(out)
    trusted = tmp_path / "trusted.xlsx"
    _invoke("index", "zonal", "--zones", platforms, "--n", 2000, "--out", trusted,
            "--allow-formulas")
    assert any(c.data_type == "f" and c.value == FORMULA for c in _cells(trusted))


def test_export_xlsx_has_no_live_formula(platforms, tmp_path):
    out = tmp_path / "e.xlsx"
    _invoke("export", platforms, "-f", "xlsx", "--out", out)
    _assert_no_live_formula(out)
    scores = [c.value for c in _cells(out) if isinstance(c.value, float) and c.value < 0]
    assert scores == [-3.5]  # numbers stay numbers


def test_xlsx_takes_any_table_name_and_control_characters(tmp_path):
    """Sheet names Excel refuses, or equal in their first 31 characters, lost or sank a workbook."""
    long = "x" * 40
    tables = {
        "a/b": pd.DataFrame({"name\x02": ["x\x01y", FORMULA]}),
        f"{long}1": pd.DataFrame({"n": [1]}),
        f"{long}2": pd.DataFrame({"n": [2]}),
        "A": pd.DataFrame({"n": [3]}),
        "a": pd.DataFrame({"n": [4]}),
    }
    write_tables(tables, tmp_path / "t.xlsx")
    book = openpyxl.load_workbook(tmp_path / "t.xlsx")
    assert book.sheetnames == ["a_b", "x" * 31, "x" * 29 + "_1", "A", "a_1"]
    assert [c.value for c in book["a_b"]["A"]] == ["name\ufffd", "x\ufffdy", FORMULA]
    assert [book[name]["A2"].value for name in book.sheetnames[1:]] == [1, 2, 3, 4]


def test_export_csv_neutralises_formulas_unless_allowed(platforms, tmp_path):
    _invoke("export", platforms, "-f", "csv", "--out", tmp_path / "safe")
    safe = pd.read_csv(tmp_path / "safe" / "platforms.csv", encoding="utf-8-sig", dtype=str,
                       keep_default_na=False)
    assert safe["name_zh"].tolist()[1:] == [f"'{FORMULA}", f"{XSS}2", "'@SUM(1+1)", "'-2+3"]
    assert safe["code"].tolist() == ["-3.5", "'+86 571", "'\tx", "'\ry", "ok"]
    assert safe["score"].tolist()[0] == "-3.5"
    _invoke("export", platforms, "-f", "csv", "--out", tmp_path / "trusted", "--allow-formulas")
    trusted = pd.read_csv(tmp_path / "trusted" / "platforms.csv", encoding="utf-8-sig",
                          dtype=str, keep_default_na=False)
    assert trusted["name_zh"].tolist()[1:] == [FORMULA, f"{XSS}2", "@SUM(1+1)", "-2+3"]


def test_rejects_file_neutralises_formulas_unless_allowed(tmp_path):
    source = tmp_path / "firms.csv"
    pd.DataFrame({
        "firm_id": ["a1", "a2", "a3"],
        "name": [FORMULA, "@SUM(1+1)", "杭州科技有限公司"],
        "industry_code": ["3911", "3911", "6510"],
        "lon": ["", "120.15", "120.16"],  # a1 has no position: rejected
        "lat": ["30.28", "", "30.27"],  # a2 neither
        "employees": ["10", "-2+3", "12"],
    }).to_csv(source, index=False)
    table = read_firms(source, study_area=study_area(load_layer("districts")))
    safe = pd.read_csv(table.write_rejects(tmp_path / "rejects.csv"), dtype=str,
                       encoding="utf-8-sig", keep_default_na=False)
    assert safe["name"].tolist() == [f"'{FORMULA}", "'@SUM(1+1)"]
    assert safe["employees"].tolist() == ["10", "'-2+3"]
    trusted = pd.read_csv(table.write_rejects(tmp_path / "trusted.csv", allow_formulas=True),
                          dtype=str, encoding="utf-8-sig", keep_default_na=False)
    assert trusted["name"].tolist() == [FORMULA, "@SUM(1+1)"]


# --------------------------------------------------------------------------- KML


@pytest.mark.parametrize("fmt", ["kml", "kmz"])
def test_kml_names_and_descriptions_carry_no_markup(platforms, tmp_path, fmt):
    import zipfile

    _invoke("export", platforms, "-f", fmt, "--out", tmp_path / "out")
    path = tmp_path / "out" / f"platforms.{fmt}"
    data = (zipfile.ZipFile(path).read("doc.kml") if fmt == "kmz" else path.read_bytes())
    ns = {"kml": "http://www.opengis.net/kml/2.2"}
    placemarks = ET.fromstring(data).findall(".//kml:Placemark", ns)
    assert len(placemarks) == 5
    for placemark in placemarks:
        # Google Earth renders these texts as HTML: no tag may survive in them
        for tag in ("name", "description"):
            text = placemark.findtext(f"kml:{tag}", "", ns)
            assert "<img" not in text and "<script" not in text and "onerror=alert(1)>" not in text
        description = placemark.findtext("kml:description", "", ns)
        assert "&lt;/script&gt;&lt;script&gt;alert(2)" in description  # still readable
    assert placemarks[0].findtext("kml:name", "", ns) == escape_html(XSS)

