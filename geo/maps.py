"""Map recipes (``maps/*.toml``) and the interactive web map (folium).

A recipe says which layers a map shows and how each is styled; the renderers
only read it, so styling lives in one place.
"""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import branca
import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.basemaps import BASEMAPS as BASEMAPS
from geo.basemaps import add_basemap, canonical_basemap
from geo.basemaps import basemap as describe_basemap
from geo.crs import WGS84, frame_to_gcj02
from geo.errors import ConfigError
from geo.offline import inline_assets
from geo.outputs import atomic_path
from geo.resources import bundled_dir
from geo.safety import escape_html, script_json

Lang = str  # "zh" or "en"
_MERCATOR = "EPSG:3857"  # the web map's projection

# What every map (web, static) says when the enterprises are simulated.
SYNTHETIC_NOTE = {
    "zh": "合成数据：企业为模拟生成，非真实登记信息",
    "en": "Synthetic data: enterprises are simulated, not a real register",
}
SYNTHETIC_TITLE = {"zh": "（合成数据）", "en": " (synthetic data)"}

# Recipe colours and dash patterns reach inline CSS and folium's style scripts,
# which folium writes unescaped, so they must be plain CSS tokens
# (``#e53935``, ``red``, ``rgb(1, 2, 3)``, ``8 5``).
_CSS_TOKEN = re.compile(r"[#\w(),.%\s-]+")


def _check_css(*values: str | None) -> None:
    """Raise ValueError for a colour or dash pattern that is not a plain CSS token."""
    for value in values:
        if value is not None and not _CSS_TOKEN.fullmatch(str(value)):
            raise ValueError(f"{value!r} is not a CSS colour or dash pattern")


@dataclass(frozen=True)
class Category:
    """One class of a categorised layer."""

    key: str
    zh: str
    en: str
    color: str

    def __post_init__(self) -> None:
        _check_css(self.color)

    def label(self, lang: Lang) -> str:
        """Label in the requested language."""
        return self.zh if lang == "zh" else self.en


@dataclass(frozen=True)
class LayerStyle:
    """How one layer is drawn (one ``[[layers]]`` table of a recipe)."""

    name: str
    title_zh: str
    title_en: str
    geometry: str
    color: str = "#333333"
    weight: float = 1.0
    dash: str | None = None
    fill_color: str = "#999999"
    fill_opacity: float = 0.2
    radius: float = 3.0
    label_field: dict[str, str] | None = None
    fields: tuple[str, ...] = ()
    category_field: str | None = None
    categories: tuple[Category, ...] = ()
    # The web map draws every point up to this many (0 = no limit); above, a
    # browser would crawl, so each category is counted in hexagons of
    # ``hex_size`` metres instead.
    max_points: int = 0
    hex_size: float = 1000.0

    def __post_init__(self) -> None:
        _check_css(self.color, self.fill_color, self.dash)

    def title(self, lang: Lang) -> str:
        """Layer title in the requested language."""
        return self.title_zh if lang == "zh" else self.title_en

    def label_column(self, lang: Lang) -> str | None:
        """Field holding the labels in the requested language (``None``: unlabelled)."""
        if not self.label_field:
            return None
        return self.label_field.get(lang, next(iter(self.label_field.values())))


@dataclass(frozen=True)
class Choropleth:
    """A choropleth (one ``[[choropleths]]`` table of a recipe).

    ``scheme`` is ``user_defined`` (class upper bounds in ``bins``; values
    above the last bound form one more class) or a mapclassify scheme name
    (``quantiles``, ``fisher_jenks``, ``natural_breaks``, ``equal_interval``...)
    with ``k`` classes. Zones with fewer than ``min_firms`` firms are not
    drawn: their indices rest on too few firms to mean much. ``where`` names a
    boolean column: only features where it is true are drawn (e.g. the eligible
    siting candidates).
    """

    name: str
    layer: str
    column: str
    title_zh: str
    title_en: str
    colors: tuple[str, ...]
    scheme: str = "quantiles"
    k: int = 5
    bins: tuple[float, ...] = ()
    min_firms: int = 0
    where: str | None = None
    fields: tuple[str, ...] = ()  # shown with the value in tooltips and popups
    show: bool = False
    fill_opacity: float = 0.7
    radius: float = 3.0  # point layers
    max_points: int = 50_000  # point layers: seeded sample above this
    # scheme "categorical": the drawn values, in legend order (others are not drawn)
    categories: tuple[Category, ...] = ()

    def __post_init__(self) -> None:
        _check_css(*self.colors)

    def title(self, lang: Lang) -> str:
        """Title in the requested language."""
        return self.title_zh if lang == "zh" else self.title_en


@dataclass(frozen=True)
class MapRecipe:
    """A map: title, basemap, layer styles and field aliases."""

    title_zh: str
    title_en: str
    basemap: str
    layers: tuple[LayerStyle, ...]
    aliases: dict[str, dict[str, str]] = field(default_factory=dict)
    choropleths: tuple[Choropleth, ...] = ()

    def title(self, lang: Lang) -> str:
        """Map title in the requested language."""
        return self.title_zh if lang == "zh" else self.title_en

    def alias(self, name: str, lang: Lang) -> str:
        """Display label of an attribute field."""
        return self.aliases.get(name, {}).get(lang, name)

    def layer(self, name: str) -> LayerStyle | None:
        """Return the style of layer ``name``, if the recipe has one."""
        return next((layer for layer in self.layers if layer.name == name), None)


def load_recipe(name_or_path: str | Path = "default") -> MapRecipe:
    """Load a map recipe by bundled name (``maps/<name>.toml``) or file path.

    Parameters
    ----------
    name_or_path : str or Path
        Recipe name or path to a TOML file.

    Returns
    -------
    MapRecipe

    Raises
    ------
    ConfigError
        If the recipe is missing or malformed.
    """
    path = Path(name_or_path)
    if not path.suffix:
        path = bundled_dir("maps") / f"{name_or_path}.toml"
    if not path.is_file():
        raise ConfigError(f"map recipe not found: {path}")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        layers = []
        for raw in data.get("layers", []):
            raw = dict(raw)
            categories = tuple(Category(**c) for c in raw.pop("categories", []))
            raw["fields"] = tuple(raw.get("fields", ()))
            layers.append(LayerStyle(**raw, categories=categories))
        choropleths = []
        for raw in data.get("choropleths", []):
            raw = dict(raw)
            raw["bins"] = tuple(float(b) for b in raw.get("bins", ()))
            raw["fields"] = tuple(raw.get("fields", ()))
            raw["categories"] = tuple(Category(**c) for c in raw.get("categories", []))
            raw["colors"] = tuple(
                c.color for c in raw["categories"]
            ) if raw.get("scheme") == "categorical" else tuple(raw["colors"])
            choropleths.append(Choropleth(**raw))
        head = data["map"]
        return MapRecipe(
            title_zh=head["title_zh"],
            title_en=head["title_en"],
            basemap=canonical_basemap(head.get("basemap", "osm")),
            layers=tuple(layers),
            aliases=data.get("aliases", {}),
            choropleths=tuple(choropleths),
        )
    except (tomllib.TOMLDecodeError, KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"map recipe {path} is malformed: {exc}") from exc


def map_class(firms: pd.DataFrame) -> pd.Series:
    """Category of each firm for the map legend.

    High-tech manufacturing, other manufacturing, the producer-service field,
    or ``other``.

    Parameters
    ----------
    firms : pandas.DataFrame
        Normalised firms (columns ``group``, ``field``, ``high_tech``).

    Returns
    -------
    pandas.Series of str
    """
    manufacturing = firms["group"].eq("manufacturing")
    high_tech = firms["high_tech"].fillna(False).astype(bool)
    out = np.where(
        manufacturing,
        np.where(high_tech, "manufacturing_high_tech", "manufacturing"),
        np.where(firms["group"].eq("producer_services"), firms["field"].astype(str), "other"),
    )
    return pd.Series(out, index=firms.index, name="map_class")


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

# Tooltips and popups of every layer show the fields of the feature under the
# mouse, each value escaped: names and reasons come from users' files.
# Points and hexagons as canvas shapes built from columns: GeoJSON spends ~250
# bytes on each point or hexagon, and Leaflet's GeoJSON layer several times the
# time to build them, which makes tens of thousands of firms a slow page of tens
# of megabytes. Each shape keeps its fields as ``feature.properties``, as a
# GeoJSON layer's would, and one tooltip per layer shows them.
_DRAW_SCRIPT = """
{% macro script(this, kwargs) %}
function geoEscape(value) {
  return String(value).replace(/[&<>"']/g, function (c) {
    return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c];
  });
}
function geoTable(layer, fields, aliases) {
  return "<table>" + fields.map(function (name, k) {
    return "<tr><th>" + geoEscape(aliases[k]) + "</th><td>"
      + geoEscape(layer.feature.properties[name]) + "</td></tr>";
  }).join("") + "</table>";
}
function geoTooltip(group, fields, aliases) {
  if (!fields.length) return group;
  return group.bindTooltip(function (layer) {
    return geoTable(layer, fields, aliases);
  }, {sticky: true});
}
// the popup stays open, so long texts (reasons, sources) can be read and copied
function geoPopup(group, fields, aliases) {
  if (!fields.length) return group;
  return group.bindPopup(function (layer) {
    return geoTable(layer, fields, aliases);
  }, {maxWidth: 420});
}
function geoPoints(data, options) {
  var group = L.featureGroup();
  for (var i = 0; i < data.x.length; i++) {
    var properties = {};
    for (var k = 0; k < data.fields.length; k++) properties[data.fields[k]] = data.values[k][i];
    var marker = L.circleMarker([data.y[i], data.x[i]], {
      radius: options.radius, stroke: false, fillOpacity: options.opacity,
      fillColor: options.colors[data.color ? data.color[i] : 0]
    });
    marker.feature = {type: "Feature", properties: properties};
    group.addLayer(marker);
  }
  return geoTooltip(group, data.fields, data.aliases);
}
// Hexagons around centres, in Web Mercator metres like the grid they come from,
// shaded by the count of firms: options.bins are the lower bounds of the shades.
function geoHexagons(data, options) {
  var group = L.featureGroup(), crs = L.CRS.EPSG3857;
  for (var i = 0; i < data.x.length; i++) {
    var centre = crs.project(L.latLng(data.y[i], data.x[i])), ring = [], shade = 0;
    for (var k = 0; k < 6; k++) {
      var angle = Math.PI / 180 * (30 + 60 * k);
      ring.push(crs.unproject(L.point(centre.x + options.radius * Math.cos(angle),
                                      centre.y + options.radius * Math.sin(angle))));
    }
    while (shade + 1 < options.bins.length && data.n[i] >= options.bins[shade + 1]) shade++;
    var hexagon = L.polygon(ring, {
      color: options.color, weight: 0.5, fillColor: options.color,
      fillOpacity: options.opacities[shade]
    });
    hexagon.feature = {type: "Feature", properties: {n_firms: data.n[i]}};
    group.addLayer(hexagon);
  }
  return geoTooltip(group, ["n_firms"], [options.alias]);
}
{% endmacro %}
"""

# A layer switched off at first (local CLQ) builds its shapes when first shown,
# so the page opens without building tens of thousands of hidden markers.
_DRAW = """
{% macro script(this, kwargs) %}
(function (group) {
  var data = {{ this.data }};
  function build() { {{ this.function }}(data, {{ this.options }}).addTo(group); }
  if ({{ this._parent._parent.get_name() }}.hasLayer(group)) { build(); }
  else { group.once("add", build); }
})({{ this._parent.get_name() }});
{% endmacro %}
"""


def _draw(function: str, data: dict, options: dict) -> branca.element.MacroElement:
    """Element calling ``function`` (of :data:`_DRAW_SCRIPT`) on compact JSON columns."""
    return _element(_DRAW, function=function, data=script_json(data), options=script_json(options))


def _points(
    gdf: gpd.GeoDataFrame,
    fields: tuple[str, ...],
    recipe: MapRecipe,
    lang: Lang,
    colors: tuple[str, ...] | list[str],
    classes: pd.Series | None = None,
    *,
    radius: float,
    opacity: float,
) -> branca.element.MacroElement:
    """Element drawing ``gdf``'s points, coloured ``colors[classes]`` (or the first colour)."""
    present = [f for f in fields if f in gdf.columns]
    data = {
        "x": np.round(gdf.geometry.x.to_numpy(), 6).tolist(),
        "y": np.round(gdf.geometry.y.to_numpy(), 6).tolist(),
        "fields": present,
        "aliases": [recipe.alias(f, lang) for f in present],
        "values": [_display_values(gdf[f]).tolist() for f in present],
    }
    if classes is not None:
        data["color"] = classes.astype(int).tolist()
    options = {"radius": radius, "opacity": opacity, "colors": list(colors)}
    return _draw("geoPoints", data, options)


_INFO = """
{% macro script(this, kwargs) %}
geoPopup(geoTooltip({{ this._parent.get_name() }}, {{ this.fields }}, {{ this.aliases }}),
         {{ this.fields }}, {{ this.aliases }});
{% endmacro %}
"""


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
    values into the page as raw HTML; :data:`_DRAW_SCRIPT`'s ``geoTable``
    escapes them.
    """
    present = [f for f in fields if f in gdf.columns]
    layer = folium.GeoJson(_display_frame(gdf, (*present, *hidden), 1e-5), **options)
    layer.add_child(_element(
        _INFO, fields=script_json(present),
        aliases=script_json([recipe.alias(f, lang) for f in present]),
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
    group = folium.FeatureGroup(name=escape_html(style.title(lang)), show=True)
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
    if column not in gdf:  # a user's file: label with its own name column, if any
        column = next((c for c in ("name_zh", "name_en", "name", "名称") if c in gdf), None)
    if column:
        points = gdf.to_crs(WGS84).representative_point()
        for label, point in zip(gdf[column], points, strict=True):
            folium.Marker(
                [point.y, point.x],
                icon=folium.DivIcon(
                    html=f'<div class="geo-label" style="color:{escape_html(style.color)}">'
                    f"{escape_html(label)}</div>",
                    icon_size=(120, 18),
                    icon_anchor=(60, 9),
                ),
            ).add_to(group)
    group.add_to(m)
    return group


def classify_values(
    values: pd.Series, spec: Choropleth, lang: Lang = "zh"
) -> tuple[np.ndarray, list[str]]:
    """Class of each value (-1 for NaN) and the class labels, by ``spec``'s scheme.

    Parameters
    ----------
    values : pandas.Series
        The mapped column.
    spec : Choropleth
        Scheme, number of classes or bins.
    lang : {"zh", "en"}
        Language of categorical labels.

    Returns
    -------
    tuple
        ``(classes, labels)``; ``labels[c]`` reads like ``0.50–0.80``.
    """
    import mapclassify

    if spec.scheme == "categorical":
        keys = [c.key for c in spec.categories]
        classes = values.map({k: i for i, k in enumerate(keys)}).fillna(-1).to_numpy(int)
        return classes, [c.label(lang) for c in spec.categories]
    y = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    finite = np.isfinite(y)
    classes = np.full(len(y), -1)
    if not finite.any():
        return classes, []
    if spec.scheme == "user_defined":
        result = mapclassify.UserDefined(y[finite], list(spec.bins))
    else:
        k = min(spec.k, len(np.unique(y[finite])))
        result = mapclassify.classify(y[finite], spec.scheme, k=max(k, 1))
    classes[finite] = result.yb
    bounds = [float(np.min(y[finite])), *map(float, result.bins)]
    labels = [f"{bounds[c]:.2f}–{bounds[c + 1]:.2f}" for c in range(len(result.bins))]
    return classes, labels


def choropleth_classes(
    gdf: gpd.GeoDataFrame, spec: Choropleth, lang: Lang = "zh"
) -> tuple[gpd.GeoDataFrame, list[tuple[str, str]], str] | None:
    """Classify the features a choropleth draws; return them with colours, legend and note.

    Every renderer (web map, static maps) draws through this function, so the
    same zones get the same classes and colours everywhere.

    Parameters
    ----------
    gdf : GeoDataFrame
        The layer ``spec.layer``.
    spec : Choropleth
        Column, scheme, colours and ``min_firms``.
    lang : {"zh", "en"}
        Language of labels and the note.

    Returns
    -------
    tuple or None
        ``(frame, rows, note)``: the drawn features (zones below ``min_firms``
        and missing values left out) with their colour in column ``_color``,
        the legend as ``[(colour, label)]``, and a note saying which zones are
        left out (or ``""``). ``None`` when nothing would be drawn.
    """
    if spec.column not in gdf.columns:
        return None
    shown = gdf
    note = ""
    if spec.where and spec.where in gdf.columns:
        # GeoPackages may hand booleans back as integers or strings
        flag = gdf[spec.where].astype(str).str.lower().isin(("true", "1"))
        shown = gdf[flag.to_numpy()]
    if spec.min_firms and "n_firms" in gdf.columns:
        shown = shown[shown["n_firms"] >= spec.min_firms]
        note = (
            f"仅显示企业数 ≥ {spec.min_firms} 的区域"
            if lang == "zh"
            else f"zones with at least {spec.min_firms} firms"
        )
    classes, labels = classify_values(shown[spec.column], spec, lang)
    keep = classes >= 0
    if not keep.any():
        return None
    colors = color_ramp(spec.colors, len(labels))
    frame = shown[keep].copy()
    frame["_color"] = [colors[c] for c in classes[keep]]
    return frame, list(zip(colors, labels, strict=True)), note


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
    group = folium.FeatureGroup(name=escape_html(spec.title(lang)), show=spec.show)
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
        group.add_child(_points(
            frame, fields, recipe, lang, colors, frame["_color"].map(index),
            radius=spec.radius, opacity=spec.fill_opacity,
        ))
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


def color_ramp(colors: tuple[str, ...], n: int) -> list[str]:
    """``n`` colours from a recipe's list, interpolated when it has a different length.

    Parameters
    ----------
    colors : tuple of str
        Hex colours of a choropleth spec.
    n : int
        Number of classes.

    Returns
    -------
    list of str
        Hex colours, one per class.
    """
    if len(colors) == n:
        return list(colors)
    from branca.colormap import LinearColormap

    cmap = LinearColormap(list(colors), vmin=0, vmax=max(n - 1, 1))
    return [cmap.rgb_hex_str(i) for i in range(n)]


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
    from geo.grids import GridSpec, make_grid
    from geo.zones import assign_points

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


def _hexagon_note(style: LayerStyle, total: int, lang: Lang) -> str:
    bins = [*_HEX_BINS, None]
    if lang == "zh":
        ranges = "、".join(
            f"{a}–{b - 1}" if b else f"≥{a}" for a, b in zip(bins, bins[1:], strict=False)
        )
        return (
            f"共 {total:,} 家企业，超过 {style.max_points:,} 家：按 {style.hex_size / 1000:g} "
            f"公里六边形汇总显示，颜色越深企业越多（{ranges} 家）；每家企业见 GeoPackage"
        )
    ranges = ", ".join(
        f"{a}–{b - 1}" if b else f"{a}+" for a, b in zip(bins, bins[1:], strict=False)
    )
    return (
        f"{total:,} firms, more than {style.max_points:,}: counted in {style.hex_size / 1000:g} km "
        f"hexagons, darker is more ({ranges} firms); every firm is in the GeoPackage"
    )


def _point_layers(
    m: folium.Map, gdf: gpd.GeoDataFrame, style: LayerStyle, recipe: MapRecipe, lang: Lang
) -> _Legend:
    """Draw one toggleable layer per category and return their legend.

    Up to ``style.max_points`` points every point is drawn; above, each
    category's points are counted in hexagons, and the legend says so.
    """
    categories = style.categories or (
        Category("all", style.title_zh, style.title_en, style.color),
    )
    classes = (
        gdf[style.category_field].astype(str) if style.category_field
        else pd.Series("all", index=gdf.index)
    )
    totals = classes.value_counts()
    hexagons = radius = None
    if style.max_points and len(gdf) > style.max_points:
        hexagons, radius = _hexagon_counts(gdf, classes, style.hex_size)
    legend = _Legend(
        style.title(lang),
        note=_hexagon_note(style, len(gdf), lang) if hexagons is not None else "",
    )
    for category in categories:
        n = int(totals.get(category.key, 0))
        if not n:
            continue
        group = folium.FeatureGroup(
            name=f'<span style="color:{escape_html(category.color)}">●</span> '
            f"{escape_html(category.label(lang))} ({n:,})",
            show=True,
        )
        if hexagons is None:
            group.add_child(_points(
                gdf[classes == category.key], style.fields, recipe, lang, (category.color,),
                radius=style.radius, opacity=style.fill_opacity,
            ))
        else:
            cells = hexagons[hexagons["class"] == category.key]
            group.add_child(_draw(
                "geoHexagons",
                {"x": cells["x"].round(6).tolist(), "y": cells["y"].round(6).tolist(),
                 "n": cells["n_firms"].tolist()},
                {"radius": radius, "color": category.color, "bins": _HEX_BINS,
                 "opacities": _HEX_OPACITY, "alias": recipe.alias("n_firms", lang)},
            ))
        group.add_to(m)
        legend.groups.append(group.get_name())
        legend.rows.append((_DOT.format(color=category.color), f"{category.label(lang)} ({n:,})"))
    return legend


_PAGE_STYLE = """
{% macro header(this, kwargs) %}
<style>
.geo-title{position:fixed; top:10px; left:60px; z-index:9999; background:rgba(255,255,255,0.9);
  padding:6px 12px; border-radius:4px; font:bold 16px sans-serif;
  box-shadow:0 1px 4px rgba(0,0,0,0.3)}
.geo-label{font:bold 12px sans-serif; text-align:center; white-space:nowrap;
  text-shadow:0 0 3px #fff, 0 0 3px #fff}
.geo-legend{position:fixed; bottom:64px; left:10px; z-index:9999; max-width:300px;
  max-height:45%; overflow-y:auto; background:rgba(255,255,255,0.92); padding:6px 10px;
  border-radius:4px; box-shadow:0 1px 4px rgba(0,0,0,0.3); font:12px/1.5 sans-serif}
.geo-legend-entry{margin-bottom:4px}
.geo-key{display:inline-block; width:14px; height:10px; margin-right:6px;
  vertical-align:middle; box-sizing:border-box}
.geo-note{color:#b71c1c; font-weight:bold; margin-top:4px}
.leaflet-tooltip th, .leaflet-popup-content th{text-align:left; padding:2px 8px 2px 2px}
.geo-fullscreen a{display:flex; align-items:center; justify-content:center}
.leaflet-control-attribution details{display:inline}
{% if this.blank %}.leaflet-container{background:#ffffff}{% endif %}
</style>
{% endmacro %}
"""

_TITLE = """
{% macro html(this, kwargs) %}
<div class="geo-title">{{ this.text|e }}</div>
{% endmacro %}
"""

_LEGEND = """
{% macro html(this, kwargs) %}
<div class="geo-legend">
  {% for entry in this.entries %}
  <div class="geo-legend-entry" id="{{ this.get_name() }}_{{ loop.index }}">
    {% if entry.title %}<b>{{ entry.title|e }}</b><br>{% endif %}
    {% for css, text in entry.rows %}
    <span class="geo-key" style="{{ css|e }}"></span>{{ text|e }}<br>
    {% endfor %}
    {% if entry.note %}<i>{{ entry.note|e }}</i>{% endif %}
  </div>
  {% endfor %}
  {% if this.note %}<div class="geo-note">{{ this.note|e }}</div>{% endif %}
</div>
{% endmacro %}
{% macro script(this, kwargs) %}
(function (map) {
  // a legend entry shows while any of its layers is on the map
  var entries = [
    {% for entry in this.entries %}
    [document.getElementById("{{ this.get_name() }}_{{ loop.index }}"),
     [{{ entry.groups|join(", ") }}]],
    {% endfor %}
  ];
  function sync() {
    entries.forEach(function (entry) {
      var shown = entry[1].some(function (layer) { return map.hasLayer(layer); });
      entry[0].style.display = shown ? "" : "none";
    });
  }
  map.on("overlayadd overlayremove", sync);
  sync();
})({{ this._parent.get_name() }});
{% endmacro %}
"""

_ATTRIBUTION = """
{% macro script(this, kwargs) %}
{{ this._parent.get_name() }}.attributionControl.addAttribution({{ this.text }});
{% endmacro %}
"""

# Leaflet.fullscreen ships in no Python package, so an offline page could not
# inline it; the browser's Fullscreen API needs only this control.
_FULLSCREEN = """
{% macro script(this, kwargs) %}
(function (map) {
  var Fullscreen = L.Control.extend({
    options: {position: "topleft"},
    onAdd: function () {
      var bar = L.DomUtil.create("div", "leaflet-bar geo-fullscreen");
      var button = L.DomUtil.create("a", "", bar);
      button.href = "#";
      button.title = {{ this.label|tojson }};
      button.setAttribute("role", "button");
      button.innerHTML = '<svg width="14" height="14" viewBox="0 0 14 14" fill="none" '
        + 'stroke="#333" stroke-width="2"><path d="M1 5V1h4M9 1h4v4M13 9v4H9M5 13H1V9"/></svg>';
      L.DomEvent.on(button, "click", function (event) {
        L.DomEvent.stop(event);
        if (document.fullscreenElement) { document.exitFullscreen(); }
        else { document.documentElement.requestFullscreen(); }
      });
      return bar;
    }
  });
  new Fullscreen().addTo(map);
})({{ this._parent.get_name() }});
{% endmacro %}
"""

_BRING_TO_BACK = """
{% macro script(this, kwargs) %}
{{ this.layer }}.on("add", function (event) { event.target.bringToBack(); });
{% endmacro %}
"""


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


def zone_provenance(layers: dict[str, gpd.GeoDataFrame]) -> list[str]:
    """One attribution entry per zone layer: its distinct sources.

    Parameters
    ----------
    layers : dict of str to GeoDataFrame
        Layers by name; those with a ``source`` column count as zone layers,
        except the ``*_indices`` layers derived from them.

    Returns
    -------
    list of str
        ``"<layer>: <source>; <source>"`` per zone layer.
    """
    return [
        f"{name}: {'; '.join(sorted(map(str, frame['source'].dropna().unique())))}"
        for name, frame in layers.items()
        if "source" in frame.columns and not name.endswith("_indices")
    ]


def drawable_layers(
    layers: dict[str, gpd.GeoDataFrame], recipe: MapRecipe
) -> tuple[dict[str, gpd.GeoDataFrame], list[str]]:
    """Layers a map can draw, and a note for each thing left out or out of place.

    Features without a geometry (null, empty) are left out, and a layer with
    none left is not drawn. Points or lines in a layer the recipe draws as
    polygons (zones) are drawn as they are, with a warning: such a file is
    usually the wrong one.

    Parameters
    ----------
    layers : dict
        Layer name to GeoDataFrame.
    recipe : MapRecipe
        The map recipe (which layers are zones).

    Returns
    -------
    tuple
        The layers to draw and the notes, in English and Chinese.
    """
    drawn: dict[str, gpd.GeoDataFrame] = {}
    notes: list[str] = []
    for name, frame in layers.items():
        geometries = frame.geometry.to_numpy()
        missing = shapely.is_missing(geometries) | shapely.is_empty(geometries)
        if missing.all():
            notes.append(f"layer '{name}' has no geometry to draw: not drawn / "
                         f"图层“{name}”没有可绘制的几何，未绘制")
            continue
        if missing.any():
            notes.append(f"layer '{name}': {int(missing.sum())} of {len(frame)} features have "
                         f"no geometry and are not drawn / {int(missing.sum())} 个要素没有几何，"
                         "未绘制")
            frame = frame[~missing]
        style = recipe.layer(name)
        if style is not None and style.geometry == "polygon":
            kinds = shapely.get_type_id(frame.geometry.to_numpy())
            wrong = ~np.isin(kinds, (shapely.GeometryType.POLYGON,
                                     shapely.GeometryType.MULTIPOLYGON,
                                     shapely.GeometryType.GEOMETRYCOLLECTION))
            if wrong.any():
                types = "/".join(sorted(set(frame.geometry[wrong].geom_type)))
                notes.append(f"warning: layer '{name}' is drawn as zones (polygons), but "
                             f"{int(wrong.sum())} of {len(frame)} features are {types}: is it "
                             f"the right file? / 警告：图层“{name}”应为面状分区（多边形），但有 "
                             f"{int(wrong.sum())} 个要素是 {types}，请检查文件")
        drawn[name] = frame
    return drawn, notes


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
    >>> from geo.zones import load_layer
    >>> m = web_map({"districts": load_layer("districts")}, load_recipe(), basemap="amap")
    >>> save_map(m, "map.html")  # doctest: +SKIP
    """
    if lang not in ("zh", "en"):
        raise ConfigError(f"unknown map language '{lang}': use zh or en")
    base = describe_basemap(basemap or recipe.basemap, tianditu_token)
    shown = {
        name: _for_display(gdf, base.datum) for name, gdf in layers.items()
        if isinstance(gdf, gpd.GeoDataFrame) and not gdf.empty
    }
    if not shown:
        raise ConfigError("nothing to map: no layer has any features")
    bounds = np.array([gdf.total_bounds for gdf in shown.values()])
    west, south = np.nanmin(bounds[:, :2], axis=0)
    east, north = np.nanmax(bounds[:, 2:], axis=0)
    m = folium.Map(
        location=[(south + north) / 2, (west + east) / 2],
        zoom_start=9,
        tiles=None,
        prefer_canvas=True,
        control_scale=True,
    )
    # folium also loads jQuery, Bootstrap and icon fonts for icon markers; this map
    # has none (its GeoJSON popups are plain Leaflet), so it needs only Leaflet
    m.default_js = [asset for asset in m.default_js if asset[0] == "leaflet"]
    m.default_css = [asset for asset in m.default_css if asset[0] == "leaflet_css"]
    m.add_child(_element(_PAGE_STYLE, blank=not base.tiles))
    m.add_child(_element(_DRAW_SCRIPT))
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
            m.add_child(_element(_BRING_TO_BACK, layer=group.get_name()))
        fill = _BASE_FILL if as_base else style.fill_color
        key = f"background:{fill};border:2px {'dashed' if style.dash else 'solid'} {style.color}"
        legends.append(_Legend("", rows=[(key, style.title(lang))], groups=[group.get_name()]))
    for spec in recipe.choropleths:
        gdf = shown.get(spec.layer)
        legend = _choropleth_layer(m, gdf, spec, recipe, lang, seed) if gdf is not None else None
        if legend:
            legends.append(legend)
    m.fit_bounds([[south, west], [north, east]])

    title = recipe.title(lang) + (SYNTHETIC_TITLE[lang] if synthetic else "")
    # Children of the map render before the page body, so their html lands in it.
    m.add_child(_element(_TITLE, text=title))
    m.add_child(_element(
        _LEGEND, entries=legends, note=SYNTHETIC_NOTE[lang] if synthetic else ""
    ))
    credits = _attribution(provenance or [], synthetic, base.datum, lang)
    if credits:
        m.add_child(_element(_ATTRIBUTION, text=script_json(credits)))
    m.add_child(_element(_FULLSCREEN, label="全屏" if lang == "zh" else "Full screen"))
    folium.LayerControl(collapsed=False).add_to(m)
    return m


def save_map(m: folium.Map, path: str | Path, *, offline: bool = False) -> Path:
    """Write a map to HTML atomically.

    Parameters
    ----------
    m : folium.Map
        The map.
    path : str or Path
        Destination ``.html`` file.
    offline : bool
        Inline Leaflet's JavaScript, CSS and images (from the installed
        ``xstatic-leaflet``) so the page is one file that opens without
        network. Map tiles are not inlined: build offline maps with basemap
        ``none``; a tile basemap is kept and draws only when online.

    Returns
    -------
    Path

    Raises
    ------
    ConfigError
        Offline, if an asset cannot be inlined (the message names its URL).
    """
    path = Path(path)
    page = m.get_root().render()
    if offline:
        page = inline_assets(page)
    with atomic_path(path) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return path
