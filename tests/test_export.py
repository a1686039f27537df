"""geo export: round trips of every file format, CRS options, safety."""

import shutil
import subprocess
import zipfile

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely

from geo.errors import OutputError
from geo.export.layers import EXPORT_FORMATS, export_layers, read_layers


@pytest.fixture
def layers():
    zones = gpd.GeoDataFrame(
        {"zone_id": ["a", "b"], "name_zh": ["西湖区", "滨江区"],
         "a_very_long_field_name": [1.5, 2.5], "a_very_long_field_other": [1, 2],
         "source": ["长" * 200, "short"]},
        geometry=[shapely.box(120.1, 30.2, 120.15, 30.25), shapely.box(120.2, 30.15, 120.25, 30.2)],
        crs="EPSG:4326",
    )
    points = gpd.GeoDataFrame(
        {"firm_id": ["f1", "f2"], "name": ["甲公司", "乙公司"]},
        geometry=[shapely.Point(120.12, 30.22), shapely.Point(120.22, 30.18)], crs="EPSG:4326",
    )
    table = pd.DataFrame({"区县": ["西湖区"], "企业数": [3]})
    return {"zones": zones, "firms": points, "summary": table}


def _read(path, **kwargs):
    return pyogrio.read_dataframe(path, **kwargs)


@pytest.mark.parametrize("fmt", ["gpkg", "geojson", "parquet"])
def test_round_trip_keeps_features_chinese_text_and_geometry(tmp_path, layers, fmt):
    out = tmp_path / ("out.gpkg" if fmt == "gpkg" else "out")
    export_layers(layers, out, fmt)
    for name in ("zones", "firms"):
        if fmt == "gpkg":
            back = _read(out, layer=name)
        elif fmt == "parquet":
            back = gpd.read_parquet(out / f"{name}.parquet")
        else:
            back = _read(out / f"{name}.geojson")
        original = layers[name]
        assert len(back) == len(original)
        assert back.crs.to_epsg() == 4326
        text = "name_zh" if name == "zones" else "name"
        assert back[text].tolist() == original[text].tolist()
        assert all(g1.equals_exact(g2, 1e-6) for g1, g2 in
                   zip(back.geometry, original.geometry, strict=True))
    if fmt != "gpkg":
        summary = pd.read_csv(out / "summary.csv", encoding="utf-8-sig")
        assert summary["区县"].tolist() == ["西湖区"]


def test_shapefile_zip_utf8_field_map_and_full_text(tmp_path, layers):
    out = tmp_path / "shp"
    export_layers(layers, out, "shp")
    with zipfile.ZipFile(out / "zones.shp.zip") as archive:
        names = set(archive.namelist())
        assert {"zones.shp", "zones.dbf", "zones.shx", "zones.prj", "zones.cpg"} <= names
        assert archive.read("zones.cpg").decode().strip().upper() in {"UTF-8", "UTF8"}
    back = _read(f"/vsizip/{out / 'zones.shp.zip'}")
    assert back["name_zh"].tolist() == ["西湖区", "滨江区"]
    mapping = pd.read_csv(out / "zones_fields.csv", encoding="utf-8-sig")
    short = dict(zip(mapping["field"], mapping["shapefile_field"], strict=True))
    assert len(set(short.values())) == len(short)
    assert all(len(v.encode()) <= 10 for v in short.values())
    assert back[short["a_very_long_field_name"]].tolist() == [1.5, 2.5]
    full = pd.read_csv(out / "zones_full_text.csv", encoding="utf-8-sig")
    assert full["value"].iloc[0] == "长" * 200
    assert len(back["source"].iloc[0].encode("utf-8")) <= 254


def test_shapefile_splits_mixed_geometry_types(tmp_path):
    mixed = gpd.GeoDataFrame(
        {"id": [1, 2]}, geometry=[shapely.Point(120, 30), shapely.box(120, 30, 120.1, 30.1)],
        crs="EPSG:4326",
    )
    export_layers({"mixed": mixed}, tmp_path / "shp", "shp")
    assert (tmp_path / "shp" / "mixed_point.shp.zip").exists()
    assert (tmp_path / "shp" / "mixed_polygon.shp.zip").exists()


@pytest.mark.parametrize("fmt", ["kml", "kmz"])
def test_kml_has_names_and_descriptions(tmp_path, layers, fmt):
    out = tmp_path / fmt
    export_layers(layers, out, fmt)
    path = out / f"zones.{fmt}"
    if fmt == "kmz":
        with zipfile.ZipFile(path) as archive:
            text = archive.read("doc.kml").decode("utf-8")
    else:
        text = path.read_text(encoding="utf-8")
    assert "<name>西湖区</name>" in text
    assert "a_very_long_field_name: 1.5" in text


def test_crs_options(tmp_path, layers):
    export_layers(layers, tmp_path / "p.gpkg", "gpkg", crs="4549")
    assert _read(tmp_path / "p.gpkg", layer="firms").crs.to_epsg() == 4549
    export_layers(layers, tmp_path / "c.gpkg", "gpkg", crs="cgcs2000")
    assert _read(tmp_path / "c.gpkg", layer="firms").crs.to_epsg() == 4490
    export_layers(layers, tmp_path / "g.gpkg", "gpkg", crs="gcj02")
    shifted = _read(tmp_path / "g.gpkg", layer="firms")
    # GCJ-02 moves Hangzhou positions by roughly 500 m (about 0.005 degrees)
    dx = shifted.geometry.x.to_numpy() - layers["firms"].geometry.x.to_numpy()
    assert np.all((dx > 0.003) & (dx < 0.006))
    with pytest.raises(OutputError, match="unknown CRS"):
        export_layers(layers, tmp_path / "x.gpkg", "gpkg", crs="bd09")


def test_spreadsheet_and_csv(tmp_path, layers):
    export_layers(layers, tmp_path / "t.xlsx", "xlsx")
    sheets = pd.read_excel(tmp_path / "t.xlsx", sheet_name=None)
    assert {"zones", "firms", "summary"} <= set(sheets)
    assert {"lon", "lat"} <= set(sheets["firms"].columns)
    assert {"label_lon", "label_lat"} <= set(sheets["zones"].columns)
    export_layers(layers, tmp_path / "csv", "csv")
    zones = pd.read_csv(tmp_path / "csv" / "zones.csv", encoding="utf-8-sig")
    assert shapely.from_wkt(zones["wkt"].iloc[0]).equals(layers["zones"].geometry.iloc[0])


def test_refuses_to_overwrite_and_leaves_nothing_after_a_failure(tmp_path, layers, monkeypatch):
    export_layers(layers, tmp_path / "g", "geojson")
    with pytest.raises(OutputError, match="--force"):
        export_layers(layers, tmp_path / "g", "geojson")
    export_layers(layers, tmp_path / "g", "geojson", force=True)

    calls = {"n": 0}
    real = pyogrio.write_dataframe

    def failing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError("disk full")
        return real(*args, **kwargs)

    monkeypatch.setattr(pyogrio, "write_dataframe", failing)
    with pytest.raises(OutputError):
        export_layers(layers, tmp_path / "fresh", "geojson")
    assert not (tmp_path / "fresh").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_unknown_format_and_every_format_listed(tmp_path, layers):
    with pytest.raises(OutputError, match="unknown format"):
        export_layers(layers, tmp_path / "x", "dwg")
    assert set(EXPORT_FORMATS) == {"gpkg", "shp", "geojson", "kml", "kmz", "parquet", "csv",
                                   "xlsx"}


@pytest.mark.skipif(shutil.which("ogrinfo") is None, reason="GDAL tools not installed")
def test_ogrinfo_validates_the_exports(tmp_path, layers):
    export_layers(layers, tmp_path / "all.gpkg", "gpkg")
    export_layers(layers, tmp_path / "gj", "geojson")
    for target in (tmp_path / "all.gpkg", tmp_path / "gj" / "zones.geojson"):
        proc = subprocess.run(["ogrinfo", "-ro", "-al", "-so", str(target)],
                              capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        assert "Feature Count: 2" in proc.stdout


def test_read_layers_from_a_run_folder_and_files(tmp_path, layers):
    export_layers(layers, tmp_path / "run" / "layers.gpkg", "gpkg")
    found = read_layers([tmp_path / "run"])
    assert set(found) == {"zones", "firms", "summary"}


def test_gpkg_export_of_a_run_keeps_styles_and_no_style_table_leaks(tmp_path):
    import sqlite3

    from geo.pipeline import RunConfig, run

    result = run(RunConfig(seed_n=600, output=tmp_path / "run", distance_nsim=-1, grid=None))
    layers = read_layers([result.folder])
    assert "layer_styles" not in layers
    export_layers(layers, tmp_path / "again.gpkg", "gpkg")
    with sqlite3.connect(tmp_path / "again.gpkg") as db:
        tables = {r[0] for r in db.execute("SELECT f_table_name FROM layer_styles")}
    assert {"districts", "firms", "towns"} <= tables
    export_layers(layers, tmp_path / "gj", "geojson")
    assert not (tmp_path / "gj" / "layer_styles.csv").exists()
    meta = pyogrio.read_info(tmp_path / "again.gpkg", layer="firms")["layer_metadata"]
    assert meta["synthetic"] == "true"


@pytest.mark.parametrize("sig", ["SIGINT", "SIGKILL"])
def test_interrupted_export_leaves_no_output(tmp_path, sig):
    import signal
    import sys
    import time

    from geo.io.seed import generate_firms

    firms = generate_firms(200_000, 1).firms
    pyogrio.write_dataframe(firms, tmp_path / "firms.gpkg", layer="firms")
    # a user's geo starts with SIGINT at its default; a test run launched as a shell's
    # background job inherits it ignored, and so would the export without this
    proc = subprocess.Popen([sys.executable, "-m", "geo", "export", str(tmp_path / "firms.gpkg"),
                             "--format", "kml", "--out", str(tmp_path / "out")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    # interrupt it while it writes: once its temporary folder exists (a fixed delay
    # could land in the start-up on a slow machine, or after the reading has begun
    # a long call into GDAL)
    deadline = time.monotonic() + 120
    while not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]:
        assert proc.poll() is None, "the export finished before it could be interrupted"
        assert time.monotonic() < deadline, "the export did not start writing"
        time.sleep(0.1)
    time.sleep(1)
    assert proc.poll() is None, "the export finished before it could be interrupted"
    proc.send_signal(getattr(signal, sig))
    _, err = proc.communicate(timeout=120)
    assert not (tmp_path / "out").exists()
    if sig == "SIGINT":
        assert proc.returncode == 130 and "interrupted" in err
        # a clean interruption also removes the temporary folder
        assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]

def test_zipped_shapefile_opens_in_gdal_directly(tmp_path, layers):
    """ogrinfo (GDAL) opens a *.shp.zip without /vsizip/, as QGIS does."""
    if shutil.which("ogrinfo") is None:
        pytest.skip("GDAL tools not installed")
    export_layers(layers, tmp_path / "shp", "shp")
    proc = subprocess.run(["ogrinfo", "-so", "-al", str(tmp_path / "shp" / "zones.shp.zip")],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "Feature Count: 2" in proc.stdout



@pytest.mark.parametrize("fmt", ["csv", "geojson", "kml", "shp", "parquet"])
def test_layer_names_cannot_place_files_outside_the_export(tmp_path, layers, fmt):
    """Layer names come from users' files: '../x', 'a/b', 'CON' and case twins stay inside."""
    zone = layers["zones"]
    hostile = {"../../escape": zone, "a/b": zone, "CON": zone, "Zone": zone, "zone": zone,
               "区" * 80: zone}
    out = tmp_path / "deep" / "export"
    written = export_layers(hostile, out, fmt)
    files = sorted(p for p in tmp_path.rglob("*") if p.is_file())
    assert all(p.parent == out for p in files), files
    assert {p.parent for p in written} == {out}
    stems = set()
    for p in files:
        name = p.name
        for suffix in (".shp.zip", "_fields.csv", "_full_text.csv", ".csv", ".geojson", ".kml",
                       ".parquet", ".json"):
            name = name.removesuffix(suffix)
        stems.add(name)
    stems -= {"export"}
    assert stems == {"_.._escape", "a_b", "_CON", "Zone", "zone_1", "区" * 33}
    assert all(len(p.name.encode()) <= 120 for p in files)
    if fmt == "kml":  # Google Earth lists the layer under its whole name
        text = (out / f"{'区' * 33}.kml").read_text("utf-8")
        assert f"<Document><name>{'区' * 80}</name>" in text


# --- KML that Google Earth and QGIS can style (issue 14, item 1) -----------------------

KML = "{http://www.opengis.net/kml/2.2}"


def _kml_root(path):
    import xml.etree.ElementTree as ET

    if path.suffix == ".kmz":
        with zipfile.ZipFile(path) as archive:
            return ET.fromstring(archive.read("doc.kml"))
    return ET.parse(path).getroot()


def _placemarks(root):
    """Per placemark: its attributes (SimpleData) and the Style its styleUrl names."""
    styles = {s.get("id"): s for s in root.iter(f"{KML}Style")}
    out = []
    for placemark in root.iter(f"{KML}Placemark"):
        assert placemark.find(f"{KML}Style") is None  # no inline style overrides the shared one
        url = placemark.findtext(f"{KML}styleUrl")
        assert url and url.startswith("#") and url[1:] in styles, url
        data = {d.get("name"): d.text for d in placemark.iter(f"{KML}SimpleData")}
        out.append((data, styles[url[1:]]))
    return out


def _colour(style):
    icon = style.findtext(f"{KML}IconStyle/{KML}color")
    return icon if icon is not None else style.findtext(f"{KML}PolyStyle/{KML}color")


@pytest.mark.parametrize("fmt", ["kml", "kmz"])
def test_kml_extended_data_carries_every_attribute(tmp_path, layers, fmt):
    zones = layers["zones"].assign(flag=[True, False], share=[0.25, np.nan])
    export_layers({"zones": zones, "firms": layers["firms"]}, tmp_path / fmt, fmt)
    root = _kml_root(tmp_path / fmt / f"zones.{fmt}")
    fields = {f.get("name"): f.get("type") for f in root.iter(f"{KML}SimpleField")}
    assert fields == {"zone_id": "string", "name_zh": "string", "a_very_long_field_name": "double",
                      "a_very_long_field_other": "int", "source": "string", "flag": "bool",
                      "share": "double"}
    rows = [data for data, _ in _placemarks(root)]
    assert rows[0] == {"zone_id": "a", "name_zh": "西湖区", "a_very_long_field_name": "1.5",
                       "a_very_long_field_other": "1", "source": "长" * 200, "flag": "1",
                       "share": "0.25"}
    assert "share" not in rows[1] and rows[1]["name_zh"] == "滨江区"  # missing: no value
    firms = [data for data, _ in _placemarks(_kml_root(tmp_path / fmt / f"firms.{fmt}"))]
    assert [f["name"] for f in firms] == ["甲公司", "乙公司"]


def test_kml_styles_follow_the_recipe_for_firms_and_choropleths(tmp_path):
    from geo.export.kml import kml_color
    from geo.maps.recipe import choropleth_classes, load_recipe

    recipe = load_recipe("default")
    firm_style = recipe.layer("firms")
    keys = [c.key for c in firm_style.categories]
    firms = gpd.GeoDataFrame(
        {"firm_id": [f"f{i}" for i in range(len(keys) + 1)], "map_class": [*keys, "unknown"]},
        geometry=[shapely.Point(120 + i / 100, 30.2) for i in range(len(keys) + 1)],
        crs="EPSG:4326",
    )
    column = "coagg_level_manufacturing__producer_services"
    values = [0.1, 0.4, 0.8, 1.3, 1.9, 2.6, 3.0, np.nan]
    districts = gpd.GeoDataFrame(
        {"zone_id": [f"d{i}" for i in range(8)], column: values},
        geometry=[shapely.box(120 + i / 10, 30, 120.05 + i / 10, 30.05) for i in range(8)],
        crs="EPSG:4326",
    )
    gi = ["hot 99%", "cold 95%", "not significant", "not tested"]
    grid = gpd.GeoDataFrame(
        {"zone_id": list("abcd"), "gi_class": gi},
        geometry=[shapely.box(120 + i / 10, 31, 120.05 + i / 10, 31.05) for i in range(4)],
        crs="EPSG:4326",
    )
    unknown = districts[["zone_id", "geometry"]]
    export_layers({"firms": firms, "districts_indices": districts, "grid_clusters": grid,
                   "my_layer": unknown}, tmp_path / "kml", "kml")
    # firms: one style per map_class, the web map's colours; other classes faint
    marks = _placemarks(_kml_root(tmp_path / "kml" / "firms.kml"))
    for (data, style), category in zip(marks, firm_style.categories, strict=False):
        assert data["map_class"] == category.key
        assert _colour(style) == kml_color(category.color, firm_style.fill_opacity)
    assert marks[-1][1].get("id") == "unclassified"
    assert len({style.get("id") for _, style in marks}) == len(keys) + 1
    # a choropleth layer: the classes and colours the web map and QGIS draw
    spec = next(c for c in recipe.choropleths if c.layer == "districts_indices")
    drawn, legend, _ = choropleth_classes(districts, spec)
    assert len(legend) == 4
    marks = _placemarks(_kml_root(tmp_path / "kml" / "districts_indices.kml"))
    for i, (_, style) in enumerate(marks):
        if i in drawn.index:
            assert _colour(style) == kml_color(drawn.loc[i, "_color"], spec.fill_opacity), i
        else:
            assert style.get("id") == "unclassified"
    assert len({_colour(style) for _, style in marks}) == 5  # 4 classes and unclassified
    # hot spots: hot and cold have their classes; not significant / not tested are faint
    hot = next(c for c in recipe.choropleths if c.column == "gi_class")
    colour = {c.key: kml_color(c.color, hot.fill_opacity) for c in hot.categories}
    marks = _placemarks(_kml_root(tmp_path / "kml" / "grid_clusters.kml"))
    assert [_colour(s) for _, s in marks[:2]] == [colour["hot 99%"], colour["cold 95%"]]
    assert [s.get("id") for _, s in marks[2:]] == ["unclassified", "unclassified"]
    # a layer the recipe does not know: one plain style
    marks = _placemarks(_kml_root(tmp_path / "kml" / "my_layer.kml"))
    assert {s.get("id") for _, s in marks} == {"plain"}


def test_kml_colour_order():
    from geo.export.kml import kml_color

    assert kml_color("#b2182b") == "ff2b18b2"  # aabbggrr
    assert kml_color("#b2182b", 0.0) == "002b18b2"
    assert kml_color("rgb(1, 2, 3)", 0.5) == "80030201"
    assert kml_color("red") == "ff0000ff"


@pytest.mark.skipif(shutil.which("ogrinfo") is None, reason="GDAL tools not installed")
@pytest.mark.parametrize("fmt", ["kml", "kmz"])
def test_ogrinfo_reads_kml_attributes(tmp_path, layers, fmt):
    export_layers(layers, tmp_path / fmt, fmt)
    proc = subprocess.run(["ogrinfo", "-ro", "-al", "-q", str(tmp_path / fmt / f"zones.{fmt}")],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "name_zh (String) = 西湖区" in proc.stdout
    assert "a_very_long_field_name (Real) = 2.5" in proc.stdout
    assert "a_very_long_field_other (Integer) = 2" in proc.stdout
    assert proc.stdout.count("OGRFeature(zones)") == 2


@pytest.mark.parametrize("fmt", ["kml", "kmz"])
def test_kml_hostile_names_stay_escaped_in_extended_data(tmp_path, fmt):
    from geo.safety import escape_html

    script = "<script>alert(1)</script>"
    img = '<img src=x onerror="alert(2)">'
    firms = gpd.GeoDataFrame(
        {"name": [script, "杭州甲&乙公司"], img: ["x", script], "map_class": ["digital", img]},
        geometry=[shapely.Point(120.1, 30.2), shapely.Point(120.2, 30.3)], crs="EPSG:4326",
    )
    export_layers({"firms": firms}, tmp_path / fmt, fmt)
    root = _kml_root(tmp_path / fmt / f"firms.{fmt}")
    texts = []
    for element in root.iter():
        texts += [element.text or "", element.tail or "", *element.attrib.values()]
    joined = "\n".join(texts)
    for markup in ("<script", "<img"):
        assert markup not in joined
    rows = [data for data, _ in _placemarks(root)]
    assert rows[0]["name"] == escape_html(script)
    assert rows[1][escape_html(img)] == escape_html(script)
    assert rows[1]["name"] == "杭州甲&amp;乙公司"  # Google Earth shows it as 杭州甲&乙公司
