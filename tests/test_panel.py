"""Panels by year: who is active when, change by hand, the permutation null, geo run --years."""

from __future__ import annotations

import json
import time

import numpy as np
import pandas as pd
import pytest
import shapely
from geopandas import GeoDataFrame

from geo.errors import ConfigError
from geo.function_outputs import read_function_table
from geo.io.seed import generate_firms
from geo.io.zones import assign_points, load_layer
from geo.pipeline import RunConfig, run
from geo.stats.panel import Snapshot, active_in_year, build_panel, change_test, parse_years
from geo.stats.schemes import load_scheme
from geo.stats.zonal import zonal_indices


def test_active_means_founded_by_the_year_and_not_closed_before_it():
    firms = pd.DataFrame({
        "year": pd.array([2010, 2015, 2016, 2010, 2010, None], dtype="Int64"),
        "closed": pd.to_datetime([None, None, None, "2014-12-31", "2015-01-01", None]),
    })
    assert active_in_year(firms, 2015).tolist() == [True, True, False, False, True, False]
    assert active_in_year(firms, 2014).tolist() == [True, False, False, True, True, False]
    # without a closed column every founded firm stays active
    assert active_in_year(firms[["year"]], 2016).tolist() == [True] * 5 + [False]


def test_parse_years_checks_its_input():
    assert parse_years("2024,2015, 2020") == [2015, 2020, 2024]
    for bad in ("2015", "2015,abc", "1700,2015"):
        with pytest.raises(ConfigError):
            parse_years(bad)


def _register(rows: list[tuple[int, str]]) -> tuple[np.ndarray, ...]:
    """Firm-years (zone code, weight 1, manufacturing?, producer services?) from (zone, kind)."""
    zone = np.array([z for z, _ in rows])
    kind = np.array([k for _, k in rows])
    return zone, np.ones(len(rows)), kind == "m", kind == "s"


def test_change_of_lq_and_c_by_hand():
    # year 1: zone 0 has 2 m, 1 s, 1 other; zone 1 has 1 m, 3 s
    first = _register([(0, "m"), (0, "m"), (0, "s"), (0, "o"), (1, "m"), (1, "s"), (1, "s"),
                       (1, "s")])
    # year 2: zone 0 has 2 m, 2 s; zone 1 has 1 m, 1 s, 2 other
    last = _register([(0, "m"), (0, "m"), (0, "s"), (0, "s"), (1, "m"), (1, "s"), (1, "o"),
                      (1, "o")])
    test = change_test(first, last, 2, permutations=0)
    # year 1: LQm = (2/4)/(3/8) = 4/3 and (1/4)/(3/8) = 2/3; LQs = (1/4)/(4/8) = 1/2, 3/2
    lq_m1, lq_s1 = np.array([4 / 3, 2 / 3]), np.array([1 / 2, 3 / 2])
    c1 = 1 - np.abs(lq_m1 - lq_s1) / (lq_m1 + lq_s1)
    np.testing.assert_allclose(test["first"], [lq_m1, lq_s1, c1, c1 + lq_m1 + lq_s1], rtol=1e-14)
    # year 2: LQm = 4/3, 2/3; LQs = (2/4)/(3/8) = 4/3, (1/4)/(3/8) = 2/3: C = 1 in both zones
    lq_m2 = lq_s2 = np.array([4 / 3, 2 / 3])
    np.testing.assert_allclose(test["last"], [lq_m2, lq_s2, [1, 1], 1 + lq_m2 + lq_s2],
                               rtol=1e-14)
    np.testing.assert_allclose(test["delta"][2], [1 - (1 - (5 / 6) / (11 / 6)),
                                                  1 - (1 - (5 / 6) / (13 / 6))], rtol=1e-14)
    assert np.isnan(test["p"]).all()  # no permutations, no test


def _seed(n: int, seed: int):
    firms = generate_firms(n, seed).firms
    districts = load_layer("districts")
    zone = np.asarray(assign_points(firms.to_crs(4549), districts.to_crs(4549)), dtype=object)
    return firms, districts, zone


def test_the_null_of_random_relabelling_has_the_nominal_false_positive_rate():
    """A register split at random into two 'years': about 5 % of zones change at p <= 0.05."""
    firms, _, zone = _seed(6_000, 3)
    grid_x = np.floor((firms.to_crs(4549).geometry.x.to_numpy() - 3.3e5) / 8000).astype(int)
    grid_y = np.floor((firms.to_crs(4549).geometry.y.to_numpy() - 3.25e6) / 8000).astype(int)
    cell = pd.factorize(pd.Series(list(zip(grid_x, grid_y, strict=True))))[0]
    records = (cell, np.ones(len(firms)), firms["group"].eq("manufacturing").to_numpy(),
               firms["group"].eq("producer_services").to_numpy())
    rng = np.random.default_rng(11)
    hits, tested = 0, 0
    for split in range(8):
        half = rng.random(len(firms)) < 0.5
        test = change_test(tuple(x[half] for x in records), tuple(x[~half] for x in records),
                           int(cell.max()) + 1, permutations=199, seed=split)
        p = test["p"][2]
        tested += int(np.isfinite(p).sum())
        hits += int((p <= 0.05).sum())
    assert tested > 300
    assert 0.02 <= hits / tested <= 0.09, (hits, tested)


def test_a_real_change_is_found():
    """Producer services moved into zone 0 between the years: its LQ and C change, p small."""
    rng = np.random.default_rng(5)
    zone = rng.integers(0, 10, 4000)
    kind = rng.choice(["m", "s", "o"], 4000)
    first = _register(list(zip(zone.tolist(), kind.tolist(), strict=True)))
    moved = np.where((kind == "s") & (rng.random(4000) < 0.3), 0, zone)
    last = _register(list(zip(moved.tolist(), kind.tolist(), strict=True)))
    test = change_test(first, last, 10, permutations=199, seed=1)
    assert test["delta"][1, 0] > 0 and test["p"][1, 0] <= 0.01
    assert test["p"][2, 0] <= 0.01


def test_each_year_equals_a_run_on_that_years_firms():
    firms, districts, zone = _seed(3_000, 7)
    scheme = load_scheme("fields")
    snapshots = []
    for year in (2012, 2024):
        active = active_in_year(firms, year)
        snapshots.append(Snapshot(str(year), firms[active].reset_index(drop=True),
                                  {"districts": zone[active]}))
    panel = build_panel(snapshots, {"districts": districts}, scheme=scheme, permutations=19,
                        seed=2)
    for snapshot in snapshots:
        alone = zonal_indices(snapshot.firms, districts, zone_of_firm=snapshot.zone_of["districts"],
                              scheme=scheme, layer_name="districts")
        pd.testing.assert_frame_equal(panel.results[snapshot.label][0].zone_measures,
                                      alone.zone_measures)
    changes = panel.changes.set_index("zone_id")
    quality = alone.zone_measures.query(
        "group == 'manufacturing__producer_services' and measure == 'coagg_quality'"
    ).set_index("zone_id")["value"]
    np.testing.assert_allclose(changes["quality_2024"], quality.reindex(changes.index),
                               rtol=1e-14)
    tables = panel.tables()
    wide = tables["coagg_quality"].set_index("zone_id")
    assert list(wide.columns[-2:]) == ["2012", "2024"]
    np.testing.assert_allclose(wide["2024"], quality.reindex(wide.index), rtol=1e-14)
    # the industry-level indices per year: EG gamma_c of the sets, EGK of the pairs
    gamma_c = tables["eg_gamma_c"].set_index("set")["2024"]
    expected = alone.coagglomeration.set_index("set")["gamma_c"]
    np.testing.assert_allclose(gamma_c.reindex(expected.index), expected, rtol=1e-14)
    egk = tables["egk_gamma"].set_index(["industry_a", "industry_b"])["2024"]
    pairs = alone.pairs.set_index(["industry_a", "industry_b"])["egk_gamma"]
    np.testing.assert_allclose(egk.reindex(pairs.index), pairs, rtol=1e-14)
    assert len(tables["eg_gamma"]) >= len(alone.industry_measures)


@pytest.fixture(scope="module")
def panel_run(tmp_path_factory):
    """geo run --years 2015,2024 on 10,000 synthetic firms (offline web map)."""
    return run(RunConfig(seed_n=10_000, output=tmp_path_factory.mktemp("panel") / "out",
                         years="2015,2024", site_k=0, distance_nsim=19, grid=None,
                         panel_permutations=199, offline=True))


def test_geo_run_with_years_writes_the_panel(panel_run):
    result = panel_run
    folder = result.folder
    for name in ("panel_zone_measures.csv", "panel_coagg_quality.csv", "panel_changes.csv",
                 "panel_entrants.csv", "panel_distance_functions.csv", "plots/trend_cross_l.png",
                 "plots/trend_districts.png", "plots/trend_platforms.png"):
        assert name in result.manifest["outputs"], name
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["panel"]["years"] == ["2015", "2024"]
    assert manifest["panel"]["firms"]["2024"] > manifest["panel"]["firms"]["2015"] > 0
    changes = pd.read_csv(folder / "panel_changes.csv", dtype={"zone_id": str})
    binjiang = changes[(changes["layer"] == "districts") & (changes["name_zh"] == "滨江区")]
    # the synthetic history: producer services grew fastest in Binjiang
    assert binjiang["d_lq_producer_services"].iloc[0] > 0
    assert binjiang["p_lq_producer_services"].iloc[0] <= 0.05
    tidy = pd.read_csv(folder / "panel_zone_measures.csv")
    assert set(tidy["year"]) == {2015, 2024} and tidy["synthetic"].all()
    clusters = pd.read_csv(folder / "panel_clusters.csv")
    assert set(clusters["year"].astype(str)) <= {"2015", "2024"} and len(clusters) > 0
    assert set(clusters["status"]) <= {"appeared", "grew", "stable", "merged", "split",
                                       "shrank", "vanished"}
    functions = read_function_table(folder / "panel_distance_functions.csv")
    assert [(f.name, f.parameters["year"]) for f in functions] == [("Lcross", "2015"),
                                                                    ("Lcross", "2024")]
    entrants = pd.read_csv(folder / "panel_entrants.csv")
    everyone = entrants[entrants["scope"] == "all"].iloc[0]
    assert everyone["n_entrants"] > 0 and 0 < everyone["p_value"] <= 1
    assert {"field", "districts", "platforms"} <= set(entrants["scope"])


def test_a_panel_needs_founding_years(tmp_path):
    firms = generate_firms(500, 1).firms
    frame = pd.DataFrame({"企业名称": firms["name"], "行业代码": firms["industry_code"],
                          "经度": firms["lon"], "纬度": firms["lat"]})
    path = tmp_path / "firms.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(ConfigError, match="founding years"):
        run(RunConfig(firms=path, output=tmp_path / "out", years="2015,2024", site_k=0,
                      distance_nsim=-1, grid=None))


def test_hand_made_zones_through_build_panel():
    zones = GeoDataFrame({"zone_id": ["a", "b"], "name_zh": ["甲", "乙"]},
                         geometry=[shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1)],
                         crs="EPSG:4549")
    codes = {"m": "C3911", "s": "I6513", "o": "A0111"}

    def snapshot(label: str, rows: list[tuple[str, str]]) -> Snapshot:
        frame = GeoDataFrame({"industry_code": [codes[k] for _, k in rows],
                              "division": [codes[k][1:3] for _, k in rows],
                              "group": [{"m": "manufacturing", "s": "producer_services",
                                         "o": "other"}[k] for _, k in rows],
                              "field": [("digital" if k == "s" else None) for _, k in rows],
                              "high_tech": [False] * len(rows)},
                             geometry=[shapely.Point(0.5, 0.5)] * len(rows), crs="EPSG:4549")
        return Snapshot(label, frame, {"zones": np.array([z for z, _ in rows], dtype=object)})

    one = snapshot("2019", [("a", "m"), ("a", "m"), ("a", "s"), ("a", "o"), ("b", "m"),
                            ("b", "s"), ("b", "s"), ("b", "s")])
    two = snapshot("2024", [("a", "m"), ("a", "m"), ("a", "s"), ("a", "s"), ("b", "m"),
                            ("b", "s"), ("b", "o"), ("b", "o")])
    panel = build_panel([one, two], {"zones": zones}, scheme=load_scheme("fields"),
                        permutations=0)
    row = panel.changes.set_index("zone_id").loc["a"]
    assert row["quality_2019"] == pytest.approx(1 - (5 / 6) / (11 / 6), rel=1e-14)
    assert row["quality_2024"] == 1.0
    assert row["d_lq_producer_services"] == pytest.approx(4 / 3 - 1 / 2, rel=1e-14)
    # zone a: second by C in 2019 (0.545 < 0.615), tied first in 2024
    assert row["rank_change"] == 1


def test_cross_l_of_a_year_is_the_runs_cross_l_on_its_firms():
    from geo.io.zones import study_area
    from geo.stats.distance import cross_l_by_year, run_distance_analyses

    firms = generate_firms(2_000, 9).firms
    area = study_area()
    whole = run_distance_analyses(firms, area, "EPSG:4549", nsim=9, seed=4)["functions"][0]
    (year,) = cross_l_by_year({"2024": firms}, area, "EPSG:4549", nsim=9, seed=4)
    assert whole.name == year.name == "Lcross" and year.parameters["year"] == "2024"
    for key in ("observed", "lo", "hi"):
        np.testing.assert_allclose(getattr(year, key), getattr(whole, key), rtol=1e-12)


def test_the_panel_layers_are_in_the_geopackage_with_styles(panel_run):
    import sqlite3

    import pyogrio

    gpkg = panel_run.folder / "layers.gpkg"
    names = set(pyogrio.list_layers(gpkg)[:, 0])
    assert {"districts_2015", "districts_2024", "platforms_2015", "platforms_2024",
            "districts_change", "platforms_change", "towns_change", "clusters_change"} <= names
    change = pyogrio.read_dataframe(gpkg, layer="districts_change")
    assert len(change) == 13 and change["d_quality"].notna().all()
    assert change["significant"].dtype == bool and change["synthetic"].all()
    with sqlite3.connect(gpkg) as db:
        styled = dict(db.execute("SELECT f_table_name, styleName FROM layer_styles").fetchall())
    assert styled["districts_change"] == "两业协同集聚质量的变化 ΔC（区县）"
    assert styled["platforms_2015"] == "两业协同集聚质量 C（重点平台，2015 年）"


@pytest.mark.browser
def test_the_web_map_switches_years_and_shows_the_change(panel_run):
    from chromium import FEATURES_JS, offline_chromium, severe

    count = FEATURES_JS
    from selenium.webdriver.common.action_chains import ActionChains

    with offline_chromium(1366, 768) as driver:
        driver.get((panel_run.folder / "map.html").resolve().as_uri())
        # hover the control open, as a person does (Leaflet ignores a click in that instant)
        control = driver.find_element("css selector", ".leaflet-control-layers")
        ActionChains(driver).move_to_element(control).perform()
        time.sleep(0.1)
        labels = driver.find_elements("css selector", ".leaflet-control-layers-overlays label")
        text = [label.text for label in labels]
        wanted = ["两业协同集聚质量 C（区县，2015 年）", "两业协同集聚质量 C（区县，2024 年）",
                  "两业协同集聚质量的变化 ΔC（区县）"]
        for name in wanted:
            assert any(name in t for t in text), (name, text)
        for name in wanted:  # each year, then the change: 13 districts drawn each time
            before = driver.execute_script(count)
            label = next(lab for lab in labels if name in lab.text)
            label.find_element("css selector", "input").click()
            assert driver.execute_script(count) == before + 13, name
        assert severe(driver.get_log("browser")) == []


def test_the_change_map_draws_the_change_classes(panel_run):
    from matplotlib.colors import to_rgba

    from geo.maps import load_recipe
    from geo.maps.recipe import classify_values, color_ramp
    from geo.maps.static import static_map_figures

    assert "static/map_change.png" in panel_run.manifest["outputs"]
    recipe = load_recipe("default")
    spec = next(s for s in recipe.choropleths if s.name == "change_quality_districts")
    change = pyogrio_read(panel_run.folder, "districts_change")
    change.attrs["period"] = "2015–2024"
    layers = {"districts": load_layer("districts"), "districts_change": change}
    figure = static_map_figures(layers, recipe, lang="en")["map_change"]
    classes, labels = classify_values(change[spec.column], spec, "en")
    colours = color_ramp(spec.colors, len(labels))
    drawn = next(a for a in figure.findobj() if a.get_gid() == f"choropleth:{spec.name}")
    np.testing.assert_allclose(drawn.get_facecolors(),
                               [to_rgba(colours[c], spec.fill_opacity) for c in classes])
    title = next(a for a in figure.findobj() if a.get_gid() == "title").get_text()
    assert title.startswith("Change of co-agglomeration quality") and "2015–2024" in title


def pyogrio_read(folder, layer):
    import pyogrio

    return pyogrio.read_dataframe(folder / "layers.gpkg", layer=layer)


def test_clusters_are_followed_by_overlap():
    from geo.stats.panel import match_clusters

    def areas(rows):
        return GeoDataFrame({"cluster_id": [r[0] for r in rows], "n_firms": [r[2] for r in rows],
                             "name_zh": [r[0] for r in rows], "name_en": [r[0] for r in rows]},
                            geometry=[shapely.box(x0, 0, x1, 1000) for _, (x0, x1), _ in rows],
                            crs="EPSG:4549")

    first = areas([("A", (0, 1000), 100), ("B", (2000, 3000), 100), ("C", (4000, 5000), 100),
                   ("V", (8000, 9000), 50), ("S", (10000, 12000), 200)])
    last = areas([("A2", (100, 1100), 150), ("M", (2000, 5000), 220), ("N", (6000, 7000), 60),
                  ("S1", (10000, 10900), 90), ("S2", (11100, 12000), 90)])
    table = match_clusters(first, last, ("2015", "2024"), analysis_crs="EPSG:4549")
    status = dict(zip(table["cluster_id"], table["status"], strict=True))
    assert status == {"A2": "grew", "M": "merged", "N": "appeared", "S1": "shrank",
                      "S2": "shrank", "V": "vanished", "S": "split"}
    row = table.set_index("cluster_id")
    assert row.loc["M", "matched"] == "B;C" and row.loc["M", "n_firms_before"] == 200
    assert row.loc["V", "year"] == "2015" and row.loc["A2", "year"] == "2024"
    assert table.crs.to_epsg() == 4326


def test_the_report_has_the_panel(panel_run):
    import sys
    from pathlib import Path

    from docx import Document

    sys.path.insert(0, str(Path(__file__).parent))
    from test_report import _page

    page = _page(panel_run.folder / "report" / "report.html")
    assert {"change_districts", "change_platforms", "entrants", "cluster_change"} <= set(
        page.cells)
    for cite in page.cites:
        assert cite["text"] == page.cells[cite["data-table"]][cite["data-row"]][cite["data-col"]]
    assert len(page.findings) <= 10
    changes = pd.read_csv(panel_run.folder / "panel_changes.csv", dtype={"zone_id": str})
    districts = changes[changes["layer"] == "districts"].set_index("zone_id")
    for zone_id, row in page.cells["change_districts"].items():
        assert row["d_quality"] == f"{districts.loc[zone_id, 'd_quality']:.3f}"
    html = (panel_run.folder / "report" / "report.html").read_text(encoding="utf-8")
    assert html.count('id="f-trend_') == 3  # districts, platforms, cross-L
    headings = [p.text for p in Document(str(panel_run.folder / "report" / "report.docx"))
                .paragraphs if p.style.name == "Heading 1"]
    assert any(h.endswith("随时间的变化") for h in headings)


def test_a_panel_of_two_registers_equals_the_panel_of_their_years(tmp_path):
    """Registers exported for 2015 and 2024 give the same indices and tests as --years."""
    from geo.cli.job import _split_firms

    firms = generate_firms(5_000, 12).firms
    paths = {}
    for year in (2015, 2024):
        active = firms[active_in_year(firms, year)]
        frame = pd.DataFrame({"firm_id": active["firm_id"], "企业名称": active["name"],
                              "行业代码": active["industry_code"], "经度": active["lon"],
                              "纬度": active["lat"], "成立年份": active["year"]})
        paths[str(year)] = tmp_path / f"firms_{year}.csv"
        frame.to_csv(paths[str(year)], index=False)
    plain, registers = _split_firms([f"2015={paths['2015']}", f"2024={paths['2024']}"])
    assert plain is None and registers == paths
    options = {"site_k": 0, "distance_nsim": -1, "grid": None, "panel_permutations": 99}
    by_register = run(RunConfig(registers=registers, output=tmp_path / "registers", **options))
    assert by_register.manifest["panel"]["registers"] is True
    assert by_register.manifest["inputs"]["firms"]  # the run's own analyses: the last register
    run(RunConfig(firms=paths["2024"], years="2015,2024", output=tmp_path / "years", **options))
    one = pd.read_csv(tmp_path / "registers" / "panel_changes.csv", dtype={"zone_id": str})
    two = pd.read_csv(tmp_path / "years" / "panel_changes.csv", dtype={"zone_id": str})
    # the 2024 register holds the 2015 firms too, so --years on it gives the same snapshots
    pd.testing.assert_frame_equal(one, two)
    # entrants: the 2024 register's services absent from 2015's = those founded after 2015
    counts = [pd.read_csv(tmp_path / run_ / "panel_entrants.csv").query("scope == 'all'")
              ["n_entrants"].iloc[0] for run_ in ("registers", "years")]
    assert counts[0] == counts[1] > 0
    with pytest.raises(ConfigError, match="not both"):
        run(RunConfig(registers=registers, years="2015,2024", output=tmp_path / "both"))
    with pytest.raises(ConfigError, match="one file"):
        _split_firms(["a.csv", "b.csv"])
