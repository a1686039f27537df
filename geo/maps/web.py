"""The interactive web map (folium/Leaflet): layers, legend, labels, tooltips and popups."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import branca
import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.errors import ConfigError
from geo.io.crs import WGS84, frame_to_gcj02
from geo.maps import templates
from geo.maps.basemaps import add_basemap
from geo.maps.basemaps import basemap as describe_basemap
from geo.maps.extent import layers_city, layers_core
from geo.maps.offline import inline_assets
from geo.maps.recipe import (
    SYNTHETIC_NOTE,
    SYNTHETIC_TITLE,
    Category,
    Choropleth,
    Lang,
    LayerStyle,
    MapRecipe,
    choropleth_classes,
    label_priority,
)
from geo.outputs import atomic_path
from geo.safety import escape_html, script_json

_MERCATOR = "EPSG:3857"  # the web map's projection


def _display_values(values: pd.Series) -> pd.Series:
    """Field values as a tooltip shows them: floats to 2 decimals, missing as ``""``."""
    if pd.api.types.is_float_dtype(values):
        values = values.round(2)
    return values.astype(object).where(values.notna(), "")


def _display_frame(gdf: gpd.GeoDataFrame, fields: tuple[str, ...], grid: float) -> str:
    """GeoJSON text of the fields a layer shows, coordinates snapped to ``grid`` degrees."""
    present = [f for f in fields if f in gdf.columns]
    frame = gdf.to_crs(WGS84)[[*present, "geometry"]].copy()
    for name in present:
        frame[name] = _display_values(frame[name])
    frame["geometry"] = shapely.set_precision(frame.geometry.to_numpy(), grid)
    return frame.to_json(drop_id=True)


@dataclass
class _Legend:
    """One legend entry: rows of (CSS of the key, text), a note, its layers (JS names)."""

    title: str
    rows: list[tuple[str, str]] = field(default_factory=list)
    note: str = ""
    groups: list[str] = field(default_factory=list)


_DOT = "background:{color};border-radius:50%;width:10px"
_SQUARE = "background:{color}"
_BASE_FILL = "#f2efe9"  # districts drawn as the base of a map without tiles
_HEX_BINS = (1, 5, 20, 100)  # lower bounds of the firm counts a hexagon's shade tells apart
_HEX_OPACITY = (0.25, 0.45, 0.65, 0.85)
_HEX_COLOR = "#37474f"  # one shade for all firms: hexagons of nine colours would overlap

_ASSETS = Path(__file__).with_name("assets")
_POINTS_ZOOM = 13  # firms are drawn as points from this zoom on, as hexagons below
_GROUPS = {"zh": {"zones": "区划与平台", "firms": "企业", "analyses": "分析结果",
                  "siting": "选址建议"},
           "en": {"zones": "Zones", "firms": "Enterprises", "analyses": "Analyses",
                  "siting": "Siting"}}


def _group_tag(group: str) -> str:
    """Mark of a layer's group in the layer control (read by ``geoGroupControl``)."""
    return f'<i class="geo-g" data-g="{group}"></i>'


def _layer_group(name: str) -> str:
    if name.startswith("site_"):
        return "siting"
    if name in ("districts", "platforms", "towns", "town_centres"):
        return "zones"
    return "analyses"


def _draw(function: str, data: dict, options: dict) -> branca.element.MacroElement:
    """Element calling ``function`` (of ``assets/map.js``) on compact JSON columns."""
    return _element(templates.DRAW, function=function, data=script_json(data),
                    options=script_json(options))


def _point_data(
    gdf: gpd.GeoDataFrame,
    fields: tuple[str, ...],
    recipe: MapRecipe,
    lang: Lang,
    colors: tuple[str, ...] | list[str],
    classes: pd.Series | None = None,
    *,
    radius: float,
    opacity: float,
) -> tuple[dict, dict]:
    """Columns and options of ``geoPoints`` (``assets/map.js``)."""
    present = _shown_fields(gdf, fields, lang)
    data = {
        "x": np.round(gdf.geometry.x.to_numpy(), 6).tolist(),
        "y": np.round(gdf.geometry.y.to_numpy(), 6).tolist(),
        "fields": [column for _, column in present],
        "aliases": [recipe.alias(f, lang) for f, _ in present],
        "values": [_display_values(gdf[column]).tolist() for _, column in present],
    }
    if classes is not None:
        data["color"] = classes.astype(int).tolist()
    return data, {"radius": radius, "opacity": opacity, "colors": list(colors)}


def _shown_fields(gdf: gpd.GeoDataFrame, fields: tuple[str, ...], lang: Lang
                  ) -> list[tuple[str, str]]:
    """(field, column shown) of each field present: in English, ``x_en`` stands in for ``x``.

    Layers carry English names beside the Chinese ones (``district_en``,
    ``name_en``); the English map shows them under the field's alias.
    """
    shown = []
    for name in fields:
        column = name
        if lang == "en":
            english = f"{name.removesuffix('_zh')}_en"
            column = english if english in gdf.columns else name
        if column in gdf.columns and column not in (c for _, c in shown):
            shown.append((name, column))
    return shown


def _geojson(
    gdf: gpd.GeoDataFrame,
    fields: tuple[str, ...],
    recipe: MapRecipe,
    lang: Lang,
    *,
    hidden: tuple[str, ...] = (),
    **options: Any,
) -> folium.GeoJson:
    """GeoJSON layer with a hover tooltip and a click popup of the labelled ``fields``.

    ``hidden`` fields travel in the data (for ``options``' style function)
    without being shown. folium's GeoJsonTooltip and GeoJsonPopup would put
    values into the page as raw HTML; ``geoTable`` (``assets/map.js``)
    escapes them.
    """
    present = _shown_fields(gdf, fields, lang)
    columns = tuple(column for _, column in present)
    layer = folium.GeoJson(_display_frame(gdf, (*columns, *hidden), 1e-5), **options)
    layer.add_child(_element(
        templates.INFO, fields=script_json(list(columns)),
        aliases=script_json([recipe.alias(f, lang) for f, _ in present]),
    ))
    return layer


def _polygon_layer(
    m: folium.Map,
    gdf: gpd.GeoDataFrame,
    style: LayerStyle,
    recipe: MapRecipe,
    lang: Lang,
    *,
    base: bool = False,
) -> folium.FeatureGroup:
    """Draw a zone layer with its labels; ``base``: opaque, the background of a map."""
    # the layer control shows layer names as HTML
    group = folium.FeatureGroup(
        name=_group_tag(_layer_group(style.name)) + escape_html(style.title(lang)),
        show=style.show)
    css = {
        "color": style.color,
        "weight": style.weight,
        "fillColor": _BASE_FILL if base else style.fill_color,
        "fillOpacity": 1.0 if base else style.fill_opacity,
        "dashArray": style.dash,
    }
    _geojson(
        gdf, style.fields, recipe, lang,
        style_function=lambda _feature, css=css: css,
        highlight_function=lambda _feature: {"weight": 3},
    ).add_to(group)
    column = style.label_column(lang)
    if column is not None and column not in gdf:  # a user's file: its own name column
        column = next((c for c in ("name_zh", "name_en", "name", "名称") if c in gdf), None)
    if column:
        wgs = gdf.to_crs(WGS84)
        points = wgs.representative_point()
        bounds = wgs.geometry.bounds.to_numpy()
        group.add_child(_element(templates.LABELS, data=script_json({
            "text": wgs[column].fillna("").astype(str).tolist(),
            "x": np.round(points.x.to_numpy(), 6).tolist(),
            "y": np.round(points.y.to_numpy(), 6).tolist(),
            "bounds": np.round(bounds[:, [1, 0, 3, 2]], 6).reshape(-1, 2, 2).tolist(),
            "area": np.round(gdf.to_crs(_MERCATOR).area.to_numpy() / 1e6, 3).tolist(),
        }), options=script_json({"color": style.color,
                                 "priority": label_priority(style.name)})))
    group.add_to(m)
    return group


def _choropleth_layer(
    m: folium.Map,
    gdf: gpd.GeoDataFrame,
    spec: Choropleth,
    recipe: MapRecipe,
    lang: Lang,
    seed: int,
) -> _Legend | None:
    """Draw one choropleth; return its legend (None when nothing is drawn)."""
    drawn = choropleth_classes(gdf, spec, lang)
    if drawn is None:
        return None
    frame, rows, note = drawn
    fields = tuple(
        f for f in dict.fromkeys(("name_zh", "name", "n_firms", *spec.fields, spec.column))
        if f in frame.columns
    )
    group = folium.FeatureGroup(
        name=_group_tag(_layer_group(spec.layer)) + escape_html(spec.title(lang)), show=spec.show)
    colors = [color for color, _ in rows]
    if bool((frame.geom_type == "Point").all()):
        if len(frame) > spec.max_points:
            # a uniform sample keeps the mix of values, so the pattern still reads right
            frame = frame.sample(n=spec.max_points, random_state=seed).sort_index()
            extra = (
                f"随机显示 {spec.max_points:,} 个点" if lang == "zh"
                else f"random sample of {spec.max_points:,} points"
            )
            note = f"{note}; {extra}" if note else extra
        index = {color: k for k, color in enumerate(colors)}
        group.add_child(_draw("geoPoints", *_point_data(
            frame, fields, recipe, lang, colors, frame["_color"].map(index),
            radius=spec.radius, opacity=spec.fill_opacity,
        )))
        key = _DOT
    else:
        _geojson(
            frame, fields, recipe, lang, hidden=("_color",),
            style_function=lambda feature, o=spec.fill_opacity: {
                "fillColor": feature["properties"]["_color"],
                "color": "#ffffff",
                "weight": 0.3,
                "fillOpacity": o,
            },
        ).add_to(group)
        key = _SQUARE
    group.add_to(m)
    return _Legend(
        spec.title(lang),
        rows=[(key.format(color=color), text) for color, text in rows],
        note=note,
        groups=[group.get_name()],
    )


def _hexagon_counts(
    points: gpd.GeoDataFrame, classes: pd.Series, size: float
) -> tuple[pd.DataFrame, float]:
    """Count each class's points in hexagons about ``size`` metres across.

    The hexagons tile Web Mercator, the web map's projection, so the page can
    draw them from their centres; across flats they are ``size`` metres at the
    points' middle latitude.

    Returns
    -------
    tuple
        One row per non-empty (hexagon, class): ``class``, ``n_firms`` and the
        centre's ``x``, ``y`` in ``points``' degrees; and the hexagons' radius
        (centre to corner) in Web Mercator metres.
    """
    from geo.io.grids import GridSpec, make_grid
    from geo.io.zones import assign_points

    west, south, east, north = points.total_bounds
    across = size / math.cos(math.radians((south + north) / 2))
    cells = make_grid(
        GridSpec("hex", across), shapely.box(west, south, east, north), analysis_crs=_MERCATOR
    ).to_crs(_MERCATOR)
    cell_of = assign_points(points.to_crs(_MERCATOR), cells)
    counts = (
        pd.crosstab(cell_of.to_numpy(), classes.to_numpy())
        .rename_axis(index="zone_id", columns="class")
        .reset_index()
        .melt(id_vars="zone_id", value_name="n_firms")
    )
    counts = counts[counts["n_firms"] > 0]
    centres = cells.set_index("zone_id").centroid.to_crs(points.crs).loc[counts["zone_id"]]
    counts = counts.assign(x=centres.x.to_numpy(), y=centres.y.to_numpy())
    return counts.reset_index(drop=True), across / math.sqrt(3)


def _hexagon_note(style: LayerStyle, total: int, lang: Lang, too_many: bool) -> str:
    """Legend note of the firm hexagons: what a shade counts, and when points show."""
    bins = [*_HEX_BINS, None]
    km = f"{style.hex_size / 1000:g}"
    if lang == "zh":
        ranges = "、".join(
            f"{a}–{b - 1}" if b else f"≥{a}" for a, b in zip(bins, bins[1:], strict=False)
        )
        counted = f"按 {km} 公里六边形汇总，颜色越深企业越多（{ranges} 家）"
        if too_many:
            return (f"共 {total:,} 家企业，超过 {style.max_points:,} 家：{counted}；"
                    "每家企业见 GeoPackage")
        return f"全市尺度{counted}；放大到第 {_POINTS_ZOOM} 级显示每家企业"
    ranges = ", ".join(
        f"{a}–{b - 1}" if b else f"{a}+" for a, b in zip(bins, bins[1:], strict=False)
    )
    counted = f"counted in {km} km hexagons, darker is more ({ranges} firms)"
    if too_many:
        return (f"{total:,} firms, more than {style.max_points:,}: {counted}; every firm is "
                "in the GeoPackage")
    return f"At city scale {counted}; each firm shows from zoom {_POINTS_ZOOM}"


def _point_layers(
    m: folium.Map, gdf: gpd.GeoDataFrame, style: LayerStyle, recipe: MapRecipe, lang: Lang
) -> _Legend:
    """Draw one toggleable layer per category and return their legend.

    Each category's points are counted in hexagons, drawn at city scale; from
    zoom :data:`_POINTS_ZOOM` on, its points are drawn instead. Above
    ``style.max_points`` points only the hexagons are drawn, and the legend
    says so.
    """
    categories = style.categories or (
        Category("all", style.title_zh, style.title_en, style.color),
    )
    classes = (
        gdf[style.category_field].astype(str) if style.category_field
        else pd.Series("all", index=gdf.index)
    )
    totals = classes.value_counts()
    hexagons, radius = _hexagon_counts(gdf, classes, style.hex_size)
    too_many = bool(style.max_points and len(gdf) > style.max_points)
    entries: list[dict] = []
    keys: list[str] = []
    legend = _Legend(
        style.title(lang),
        note=_hexagon_note(style, len(gdf), lang, too_many),
    )
    for category in categories:
        n = int(totals.get(category.key, 0))
        if not n:
            continue
        group = folium.FeatureGroup(
            name=_group_tag("firms")
            + f'<span style="color:{escape_html(category.color)}">●</span> '
            f"{escape_html(category.label(lang))} ({n:,})",
            show=True,
        )
        entry = {}
        if not too_many:
            entry["points"], entry["options"] = _point_data(
                gdf[classes == category.key], style.fields, recipe, lang, (category.color,),
                radius=style.radius, opacity=style.fill_opacity)
        entries.append(entry)
        keys.append(category.key)
        group.add_to(m)
        legend.groups.append(group.get_name())
        legend.rows.append((_DOT.format(color=category.color), f"{category.label(lang)} ({n:,})"))
    # one table of hexagons: the firm count of each class in each
    table = hexagons.pivot_table(index=["x", "y"], columns="class", values="n_firms",
                                 fill_value=0, aggfunc="sum").reset_index()
    hexdata = {"x": table["x"].round(6).tolist(), "y": table["y"].round(6).tolist(),
               "counts": [table[k].astype(int).tolist() if k in table else [0] * len(table)
                          for k in keys]}
    m.add_child(_element(
        templates.DRAW_FIRMS, groups=legend.groups,
        data=script_json({"classes": entries, "hexagons": hexdata}),
        options=script_json({
            "zoom": None if too_many else _POINTS_ZOOM,
            "hexagons": {"radius": radius, "color": _HEX_COLOR, "bins": _HEX_BINS,
                         "opacities": _HEX_OPACITY, "alias": recipe.alias("n_firms", lang)}}),
    ))
    return legend


def _element(template: str, **attributes: Any) -> branca.element.MacroElement:
    element = branca.element.MacroElement()
    element._template = branca.element.Template(template)
    for key, value in attributes.items():
        setattr(element, key, value)
    return element


def _for_display(gdf: gpd.GeoDataFrame, datum: str) -> gpd.GeoDataFrame:
    """Return a layer in the datum of the basemap's tiles: WGS84, or GCJ-02 for Amap."""
    return frame_to_gcj02(gdf) if datum == "gcj02" else gdf.to_crs(WGS84)


def _attribution(
    provenance: list[str], synthetic: bool, datum: str, lang: Lang
) -> str:
    """HTML of the attribution line: datum shift, synthetic data, sources (folded)."""
    parts = []
    if datum == "gcj02":
        parts.append(
            "坐标已转换为 GCJ-02 以匹配高德底图" if lang == "zh"
            else "overlays shifted to GCJ-02 to match Amap tiles"
        )
    if synthetic:
        parts.append(escape_html(SYNTHETIC_NOTE[lang]))
    if provenance:
        summary = "数据来源" if lang == "zh" else "Sources"
        sources = "<br>".join(escape_html(p) for p in provenance)
        parts.append(f"<details><summary>{summary}</summary>{sources}</details>")
    return " | ".join(parts)


def choose_basemap(basemap: str | None, offline: bool) -> str | None:
    """Basemap of a map: the one asked for, else none for offline maps.

    Offline maps cannot load tiles, so unless a basemap is named they draw
    none; ``None`` means the recipe's basemap.

    Parameters
    ----------
    basemap : str or None
        The basemap asked for.
    offline : bool
        Whether the map is saved for use without network.

    Returns
    -------
    str or None
    """
    return basemap or ("none" if offline else None)


def web_map(
    layers: dict[str, gpd.GeoDataFrame],
    recipe: MapRecipe,
    *,
    lang: Lang = "zh",
    synthetic: bool = False,
    provenance: list[str] | None = None,
    seed: int = 0,
    basemap: str | None = None,
    tianditu_token: str | None = None,
) -> folium.Map:
    """Build the interactive map of the given layers, styled by ``recipe``.

    Parameters
    ----------
    layers : dict of str to GeoDataFrame
        Layers by recipe name (``districts``, ``platforms``, ``towns``,
        ``firms``...). Layers the recipe does not style are skipped.
    recipe : MapRecipe
        Styles, titles and aliases.
    lang : {"zh", "en"}
        Language of titles, legends and tooltips.
    synthetic : bool
        Whether the enterprises are synthetic; the title, legend and
        attribution then say so.
    provenance : list of str, optional
        Data sources for the attribution line.
    seed : int
        Seed of the random sample drawn when a point choropleth (local CLQ)
        has more points than its ``max_points``; the legend says so.
    basemap : str, optional
        One of :data:`BASEMAPS`; default the recipe's. On Amap (GCJ-02)
        every overlay is shifted to GCJ-02 to line up with the tiles;
        ``none`` draws the districts as an opaque base instead of tiles.
    tianditu_token : str, optional
        Key of the ``tianditu`` basemap (default: ``TIANDITU_TOKEN``).

    Returns
    -------
    folium.Map

    Raises
    ------
    ConfigError
        For an unknown language or basemap, a Tianditu basemap without a
        key, or no layer with features.

    Examples
    --------
    >>> from geo.io.zones import load_layer
    >>> m = web_map({"districts": load_layer("districts")}, load_recipe(), basemap="amap")
    >>> save_map(m, "map.html")  # doctest: +SKIP
    """
    if lang not in ("zh", "en"):
        raise ConfigError(f"unknown map language '{lang}': use zh or en")
    base = describe_basemap(basemap or recipe.default_basemap(lang), tianditu_token)
    shown = {
        name: _for_display(gdf, base.datum) for name, gdf in layers.items()
        if isinstance(gdf, gpd.GeoDataFrame) and not gdf.empty
    }
    if not shown:
        raise ConfigError("nothing to map: no layer has any features")
    city = layers_city(shown)
    core = layers_core(shown, city)  # the same core as the static maps'
    m = folium.Map(
        location=[(core[1] + core[3]) / 2, (core[0] + core[2]) / 2],
        zoom_start=11,
        tiles=None,
        prefer_canvas=True,
        control_scale=False,  # geo's own: metric only
    )
    # folium also loads jQuery, Bootstrap and icon fonts for icon markers; this map
    # has none (its GeoJSON popups are plain Leaflet), so it needs only Leaflet
    m.default_js = [asset for asset in m.default_js if asset[0] == "leaflet"]
    m.default_css = [asset for asset in m.default_css if asset[0] == "leaflet_css"]
    m.add_child(_element(templates.PAGE_STYLE, blank=not base.tiles,
                         css=(_ASSETS / "map.css").read_text(encoding="utf-8")))
    m.add_child(_element(templates.SCRIPT, code=(_ASSETS / "map.js").read_text(encoding="utf-8")))
    m.add_child(_element(templates.LABEL_PANE))
    add_basemap(m, base, lang)

    legends = []
    for style in recipe.layers:
        gdf = shown.get(style.name)
        if gdf is None:
            continue
        if style.geometry == "point":
            legends.append(_point_layers(m, gdf, style, recipe, lang))
            continue
        # without tiles the districts are the opaque base, always at the back
        as_base = not base.tiles and style.name == "districts"
        group = _polygon_layer(m, gdf, style, recipe, lang, base=as_base)
        if as_base:
            m.add_child(_element(templates.BRING_TO_BACK, layer=group.get_name()))
        fill = _BASE_FILL if as_base else style.fill_color
        key = f"background:{fill};border:2px {'dashed' if style.dash else 'solid'} {style.color}"
        legends.append(_Legend("", rows=[(key, style.title(lang))], groups=[group.get_name()]))
    for spec in recipe.choropleths:
        gdf = shown.get(spec.layer)
        legend = _choropleth_layer(m, gdf, spec, recipe, lang, seed) if gdf is not None else None
        if legend:
            legends.append(legend)
    # the first view is the urban core, where most firms and clusters are
    m.fit_bounds([[core[1], core[0]], [core[3], core[2]]])

    title = recipe.title(lang) + (SYNTHETIC_TITLE[lang] if synthetic else "")
    # Children of the map render before the page body, so their html lands in it.
    m.add_child(_element(templates.TITLE, text=title))
    m.add_child(_element(
        templates.LEGEND, entries=legends, note=SYNTHETIC_NOTE[lang] if synthetic else ""
    ))
    credits = _attribution(provenance or [], synthetic, base.datum, lang)
    if credits:
        m.add_child(_element(templates.ATTRIBUTION, text=script_json(credits)))
    m.add_child(_element(templates.FULLSCREEN, label="全屏" if lang == "zh" else "Full screen"))
    # collapsed: open, it would hide the firms of the first view
    control = folium.LayerControl(collapsed=True)
    control.add_to(m)
    m.add_child(_element(
        templates.CONTROLS, control=control.get_name(), headings=script_json(_GROUPS[lang]),
        core=script_json([[core[1], core[0]], [core[3], core[2]]]),
        city=script_json([[city[1], city[0]], [city[3], city[2]]]),
        labels=script_json({"core": "核心区", "city": "全市"} if lang == "zh"
                           else {"core": "Core", "city": "Whole city"}),
    ))
    return m


def save_map(m: folium.Map, path: str | Path) -> Path:
    """Write a map to HTML atomically, as one file that needs no CDN.

    Leaflet's JavaScript, CSS and images (from the installed
    ``xstatic-leaflet``) and geo's own script and style are inlined, so the
    page opens on networks that block foreign CDNs and on none at all. Only
    the basemap tiles, if the map has a tile basemap, go online.

    Parameters
    ----------
    m : folium.Map
        The map.
    path : str or Path
        Destination ``.html`` file.

    Returns
    -------
    Path

    Raises
    ------
    ConfigError
        If an asset cannot be inlined (the message names its URL).
    """
    path = Path(path)
    # always inline: a page that loads Leaflet from a CDN is blank where it is blocked
    page = inline_assets(m.get_root().render())
    with atomic_path(path) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return path

