"""The run's GeoPackage opened in QGIS (Debian python3-qgis, offscreen), as a planner opens it.

QGIS runs under the system Python (it is not installable into the venv), so each
check starts ``tests/qgis_probe.py`` there and reads its JSON report: the fill
colour QGIS gives each feature with the stored default style, the labels it
places when the layers are drawn together, and what it logged while opening.
"""

import json
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pyogrio
import pytest

from geo.maps import choropleth_classes, load_recipe
from geo.pipeline import RunConfig, run

SYSTEM_PYTHON = "/usr/bin/python3"
PROBE = Path(__file__).parent / "qgis_probe.py"


def _has_qgis() -> bool:
    if not Path(SYSTEM_PYTHON).exists():
        return False
    proc = subprocess.run([SYSTEM_PYTHON, "-c", "import qgis.core"], capture_output=True)
    return proc.returncode == 0


pytestmark = pytest.mark.skipif(
    not _has_qgis(), reason="QGIS tests need Debian's python3-qgis (apt-get install python3-qgis)"
)


@pytest.fixture(scope="module")
def gpkg(tmp_path_factory):
    out = tmp_path_factory.mktemp("qgis") / "run"
    run(RunConfig(seed_n=3_000, output=out, distance_nsim=-1))
    return out / "layers.gpkg"


def probe(gpkg: Path, layers: list[str], tmp_path: Path) -> dict:
    out = tmp_path / "probe.json"
    proc = subprocess.run(
        [SYSTEM_PYTHON, str(PROBE), str(gpkg), str(out), *layers],
        capture_output=True, text=True, timeout=300,
        env={"QT_QPA_PLATFORM": "offscreen", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
             "XDG_RUNTIME_DIR": str(tmp_path)},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(out.read_text(encoding="utf-8"))


def test_every_zone_the_web_map_colours_is_drawn_in_qgis_with_its_colour(gpkg, tmp_path):
    recipe = load_recipe("default")
    # the default style of each layer is its first choropleth in the recipe
    firsts = {}
    for spec in recipe.choropleths:
        firsts.setdefault(spec.layer, spec)
    layers = [name for name in firsts if name in pyogrio.list_layers(gpkg)[:, 0]]
    assert {"districts_indices", "platforms_indices", "towns_indices"} <= set(layers)
    report = probe(gpkg, layers, tmp_path)["layers"]
    for name in layers:
        spec = firsts[name]
        frame = pyogrio.read_dataframe(gpkg, layer=name, fid_as_index=True)
        drawn = choropleth_classes(frame, spec, "zh")
        expected = {str(fid): colour.lower() for fid, colour in drawn[0]["_color"].items()}
        qgis = report[name]["colours"]
        for fid, colour in expected.items():
            assert qgis[fid] == colour, (name, fid, frame.loc[int(fid), spec.column])
        # the zones the maps leave out are left out in QGIS too
        if spec.scheme != "categorical":
            left_out = set(qgis) - set(expected)
            assert all(qgis[fid] is None for fid in left_out), name


def test_labels_survive_with_every_layer_loaded(gpkg, tmp_path):
    layers = ["site_zones", "ps_clusters", "towns", "town_centres", "platforms", "districts",
              "districts_indices", "grid"]
    report = probe(gpkg, layers, tmp_path)["layers"]
    for name in ("site_zones", "ps_clusters", "towns", "districts"):
        assert report[name].get("labels", 0) > 0, (name, report[name].get("labels"))
    assert not report["grid"].get("labels")  # thousands of cells carry no labels


def test_every_layer_has_a_default_style(gpkg):
    spatial = [name for name, kind in pyogrio.list_layers(gpkg) if kind]
    with sqlite3.connect(gpkg) as db:
        styled = {row[0] for row in db.execute(
            "SELECT f_table_name FROM layer_styles WHERE useAsDefault")}
    assert set(spatial) <= styled, set(spatial) - styled


def test_opening_the_geopackage_prints_no_warning(gpkg, tmp_path):
    report = probe(gpkg, [], tmp_path)
    assert report["messages"] == []
    assert all(entry["valid"] for entry in report["layers"].values())
    if shutil.which("ogrinfo"):
        proc = subprocess.run(["ogrinfo", "-al", "-so", str(gpkg)], capture_output=True,
                              text=True)
        assert proc.returncode == 0
        assert "Warning" not in proc.stderr, proc.stderr
        proc = subprocess.run(["ogrinfo", str(gpkg), "layer_styles"], capture_output=True,
                              text=True)
        assert "Warning" not in proc.stderr, proc.stderr
