"""The results pack (geo report): summary traceable to cells, HTML, Word, workbook, browser, PDF.

A small ``geo run`` (3,000 synthetic firms) writes the Chinese pack under
``report/``; the English pack is written from the same folder with
``geo report --lang en``. The summary's numbers are checked against the cells
of the HTML tables, and those cells against the run's CSV files; Word and the
workbook are read back with python-docx and openpyxl; the HTML is opened in
Chromium with the network off; and, where LibreOffice is installed, the Word
file is rendered to PDF and its pages read.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from geo.pipeline import RunConfig, run
from geo.report import write_report
from geo.report.data import RunData, load_run
from geo.report.document import build_report
from geo.report.html import render_html
from geo.report.table import format_value
from geo.report.tables import zone_table


@pytest.fixture(scope="module")
def pack(tmp_path_factory):
    """A run folder with its Chinese pack (written by geo run) and an English one."""
    folder = tmp_path_factory.mktemp("run") / "geo-out"
    result = run(RunConfig(seed_n=3_000, output=folder))
    english = write_report(folder, folder / "report_en", "en")
    return result, folder, english


class _Page(HTMLParser):
    """Tables (table -> row -> column -> text), summary citations and figures of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: dict[str, dict[str, dict[str, str]]] = {}
        self.cites: list[dict] = []
        self.findings: list[str] = []
        self.images: list[str] = []
        self.figures, self.scripts, self.links = 0, 0, []
        self._table = self._row = None
        self._open: list[tuple[str, dict]] = []  # elements whose text is being collected
        self._in_findings = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "script":
            self.scripts += 1
        if tag in ("a", "link") and a.get("href"):
            self.links.append(a["href"])
        if tag == "img":
            self.images.append(a.get("src", ""))
        if tag == "figure":
            self.figures += 1
        if "data-table" in a and tag != "a":
            self._table = a["data-table"]
            self.cells.setdefault(self._table, {})
        if "data-row" in a and tag != "a":
            self._row = a["data-row"]
        if tag == "ol" and a.get("class") == "findings":
            self._in_findings = True
        if tag == "li" and self._in_findings:
            self._open.append(("li", {"text": ""}))
        if tag == "a" and a.get("class") == "cite":
            self._open.append(("cite", {**a, "text": ""}))
        elif "data-col" in a:
            self._open.append(("cell", {"col": a["data-col"], "text": ""}))

    def handle_data(self, data):
        for _, item in self._open:
            item["text"] += data

    def handle_endtag(self, tag):
        if tag == "ol":
            self._in_findings = False
        if not self._open:
            return
        kind, item = self._open[-1]
        if (kind == "cite" and tag == "a") or (kind == "li" and tag == "li") or (
                kind == "cell" and tag in ("td", "dd", "h4")):
            self._open.pop()
            if kind == "cite":
                self.cites.append(item)
            elif kind == "li":
                self.findings.append(item["text"])
            else:
                self.cells[self._table].setdefault(self._row, {})[item["col"]] = item["text"]


def _page(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_number_in_the_summary_is_the_cell_it_cites(pack, lang):
    _, folder, english = pack
    page = _page(folder / "report" / "report.html" if lang == "zh" else english[0])
    assert 5 <= len(page.findings) <= 10
    assert len(page.cites) >= 15
    for cite in page.cites:
        cell = page.cells[cite["data-table"]][cite["data-row"]][cite["data-col"]]
        assert cite["text"] == cell, cite
    # no number is written into a sentence except through a citation
    cited = {c["text"] for c in page.cites}
    for finding in page.findings:
        rest = finding
        for text in sorted(cited, key=len, reverse=True):
            rest = rest.replace(text, "")
        assert not re.search(r"\d", rest), finding


def test_the_tables_hold_the_runs_values(pack):
    """Cells of the report against the CSV files of the run they were read from."""
    _, folder, _ = pack
    cells = _page(folder / "report" / "report.html").cells
    measures = pd.read_csv(folder / "indices_zone_measures.csv", dtype={"zone_id": str})
    districts = measures[measures["layer"] == "districts"].set_index(
        ["zone_id", "group", "measure"])["value"]
    for zone_id, row in cells["zones_districts"].items():
        pair = "manufacturing__producer_services"
        assert row["quality"] == f"{districts[(zone_id, pair, 'coagg_quality')]:.3f}"
        assert row["level"] == f"{districts[(zone_id, pair, 'coagg_level')]:.3f}"
        assert row["lq_m"] == f"{districts[(zone_id, 'manufacturing', 'lq')]:.2f}"
        assert row["w_s"] == f"{districts[(zone_id, 'producer_services', 'weight')]:,.0f}"
    summary = pd.read_csv(folder / "summary_district_group.csv", dtype={"zone_id": str})
    firms = summary.set_index("zone_id")["firms"]
    for zone_id, row in cells["zones_districts"].items():
        assert row["firms"] == f"{firms[zone_id]:,.0f}"
    assert cells["overview"]["firms"]["value"] == f"{firms['total']:,.0f}"
    sites = pd.read_csv(folder / "sites.csv", dtype={"rank": str})
    for _, site in sites.iterrows():
        row = cells["sites"][site["rank"]]
        assert row["lon_gcj"] == f"{site['centre_lon_gcj02']:.6f}"
        assert row["lat"] == f"{site['centre_lat']:.6f}"
        assert row["radius_km"] == f"{site['radius_m'] / 1000:,.1f}"
    clusters = pd.read_csv(folder / "clusters.csv", dtype={"cluster_id": str})
    assert set(cells["clusters"]) == set(clusters["cluster_id"])
    assert cells["overview"]["clusters"]["value"] == str(len(clusters))
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert cells["inputs"]["n_read"]["value"] == f"{manifest['enterprises']['n_read']:,}"


def _zones(names: list[str]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"zone_id": [f"z{i}" for i in range(len(names))], "name_zh": names,
                             "name_en": names},
                            geometry=[shapely.box(i, 0, i + 1, 1) for i in range(len(names))],
                            crs="EPSG:4549")


def _measures(rows: dict[str, tuple[float, float, float, float]]) -> pd.DataFrame:
    """Long zone measures from (manufacturing firms, producer-service firms, LQm, LQs)."""
    out = []
    for zone, (w_m, w_s, lq_m, lq_s) in rows.items():
        c = 1 - abs(lq_m - lq_s) / (lq_m + lq_s)
        for group, measure, value in (
                ("manufacturing", "weight", w_m), ("producer_services", "weight", w_s),
                ("manufacturing", "share", w_m / (w_m + w_s)),
                ("producer_services", "share", w_s / (w_m + w_s)),
                ("manufacturing", "lq", lq_m), ("producer_services", "lq", lq_s),
                ("manufacturing__producer_services", "coagg_quality", c),
                ("manufacturing__producer_services", "coagg_level", c + lq_m + lq_s)):
            out.append({"layer": "parks", "zone_id": zone, "group": group, "measure": measure,
                        "value": value})
    return pd.DataFrame(out)


def test_flags_mark_a_level_resting_on_one_industry_and_small_zones():
    """Hand-made zones: the issue's 金融港湾 case (LQm 0.18), a balanced one, a tiny one."""
    data = RunData(
        folder=Path("."), manifest={"parameters": {"weighting": "count"}}, synthetic=False,
        layers=["parks"], grids=[], zones={"parks": _zones(["港湾", "均衡", "小园"])},
        measures=_measures({"z0": (30, 400, 0.18, 5.4), "z1": (200, 220, 1.1, 1.0),
                            "z2": (5, 6, 0.9, 1.1)}),
        coagglomeration=pd.DataFrame(), industry=pd.DataFrame(), parameters=pd.DataFrame())
    table = zone_table(data, "parks", "zh")
    # C' = C + LQm + LQs: 港湾 1 - 5.22/5.58 + 5.58 = 5.6445 ranks first, on LQm 0.18 alone
    assert table.text("z0", "level") == "5.645"
    assert table.frame.at["z0", "rank_level"] == 1
    assert "制造业 LQ 仅 0.18" in table.frame.at["z0", "flag"]
    assert table.frame.at["z1", "flag"] == ""
    assert "企业少" in table.frame.at["z2", "flag"] and "制造业 5" in table.frame.at["z2", "flag"]
    # sorted by C: the balanced zone (C = 1 - 0.1/2.1) first
    assert list(table.frame.index) == ["z1", "z2", "z0"]
    assert table.text("z1", "quality") == format_value(1 - 0.1 / 2.1, "f3") == "0.952"


def test_every_table_chart_and_map_is_in_the_html(pack):
    _, folder, _ = pack
    data = load_run(folder)
    report = build_report(data, "zh")
    page = _page(folder / "report" / "report.html")
    for table_id in report.tables:
        assert table_id in page.cells, table_id
    charts = sum(b.kind == "chart" for s in report.sections for b in s.blocks)
    assert charts >= 8
    assert page.figures == charts + len(data.static_maps) and len(data.static_maps) == 2
    assert all(src.startswith("data:image/png;base64,") for src in page.images)
    assert page.scripts == 0
    assert all(link.startswith("#") for link in page.links)  # nothing outside the page
    # scorecards: one card per platform, nearest proposed zone named
    assert len(page.cells["cards_platforms"]) == len(data.zones["platforms"])
    assert all(row["site"].startswith("拟建") for row in page.cells["cards_platforms"].values())


def test_synthetic_banner_exactly_when_the_firms_are_synthetic(pack, tmp_path):
    _, folder, _ = pack
    html = (folder / "report" / "report.html").read_text(encoding="utf-8")
    assert html.count('id="synthetic-banner"') == 1
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    real = build_report(load_run(folder, {**manifest, "synthetic": False}), "zh")
    html = render_html(real)
    assert "synthetic-banner" not in html and "合成数据" not in html


def test_word_document_reads_back(pack):
    from docx import Document

    _, folder, _ = pack
    report = build_report(load_run(folder), "zh")
    document = Document(str(folder / "report" / "report.docx"))
    headings = [p.text for p in document.paragraphs if p.style.name == "Heading 1"]
    assert headings == [f"{i}. {s.title}" for i, s in enumerate(report.sections, start=1)]
    captions = [p.text for p in document.paragraphs if p.style.name == "Caption"]
    tables = [c for c in captions if c.startswith("表")]
    figures = [c for c in captions if c.startswith("图")]
    n_tables = sum(b.kind in ("table", "cards") for s in report.sections for b in s.blocks)
    n_figures = sum(b.kind in ("chart", "map") for s in report.sections for b in s.blocks)
    assert [c.split(" ")[0] for c in tables] == [f"表{i}" for i in range(1, n_tables + 1)]
    assert [c.split(" ")[0] for c in figures] == [f"图{i}" for i in range(1, n_figures + 1)]
    assert len(document.inline_shapes) == n_figures
    # the district table: header with units, one row per district
    districts = report.tables["zones_districts"]
    grid = next(t for t in document.tables if t.rows[0].cells[0].text == "名称"
                and len(t.columns) == len(districts.columns))
    assert [c.text for c in grid.rows[0].cells] == [c.title for c in districts.columns]
    assert len(grid.rows) == 1 + len(districts.frame)
    assert "合成数据" in document.sections[0].header.paragraphs[0].text


def test_workbook_has_a_sheet_per_table_with_headers_formats_and_the_guide(pack):
    from openpyxl import load_workbook

    _, folder, english = pack
    report = build_report(load_run(folder), "zh")
    book = load_workbook(folder / "report" / "tables.xlsx")
    tables = report.workbook_tables()
    assert len(book.sheetnames) == len(tables)
    assert book.sheetnames[-1] == "阅读指南"
    sheet = book["区县"]
    assert sheet["A1"].value.startswith("合成数据")
    headers = [c.value for c in sheet[2]]
    assert headers[:3] == ["名称", "企业总数（家）", "制造业（家）"]
    assert "提示" in headers and sheet.freeze_panes == "B3"
    lq = headers.index("制造业区位熵 LQ") + 1
    assert sheet.cell(3, lq).number_format == "#,##0.00"
    assert isinstance(sheet.cell(3, lq).value, float)
    guide = book["阅读指南"]
    assert [c.value for c in guide[2]][:3] == ["指数", "定义（公式）", "取值范围"]
    english_book = load_workbook(english[2])
    assert english_book.sheetnames[-1] == "Reading guide"
    assert [c.value for c in english_book["Districts"][2]][:2] == ["Name", "All firms (firms)"]


def test_hostile_zone_names_stay_text_in_every_format(pack, tmp_path):
    """Markup, a spreadsheet formula and a control character in a user's zone names."""
    from docx import Document
    from openpyxl import load_workbook

    from geo.report.word import write_docx
    from geo.report.workbook import write_xlsx

    _, folder, _ = pack
    data = load_run(folder)
    names = ['<script>alert("x")</script>', '=HYPERLINK("http://evil","x")', "园\x07区"]
    platforms = data.zones["platforms"]
    platforms.loc[platforms.index[:3], "name_zh"] = names
    report = build_report(data, "zh")
    page = _Page()
    page.feed(render_html(report))
    assert page.scripts == 0
    shown = {row["name"] for row in page.cells["zones_platforms"].values()}
    assert names[0] in shown and names[1] in shown
    write_docx(report, tmp_path / "r.docx")
    text = "\n".join(c.text for t in Document(str(tmp_path / "r.docx")).tables
                     for row in t.rows for c in row.cells)
    assert names[0] in text and "园\ufffd区" in text
    write_xlsx(report, tmp_path / "t.xlsx")
    sheet = load_workbook(tmp_path / "t.xlsx")["重点平台"]
    formula = next(c for row in sheet.iter_rows() for c in row if c.value == names[1])
    assert formula.data_type == "s" and formula.quotePrefix


def test_charts_without_a_chinese_font_name_zones_in_english(pack, monkeypatch):
    """No CJK font: the Chinese report's charts fall back to English and draw no empty boxes.

    Zones are labelled by their English names, or by id when a zone has only a
    Chinese name; matplotlib warns for every glyph its fonts lack, so no such
    warning means every label was drawn.
    """
    import warnings

    from geo.report.charts import all_charts, zone_names

    _, folder, _ = pack
    data = load_run(folder)
    platforms = data.zones["platforms"]
    only_chinese = platforms.index[0]
    platforms.loc[only_chinese, "name_en"] = platforms.loc[only_chinese, "name_zh"]
    table = zone_table(data, "platforms", "zh")
    monkeypatch.setattr("geo.maps.fonts.find_cjk_font", lambda: None)
    names = zone_names(data, table, "en")
    english = platforms.set_index("zone_id")["name_en"]
    zone = platforms.at[only_chinese, "zone_id"]
    assert names[zone] == zone
    others = names.drop(zone)
    assert (others == english.reindex(others.index)).all() and len(others) > 3
    tables = {"zones_platforms": table, "zones_districts": zone_table(data, "districts", "zh")}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        charts = all_charts(data, tables, "zh")
    assert {c.id for c in charts} >= {"bars_platforms", "bars_districts",
                                      "composition_platforms"}
    missing = [str(w.message) for w in caught if "missing from font" in str(w.message)]
    assert missing == []


def test_geo_run_writes_the_pack_and_records_it(pack):
    result, folder, _ = pack
    for name in ("report/report.html", "report/report.docx", "report/tables.xlsx"):
        assert name in result.manifest["outputs"] and (folder / name).stat().st_size > 0
    assert "write the results pack" in result.manifest["timings_s"]
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert "report/report.docx" in manifest["outputs"]
    assert "report/" in (folder / "README.txt").read_text(encoding="utf-8")


def test_geo_report_command(pack, tmp_path):
    from typer.testing import CliRunner

    from geo.cli import app

    _, folder, _ = pack
    out = tmp_path / "pack"
    done = CliRunner().invoke(app, ["report", str(folder), "--lang", "en", "--out", str(out)])
    assert done.exit_code == 0, done.output
    assert (out / "report.html").read_text(encoding="utf-8").count("Reading guide") >= 1
    missing = CliRunner().invoke(app, ["report", str(tmp_path / "nowhere")])
    assert missing.exit_code != 0
    assert "not a geo run folder" in missing.output and "Traceback" not in missing.output
    wrong = CliRunner().invoke(app, ["report", str(folder), "--lang", "fr", "--out", str(out)])
    assert wrong.exit_code != 0 and "unknown language" in wrong.output


@pytest.mark.browser
@pytest.mark.parametrize("size", [(1366, 768), (1600, 1000)], ids=["1366x768", "1600x1000"])
def test_report_opens_offline_in_chromium(pack, size):
    from chromium import offline_chromium, sent_requests, severe

    _, folder, _ = pack
    with offline_chromium(*size) as driver:
        driver.get((folder / "report" / "report.html").resolve().as_uri())
        assert [r for r in sent_requests(driver) if not r["url"].startswith(("file:", "data:"))
                ] == []
        assert severe(driver.get_log("browser")) == []
        state = driver.execute_script("""
            const imgs = [...document.images];
            const banner = document.getElementById('synthetic-banner').getBoundingClientRect();
            return {images: imgs.length, drawn: imgs.filter(i => i.complete && i.naturalWidth > 0)
                        .length,
                    wide: document.documentElement.scrollWidth, view: window.innerWidth,
                    banner: [banner.top, banner.height], title: document.title};
        """)
        assert state["images"] >= 10 and state["drawn"] == state["images"]
        assert state["wide"] <= state["view"]  # no sideways scrolling of the page
        assert state["banner"][0] == 0 and state["banner"][1] > 10
        assert state["title"] == "制造业与生产性服务业协同集聚研究报告"
        driver.execute_script("window.scrollTo(0, document.body.scrollHeight / 2)")
        top = driver.execute_script(
            "return document.getElementById('synthetic-banner').getBoundingClientRect().top")
        assert top == 0  # the banner stays in view while reading


def test_word_document_renders_in_libreoffice(pack, tmp_path):
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        pytest.skip("LibreOffice is not installed (Debian: apt-get install "
                    "libreoffice-writer-nogui)")
    pypdf = pytest.importorskip("pypdf")
    _, folder, _ = pack
    subprocess.run([soffice, "--headless", f"-env:UserInstallation={(tmp_path / 'lo').as_uri()}",
                    "--convert-to", "pdf", "--outdir", str(tmp_path),
                    str(folder / "report" / "report.docx")],
                   check=True, capture_output=True, timeout=300)
    reader = pypdf.PdfReader(tmp_path / "report.pdf")
    pages = [page.extract_text() for page in reader.pages]
    assert len(pages) >= 10
    assert "制造业与生产性服务业协同集聚研究报告" in pages[0].replace(" ", "")
    assert all("合成数据" in text for text in pages)  # the banner on every page
    images = sum(len(page.images) for page in reader.pages)
    assert images >= 10
    assert np.mean([len(t) for t in pages]) > 100


def test_a_run_without_distance_functions_or_siting_gets_its_pack(tmp_path):
    folder = tmp_path / "run"
    run(RunConfig(seed_n=2_000, output=folder, site_k=0, distance_nsim=-1))
    html = (folder / "report" / "report.html").read_text(encoding="utf-8")
    page = _page(folder / "report" / "report.html")
    assert "distance" not in page.cells and "sites" not in page.cells
    assert "本次运行未计算距离函数" in html and "本次运行未做选址" in html
    for cite in page.cites:
        assert cite["text"] == page.cells[cite["data-table"]][cite["data-row"]][cite["data-col"]]
    assert len(page.findings) >= 5
