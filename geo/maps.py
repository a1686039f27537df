"""Map recipes (``maps/*.toml``) and the interactive web map (folium).

A recipe says which layers a map shows and how each is styled; the renderers
only read it, so styling lives in one place.
"""

from __future__ import annotations

import html
import json
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
from folium.plugins import Fullscreen

from geo.crs import WGS84
from geo.errors import ConfigError
from geo.outputs import atomic_path
from geo.resources import bundled_dir

Lang = str  # "zh" or "en"


@dataclass(frozen=True)
class Category:
    """One class of a categorised layer."""

    key: str
    zh: str
    en: str
    color: str

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
    # Browsers choke on hundreds of thousands of markers: above this many points
    # the web map shows a seeded random sample (0 = no limit).
    max_points: int = 0

    def title(self, lang: Lang) -> str:
        """Layer title in the requested language."""
        return self.title_zh if lang == "zh" else self.title_en


@dataclass(frozen=True)
class Choropleth:
    """A choropleth (one ``[[choropleths]]`` table of a recipe).

    ``scheme`` is ``user_defined`` (class upper bounds in ``bins``; values
    above the last bound form one more class) or a mapclassify scheme name
    (``quantiles``, ``fisher_jenks``, ``natural_breaks``, ``equal_interval``...)
    with ``k`` classes. Zones with fewer than ``min_firms`` firms are not
    drawn: their indices rest on too few firms to mean much.
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
    show: bool = False
    fill_opacity: float = 0.7
    radius: float = 3.0  # point layers
    max_points: int = 50_000  # point layers: seeded sample above this
    # scheme "categorical": the drawn values, in legend order (others are not drawn)
    categories: tuple[Category, ...] = ()

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
            raw["categories"] = tuple(Category(**c) for c in raw.get("categories", []))
            raw["colors"] = tuple(
                c.color for c in raw["categories"]
            ) if raw.get("scheme") == "categorical" else tuple(raw["colors"])
            choropleths.append(Choropleth(**raw))
        head = data["map"]
        return MapRecipe(
            title_zh=head["title_zh"],
            title_en=head["title_en"],
            basemap=head.get("basemap", "openstreetmap"),
            layers=tuple(layers),
            aliases=data.get("aliases", {}),
            choropleths=tuple(choropleths),
        )
    except (tomllib.TOMLDecodeError, KeyError, TypeError) as exc:
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


def _display_frame(gdf: gpd.GeoDataFrame, fields: tuple[str, ...], grid: float) -> str:
    """GeoJSON text of the fields a layer shows, coordinates snapped to ``grid`` degrees."""
    present = [f for f in fields if f in gdf.columns]
    frame = gdf.to_crs(WGS84)[[*present, "geometry"]].copy()
    for name in present:
        values = frame[name]
        if pd.api.types.is_float_dtype(values):
            values = values.round(2)
        frame[name] = values.astype(object).where(values.notna(), "")
    frame["geometry"] = shapely.set_precision(frame.geometry.to_numpy(), grid)
    return frame.to_json(drop_id=True)


def _tooltip(style: LayerStyle, gdf: gpd.GeoDataFrame, recipe: MapRecipe, lang: Lang):
    present = [f for f in style.fields if f in gdf.columns]
    if not present:
        return None
    return folium.GeoJsonTooltip(
        fields=present, aliases=[recipe.alias(f, lang) for f in present], sticky=True
    )


def _polygon_layer(
    m: folium.Map, gdf: gpd.GeoDataFrame, style: LayerStyle, recipe: MapRecipe, lang: Lang
) -> None:
    group = folium.FeatureGroup(name=style.title(lang), show=True)
    css = {
        "color": style.color,
        "weight": style.weight,
        "fillColor": style.fill_color,
        "fillOpacity": style.fill_opacity,
        "dashArray": style.dash,
    }
    folium.GeoJson(
        _display_frame(gdf, style.fields, 1e-5),
        style_function=lambda _feature, css=css: css,
        highlight_function=lambda _feature: {"weight": 3},
        tooltip=_tooltip(style, gdf, recipe, lang),
    ).add_to(group)
    if style.label_field:
        column = style.label_field.get(lang, next(iter(style.label_field.values())))
        points = gdf.to_crs(WGS84).representative_point()
        for label, point in zip(gdf[column], points, strict=True):
            folium.Marker(
                [point.y, point.x],
                icon=folium.DivIcon(
                    html=f'<div class="geo-label" style="color:{style.color}">'
                    f"{html.escape(str(label))}</div>",
                    icon_size=(120, 18),
                    icon_anchor=(60, 9),
                ),
            ).add_to(group)
    group.add_to(m)


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


def _choropleth_layer(
    m: folium.Map, gdf: gpd.GeoDataFrame, spec: Choropleth, recipe: MapRecipe, lang: Lang
) -> tuple[str, list[tuple[str, str]], str] | None:
    """Draw one choropleth; return its legend (title, [(colour, label)], note)."""
    if spec.column not in gdf.columns:
        return None
    shown = gdf
    note = ""
    if spec.min_firms and "n_firms" in gdf.columns:
        shown = gdf[gdf["n_firms"] >= spec.min_firms]
        note = (
            f"仅显示企业数 ≥ {spec.min_firms} 的区域"
            if lang == "zh"
            else f"zones with at least {spec.min_firms} firms"
        )
    classes, labels = classify_values(shown[spec.column], spec, lang)
    keep = classes >= 0
    if not keep.any():
        return None
    colors = _ramp(spec.colors, len(labels))
    frame = shown[keep].copy()
    frame["_color"] = [colors[c] for c in classes[keep]]
    points = bool((frame.geom_type == "Point").all())
    if points and len(frame) > spec.max_points:
        frame = frame.sample(n=spec.max_points, random_state=0).sort_index()
        extra = (
            f"随机显示 {spec.max_points:,} 个点" if lang == "zh"
            else f"random sample of {spec.max_points:,} points"
        )
        note = f"{note}; {extra}" if note else extra
    fields = tuple(
        f for f in ("name_zh", "name", "n_firms", spec.column) if f in frame.columns
    )
    group = folium.FeatureGroup(name=spec.title(lang), show=spec.show)
    folium.GeoJson(
        _display_frame(frame, (*fields, "_color"), 1e-6 if points else 1e-5),
        style_function=lambda feature, o=spec.fill_opacity, p=points: {
            "fillColor": feature["properties"]["_color"],
            "color": feature["properties"]["_color"] if p else "#ffffff",
            "weight": 0 if p else 0.3,
            "fillOpacity": o,
        },
        marker=folium.CircleMarker(radius=spec.radius, fill=True) if points else None,
        tooltip=folium.GeoJsonTooltip(
            fields=list(fields), aliases=[recipe.alias(f, lang) for f in fields], sticky=True
        ),
    ).add_to(group)
    group.add_to(m)
    return spec.title(lang), list(zip(colors, labels, strict=True)), note


def _ramp(colors: tuple[str, ...], n: int) -> list[str]:
    """``n`` colours from a recipe's list (interpolated when it has a different length)."""
    if len(colors) == n:
        return list(colors)
    from branca.colormap import LinearColormap

    cmap = LinearColormap(list(colors), vmin=0, vmax=max(n - 1, 1))
    return [cmap.rgb_hex_str(i) for i in range(n)]


def _point_layers(
    m: folium.Map,
    gdf: gpd.GeoDataFrame,
    style: LayerStyle,
    recipe: MapRecipe,
    lang: Lang,
    totals: pd.Series,
) -> None:
    """Draw one toggleable layer per category; names give full counts, not the sample's."""
    classes = gdf[style.category_field] if style.category_field else None
    for category in style.categories or (
        Category("all", style.title_zh, style.title_en, style.color),
    ):
        subset = gdf if classes is None else gdf[classes == category.key]
        if subset.empty:
            continue
        name = (
            f'<span style="color:{category.color}">●</span> '
            f"{html.escape(category.label(lang))} ({int(totals.get(category.key, 0)):,})"
        )
        group = folium.FeatureGroup(name=name, show=True)
        folium.GeoJson(
            _display_frame(subset, style.fields, 1e-6),
            marker=folium.CircleMarker(
                radius=style.radius,
                weight=0,
                fill=True,
                fill_color=category.color,
                fill_opacity=style.fill_opacity,
            ),
            tooltip=_tooltip(style, subset, recipe, lang),
        ).add_to(group)
        group.add_to(m)


_LEGEND = """
{% macro html(this, kwargs) %}
<div class="geo-legend" style="position:fixed; bottom:28px; right:12px; z-index:9999;
  background:rgba(255,255,255,0.92); padding:8px 10px; border-radius:4px;
  box-shadow:0 1px 4px rgba(0,0,0,0.3); font:12px/1.5 sans-serif; max-width:260px">
  <b>{{ this.heading }}</b><br>
  {% for color, label in this.rows %}
  <span style="display:inline-block;width:10px;height:10px;border-radius:50%;
    background:{{ color }};margin-right:6px"></span>{{ label }}<br>
  {% endfor %}
  {% for text in this.samples %}<div style="margin-top:4px">{{ text }}</div>{% endfor %}
  {% if this.note %}
  <div style="margin-top:4px;color:#b71c1c"><b>{{ this.note }}</b></div>
  {% endif %}
</div>
{% endmacro %}
"""

_CHORO_LEGEND = """
{% macro html(this, kwargs) %}
<div class="geo-choro-legend" style="position:fixed; bottom:28px; left:12px; z-index:9999;
  background:rgba(255,255,255,0.92); padding:6px 10px; border-radius:4px; max-height:55%;
  overflow-y:auto; box-shadow:0 1px 4px rgba(0,0,0,0.3); font:12px/1.5 sans-serif">
  {% for title, rows, note in this.legends %}
  <div style="margin-bottom:4px"><b>{{ title }}</b><br>
  {% for color, text in rows %}
  <span style="display:inline-block;width:14px;height:10px;background:{{ color }};
    margin-right:6px"></span>{{ text }}<br>
  {% endfor %}
  {% if note %}<i>{{ note }}</i>{% endif %}</div>
  {% endfor %}
</div>
{% endmacro %}
"""

_TITLE = """
{% macro html(this, kwargs) %}
<div class="geo-title" style="position:fixed; top:10px; left:60px; z-index:9999;
  background:rgba(255,255,255,0.9); padding:6px 12px; border-radius:4px;
  font:bold 16px sans-serif; box-shadow:0 1px 4px rgba(0,0,0,0.3)">{{ this.text }}</div>
<style>.geo-label{font:bold 12px sans-serif; text-align:center; white-space:nowrap;
  text-shadow:0 0 3px #fff, 0 0 3px #fff;}</style>
{% endmacro %}
"""

_ATTRIBUTION = """
{% macro script(this, kwargs) %}
{{ this._parent.get_name() }}.attributionControl.addAttribution({{ this.text }});
{% endmacro %}
"""


def _element(template: str, **attributes: Any) -> branca.element.MacroElement:
    element = branca.element.MacroElement()
    element._template = branca.element.Template(template)
    for key, value in attributes.items():
        setattr(element, key, value)
    return element


def web_map(
    layers: dict[str, gpd.GeoDataFrame],
    recipe: MapRecipe,
    *,
    lang: Lang = "zh",
    synthetic: bool = False,
    provenance: list[str] | None = None,
    seed: int = 0,
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
        Seed of the random sample drawn when a point layer has more points
        than its style's ``max_points``; the legend states the sample size.

    Returns
    -------
    folium.Map
    """
    if lang not in ("zh", "en"):
        raise ConfigError(f"unknown map language '{lang}': use zh or en")
    extent = next(iter(layers.values())).to_crs(WGS84).total_bounds
    m = folium.Map(
        location=[(extent[1] + extent[3]) / 2, (extent[0] + extent[2]) / 2],
        zoom_start=9,
        tiles=None,
        prefer_canvas=True,
        control_scale=True,
    )
    folium.TileLayer(recipe.basemap).add_to(m)
    if recipe.basemap.lower() != "openstreetmap":
        folium.TileLayer("openstreetmap", name="OpenStreetMap", show=False).add_to(m)
    legends = []
    for spec in recipe.choropleths:
        gdf = layers.get(spec.layer)
        if gdf is not None and not gdf.empty:
            legend = _choropleth_layer(m, gdf, spec, recipe, lang)
            if legend:
                legends.append(legend)
    sample_notes = []
    for style in recipe.layers:
        gdf = layers.get(style.name)
        if gdf is None or gdf.empty:
            continue
        if style.max_points and len(gdf) > style.max_points:
            # A uniform sample keeps relative densities, so clusters still read right.
            gdf = gdf.sample(n=style.max_points, random_state=seed).sort_index()
            total = len(layers[style.name])
            sample_notes.append(
                f"{style.title(lang)}：随机显示 {len(gdf):,} / {total:,}，完整数据见 GeoPackage"
                if lang == "zh"
                else f"{style.title(lang)}: random sample of {len(gdf):,} of {total:,} shown; "
                "all are in the GeoPackage"
            )
        if style.geometry == "point":
            full = layers[style.name]
            totals = (
                full[style.category_field].value_counts()
                if style.category_field
                else pd.Series({"all": len(full)})
            )
            _point_layers(m, gdf, style, recipe, lang, totals)
        else:
            _polygon_layer(m, gdf, style, recipe, lang)
    m.fit_bounds([[extent[1], extent[0]], [extent[3], extent[2]]])

    synthetic_note = (
        (
            "合成数据：企业为模拟生成，非真实登记信息"
            if lang == "zh"
            else "Synthetic data: enterprises are simulated, not a real register"
        )
        if synthetic
        else ""
    )
    title = recipe.title(lang) + (
        "（合成数据）" if synthetic and lang == "zh" else " (synthetic data)" if synthetic else ""
    )
    # Children of the map render before the page body, so their html lands in it.
    m.add_child(_element(_TITLE, text=html.escape(title)))
    firm_style = recipe.layer("firms")
    if firm_style and "firms" in layers:
        present = set(layers["firms"].get(firm_style.category_field or "", []))
        rows = [(c.color, c.label(lang)) for c in firm_style.categories if c.key in present]
        heading = firm_style.title(lang)
        m.add_child(
            _element(
                _LEGEND, heading=heading, rows=rows, note=synthetic_note, samples=sample_notes
            )
        )
    if legends:
        m.add_child(_element(_CHORO_LEGEND, legends=legends))
    credits = "; ".join([*(provenance or []), *([synthetic_note] if synthetic_note else [])])
    if credits:
        m.add_child(_element(_ATTRIBUTION, text=json.dumps(html.escape(credits))))
    Fullscreen(position="topleft").add_to(m)
    folium.LayerControl(collapsed=False).add_to(m)
    return m


def save_map(m: folium.Map, path: str | Path) -> Path:
    """Write a map to HTML atomically.

    Parameters
    ----------
    m : folium.Map
        The map.
    path : str or Path
        Destination ``.html`` file.

    Returns
    -------
    Path
    """
    path = Path(path)
    with atomic_path(path) as tmp:
        m.save(str(tmp))
    return path
