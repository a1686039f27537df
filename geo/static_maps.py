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
"""

from __future__ import annotations

import math
import shutil
import subprocess
import textwrap
import unicodedata
from pathlib import Path

import geopandas as gpd
import matplotlib
import numpy as np
import pandas as pd
import pyproj
from matplotlib import font_manager, patheffects
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PatchCollection
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.text import Text
from matplotlib.transforms import Bbox
from mpl_toolkits.axes_grid1.anchored_artists import AnchoredSizeBar
from shapely.plotting import patch_from_polygon

from geo.crs import DEFAULT_ANALYSIS_CRS, WGS84
from geo.errors import ConfigError
from geo.maps import (
    SYNTHETIC_NOTE,
    SYNTHETIC_TITLE,
    Category,
    Choropleth,
    Lang,
    LayerStyle,
    MapRecipe,
    choropleth_classes,
)
from geo.outputs import atomic_path

FIGSIZE = (8.0, 8.0)  # inches
DPI = 300  # PNG pixels: FIGSIZE x DPI = 2400 x 2400

# Fonts with Simplified Chinese glyphs, best first.
CJK_FAMILIES = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "SimHei",
    "Microsoft YaHei",
    "PingFang SC",
    "Heiti SC",
)
# Bundled with matplotlib, so always present: Latin glyphs and the fallback.
_LATIN_FAMILY = "DejaVu Sans"

# Polygon layers of the cluster map, bottom to top (the enterprises lie under them all);
# proposed zones (siting) go on top so they stay visible.
_CLUSTER_LAYERS = ("ps_clusters", "towns", "platforms", "districts", "site_zones")
# Choropleths whose column starts with this show co-agglomeration.
_COAGGLOMERATION_PREFIX = "coagg_"
# Recipe weights and dashes are CSS pixels (web map); 1 px = 0.75 pt.
_POINTS_PER_PIXEL = 0.75
# Enterprise marker diameter in points: small enough that dense areas still show structure.
_FIRM_MARKER = 1.2
_MARGIN = 0.03  # figure fraction left and right of the map
_GAP = 0.01  # figure fraction between stacked blocks
_NOTE_COLUMNS = 190  # width of a source-note line in Latin characters at its font size
_NOTE_LINES = 2  # lines per provenance entry; the rest is in manifest.json


def find_cjk_font() -> str | None:
    """Find an installed font family with Simplified Chinese glyphs.

    Families of ``CJK_FAMILIES`` come first. Fonts that fontconfig knows
    (``fc-list :lang=zh``) but matplotlib's font cache does not, because they
    were installed after the cache was built, are added to matplotlib's font
    manager first.

    Returns
    -------
    str or None
        The family name, or ``None`` when no such font is installed.

    Examples
    --------
    >>> find_cjk_font()  # doctest: +SKIP
    'Noto Sans CJK SC'
    """
    manager = font_manager.fontManager
    family = _preferred_family(manager)
    if family:
        return family
    fontconfig = _fontconfig_chinese_fonts()
    known = {font.fname for font in manager.ttflist}
    for path in fontconfig.keys() - known:
        try:
            manager.addfont(path)
        except (OSError, RuntimeError, ValueError):
            continue  # formats FreeType in matplotlib cannot read (bitmap fonts)
    names = {font.name for font in manager.ttflist}
    return _preferred_family(manager) or next(
        (name for name in fontconfig.values() if name in names), None
    )


def _preferred_family(manager: font_manager.FontManager) -> str | None:
    names = {font.name for font in manager.ttflist}
    return next((family for family in CJK_FAMILIES if family in names), None)


def _fontconfig_chinese_fonts() -> dict[str, str]:
    """Font files fontconfig says cover Chinese, with their first family name."""
    fc_list = shutil.which("fc-list")
    if not fc_list:
        return {}
    try:
        listing = subprocess.run(
            [fc_list, "--format", "%{file}\t%{family[0]}\n", ":lang=zh"],
            capture_output=True, text=True, timeout=30, check=False,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    rows = (line.split("\t", 1) for line in listing.splitlines() if "\t" in line)
    return {path: family for path, family in rows}


def _font_rc(lang: Lang) -> dict[str, object]:
    """Matplotlib settings for the maps' text; raises if Chinese cannot be drawn."""
    cjk = find_cjk_font()
    if cjk is None and lang == "zh":
        raise ConfigError(
            "no font with Chinese glyphs is installed, so the Chinese static maps cannot be "
            "drawn: install one (Debian/Ubuntu: apt-get install fonts-noto-cjk; Fedora: "
            "google-noto-sans-cjk-fonts) or draw English maps with --lang en"
        )
    if lang == "zh":
        families = [cjk, _LATIN_FAMILY]
    else:  # English text; a CJK font, if any, draws Chinese names in the sources
        families = [_LATIN_FAMILY, *([cjk] if cjk else [])]
    # Type 42 embeds (subset) TrueType outlines: the PDF's text stays text in editors.
    return {"font.family": families, "pdf.fonttype": 42, "axes.unicode_minus": False}


def write_static_maps(
    layers: dict[str, gpd.GeoDataFrame],
    recipe: MapRecipe,
    folder: Path,
    *,
    lang: Lang = "zh",
    synthetic: bool = False,
    provenance: list[str] | None = None,
    analysis_crs: str | None = None,
) -> list[Path]:
    """Write the static report maps as 300 dpi PNG and as PDF.

    Writes ``map_clusters.png/.pdf`` and, when the layers hold the recipe's
    co-agglomeration choropleth, ``map_coagglomeration.png/.pdf``. Every file
    appears whole or not at all. PNGs are ``FIGSIZE`` x ``DPI`` = 2400 x 2400
    pixels; in the PDFs the enterprise points are an embedded 300 dpi image,
    everything else is vector.

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
        Data sources for the source note, one entry per layer; entries longer
        than two lines are shortened (``…``).
    analysis_crs : str, optional
        Projected CRS in metres to draw in. Default: the layers' CRS when it is
        projected, else ``geo.crs.DEFAULT_ANALYSIS_CRS``.

    Returns
    -------
    list of Path
        The files written.

    Raises
    ------
    ConfigError
        If ``lang`` is unknown, the CRS is not projected in metres, there is
        nothing to draw, or ``lang="zh"`` and no Chinese font is installed.

    Examples
    --------
    >>> from geo.maps import load_recipe
    >>> from geo.zones import load_layer
    >>> write_static_maps({"districts": load_layer("districts")}, load_recipe(),
    ...                   Path("out"), lang="en")  # doctest: +SKIP
    [PosixPath('out/map_clusters.png'), PosixPath('out/map_clusters.pdf')]
    """
    figures = static_map_figures(
        layers, recipe, lang=lang, synthetic=synthetic, provenance=provenance,
        analysis_crs=analysis_crs,
    )
    paths = []
    with matplotlib.rc_context(_font_rc(lang)):
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
) -> dict[str, Figure]:
    """Draw the static maps as matplotlib figures, by output file stem.

    Parameters are those of :func:`write_static_maps`. Artists carry a ``gid``
    (``firms:<category>``, ``layer:<name>``, ``choropleth:<name>``) so they
    can be found again.

    Returns
    -------
    dict of str to matplotlib.figure.Figure
        ``map_clusters`` and, if its choropleth is present,
        ``map_coagglomeration``.
    """
    if lang not in ("zh", "en"):
        raise ConfigError(f"unknown map language '{lang}': use zh or en")
    present = {name: gdf for name, gdf in layers.items() if gdf is not None and not gdf.empty}
    if not present:
        raise ConfigError("no layers to draw on the static maps")
    crs = _projected_crs(present, analysis_crs)
    notes = _source_lines(provenance, crs, lang)
    caption = SYNTHETIC_NOTE[lang] if synthetic else ""
    suffix = SYNTHETIC_TITLE[lang] if synthetic else ""
    with matplotlib.rc_context(_font_rc(lang)):
        figures = {
            "map_clusters": _cluster_map(
                present, recipe, crs, recipe.title(lang) + suffix, notes, caption, lang
            )
        }
        spec = _coagglomeration_spec(recipe, present)
        drawn = choropleth_classes(present[spec.layer], spec, lang) if spec else None
        if spec and drawn:
            figures["map_coagglomeration"] = _coagglomeration_map(
                present, recipe, spec, drawn, crs, spec.title(lang) + suffix, notes, caption,
                lang,
            )
    return figures


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


def _source_lines(provenance: list[str] | None, crs: pyproj.CRS, lang: Lang) -> list[str]:
    """Lines of the source note: data sources, then the map projection."""
    label = ("数据来源：", "坐标系：") if lang == "zh" else ("Sources: ", "Projection: ")
    lines = []
    for k, entry in enumerate(provenance or []):
        text = (label[0] if k == 0 else "") + str(entry)
        # East Asian characters are twice as wide as Latin ones.
        wide = sum(unicodedata.east_asian_width(c) in "WF" for c in text)
        width = max(20, _NOTE_COLUMNS * len(text) // (len(text) + wide))
        lines += textwrap.wrap(text, width, max_lines=_NOTE_LINES, placeholder=" …")
    epsg = crs.to_epsg()
    lines.append(f"{label[1]}{crs.name}" + (f" (EPSG:{epsg})" if epsg else ""))
    return lines


def _page(title: str, notes: list[str], caption: str) -> tuple[Figure, float, float]:
    """Start a page with title, source note and synthetic-data caption.

    Returns the figure, the top of the note block and the bottom of the title
    (figure fractions), between which the legend and the map go.
    """
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
    width, linestyle = _line(style)
    return {"facecolor": to_rgba(style.fill_color, style.fill_opacity),
            "edgecolor": style.color, "linewidth": width, "linestyle": linestyle}


def _labels(axes: Axes, gdf: gpd.GeoDataFrame, style: LayerStyle, lang: Lang) -> None:
    """Write each feature's label at a point inside it."""
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


def _north_arrow(axes: Axes, to_geographic: pyproj.Transformer,
                 from_geographic: pyproj.Transformer) -> None:
    """Arrow to true north at the map's centre (grid north differs by the convergence)."""
    x0, x1 = axes.get_xlim()
    y0, y1 = axes.get_ylim()
    lon, lat = to_geographic.transform((x0 + x1) / 2, (y0 + y1) / 2)
    north = from_geographic.transform(lon, lat + 0.01)
    angle = math.atan2(north[0] - (x0 + x1) / 2, north[1] - (y0 + y1) / 2)
    length = 22  # points
    axes.annotate(
        "", xy=(0.95, 0.93), xycoords="axes fraction",
        xytext=(-length * math.sin(angle), -length * math.cos(angle)), textcoords="offset points",
        arrowprops={"arrowstyle": "-|>,head_length=0.6,head_width=0.3", "color": "black",
                    "linewidth": 1.5},
        zorder=11,
    )
    axes.annotate("N", xy=(0.95, 0.93), xycoords="axes fraction", xytext=(0, 4),
                  textcoords="offset points", ha="center", va="bottom", fontsize=9,
                  fontweight="bold", zorder=11, gid="north")


def _scale_bar(axes: Axes, to_geographic: pyproj.Transformer) -> None:
    """Scale bar of a round length, about a quarter of the map wide, bottom left."""
    x0, x1 = axes.get_xlim()
    y0, y1 = axes.get_ylim()
    span = (x1 - x0) / 4
    # Measure the span on the ellipsoid along the bottom edge, next to the bar, so the
    # bar is true in any projection (web mercator stretches 15 % at 30° N).
    lon, lat = to_geographic.transform([x0, x0 + span], [y0, y0])
    ground = pyproj.Geod(ellps="WGS84").inv(lon[0], lat[0], lon[1], lat[1])[2]
    step = 10 ** math.floor(math.log10(ground))
    metres = max(m * step for m in (1, 2, 5) if m * step <= ground)
    label = f"{metres / 1000:g} km" if metres >= 1000 else f"{metres:g} m"
    bar = AnchoredSizeBar(
        axes.transData, metres * span / ground, label, loc="lower left", pad=0.4,
        borderpad=0.8, sep=3, frameon=True, size_vertical=(y1 - y0) / 180, color="black",
        fontproperties=FontProperties(size=7),
    )
    bar.patch.set_alpha(0.8)
    bar.patch.set_edgecolor("none")
    bar.set_gid("scale_bar")
    bar.set_zorder(11)
    axes.add_artist(bar)


def _finish(axes: Axes, crs: pyproj.CRS) -> None:
    """Add the north arrow and the scale bar."""
    to_geographic = pyproj.Transformer.from_crs(crs, WGS84, always_xy=True)
    from_geographic = pyproj.Transformer.from_crs(WGS84, crs, always_xy=True)
    _north_arrow(axes, to_geographic, from_geographic)
    _scale_bar(axes, to_geographic)


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


def _bounds(layers: dict[str, gpd.GeoDataFrame], names: list[str]) -> np.ndarray:
    """Extent of the districts, else of all the given layers (projected)."""
    if "districts" in layers:
        return layers["districts"].total_bounds
    boxes = np.array([layers[name].total_bounds for name in names])
    return np.array([*boxes[:, :2].min(axis=0), *boxes[:, 2:].max(axis=0)])


def _cluster_map(layers: dict[str, gpd.GeoDataFrame], recipe: MapRecipe, crs: pyproj.CRS,
                 title: str, notes: list[str], caption: str, lang: Lang) -> Figure:
    """Draw districts, platforms, towns, enterprises, cluster areas and proposed zones."""
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
        Patch(**_layer_style(style), label=style.title(lang))
        for style in recipe.layers if style.name in _CLUSTER_LAYERS and style.name in names
    ]
    handles += [
        Line2D([], [], marker="o", linestyle="", markersize=4, markerfacecolor=category.color,
               markeredgewidth=0, label=f"{category.label(lang)} ({int(mask.sum()):,})")
        for category, mask in firm_classes
    ]
    figure, note_top, title_bottom = _page(title, notes, caption)
    legend_top = _legend(figure, handles, note_top, columns=3)
    axes = _map_axes(figure, legend_top, title_bottom, _bounds(projected, names))
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
    _finish(axes, crs)
    return figure


def _coagglomeration_map(
    layers: dict[str, gpd.GeoDataFrame], recipe: MapRecipe, spec: Choropleth,
    drawn: tuple[gpd.GeoDataFrame, list[tuple[str, str]], str], crs: pyproj.CRS,
    title: str, notes: list[str], caption: str, lang: Lang,
) -> Figure:
    """Draw the co-agglomeration choropleth, with the web map's classes, under district outlines."""
    frame, rows, note = drawn
    frame = frame.to_crs(crs)
    districts = recipe.layer("districts")
    outlines = layers["districts"].to_crs(crs) if districts and "districts" in layers else None
    handles: list[Artist] = [
        Patch(facecolor=to_rgba(color, spec.fill_opacity), edgecolor="white", label=label)
        for color, label in rows
    ]
    if outlines is not None:
        handles.append(Patch(**{**_layer_style(districts), "facecolor": "none"},
                             label=districts.title(lang)))
    heading = recipe.alias(spec.column, lang)
    if note:
        heading += f"（{note}）" if lang == "zh" else f" ({note})"
    figure, note_top, title_bottom = _page(title, notes, caption)
    legend_top = _legend(figure, handles, note_top, columns=6, title=heading)
    bounds = outlines.total_bounds if outlines is not None else frame.total_bounds
    axes = _map_axes(figure, legend_top, title_bottom, bounds)
    _polygons(axes, frame, facecolors=[to_rgba(c, spec.fill_opacity) for c in frame["_color"]],
              edgecolor="white", linewidth=0.2, zorder=1, gid=f"choropleth:{spec.name}")
    if outlines is not None:
        style = _layer_style(districts)
        _polygons(axes, outlines, facecolors="none", edgecolor=style["edgecolor"],
                  linewidth=style["linewidth"], linestyle=style["linestyle"], zorder=3,
                  gid="layer:districts")
        _labels(axes, outlines, districts, lang)
    _finish(axes, crs)
    return figure
