"""Static report maps: fixed-size PNG and PDF, Chinese text, classes shared with the web map."""

import dataclasses
import re
import warnings

import geopandas as gpd
import numpy as np
import pyproj
import pytest
import shapely
from matplotlib.colors import to_rgba
from PIL import Image

from geo import static_maps
from geo.errors import ConfigError
from geo.maps import SYNTHETIC_NOTE, classify_values, color_ramp, load_recipe
from geo.static_maps import DPI, FIGSIZE, find_cjk_font, static_map_figures, write_static_maps
from geo.zones import load_layer

needs_cjk = pytest.mark.skipif(
    find_cjk_font() is None,
    reason="no font with Chinese glyphs installed (Debian: apt-get install fonts-noto-cjk)",
)
GLYPH_MISSING = r"Glyph .* missing from font"


@pytest.fixture(scope="module")
def recipe():
    return load_recipe("default")


@pytest.fixture(scope="module")
def layers(recipe):
    districts = load_layer("districts")
    rng = np.random.default_rng(1)
    n = 400
    keys = [c.key for c in recipe.layer("firms").categories]
    firms = gpd.GeoDataFrame(
        {"firm_id": [f"f{i}" for i in range(n)], "map_class": rng.choice(keys, n)},
        geometry=shapely.points(119.9 + rng.random(n) * 0.5, 30.1 + rng.random(n) * 0.3),
        crs="EPSG:4326",
    )
    clusters = gpd.GeoDataFrame(
        {"name_zh": ["集群一", "集群二"], "name_en": ["Cluster 1", "Cluster 2"]},
        geometry=[shapely.Point(120.15, 30.28).buffer(0.03),
                  shapely.Point(120.2, 30.2).buffer(0.02)],
        crs="EPSG:4326",
    )
    indices = districts.assign(
        coagg_level_manufacturing__producer_services=np.linspace(0.2, 3.0, len(districts)),
        n_firms=50,
    )
    return {
        "districts": districts, "platforms": load_layer("platforms"), "towns": load_layer("towns"),
        "firms": firms, "ps_clusters": clusters, "districts_indices": indices,
    }


@pytest.fixture(scope="module")
def grid():
    cells = [shapely.box(x, y, x + 0.05, y + 0.05)
             for x in np.arange(119.9, 120.4, 0.05) for y in np.arange(30.0, 30.4, 0.05)]
    rng = np.random.default_rng(2)
    quality = rng.random(len(cells))
    quality[3] = np.nan
    return gpd.GeoDataFrame(
        {"coagg_quality_manufacturing__producer_services": quality,
         "n_firms": rng.integers(0, 12, len(cells))},
        geometry=cells, crs="EPSG:4326",
    )


def _pixels(figure):
    figure.canvas.draw()
    return np.asarray(figure.canvas.buffer_rgba())[..., :3].astype(int)


def _by_gid(figure, gid):
    return next(a for a in figure.findobj() if a.get_gid() == gid)


def test_png_and_pdf_have_fixed_size_in_english(tmp_path, layers, recipe):
    paths = write_static_maps(layers, recipe, tmp_path, lang="en", provenance=["districts: test"])
    names = ["map_clusters.png", "map_clusters.pdf",
             "map_coagglomeration.png", "map_coagglomeration.pdf"]
    assert [p.name for p in paths] == names
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(names)  # no temporary files
    for png in tmp_path.glob("*.png"):
        with Image.open(png) as image:
            assert image.size == (FIGSIZE[0] * DPI, FIGSIZE[1] * DPI) == (2400, 2400)
            assert image.info["dpi"] == pytest.approx((300, 300), abs=0.01)
    for pdf in tmp_path.glob("*.pdf"):
        assert pdf.read_bytes().startswith(b"%PDF")
    figures = static_map_figures(layers, recipe, lang="en")
    assert _by_gid(figures["map_clusters"], "title").get_text() == recipe.title_en
    labels = {t.get_text() for t in figures["map_clusters"].findobj() if t.get_gid()
              == "label:districts"}
    assert "Xihu" in labels


@needs_cjk
def test_chinese_maps_are_written_without_missing_glyphs(tmp_path, layers, recipe):
    zones_and_firms = {k: v for k, v in layers.items() if k != "districts_indices"}
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=GLYPH_MISSING)
        paths = write_static_maps(zones_and_firms, recipe, tmp_path, synthetic=True,
                                  provenance=["区县：测试来源"])
    assert [p.name for p in paths] == ["map_clusters.png", "map_clusters.pdf"]
    with Image.open(paths[0]) as image:
        assert image.size == (2400, 2400)
    assert paths[1].read_bytes().startswith(b"%PDF")


@needs_cjk
def test_chinese_title_and_labels_are_drawn(layers, recipe):
    # Ideographic spaces keep the layout and draw nothing: any difference is the glyphs' ink.
    blank = "\u3000" * len(recipe.title_zh)
    districts = layers["districts"]
    unlabelled = {**layers, "districts": districts.assign(
        name_zh=districts["name_zh"].map(lambda name: "\u3000" * len(name)))}
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=GLYPH_MISSING)
        figure = static_map_figures(layers, recipe)["map_clusters"]
        drawn = _pixels(figure)
        empty = _pixels(static_map_figures(
            unlabelled, dataclasses.replace(recipe, title_zh=blank))["map_clusters"])
    ink = np.abs(drawn - empty).sum(axis=2) > 200
    box = _by_gid(figure, "title").get_window_extent()
    title_rows = slice(drawn.shape[0] - int(box.y1) - 2, drawn.shape[0] - int(box.y0) + 2)
    assert ink[title_rows].sum() > 5000  # 20 bold 14 pt ideographs at 300 dpi
    assert ink.sum() - ink[title_rows].sum() > 5000  # 13 district names


def test_missing_glyphs_would_be_caught(monkeypatch, layers, recipe):
    # The checks above are only worth something if a Latin-only font does warn.
    monkeypatch.setattr(static_maps, "find_cjk_font", lambda: "DejaVu Sans")
    with pytest.warns(UserWarning, match=GLYPH_MISSING):
        _pixels(static_map_figures({"districts": layers["districts"]}, recipe)["map_clusters"])


def test_no_chinese_font_is_a_clear_error(monkeypatch, tmp_path, layers, recipe):
    monkeypatch.setattr(static_maps, "find_cjk_font", lambda: None)
    with pytest.raises(ConfigError, match="fonts-noto-cjk") as error:
        write_static_maps(layers, recipe, tmp_path / "zh", lang="zh")
    assert "--lang en" in str(error.value)
    assert not (tmp_path / "zh").exists()
    figures = static_map_figures({"districts": layers["districts"]}, recipe, lang="en")
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=GLYPH_MISSING)
        _pixels(figures["map_clusters"])


def _assert_drawn_colors(figure, spec, classes, labels):
    colors = color_ramp(spec.colors, len(labels))
    expected = [to_rgba(colors[c], spec.fill_opacity) for c in classes if c >= 0]
    drawn = _by_gid(figure, f"choropleth:{spec.name}").get_facecolors()
    np.testing.assert_allclose(drawn, expected)


def test_coagglomeration_classes_are_the_web_maps(layers, grid, recipe):
    spec = next(s for s in recipe.choropleths if s.name == "coagg_quality_grid")
    figures = static_map_figures({**layers, "grid_indices": grid}, recipe, lang="en")
    # the recipe's first co-agglomeration choropleth wins; cells under min_firms are left out
    shown = grid[grid["n_firms"] >= spec.min_firms]
    classes, labels = classify_values(shown[spec.column], spec, "en")
    figure = figures["map_coagglomeration"]
    _assert_drawn_colors(figure, spec, classes, labels)
    legend = [t.get_text() for t in _by_gid(figure, "legend").get_texts()]
    assert legend[: len(labels)] == labels
    assert _by_gid(figure, "title").get_text().startswith("Co-agglomeration quality C")


def test_coagglomeration_by_district_when_there_is_no_grid(layers, recipe):
    spec = next(s for s in recipe.choropleths if s.name == "coagg_level_districts")
    figure = static_map_figures(layers, recipe, lang="en")["map_coagglomeration"]
    classes, labels = classify_values(layers["districts_indices"][spec.column], spec, "en")
    _assert_drawn_colors(figure, spec, classes, labels)
    without = {k: v for k, v in layers.items() if k != "districts_indices"}
    assert list(static_map_figures(without, recipe, lang="en")) == ["map_clusters"]


def test_firms_are_all_drawn_by_category(layers, recipe):
    figure = static_map_figures(layers, recipe, lang="en")["map_clusters"]
    counts = layers["firms"]["map_class"].value_counts()
    for category in recipe.layer("firms").categories:
        points = _by_gid(figure, f"firms:{category.key}")
        assert len(points.get_offsets()) == counts[category.key]
        assert points.get_rasterized()  # a small PDF however many firms


@pytest.mark.parametrize("crs", ["EPSG:4549", "EPSG:3857"])
def test_scale_bar_is_true_to_the_ground(layers, recipe, crs):
    figure = static_map_figures(layers, recipe, lang="en", analysis_crs=crs)["map_clusters"]
    bar = _by_gid(figure, "scale_bar")
    label = bar.txt_label.get_text()
    assert re.fullmatch(r"\d+ km", label)
    width = bar.size_bar.get_children()[0].get_width()  # map units
    axes = figure.axes[0]
    x0, y0 = axes.get_xlim()[0], axes.get_ylim()[0]
    lon, lat = pyproj.Transformer.from_crs(crs, "EPSG:4326", always_xy=True).transform(
        [x0, x0 + width], [y0, y0])
    ground = pyproj.Geod(ellps="WGS84").inv(lon[0], lat[0], lon[1], lat[1])[2]
    assert ground == pytest.approx(int(label.split()[0]) * 1000, rel=1e-3)


def test_synthetic_data_and_sources_are_stated(layers, recipe):
    figure = static_map_figures(layers, recipe, lang="en", synthetic=True,
                                provenance=["districts: county boundaries"])["map_clusters"]
    assert _by_gid(figure, "title").get_text().endswith("(synthetic data)")
    assert _by_gid(figure, "synthetic").get_text() == SYNTHETIC_NOTE["en"]
    note = _by_gid(figure, "note").get_text()
    assert "Sources: districts: county boundaries" in note and "EPSG:4549" in note


def test_bad_language_and_geographic_crs_are_config_errors(layers, recipe):
    with pytest.raises(ConfigError, match="language"):
        static_map_figures(layers, recipe, lang="fr")
    with pytest.raises(ConfigError, match="projected CRS in metres"):
        static_map_figures(layers, recipe, lang="en", analysis_crs="EPSG:4326")
