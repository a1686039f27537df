import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyogrio
import pytest
import shapely

from geo.config import RunConfig, load_config
from geo.errors import ConfigError, OutputError
from geo.pipeline import run

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def default_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "geo-out"
    steps = []
    result = run(RunConfig(seed_n=3_000, output=out), on_step=steps.append)
    return result, steps


def test_run_writes_every_output(default_run):
    result, steps = default_run
    folder = result.folder
    for name in ("map.html", "layers.gpkg", "summary_district_group.csv", "manifest.json",
                 "README.txt"):
        assert (folder / name).is_file(), name
    assert steps[0] == "load zone layers"
    layers = {name for name, _ in pyogrio.list_layers(folder / "layers.gpkg")}
    assert {"districts", "platforms", "towns", "town_centres", "firms",
            "summary_district_group"} <= layers
    firms = pyogrio.read_dataframe(folder / "layers.gpkg", layer="firms")
    assert len(firms) == 3_000 and firms["synthetic"].all()
    assert firms["district_id"].notna().all()
    info = pyogrio.read_info(folder / "layers.gpkg", layer="firms")
    assert info["layer_metadata"]["synthetic"] == "true"
    assert info["crs"] == "EPSG:4326"


def test_run_proposes_zones_and_draws_static_maps(default_run):
    result, steps = default_run
    folder = result.folder
    assert "siting new producer-service zones" in steps
    sites = pd.read_csv(folder / "sites.csv", encoding="utf-8-sig")
    assert sites["rank"].tolist() == [1, 2, 3, 4, 5]
    assert sites["reason_zh"].str.contains("未满足需求").all() and sites["synthetic"].all()
    # each zone's centre, to find it on Amap (GCJ-02) or in GIS (WGS84): inside its circle
    zones = pyogrio.read_dataframe(folder / "layers.gpkg", layer="site_zones")
    for (_, zone), (_, row) in zip(zones.iterrows(), sites.iterrows(), strict=True):
        assert zone.geometry.contains(shapely.Point(row["centre_lon"], row["centre_lat"]))
    shift = sites["centre_lon_gcj02"] - sites["centre_lon"]
    assert shift.between(0.003, 0.006).all()  # GCJ-02 is ~400 m east of WGS84 in Hangzhou
    clusters = pd.read_csv(folder / "clusters.csv", encoding="utf-8-sig")
    assert clusters[["centre_lon", "centre_lat", "centre_lon_gcj02"]].notna().all().all()
    layers = {name for name, _ in pyogrio.list_layers(folder / "layers.gpkg")}
    assert {"site_zones", "site_catchments", "site_candidates"} <= layers
    siting = result.manifest["siting"]
    assert siting["options"]["k"] == 5 and siting["options"]["radius"] == 3000
    assert siting["share_covered_after"] >= siting["share_covered_before"]
    text = (folder / "map.html").read_text(encoding="utf-8")
    assert "拟建生产性服务业集聚区" in text or json.dumps("拟建生产性服务业集聚区")[1:-1] in text
    for name in ("map_clusters", "map_coagglomeration"):
        assert (folder / "static" / f"{name}.png").stat().st_size > 10_000
        assert (folder / "static" / f"{name}.pdf").read_bytes()[:4] == b"%PDF"


def test_summary_counts_add_up(default_run):
    result, _ = default_run
    summary = pd.read_csv(result.folder / "summary_district_group.csv", encoding="utf-8-sig",
                          dtype={"zone_id": str})
    total = summary[summary["zone_id"] == "total"].iloc[0]
    body = summary[summary["zone_id"] != "total"]
    assert len(body) == 13 and total["firms"] == 3_000
    assert body["firms"].sum() == 3_000
    groups = body[["manufacturing", "producer_services", "other"]].sum(axis=1)
    assert (groups == body["firms"]).all()
    assert summary["synthetic"].all()
    assert "西湖区" in set(summary["name_zh"])


def test_map_says_synthetic_and_has_layers(default_run):
    result, _ = default_run
    text = (result.folder / "map.html").read_text(encoding="utf-8")
    assert "合成数据" in text
    # Layer-control names are JSON in a script, so they may be \u-escaped there.
    for title in ("区县", "重点平台", "特色小镇与园区", "数字服务", "高技术制造业"):
        assert title in text or json.dumps(title)[1:-1] in text, title
    assert (result.folder / "map.html").stat().st_size < 10_000_000


def test_manifest_records_inputs_parameters_versions_timings(default_run):
    result, _ = default_run
    manifest = json.loads((result.folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["synthetic"] is True
    assert manifest["inputs"]["firms"] == {"synthetic": True, "n": 3_000, "seed": 20261122}
    assert manifest["parameters"]["analysis_crs"] == "EPSG:4549"
    assert set(manifest["timings_s"]) >= {"load zone layers", "write the GeoPackage"}
    assert manifest["versions"]["geopandas"]
    assert manifest["outputs"]["layers.gpkg"] > 0


def test_run_on_user_file_with_bad_rows(tmp_path, default_run):
    result, _ = default_run
    firms = pyogrio.read_dataframe(result.folder / "layers.gpkg", layer="firms")
    csv = pd.DataFrame({
        "企业名称": firms["name"].str.replace("合成企业", "企业"),
        "行业代码": firms["industry_code"],
        "经度": firms["lon"],
        "纬度": firms["lat"],
        "从业人员": firms["employees"],
    }).head(200)
    csv.loc[3, "经度"] = None
    csv.loc[5, "行业代码"] = "Z99"
    path = tmp_path / "firms.csv"
    csv.to_csv(path, index=False, encoding="gbk")
    before = path.read_bytes()
    out = run(RunConfig(firms=path, output=tmp_path / "out"))
    assert path.read_bytes() == before
    assert out.manifest["synthetic"] is False
    assert out.manifest["enterprises"]["n_valid"] == 198
    rejects = pd.read_csv(tmp_path / "out" / "rejects.csv", encoding="utf-8-sig")
    # spreadsheet rows (header = row 1) of data rows 3 and 5 (0-based)
    assert sorted(rejects["source_row"]) == [5, 7]
    assert "合成数据" not in (tmp_path / "out" / "map.html").read_text(encoding="utf-8")
    # 198 firms leave no built-up candidates: the run says so and writes everything else
    assert any(n.startswith("siting skipped") for n in out.manifest["notes"])
    assert not (tmp_path / "out" / "sites.csv").exists()


def test_load_config_resolves_paths_and_rejects_unknown_keys(tmp_path):
    config = tmp_path / "run.toml"
    config.write_text(
        '[inputs]\nfirms = "data/f.csv"\ncoords = "gcj02"\n'
        '[zones]\nmy_parks = "parks.gpkg"\n[output]\nfolder = "out"\nlang = "en"\n'
        '[map]\nbasemap = "amap"\noffline = true\n',
        encoding="utf-8",
    )
    cfg = load_config(config)
    assert cfg.basemap == "amap" and cfg.offline is True
    assert cfg.firms == tmp_path / "data" / "f.csv"
    assert cfg.output == tmp_path / "out"
    assert cfg.zones["my_parks"] == str(tmp_path / "parks.gpkg")
    assert cfg.zones["districts"] == "districts" and cfg.lang == "en"
    config.write_text("[output]\nfoldr = 'x'\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="unknown key 'foldr'"):
        load_config(config)
    config.write_text("[output\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_config(config)


def test_refuses_to_replace_a_folder_it_did_not_write(tmp_path):
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.docx").write_text("do not delete")
    with pytest.raises(OutputError, match="not an output folder"):
        run(RunConfig(seed_n=500, output=precious))
    assert (precious / "thesis.docx").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["precious"]


def geo_cli(*args, cwd=None, env=None):
    return subprocess.run([sys.executable, "-m", "geo", *args], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=600)


def test_cli_help_lists_commands():
    for command in ([], ["run"], ["seed"], ["validate"], ["layers"]):
        proc = geo_cli(*command, "--help")
        assert proc.returncode == 0, proc.stderr
    listing = geo_cli("--help").stdout
    for name in ("run", "seed", "validate", "layers"):
        assert name in listing


def test_cli_error_is_one_clear_line_without_traceback(tmp_path):
    proc = geo_cli("run", "--firms", str(tmp_path / "missing.csv"), "--out", str(tmp_path / "o"))
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "missing.csv" in proc.stderr
    assert not (tmp_path / "o").exists()


def test_cli_seed_and_validate_round_trip(tmp_path):
    out = tmp_path / "seed.csv"
    proc = geo_cli("seed", "--n", "1000", "--seed", "3", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert geo_cli("seed", "--n", "10", "--out", str(out)).returncode == 2  # no --force
    proc = geo_cli("validate", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "1,000 valid" in proc.stdout


@pytest.mark.slow
def test_installed_wheel_runs_from_another_directory(tmp_path):
    """Bundled layers/seeds/maps must be found from a wheel, not only a checkout."""
    wheel_dir = tmp_path / "wheel"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheel_dir), str(ROOT)],
        capture_output=True, text=True, timeout=600,
    )
    assert build.returncode == 0, build.stderr
    (wheel,) = wheel_dir.glob("*.whl")
    site = tmp_path / "site"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site),
         str(wheel)],
        capture_output=True, text=True, timeout=600,
    )
    assert install.returncode == 0, install.stderr
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    # only the wheel's copy of geo is importable: the checkout is not on the path
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(site)
    probe = subprocess.run(
        [sys.executable, "-c", "import geo, sys; print(geo.__file__)"],
        capture_output=True, text=True, cwd=elsewhere, env=env,
    )
    assert str(site) in probe.stdout, probe.stdout + probe.stderr
    proc = geo_cli("run", "--n", "1000", cwd=elsewhere, env=env)
    assert proc.returncode == 0, proc.stderr
    assert (elsewhere / "geo-out" / "map.html").is_file()
    assert (elsewhere / "geo-out" / "layers.gpkg").is_file()


def test_run_writes_indices_for_every_layer_and_grid(default_run):
    result, _ = default_run
    params = pd.read_csv(result.folder / "indices_parameters.csv", encoding="utf-8-sig")
    assert list(params["layer"]) == ["districts", "platforms", "towns", "grid"]
    assert set(params["weighting"]) == {"count"}
    assert params["synthetic"].all()
    zm = pd.read_csv(result.folder / "indices_zone_measures.csv", encoding="utf-8-sig")
    districts = zm[(zm.layer == "districts") & (zm.measure == "lq")]
    assert len(districts) == 13 * 8  # 13 districts x 8 groups of the fields scheme
    layers = {name for name, _ in pyogrio.list_layers(result.folder / "layers.gpkg")}
    assert {"districts_indices", "grid_indices", "towns_indices"} <= layers
    grid = pyogrio.read_dataframe(result.folder / "layers.gpkg", layer="grid_indices")
    assert {"lq_manufacturing", "coagg_quality_manufacturing__producer_services"} <= set(
        grid.columns
    )
    text = (result.folder / "map.html").read_text(encoding="utf-8")
    assert "geo-legend-entry" in text
    assert "制造业区位熵（网格）" in text or json.dumps("制造业区位熵（网格）")[1:-1] in text


def test_cli_index_zonal_writes_tables_and_gpkg(tmp_path):
    out = tmp_path / "idx.xlsx"
    gpkg = tmp_path / "idx.gpkg"
    proc = geo_cli(
        "index", "zonal", "--zones", "hex:5000", "--groups", "sections", "--weight",
        "employment", "--n", "2000", "--out", str(out), "--gpkg", str(gpkg),
        "--reference", "districts", "--reference-ids", "330102,330105,330106",
    )
    assert proc.returncode == 0, proc.stderr
    assert "Synthetic data" in proc.stdout
    sheets = pd.read_excel(out, sheet_name=None)
    assert set(sheets) == {"zone_measures", "industry_measures", "coagglomeration",
                           "egk_pairs", "egk_matrix", "parameters"}
    params = sheets["parameters"].iloc[0]
    assert params["layer"] == "hex_5000" and params["weighting"] == "employment"
    assert "330102" in params["reference"]
    assert set(sheets["zone_measures"]["group"]) >= {"ps_G", "ps_N"}
    (layer, _), = pyogrio.list_layers(gpkg)
    assert layer == "hex_5000_indices"


def test_cli_index_zonal_errors_are_one_line(tmp_path):
    proc = geo_cli("index", "zonal", "--out", str(tmp_path / "x.txt"))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "--out must end in" in proc.stderr
    proc = geo_cli("index", "zonal", "--zones", "nowhere.gpkg", "--out", str(tmp_path / "x.csv"))
    assert proc.returncode == 2 and "neither a bundled layer nor an existing file" in proc.stderr
    proc = geo_cli("index", "zonal", "--reference", "districts", "--reference-ids", "999",
                   "--n", "500", "--out", str(tmp_path / "x.csv"))
    assert proc.returncode == 2 and "999" in proc.stderr


def test_config_indices_section(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text(
        '[indices]\ngrid = "none"\nweighting = "employment"\ngroups = "my.csv"\n',
        encoding="utf-8",
    )
    config = load_config(path)
    assert config.grid is None and config.weighting == "employment"
    assert config.groups == str(tmp_path / "my.csv")


def test_cli_run_with_own_zone_layer_grid_and_weighting(tmp_path):
    import geopandas as gpd
    import shapely

    parks = gpd.GeoDataFrame(
        {"code": ["P1", "P2"], "名称": ["西溪园区", "滨江园区"]},
        geometry=[
            shapely.box(120.0, 30.2, 120.15, 30.3), shapely.box(120.15, 30.15, 120.25, 30.22)
        ],
        crs="EPSG:4326",
    )
    parks.to_file(tmp_path / "parks.geojson")
    proc = geo_cli(
        "run", "--n", "1500", "--zone", f"parks={tmp_path / 'parks.geojson'}", "--zone",
        "cells=hex:8000", "--grid", "none", "--weight", "employment", "--out", "out",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    params = pd.read_csv(tmp_path / "out" / "indices_parameters.csv", encoding="utf-8-sig")
    assert list(params["layer"]) == ["districts", "platforms", "towns", "parks", "cells"]
    assert set(params["weighting"]) == {"employment"}
    layers = {name for name, _ in pyogrio.list_layers(tmp_path / "out" / "layers.gpkg")}
    assert {"parks", "parks_indices", "cells_indices"} <= layers
    bad = geo_cli("run", "--zone", "parks", "--out", "o2", cwd=tmp_path)
    assert bad.returncode == 2 and "NAME=FILE_OR_LAYER" in bad.stderr
    bad = geo_cli("run", "--weight", "revenue", "--out", "o3", cwd=tmp_path)
    assert bad.returncode == 2 and "weighting" in bad.stderr


def test_run_writes_distance_functions_plots_and_local_clq(default_run):
    result, _ = default_run
    functions = pd.read_csv(result.folder / "distance_functions.csv", encoding="utf-8-sig")
    assert set(functions["function"]) == {"Lcross", "Kd_bilateral"}
    assert set(functions["b"]) == {"producer_services", "digital", "tech", "finance",
                                   "logistics", "business"}
    assert functions["synthetic"].all()
    assert {"lo", "hi"} <= set(functions.columns)
    plots = sorted((result.folder / "plots").glob("*.png"))
    assert len(plots) == 12 and all(p.read_bytes()[:4] == b"\x89PNG" for p in plots)
    clq = pd.read_csv(result.folder / "colocation.csv", encoding="utf-8-sig")
    assert {"clq", "p_colocation", "p_isolation"} <= set(clq.columns)
    local = pyogrio.read_dataframe(result.folder / "layers.gpkg", layer="local_clq")
    assert len(local) > 0 and (local["lclq"] >= 0).all()
    manifest = json.loads((result.folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["distance"]["nsim"] == 99
    # every division pair of manufacturing x producer services, from the same permutations
    pairs = pd.read_csv(result.folder / "pairs_clq.csv", encoding="utf-8-sig")
    assert len(pairs) == manifest["distance"]["pair_counts"]["clq"] > 100
    assert pairs["a"].str.startswith("C").all() and pairs["synthetic"].all()
    assert {"a_name_zh", "clq", "p_colocation", "significant"} <= set(pairs.columns)
    assert (result.folder / "pairs_clq_matrix.png").stat().st_size > 10_000
    assert "pairs_clq_matrix.csv" in manifest["outputs"]
    text = (result.folder / "map.html").read_text(encoding="utf-8")
    title = "生产性服务业企业的局部共位商（相对制造业）"
    assert title in text or json.dumps(title)[1:-1] in text


@pytest.mark.parametrize(
    ("command", "extra"),
    [
        ("crossk", ["--fun", "K", "--correction", "isotropic", "--window", "districts:330106"]),
        ("kd", ["--weight", "employment", "--b", "digital"]),
        ("m", ["--envelope", "global", "--a", "C39", "--b", "I65"]),
    ],
)
def test_cli_distance_functions(tmp_path, command, extra):
    out = tmp_path / f"{command}.csv"
    proc = geo_cli("index", command, "--n", "3000", "--nsim", "19", "--out", str(out), *extra)
    assert proc.returncode == 0, proc.stderr
    table = pd.read_csv(out, encoding="utf-8-sig")
    assert {"r", "observed", "lo", "hi", "synthetic"} <= set(table.columns)
    assert table["synthetic"].all() and table["nsim"].eq(19).all()
    assert out.with_suffix(".png").read_bytes()[:4] == b"\x89PNG"


def test_cli_clq_with_local_layer_and_bad_type(tmp_path):
    out = tmp_path / "clq.csv"
    proc = geo_cli("index", "clq", "--n", "3000", "--nsim", "19", "--out", str(out),
                   "--local", str(tmp_path / "lclq.gpkg"))
    assert proc.returncode == 0, proc.stderr
    table = pd.read_csv(out, encoding="utf-8-sig")
    assert len(table) == 4 and table["global_clq"].notna().all()
    layer = pyogrio.read_dataframe(tmp_path / "lclq.gpkg")
    assert {"lclq", "lclq_p_colocation"} <= set(layer.columns)
    bad = geo_cli("index", "crossk", "--a", "nonsense!", "--n", "500", "--out",
                  str(tmp_path / "x.csv"))
    assert bad.returncode == 2 and "unknown type" in bad.stderr and "Traceback" not in bad.stderr


def test_cli_crossk_with_a_type_column_of_the_file(tmp_path):
    from geo.io.seed import generate_firms

    firms = generate_firms(2000, 3).firms
    frame = firms[["firm_id", "name", "industry_code", "lon", "lat"]].copy()
    frame["类别"] = firms["group"].map(
        {"manufacturing": "工厂", "producer_services": "服务", "other": "其他"}
    )
    frame.to_csv(tmp_path / "typed.csv", index=False, encoding="utf-8")
    out = tmp_path / "k.csv"
    proc = geo_cli("index", "crossk", "--firms", str(tmp_path / "typed.csv"), "--type-column",
                   "类别", "--a", "工厂", "--b", "服务", "--nsim", "9", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    table = pd.read_csv(out, encoding="utf-8-sig")
    assert set(table["a"]) == {"工厂"} and set(table["b"]) == {"服务"}
    assert not table["synthetic"].any()


def test_cli_distance_on_a_plain_projected_point_file(tmp_path):
    from geo.io.crs import DEFAULT_ANALYSIS_CRS
    from geo.io.seed import generate_firms

    firms = generate_firms(1500, 4).firms.to_crs(DEFAULT_ANALYSIS_CRS)
    pd.DataFrame({
        "x": firms.geometry.x, "y": firms.geometry.y,
        "kind": firms["group"].str[:1].str.upper(),
    }).to_csv(tmp_path / "xy.csv", index=False)
    out = tmp_path / "m.csv"
    proc = geo_cli("index", "m", "--firms", str(tmp_path / "xy.csv"), "--coords", "4549",
                   "--type-column", "kind", "--a", "M", "--b", "P", "--nsim", "9",
                   "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert set(pd.read_csv(out, encoding="utf-8-sig")["neighbour"]) == {"P"}
    # without --type-column the file must carry industry codes
    proc = geo_cli("index", "m", "--firms", str(tmp_path / "xy.csv"), "--coords", "4549",
                   "--out", str(tmp_path / "m2.csv"))
    assert proc.returncode == 2 and "not found: industry_code" in proc.stderr


def test_run_writes_hot_spots_and_bivariate_lisa(default_run):
    result, _ = default_run
    cells = pyogrio.read_dataframe(result.folder / "layers.gpkg", layer="grid_clusters")
    assert {"gi_z", "gi_class", "lisa_quadrant", "bv_quadrant", "focus", "other"} <= set(
        cells.columns
    )
    assert cells["synthetic"].all()
    text = (result.folder / "map.html").read_text(encoding="utf-8")
    title = "生产性服务业冷热点（Gi*，网格）"
    assert title in text or json.dumps(title)[1:-1] in text



def test_run_hot_spots_test_only_cells_with_firms(default_run):
    """Issue 14, 4: empty rural cells were painted as cold spots."""
    result, _ = default_run
    cells = pyogrio.read_dataframe(result.folder / "layers.gpkg", layer="grid_clusters")
    empty = cells["n_firms"] == 0
    assert empty.sum() > len(cells) / 2  # 3,000 firms leave most 2 km cells empty
    assert (cells.loc[empty, "gi_class"] == "not tested").all()
    assert (cells.loc[empty, "bv_quadrant"] == "not tested").all()
    assert cells.loc[empty, "gi_z"].isna().all()
    assert not cells.loc[empty, "tested"].astype(bool).any()
    cold = cells["gi_class"].str.startswith("cold")
    assert (cells.loc[cold, "n_firms"] > 0).all()
    hot_spots = result.manifest["hot_spots"]
    assert hot_spots["cells"] == "occupied" and "at least one firm" in hot_spots["rule"]
    assert hot_spots["cells_tested"] == int((~empty).sum())
    assert hot_spots["cells_not_tested"] == int(empty.sum())
    assert result.manifest["parameters"]["hotspot_cells"] == "occupied"
    # neither map draws untested cells (nor the QGIS style, whose categories are the same)
    from geo.maps.recipe import choropleth_classes, load_recipe

    spec = next(c for c in load_recipe().choropleths if c.column == "gi_class")
    assert "not tested" not in {c.key for c in spec.categories}
    drawn = choropleth_classes(cells, spec)
    assert drawn is None or (drawn[0]["n_firms"] > 0).all()


def test_hotspot_cells_option_reaches_the_config(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    import geo.pipeline
    from geo.cli import app

    toml = tmp_path / "run.toml"
    toml.write_text('[clusters]\nhotspot_cells = "all"\n', encoding="utf-8")
    assert load_config(toml).hotspot_cells == "all"
    assert RunConfig().hotspot_cells == "occupied"
    seen = []

    def fake_run(config, **_):
        seen.append(config.hotspot_cells)
        raise ConfigError("stop here")

    monkeypatch.setattr(geo.pipeline, "run", fake_run)
    runner = CliRunner()
    assert runner.invoke(app, ["run", "--hotspot-cells", "all"]).exit_code == 2
    assert runner.invoke(app, ["run", "-c", str(toml), "--hotspot-cells", "occupied"]
                         ).exit_code == 2
    assert seen == ["all", "occupied"]
    monkeypatch.undo()
    bad = RunConfig(hotspot_cells="built-up", output=tmp_path / "out")
    with pytest.raises(ConfigError, match="occupied or all"):
        run(bad)
    assert not (tmp_path / "out").exists()  # refused before any work


def test_cli_clusters(tmp_path):
    out = tmp_path / "hs.gpkg"
    proc = geo_cli("clusters", "--n", "3000", "--grid", "hex:3000", "--permutations", "199",
                   "--focus", "digital", "--weights", "knn:6", "--out", str(out),
                   "--areas", str(tmp_path / "areas.geojson"), "--min-cluster-size", "20",
                   "--density", str(tmp_path / "digital.tif"), "--bandwidth", "0")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "digital.tif").stat().st_size > 0
    contours = pyogrio.read_dataframe(tmp_path / "digital_contours.gpkg")
    assert len(contours) == 3 and "bandwidth" in proc.stdout
    areas = pyogrio.read_dataframe(tmp_path / "areas.geojson")
    assert len(areas) > 0 and areas["name_zh"].str.contains("集群").all()
    cells = pyogrio.read_dataframe(out)
    assert {"gi_class", "bv_quadrant"} <= set(cells.columns)
    assert cells["focus"].sum() > 0
    bad = geo_cli("clusters", "--weights", "hexagonal", "--n", "500", "--out",
                  str(tmp_path / "hs2.gpkg"))
    assert bad.returncode == 2 and "unknown weights" in bad.stderr


def test_run_writes_named_cluster_areas(default_run):
    result, _ = default_run
    clusters = pd.read_csv(result.folder / "clusters.csv", encoding="utf-8-sig")
    assert len(clusters) > 0
    assert {"name_zh", "n_firms", "lq", "stability", "district", "platform", "town"} <= set(
        clusters.columns
    )
    assert clusters["synthetic"].all()
    layer = pyogrio.read_dataframe(result.folder / "layers.gpkg", layer="ps_clusters")
    assert len(layer) == len(clusters)


def test_run_writes_density_rasters_and_contours(default_run):
    import rasterio

    result, _ = default_run
    for group in ("producer_services", "manufacturing"):
        with rasterio.open(result.folder / f"density_{group}.tif") as src:
            assert src.crs.to_epsg() == 4549 and src.tags()["synthetic"] == "true"
    contours = pyogrio.read_dataframe(result.folder / "layers.gpkg", layer="density_contours")
    assert set(contours["group"]) == {"producer_services", "manufacturing"}
    assert sorted(set(contours["share"])) == [0.5, 0.75, 0.9]


def test_run_exports_on_request_and_cli_export(tmp_path):
    proc = geo_cli("run", "--n", "800", "--export", "shp", "--export", "kml", "--out", "o",
                   cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "o" / "export_shp" / "districts.shp.zip").is_file()
    assert (tmp_path / "o" / "export_kml" / "ps_clusters.kml").is_file() or (
        tmp_path / "o" / "export_kml" / "districts.kml").is_file()
    proc = geo_cli("export", "o", "--format", "geojson", "--layer", "districts", "--out", "gj",
                   cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert [p.name for p in (tmp_path / "gj").glob("*.geojson")] == ["districts.geojson"]
    again = geo_cli("export", "o", "--format", "geojson", "--out", "gj", cwd=tmp_path)
    assert again.returncode == 2 and "--force" in again.stderr
    bad = geo_cli("export", "o", "--layer", "nope", cwd=tmp_path)
    assert bad.returncode == 2 and "no layer" in bad.stderr


def test_geopackage_carries_qgis_styles_from_the_recipe(default_run):
    import sqlite3
    from xml.etree import ElementTree as ET

    result, _ = default_run
    with sqlite3.connect(result.folder / "layers.gpkg") as db:
        rows = db.execute(
            "SELECT f_table_name, styleName, styleQML, useAsDefault FROM layer_styles"
        ).fetchall()
    styles = {(table, name): (ET.fromstring(qml.split("\n", 1)[1]), default)
              for table, name, qml, default in rows}
    defaults = [table for table, _, _, default in rows if default]
    assert len(defaults) == len(set(defaults))  # one default style per layer
    firms, _ = styles[("firms", "企业")]
    renderer = firms.find("renderer-v2")
    assert renderer.get("type") == "categorizedSymbol" and renderer.get("attr") == "map_class"
    labels = [c.get("label") for c in renderer.find("categories")]
    assert "数字服务" in labels and "高技术制造业" in labels
    districts, _ = styles[("districts", "区县")]
    assert districts.find("labeling/settings/text-style").get("fieldName") == "name_zh"
    aliases = {a.get("field"): a.get("name") for a in districts.find("aliases")}
    assert aliases["name_zh"] == "名称"
    # cells with fewer than 5 firms are left off the maps, so rules filter them in QGIS too
    lq, _ = styles[("grid_indices", "制造业区位熵（网格）")]
    assert lq.find("renderer-v2").get("type") == "RuleRenderer"
    filters = [r.get("filter") for r in lq.find("renderer-v2/rules")]
    assert all('"n_firms" >= 5' in f for f in filters)
    # each rule spans the exact values of its class's zones, inside the recipe's breaks
    uppers = [float(f.split("<= ")[-1]) for f in filters][:4]
    assert all(u <= b for u, b in zip(uppers, [0.5, 0.8, 1.25, 2], strict=True)), uppers
    districts_coagg, _ = styles[("districts_indices", "两业协同集聚水平（区县）")]
    assert districts_coagg.find("renderer-v2").get("type") in ("graduatedSymbol", "RuleRenderer")
    candidates, _ = styles[("site_candidates", "候选地块：服务半径内未满足的制造业需求")]
    assert all(r.get("filter").startswith('"eligible" AND')
               for r in candidates.find("renderer-v2/rules"))
    hot, _ = styles[("grid_clusters", "生产性服务业冷热点（Gi*，网格）")]
    assert [c.get("value") for c in hot.find("renderer-v2/categories")][0] == "hot 99%"


def test_planned_outputs_cover_every_output(default_run):
    """The clash check before a run knows every file a run writes."""
    from fnmatch import fnmatchcase

    from geo.pipeline import _planned_outputs

    result, _ = default_run
    planned = _planned_outputs(RunConfig(seed_n=3_000, output=result.folder))
    for name in [*result.manifest["outputs"], "manifest.json"]:
        assert any(fnmatchcase(name, p) for p in planned), name


CHEAP_RUN = """
[seed]
n = 500
[indices]
grid = "none"
[distance]
nsim = -1
[clusters]
permutations = 9
[siting]
k = {k}
"""


def test_rerun_keeps_the_files_geo_did_not_write(tmp_path):
    """Issue 13, 7: re-running `geo run --out run1` deleted run1/map_amap.html."""
    from typer.testing import CliRunner

    from geo.cli import app

    cheap = tmp_path / "cheap.toml"
    cheap.write_text(CHEAP_RUN.format(k=0), encoding="utf-8")
    with_sites = tmp_path / "sites.toml"
    with_sites.write_text(CHEAP_RUN.format(k=1), encoding="utf-8")
    out = tmp_path / "run1"
    runner = CliRunner()
    first = runner.invoke(app, ["run", "-c", str(cheap), "--out", str(out)])
    assert first.exit_code == 0, first.output
    drawn = runner.invoke(app, ["map", str(out), "--basemap", "amap",
                                "--out", str(out / "map_amap.html")])
    assert drawn.exit_code == 0, drawn.output
    amap = (out / "map_amap.html").read_bytes()
    (out / "notes").mkdir()
    (out / "notes" / "meeting.txt").write_text("keep me", encoding="utf-8")
    (out / "sites.csv").write_text("my own sites", encoding="utf-8")
    manifest = (out / "manifest.json").read_text(encoding="utf-8")
    # a run that writes sites.csv stops before any work, and says how to go on
    clash = runner.invoke(app, ["run", "-c", str(with_sites), "--out", str(out)])
    assert clash.exit_code == 2
    assert "sites.csv" in clash.output and "--force" in clash.output
    assert "load zone layers" not in clash.output
    assert (out / "manifest.json").read_text(encoding="utf-8") == manifest
    again = runner.invoke(app, ["run", "-c", str(cheap), "--out", str(out)])
    assert again.exit_code == 0, again.output
    assert (out / "map_amap.html").read_bytes() == amap
    assert (out / "notes" / "meeting.txt").read_text(encoding="utf-8") == "keep me"
    assert (out / "sites.csv").read_text(encoding="utf-8") == "my own sites"
    assert "map_amap.html" not in json.loads((out / "manifest.json").read_text())["outputs"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cheap.toml", "run1", "sites.toml"]
    forced = runner.invoke(app, ["run", "-c", str(with_sites), "--out", str(out), "--force"])
    assert forced.exit_code == 0, forced.output
    assert (out / "map_amap.html").read_bytes() == amap


@pytest.fixture(scope="module")
def bad_rows(tmp_path_factory):
    """A small register with two bad rows (no longitude; an unknown industry code)."""
    from geo.io.seed import generate_firms

    firms = generate_firms(3000, 3).firms
    frame = pd.DataFrame({"企业名称": firms["name"], "行业代码": firms["industry_code"],
                          "经度": firms["lon"], "纬度": firms["lat"],
                          "从业人员": firms["employees"]})
    frame.loc[3, "经度"] = None
    frame.loc[5, "行业代码"] = "Z99"
    path = tmp_path_factory.mktemp("bad") / "firms.csv"
    frame.to_csv(path, index=False, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("command", "out", "extra", "rejects"),
    [
        (["site"], "sites", ["--k", "2", "--cell", "2000", "--mask", "none"],
         "sites/rejects.csv"),
        (["clusters"], "hs.gpkg", ["--permutations", "9"], "hs_rejects.csv"),
        (["index", "zonal"], "t.csv", [], "t_rejects.csv"),
        (["index", "crossk"], "k.csv", ["--nsim", "0"], "k_rejects.csv"),
    ],
)
def test_cli_commands_work_when_rows_are_rejected(tmp_path, bad_rows, command, out, extra,
                                                  rejects):
    """Issue 13, 7: `geo site --firms FILE --out NEW` failed whenever a row was rejected."""
    from typer.testing import CliRunner

    from geo.cli import app

    args = [*command, "--firms", str(bad_rows), "--out", str(tmp_path / out), *extra]
    # and again into its own output: a folder of geo's is replaced, files need --force
    for again in ([], [] if command == ["site"] else ["--force"]):
        result = CliRunner().invoke(app, [*args, *again])
        assert result.exit_code == 0, result.output
        assert len(pd.read_csv(tmp_path / rejects, encoding="utf-8-sig")) == 2
    if command == ["site"]:
        summary = json.loads((tmp_path / "sites" / "summary.json").read_text(encoding="utf-8"))
        assert "rejects.csv" in summary["outputs"]
        assert sorted(p.name for p in tmp_path.iterdir()) == ["sites"]


def test_static_extent_option_reaches_the_config(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    import geo.pipeline
    from geo.cli import app

    seen = []

    def fake_run(config, **_):
        seen.append((config.static_extent, config.distance_max_points))
        raise ConfigError("stop here")

    monkeypatch.setattr(geo.pipeline, "run", fake_run)
    runner = CliRunner()
    assert runner.invoke(app, ["run", "--static-extent", "city"]).exit_code == 2
    assert runner.invoke(app, ["run", "--static-extent", "120,30.1,120.4,30.4",
                               "--full"]).exit_code == 2
    assert seen == [("city", 50_000), ("120,30.1,120.4,30.4", 0)]
    monkeypatch.undo()
    with pytest.raises(ConfigError, match="static_extent takes core, city or W,S,E,N"):
        run(RunConfig(static_extent="downtown", output=tmp_path / "out"))
    assert not (tmp_path / "out").exists()


def test_pair_statistics_are_checked_before_the_run(tmp_path):
    with pytest.raises(ConfigError, match="pair_statistics must be a list of clq, kd"):
        run(RunConfig(distance_pair_statistics=["egk"], output=tmp_path / "out"))
    with pytest.raises(ConfigError, match="pair_statistics"):
        run(RunConfig(distance_pair_statistics="kd", output=tmp_path / "out"))
    assert not (tmp_path / "out").exists()


def test_distance_sample_is_said_and_full_uses_every_firm(tmp_path):
    """Above max_points cross-L and Kd sample, and the run says so; 0 (--full) uses all."""
    from geo.io.seed import generate_firms
    from geo.io.zones import study_area
    from geo.stats.distance import run_distance_analyses

    firms = generate_firms(1_200, 5).firms
    area = study_area()
    sampled = run_distance_analyses(firms, area, "EPSG:4549", nsim=0, max_points=300)
    every = run_distance_analyses(firms, area, "EPSG:4549", nsim=0, max_points=0)
    assert sampled["parameters"]["points_used_for_k_and_kd"] == 300
    n = every["parameters"]["points_in_window"]
    assert every["parameters"]["points_used_for_k_and_kd"] == n > 300
    # the co-location quotients use every firm either way
    pd.testing.assert_frame_equal(sampled["colocation"], every["colocation"])

    result = run(RunConfig(seed_n=1_200, grid=None, distance_nsim=0, distance_max_points=300,
                           site_k=0, output=tmp_path / "out"))
    manifest = result.manifest
    assert manifest["distance"]["points_used_for_k_and_kd"] == 300
    said = [note for note in manifest["notes"] if "seeded random sample of 300" in note]
    assert said and "--full" in said[0]
    with pytest.raises(ConfigError, match="max_points"):
        run(RunConfig(distance_max_points=-1, output=tmp_path / "bad"))
