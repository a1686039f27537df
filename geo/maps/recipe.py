"""Map recipes (``maps/*.toml``): which layers a map shows and how each is styled.

A recipe is read by every renderer (the web map, the static report maps, the
QGIS styles), so a layer looks the same everywhere. Choropleth classes are
computed here once, from the data, for all of them.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.errors import ConfigError
from geo.maps.basemaps import canonical_basemap
from geo.resources import bundled_dir

Lang = str  # "zh" or "en"


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
    # whether the web map opens with the layer on (a busy first view hides the result)
    show: bool = True

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
    # a sentence under the legend: what the classes are relative to; with
    # ``note_unless`` (a boolean column), only when some feature has it false
    note_zh: str = ""
    note_en: str = ""
    note_unless: str | None = None

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

    def default_basemap(self, lang: Lang) -> str:
        """Basemap of a map in ``lang``: ``auto`` is Amap for Chinese, OSM for English.

        Amap's tiles load on mainland networks (its GCJ-02 datum is handled);
        OpenStreetMap's English labels suit English readers.
        """
        if self.basemap == "auto":
            return "amap" if lang == "zh" else "osm"
        return self.basemap

    def layer(self, name: str) -> LayerStyle | None:
        """Return the style of layer ``name``, if the recipe has one."""
        return next((layer for layer in self.layers if layer.name == name), None)


# Which label gives way when two compete for room, on the web map and in QGIS
# (QGIS priorities run 0-10): the proposed zones first, districts last.
_LABEL_PRIORITY = {"site_zones": 10, "ps_clusters": 8, "towns": 7, "town_centres": 7,
                   "platforms": 6, "districts": 3}


def label_priority(layer: str) -> int:
    """Return the label priority of a layer (0-10, higher placed first; others 5)."""
    return _LABEL_PRIORITY.get(layer, 5)


def _recipe_basemap(name: str) -> str:
    """Return a recipe's basemap: ``auto`` (by the map's language) or a basemap name."""
    return "auto" if str(name).strip().lower() == "auto" else canonical_basemap(name)


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
            basemap=_recipe_basemap(head.get("basemap", "auto")),
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
    if spec.scheme == "categorical":
        keys = [c.key for c in spec.categories]
        classes = values.map({k: i for i, k in enumerate(keys)}).fillna(-1).to_numpy(int)
        return classes, [c.label(lang) for c in spec.categories]
    y = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    finite = np.isfinite(y)
    classes = np.full(len(y), -1)
    if not finite.any():
        return classes, []
    # the schemes of the bundled recipe are classified in geo.maps.classify (exactly as
    # mapclassify, whose import compiles a kernel for seconds); others by mapclassify
    from geo.maps.classify import SCHEMES, class_breaks, scheme_key

    k = max(min(spec.k, len(np.unique(y[finite]))), 1)
    if scheme_key(spec.scheme) in SCHEMES:
        classes[finite], bins = class_breaks(y[finite], spec.scheme, k=k, bins=spec.bins)
    else:
        import mapclassify

        result = mapclassify.classify(y[finite], spec.scheme, k=k)
        classes[finite], bins = result.yb, result.bins
    bounds = [float(np.min(y[finite])), *map(float, bins)]
    labels = [f"{bounds[c]:.2f}–{bounds[c + 1]:.2f}" for c in range(len(bins))]
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
    own = spec.note_zh if lang == "zh" else spec.note_en
    if spec.note_unless and spec.note_unless in gdf.columns and gdf[spec.note_unless].astype(
            str).str.lower().isin(("true", "1")).all():
        own = ""
    note = "；".join(filter(None, (note, own))) if lang == "zh" else "; ".join(
        filter(None, (note, own)))
    return frame, list(zip(colors, labels, strict=True)), note



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


