"""Static report maps: PNG (300 dpi) and PDF, with Chinese text.

Two maps for reports and slides, drawn with matplotlib from the same recipe
(``maps/*.toml``) as the web map and the QGIS styles:

- ``map_clusters``: districts, planning platforms, towns, the enterprises by
  category and the producer-service cluster areas;
- ``map_coagglomeration``: the recipe's co-agglomeration choropleth, with the
  web map's classes and colours (:func:`geo.maps.choropleth_classes`).

Each page is ``FIGSIZE`` inches at ``DPI`` (2400 x 2400 pixels) with a title,
legend, scale bar, north arrow, district labels and a source note. The maps
are drawn in a projected CRS in metres; the scale bar is measured on the
ellipsoid, so it is right in any projection. Maps only read their layers:
every statistic comes from the analyses.

Extent (``extent``): ``core`` (default) frames the area that holds most
enterprises (:func:`geo.maps.extent.core_extent`), ``city`` the whole study area, or a box
``W,S,E,N`` in WGS84 degrees; when less than the city is shown, an inset map
of the whole city marks the part shown. The scale bar and north arrow go to
the corner of the map with the least drawn data, the inset to the next one.
"""

from __future__ import annotations

import math
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj

from geo.errors import ConfigError
from geo.io.crs import DEFAULT_ANALYSIS_CRS, WGS84
from geo.maps.extent import Extent, layers_city, layers_core, parse_extent
from geo.maps.fontcache import cached_font_subsets
from geo.maps.fonts import font_rc, wrap_text
from geo.maps.furniture import add_furniture
from geo.maps.recipe import (
    SYNTHETIC_NOTE,
    SYNTHETIC_TITLE,
    Category,
    Choropleth,
    Lang,
    LayerStyle,
    MapRecipe,
    choropleth_classes,
)
from geo.maps.sources import source_note
from geo.outputs import atomic_path

if TYPE_CHECKING:
    from matplotlib.artist import Artist
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.text import Text
    from matplotlib.transforms import Bbox

# matplotlib is imported where it draws: importing it takes ~0.7 s, which every run
# would otherwise pay before its first stage (``geo run`` imports this module).

FIGSIZE = (8.0, 8.0)  # inches
DPI = 300  # PNG pixels: FIGSIZE x DPI = 2400 x 2400


# Polygon layers of the cluster map, bottom to top (the enterprises lie under them all);
# proposed zones (siting) go on top so they stay visible.
_CLUSTER_LAYERS = ("ps_clusters", "towns", "platforms", "districts", "site_zones")
# Choropleths whose column starts with this show co-agglomeration.
_COAGGLOMERATION_PREFIX = "coagg_"
CHANGE_COLUMN = "d_quality"  # the change of C of a panel's "<layer>_change" layers
# Recipe weights and dashes are CSS pixels (web map); 1 px = 0.75 pt.
_POINTS_PER_PIXEL = 0.75
# Enterprise marker diameter in points: small enough that dense areas still show structure.
_FIRM_MARKER = 1.2
_MARGIN = 0.03  # figure fraction left and right of the map
_GAP = 0.01  # figure fraction between stacked blocks
_NOTE_COLUMNS = 190  # width of a source-note line in Latin characters at its font size
# Every class outline: keeps the palest class (#f7fcf5) visible on white paper.
_CLASS_EDGE = "#8a8a8a"
_INSET_BELOW = 0.9  # an inset is drawn when the map shows less than this of the city










def write_static_maps(
    layers: dict[str, gpd.GeoDataFrame],
    recipe: MapRecipe,
    folder: Path,
    *,
    lang: Lang = "zh",
    synthetic: bool = False,
    provenance: list[str] | None = None,
    analysis_crs: str | None = None,
    extent: Extent | None = "core",
    title: str | None = None,
) -> list[Path]:
    """Write the static report maps as 300 dpi PNG and as PDF.

    Writes ``map_clusters.png/.pdf`` and, when the layers hold the recipe's
    co-agglomeration choropleth, ``map_coagglomeration.png/.pdf``; with the
    change layers of a panel by year, ``map_change.png/.pdf`` (the first
    choropleth of ``d_quality`` whose layer is present). Every file
    appears whole or not at all. PNGs are ``FIGSIZE`` x ``DPI`` = 2400 x 2400
    pixels; in the PDFs the enterprise points are an embedded 300 dpi image,
    everything else is vector. The fonts embedded in the PDFs are subset once
    per font and text and cached on disk (:mod:`geo.maps.fontcache`).

    Parameters
    ----------
    layers : dict of str to GeoDataFrame
        Layers by recipe name, as :func:`geo.maps.web_map` receives them
        (``districts``, ``platforms``, ``towns``, ``firms``, ``ps_clusters``,
        ``<layer>_indices``...); any may be missing.
    recipe : MapRecipe
        Styles, titles and choropleths.
    folder : Path
        Destination folder (created if needed).
    lang : {"zh", "en"}
        Language of all text.
    synthetic : bool
        Whether the enterprises are synthetic; titles and notes then say so.
    provenance : list of str, optional
        Further data sources for the source note, besides those the zone
        layers' ``source`` columns give (:func:`source_note`).
    analysis_crs : str, optional
        Projected CRS in metres to draw in. Default: the layers' CRS when it is
        projected, else ``geo.io.crs.DEFAULT_ANALYSIS_CRS``.
    extent : str or tuple of float, optional
        ``core`` (default: the area holding 80 % of the enterprises,
        :func:`geo.maps.extent.core_extent`), ``city`` (the whole study area) or
        ``(W, S, E, N)`` / ``"W,S,E,N"`` in WGS84 degrees. An inset of the
        whole city marks the part shown when less than the city is shown.
    title : str, optional
        The cluster map's title (the co-agglomeration map's is this title and
        its choropleth's); default: the recipe's, in ``lang``. Drawn as plain
        text (no mathtext).

    Returns
    -------
    list of Path
        The files written.

    Raises
    ------
    ConfigError
        If ``lang`` or ``extent`` is not valid, the CRS is not projected in
        metres, there is nothing to draw, or ``lang="zh"`` and no Chinese font
        is installed.

    Examples
    --------
    >>> from geo.maps.recipe import load_recipe
    >>> from geo.io.zones import load_layer
    >>> write_static_maps({"districts": load_layer("districts")}, load_recipe(),
    ...                   Path("out"), lang="en")  # doctest: +SKIP
    [PosixPath('out/map_clusters.png'), PosixPath('out/map_clusters.pdf')]
    """
    import matplotlib

    figures = static_map_figures(
        layers, recipe, lang=lang, synthetic=synthetic, provenance=provenance,
        analysis_crs=analysis_crs, extent=extent, title=title,
    )
    paths = []
    # the PDFs' font subsets come from the on-disk cache when it has them (~1 s per
    # CJK font and file otherwise); the files are the same either way
    with matplotlib.rc_context(font_rc(lang)), cached_font_subsets():
        for stem, figure in figures.items():
            for kind in ("png", "pdf"):
                path = Path(folder) / f"{stem}.{kind}"
                with atomic_path(path) as tmp:
                    # no creation date: the same inputs give the same files
                    metadata = {"CreationDate": None} if kind == "pdf" else {}
                    figure.savefig(tmp, format=kind, dpi=DPI, metadata=metadata)
                paths.append(path)
    return paths


def static_map_figures(
    layers: dict[str, gpd.GeoDataFrame],
    recipe: MapRecipe,
    *,
    lang: Lang = "zh",
    synthetic: bool = False,
    provenance: list[str] | None = None,
    analysis_crs: str | None = None,
    extent: Extent | None = "core",
    title: str | None = None,
) -> dict[str, Figure]:
    """Draw the static maps as matplotlib figures, by output file stem.

    Parameters are those of :func:`write_static_maps`. Artists carry a ``gid``
    (``firms:<category>``, ``layer:<name>``, ``choropleth:<name>``, ``title``,
    ``note``, ``legend``, ``scale_bar``, ``north``, ``inset``) so they can be
    found again.

    Returns
    -------
    dict of str to matplotlib.figure.Figure
        ``map_clusters`` and, if their choropleths are present,
        ``map_coagglomeration`` and ``map_change``.
    """
    import matplotlib

    if lang not in ("zh", "en"):
        raise ConfigError(f"unknown map language '{lang}': use zh or en")
    present = {name: gdf for name, gdf in layers.items() if gdf is not None and not gdf.empty}
    if not present:
        raise ConfigError("no layers to draw on the static maps")
    wanted = parse_extent(extent)
    crs = _projected_crs(present, analysis_crs)
    spec = _coagglomeration_spec(recipe, present)
    # sources of what the maps draw, not of every layer of the run
    drawn_names = {*_CLUSTER_LAYERS, *([spec.layer.removesuffix("_indices")] if spec else [])}
    notes = _source_lines(source_note({k: v for k, v in present.items() if k in drawn_names},
                                      lang, recipe, provenance), crs, lang)
    caption = SYNTHETIC_NOTE[lang] if synthetic else ""
    suffix = SYNTHETIC_TITLE[lang] if synthetic else ""
    heading = title.strip() if title and title.strip() else None
    frame = _frame(present, crs, wanted)
    with matplotlib.rc_context(font_rc(lang)):
        figures = {
            "map_clusters": _cluster_map(
                present, recipe, crs, (heading or recipe.title(lang)) + suffix, notes,
                caption, lang, frame,
            )
        }
        drawn = choropleth_classes(present[spec.layer], spec, lang) if spec else None
        if spec and drawn:
            both = spec.title(lang)
            if heading:
                both = f"{heading}：{both}" if lang == "zh" else f"{heading}: {both}"
            figures["map_coagglomeration"] = _coagglomeration_map(
                present, recipe, spec, drawn, crs, both + suffix, notes, caption, lang, frame,
            )
        # a panel by year (geo run --years): the change of C, with the same frame
        change = next((c for c in recipe.choropleths
                       if c.column == CHANGE_COLUMN and c.layer in present), None)
        drawn = choropleth_classes(present[change.layer], change, lang) if change else None
        if change and drawn:
            period = present[change.layer].attrs.get("period", "")  # "2015–2024"
            heading = change.title(lang) + (f" {period}" if period else "")
            figures["map_change"] = _coagglomeration_map(
                present, recipe, change, drawn, crs, heading + suffix, notes, caption, lang,
                frame,
            )
    return figures


@dataclass(frozen=True)
class _Frame:
    """What the maps show: the city, the box to frame, and the city's outline for the inset."""

    city: np.ndarray  # (xmin, ymin, xmax, ymax), projected
    shown: np.ndarray
    outline: gpd.GeoSeries | None  # districts (projected), drawn in the inset
    inset: bool


def _frame(layers: dict[str, gpd.GeoDataFrame], crs: pyproj.CRS, extent: Extent) -> _Frame:
    """Resolve the extent into a projected box; decide whether to draw the inset."""
    projected = {name: gdf.to_crs(crs) for name, gdf in layers.items()}
    outline = projected["districts"].geometry if "districts" in projected else None
    city = layers_city(projected)
    if extent == "city":
        shown = city
    elif extent == "core":
        shown = layers_core(projected, city)
    else:
        west, south, east, north = extent
        to_map = pyproj.Transformer.from_crs(WGS84, crs, always_xy=True)
        shown = np.array(to_map.transform_bounds(west, south, east, north, densify_pts=21))
        if not (shown[0] < city[2] and shown[2] > city[0] and shown[1] < city[3]
                and shown[3] > city[1]):
            raise ConfigError(
                f"the extent {west},{south},{east},{north} lies outside the study area: "
                "use a box that overlaps it, or core or city",
                zh=f"范围 {west},{south},{east},{north} 不在研究区内：请给出与研究区相交的范围，"
                   "或用 core、city",
            )
    covered = (max(0.0, min(shown[2], city[2]) - max(shown[0], city[0]))
               * max(0.0, min(shown[3], city[3]) - max(shown[1], city[1])))
    city_area = max((city[2] - city[0]) * (city[3] - city[1]), 1e-9)
    return _Frame(city=np.asarray(city, dtype=float), shown=np.asarray(shown, dtype=float),
                  outline=outline, inset=covered / city_area < _INSET_BELOW)


def _projected_crs(layers: dict[str, gpd.GeoDataFrame], wanted: str | None) -> pyproj.CRS:
    """Pick the CRS to draw in: ``wanted``, else the layers' own if projected, else the default."""
    if wanted is None:
        own = next(iter(layers.values())).crs
        wanted = own if own is not None and own.is_projected else DEFAULT_ANALYSIS_CRS
    crs = pyproj.CRS.from_user_input(wanted)
    if not crs.is_projected or crs.axis_info[0].unit_name not in ("metre", "meter"):
        raise ConfigError(
            f"static maps are drawn in a projected CRS in metres, not {crs.name}: "
            f"use e.g. {DEFAULT_ANALYSIS_CRS}"
        )
    return crs


def _coagglomeration_spec(
    recipe: MapRecipe, layers: dict[str, gpd.GeoDataFrame]
) -> Choropleth | None:
    """Find the first co-agglomeration choropleth whose layer and column are present."""
    return next(
        (
            spec for spec in recipe.choropleths
            if spec.column.startswith(_COAGGLOMERATION_PREFIX)
            and spec.column in layers.get(spec.layer, pd.DataFrame()).columns
        ),
        None,
    )




def _source_lines(sentences: list[str], crs: pyproj.CRS, lang: Lang) -> list[str]:
    """Lines of the source note: the sources (wrapped, never cut), then the projection."""
    zh = lang == "zh"
    lines = []
    if sentences:
        stop = "。" if zh else ". "
        # English sentences start with a capital, whatever the layer's name or source
        text = ("数据来源：" if zh else "Sources: ") + stop.join(
            (s if zh else s[:1].upper() + s[1:]).rstrip("。.") for s in sentences) + stop.strip()
        lines += wrap_text(text, _NOTE_COLUMNS)
    epsg = crs.to_epsg()
    lines.append(("坐标系：" if zh else "Projection: ") + crs.name
                 + (f" (EPSG:{epsg})" if epsg else ""))
    return lines


def _page(title: str, notes: list[str], caption: str) -> tuple[Figure, float, float]:
    """Start a page with title, source note and synthetic-data caption.

    Returns the figure, the top of the note block and the bottom of the title
    (figure fractions), between which the legend and the map go.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=FIGSIZE, dpi=DPI)
    FigureCanvasAgg(figure)
    heading = figure.text(
        0.5, 1 - 0.3 / FIGSIZE[1], title, ha="center", va="top", fontsize=14,
        fontweight="bold", parse_math=False, gid="title",
    )
    _fit(figure, heading, 1 - 2 * _MARGIN)
    note = figure.text(
        _MARGIN, 0.012, "\n".join(notes), ha="left", va="bottom", fontsize=5.5,
        color="#424242", linespacing=1.4, parse_math=False, gid="note",
    )
    top = _extent(figure, note).y1
    if caption:
        warning = figure.text(
            _MARGIN, top + _GAP / 2, caption, ha="left", va="bottom", fontsize=7.5,
            fontweight="bold", color="#b71c1c", parse_math=False, gid="synthetic",
        )
        top = _extent(figure, warning).y1
    return figure, top, _extent(figure, heading).y0


def _extent(figure: Figure, artist: Artist) -> Bbox:
    """Bounding box of an artist in figure fractions."""
    box = artist.get_window_extent(figure.canvas.get_renderer())
    return box.transformed(figure.transFigure.inverted())


def _fit(figure: Figure, text: Text, width: float) -> None:
    """Make a text at most ``width`` (figure fraction) wide: two lines, then a smaller font."""
    if _extent(figure, text).width <= width:
        return
    content = text.get_text()
    text.set_text("\n".join(textwrap.wrap(content, math.ceil(len(content) * 0.55))))
    over = _extent(figure, text).width / width
    if over > 1:
        text.set_fontsize(text.get_fontsize() / over)


def _map_axes(
    figure: Figure, legend_top: float, title_bottom: float, bounds: np.ndarray
) -> Axes:
    """Axes between the legend and the title, framing ``bounds`` at true scale."""
    bottom = legend_top + _GAP
    height = title_bottom - _GAP - bottom
    axes = figure.add_axes((_MARGIN, bottom, 1 - 2 * _MARGIN, height))
    axes.set_xticks([])
    axes.set_yticks([])
    # Widen the short side of the extent so x and y have the same scale.
    box_ratio = (height * FIGSIZE[1]) / ((1 - 2 * _MARGIN) * FIGSIZE[0])
    x0, y0, x1, y1 = bounds
    width, depth = (x1 - x0) * 1.04, (y1 - y0) * 1.04
    if depth / width < box_ratio:
        depth = width * box_ratio
    else:
        width = depth / box_ratio
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    axes.set_xlim(cx - width / 2, cx + width / 2)
    axes.set_ylim(cy - depth / 2, cy + depth / 2)
    axes.set_aspect("equal")
    return axes


def _line(style: LayerStyle) -> tuple[float, object]:
    """Line width (pt) and matplotlib line style of a recipe layer."""
    width = style.weight * _POINTS_PER_PIXEL
    if not style.dash:
        return width, "solid"
    # matplotlib scales dash patterns by the line width; the recipe's are absolute.
    pattern = tuple(float(v) * _POINTS_PER_PIXEL / width for v in style.dash.split())
    return width, (0, pattern)


def _polygons(
    axes: Axes, gdf: gpd.GeoDataFrame, *, facecolors: object, edgecolor: str,
    linewidth: float, linestyle: object = "solid", zorder: float, gid: str,
) -> None:
    """Draw the polygons of ``gdf``; ``facecolors`` is one colour or a list, one per row."""
    from matplotlib.collections import PatchCollection
    from shapely.plotting import patch_from_polygon

    polygonal = gdf.geom_type.isin(["Polygon", "MultiPolygon"]).to_numpy()
    patches = [patch_from_polygon(g) for g in gdf.geometry[polygonal]]
    if isinstance(facecolors, list):
        facecolors = [c for c, keep in zip(facecolors, polygonal, strict=True) if keep]
    collection = PatchCollection(
        patches, facecolors=facecolors, edgecolors=edgecolor, linewidths=linewidth,
        linestyles=linestyle, zorder=zorder, gid=gid,
    )
    axes.add_collection(collection, autolim=False)


def _layer_style(style: LayerStyle) -> dict[str, object]:
    """Face, edge and line of a recipe polygon layer, for the map and its legend alike."""
    from matplotlib.colors import to_rgba

    width, linestyle = _line(style)
    return {"facecolor": to_rgba(style.fill_color, style.fill_opacity),
            "edgecolor": style.color, "linewidth": width, "linestyle": linestyle}


def _labels(axes: Axes, gdf: gpd.GeoDataFrame, style: LayerStyle, lang: Lang) -> None:
    """Write each feature's label at a point inside it."""
    from matplotlib import patheffects

    column = style.label_column(lang)
    if not column or column not in gdf.columns:
        return
    halo = [patheffects.withStroke(linewidth=2.2, foreground="white")]
    for label, point in zip(gdf[column], gdf.representative_point(), strict=True):
        if pd.notna(label) and str(label):
            axes.text(point.x, point.y, str(label), ha="center", va="center", fontsize=7.5,
                      fontweight="bold", color=style.color, path_effects=halo, zorder=10,
                      clip_on=True, parse_math=False, gid=f"label:{style.name}")


def _firm_classes(firms: gpd.GeoDataFrame, style: LayerStyle) -> list[tuple[Category, np.ndarray]]:
    """Each category with enterprises, in legend order, and the mask of its enterprises."""
    if style.category_field in firms.columns and style.categories:
        classes = firms[style.category_field].to_numpy()
        pairs = [(category, classes == category.key) for category in style.categories]
    else:  # no categories: one class, as on the web map
        everything = Category("all", style.title_zh, style.title_en, style.color)
        pairs = [(everything, np.ones(len(firms), dtype=bool))]
    return [(category, mask) for category, mask in pairs if mask.any()]
















def _plain(text: str) -> str:
    """Text that matplotlib draws as written: ``$`` would start mathtext in legends."""
    return str(text).replace("$", r"\$")


def _legend(figure: Figure, handles: list[Artist], bottom: float, columns: int,
            title: str | None = None) -> float:
    """Legend centred above ``bottom``; return its top (figure fraction)."""
    legend = figure.legend(
        handles=handles, loc="lower center", bbox_to_anchor=(0.5, bottom + _GAP),
        ncol=min(columns, len(handles)), fontsize=7, title=title, title_fontsize=7.5,
        frameon=False, handlelength=1.6, columnspacing=1.6, borderaxespad=0,
    )
    legend.set_gid("legend")
    return _extent(figure, legend).y1


def _cluster_map(layers: dict[str, gpd.GeoDataFrame], recipe: MapRecipe, crs: pyproj.CRS,
                 title: str, notes: list[str], caption: str, lang: Lang,
                 frame: _Frame) -> Figure:
    """Draw districts, platforms, towns, enterprises, cluster areas and proposed zones."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    names = [n for n in ("firms", *_CLUSTER_LAYERS) if n in layers and recipe.layer(n)]
    if not names:
        raise ConfigError(
            "none of the layers " + ", ".join(("firms", *_CLUSTER_LAYERS))
            + " is present and styled by the recipe: nothing to draw on the cluster map"
        )
    projected = {name: layers[name].to_crs(crs) for name in names}
    styles = {name: recipe.layer(name) for name in names}
    firm_classes = _firm_classes(projected["firms"], styles["firms"]) if "firms" in names else []
    # Legend in recipe order: the zones, then the enterprise categories with their counts.
    handles: list[Artist] = [
        Patch(**_layer_style(style), label=_plain(style.title(lang)))
        for style in recipe.layers if style.name in _CLUSTER_LAYERS and style.name in names
    ]
    handles += [
        Line2D([], [], marker="o", linestyle="", markersize=4, markerfacecolor=category.color,
               markeredgewidth=0, label=_plain(f"{category.label(lang)} ({int(mask.sum()):,})"))
        for category, mask in firm_classes
    ]
    figure, note_top, title_bottom = _page(title, notes, caption)
    legend_top = _legend(figure, handles, note_top, columns=3)
    axes = _map_axes(figure, legend_top, title_bottom, frame.shown)
    if firm_classes:
        firms = projected["firms"]
        x, y = firms.geometry.x.to_numpy(), firms.geometry.y.to_numpy()
        # Largest classes (last in the legend) first, so the rarer ones stay visible.
        for category, mask in reversed(firm_classes):
            axes.scatter(x[mask], y[mask], s=_FIRM_MARKER**2, c=category.color, linewidths=0,
                         alpha=styles["firms"].fill_opacity, rasterized=True, zorder=2,
                         gid=f"firms:{category.key}")
    for zorder, name in enumerate((n for n in _CLUSTER_LAYERS if n in names), start=3):
        style = _layer_style(styles[name])
        _polygons(axes, projected[name], facecolors=style["facecolor"],
                  edgecolor=style["edgecolor"], linewidth=style["linewidth"],
                  linestyle=style["linestyle"], zorder=zorder, gid=f"layer:{name}")
    if "districts" in names:
        _labels(axes, projected["districts"], styles["districts"], lang)
    add_furniture(axes, crs, frame)
    return figure


def _coagglomeration_map(
    layers: dict[str, gpd.GeoDataFrame], recipe: MapRecipe, spec: Choropleth,
    drawn: tuple[gpd.GeoDataFrame, list[tuple[str, str]], str], crs: pyproj.CRS,
    title: str, notes: list[str], caption: str, lang: Lang, frame: _Frame,
) -> Figure:
    """Draw the co-agglomeration choropleth, with the web map's classes, under district outlines."""
    from matplotlib.colors import to_rgba
    from matplotlib.patches import Patch

    classed, rows, note = drawn
    classed = classed.to_crs(crs)
    districts = recipe.layer("districts")
    outlines = layers["districts"].to_crs(crs) if districts and "districts" in layers else None
    handles: list[Artist] = [
        Patch(facecolor=to_rgba(color, spec.fill_opacity), edgecolor=_CLASS_EDGE,
              linewidth=0.5, label=_plain(label))
        for color, label in rows
    ]
    if outlines is not None:
        handles.append(Patch(**{**_layer_style(districts), "facecolor": "none"},
                             label=_plain(districts.title(lang))))
    heading = recipe.alias(spec.column, lang)
    if note:
        heading += f"（{note}）" if lang == "zh" else f" ({note})"
    figure, note_top, title_bottom = _page(title, notes, caption)
    legend_top = _legend(figure, handles, note_top, columns=6, title=_plain(heading))
    axes = _map_axes(figure, legend_top, title_bottom, frame.shown)
    # a thin grey outline on every class: the palest is as light as the paper
    _polygons(axes, classed,
              facecolors=[to_rgba(c, spec.fill_opacity) for c in classed["_color"]],
              edgecolor=_CLASS_EDGE, linewidth=0.25, zorder=1, gid=f"choropleth:{spec.name}")
    if outlines is not None:
        style = _layer_style(districts)
        _polygons(axes, outlines, facecolors="none", edgecolor=style["edgecolor"],
                  linewidth=style["linewidth"], linestyle=style["linestyle"], zorder=3,
                  gid="layer:districts")
        _labels(axes, outlines, districts, lang)
    add_furniture(axes, crs, frame)
    return figure
