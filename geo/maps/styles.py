"""QGIS styles (QML) from the map recipes, stored in a GeoPackage's ``layer_styles`` table.

QGIS reads the OGC-style ``layer_styles`` table of a GeoPackage and applies
the default style of each layer when it is opened, so the layers of
``layers.gpkg`` arrive symbolised as on the web map: single symbols for zone
outlines, categories for the enterprises and hot spots, graduated classes for
the indices, labels, and Chinese field aliases. The styles come from the same
recipe (``maps/*.toml``) as the web map.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import sqlite3
from pathlib import Path
from xml.etree import ElementTree as ET

import geopandas as gpd

from geo.maps.recipe import Choropleth, LayerStyle, MapRecipe, choropleth_classes, label_priority

QGIS_VERSION = "3.28.0"


def _rgba(color: str, opacity: float = 1.0) -> str:
    color = color.lstrip("#")
    r, g, b = (int(color[i:i + 2], 16) for i in (0, 2, 4))
    return f"{r},{g},{b},{round(255 * opacity)}"


def _option_map(parent: ET.Element, values: dict[str, str]) -> None:
    options = ET.SubElement(parent, "Option", type="Map")
    for name, value in values.items():
        ET.SubElement(options, "Option", name=name, type="QString", value=str(value))


def _symbol(parent: ET.Element, name: str, kind: str, fill: str, stroke: str,
            opacity: float, width: float = 0.3, size: float = 2.0, dash: bool = False) -> None:
    symbol = ET.SubElement(parent, "symbol", type=kind, name=name, alpha="1",
                           clip_to_extent="1", force_rhr="0")
    if kind == "marker":
        layer = ET.SubElement(symbol, "layer", {"class": "SimpleMarker", "enabled": "1",
                                                "locked": "0", "pass": "0"})
        _option_map(layer, {"color": _rgba(fill, opacity), "name": "circle",
                            "size": f"{size:g}", "size_unit": "MM", "outline_style": "no"})
    else:
        layer = ET.SubElement(symbol, "layer", {"class": "SimpleFill", "enabled": "1",
                                                "locked": "0", "pass": "0"})
        _option_map(layer, {
            "color": _rgba(fill, opacity), "style": "solid",
            "outline_color": _rgba(stroke), "outline_width": f"{width:g}",
            "outline_width_unit": "MM", "outline_style": "dash" if dash else "solid",
        })


_MAX_LABELLED = 300
_UNLABELLED = {"town_centres"}


def _document(renderer: ET.Element, aliases: dict[str, str], label: str | None,
              layer: str = "", polygons: bool = True) -> str:
    root = ET.Element("qgis", version=QGIS_VERSION, styleCategories="AllStyleCategories")
    root.append(renderer)
    if label:
        labeling = ET.SubElement(root, "labeling", type="simple")
        settings = ET.SubElement(labeling, "settings", calloutType="simple")
        ET.SubElement(settings, "text-style", fieldName=label, fontSize="9",
                      fontFamily="Noto Sans CJK SC", textColor="40,40,40,255")
        # a white halo keeps labels readable over choropleths and points
        ET.SubElement(settings, "text-buffer", bufferDraw="1", bufferSize="1",
                      bufferSizeUnits="MM", bufferColor="255,255,255,255", bufferOpacity="1")
        # polygons: horizontal label around the centroid (placement 0 = around point for
        # points, 1 = over point / horizontal for polygons); a fitting priority
        ET.SubElement(settings, "placement", placement="1" if polygons else "0",
                      priority=str(label_priority(layer)), dist="1",
                      centroidInside="1", fitInPolygonOnly="0")
        # zone polygons must not push other layers' labels away: only their own
        # labels take space (obstacle off), as on the web map
        ET.SubElement(settings, "obstacle_settings", isObstacle="0" if polygons else "1",
                      obstacleFactor="1", obstacleType="0")
        ET.SubElement(settings, "rendering", obstacle="0" if polygons else "1",
                      obstacleFactor="1", obstacleType="0", displayAll="0",
                      upsidedownLabels="0", labelPerPart="0", mergeLines="0",
                      scaleVisibility="0", fontLimitPixelSize="0", zIndex="0")
    alias_node = ET.SubElement(root, "aliases")
    for index, (field, name) in enumerate(aliases.items()):
        ET.SubElement(alias_node, "alias", field=field, index=str(index), name=name)
    body = ET.tostring(root, encoding="unicode")
    return "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n" + body


def layer_qml(style: LayerStyle, frame: gpd.GeoDataFrame, recipe: MapRecipe,
              lang: str = "zh") -> str:
    """QML of a recipe layer: single symbol, or categories for point layers."""
    kind = "marker" if style.geometry == "point" else "fill"
    if style.categories and style.category_field:
        renderer = ET.Element("renderer-v2", type="categorizedSymbol",
                              attr=style.category_field, symbollevels="0", forceraster="0")
        categories = ET.SubElement(renderer, "categories")
        symbols = ET.SubElement(renderer, "symbols")
        for k, category in enumerate(style.categories):
            ET.SubElement(categories, "category", value=category.key, symbol=str(k),
                          label=category.label(lang), render="true")
            _symbol(symbols, str(k), kind, category.color, category.color, style.fill_opacity,
                    size=style.radius * 0.6)
    else:
        renderer = ET.Element("renderer-v2", type="singleSymbol", symbollevels="0",
                              forceraster="0")
        symbols = ET.SubElement(renderer, "symbols")
        _symbol(symbols, "0", kind, style.fill_color, style.color, style.fill_opacity,
                width=style.weight * 0.25, size=style.radius * 0.6, dash=bool(style.dash))
    return _document(renderer, _aliases(frame, recipe, lang), style.label_column(lang),
                     style.name, polygons=kind == "fill")


def choropleth_qml(spec: Choropleth, frame: gpd.GeoDataFrame, recipe: MapRecipe,
                   lang: str = "zh") -> str:
    """QML of a choropleth: categories, or the web map's classes and zones.

    Graduated when every zone is drawn; rule-based when the maps leave zones
    out (``where``, ``min_firms``), so QGIS leaves out the same ones.
    """
    kind = "marker" if (frame.geom_type == "Point").all() else "fill"
    if spec.scheme == "categorical":
        renderer = ET.Element("renderer-v2", type="categorizedSymbol", attr=spec.column,
                              symbollevels="0", forceraster="0")
        categories = ET.SubElement(renderer, "categories")
        symbols = ET.SubElement(renderer, "symbols")
        for k, category in enumerate(spec.categories):
            ET.SubElement(categories, "category", value=category.key, symbol=str(k),
                          label=category.label(lang), render="true")
            _symbol(symbols, str(k), kind, category.color, "#ffffff", spec.fill_opacity)
    else:
        # the same zones (where, min_firms), breaks and colours as the web and static maps
        drawn = choropleth_classes(frame, spec, lang)
        classes = drawn[1] if drawn else []
        conditions = []
        if spec.where and spec.where in frame.columns:
            conditions.append(f'"{spec.where}"')
        if spec.min_firms and "n_firms" in frame.columns:
            conditions.append(f'"n_firms" >= {spec.min_firms}')
        if conditions:
            # a graduated renderer would colour the zones the maps leave out: rules can filter
            renderer = ET.Element("renderer-v2", type="RuleRenderer", symbollevels="0",
                                  forceraster="0")
            rules = ET.SubElement(renderer, "rules", key="root")
        else:
            renderer = ET.Element("renderer-v2", type="graduatedSymbol", attr=spec.column,
                                  graduatedMethod="GraduatedColor", symbollevels="0",
                                  forceraster="0")
            ranges = ET.SubElement(renderer, "ranges")
        symbols = ET.SubElement(renderer, "symbols")
        shown = drawn[0] if drawn else frame.iloc[:0]
        for k, (color, text) in enumerate(classes):
            # the limits are those of the features the maps give this colour, exact to
            # the last digit; rounded limits ("3.18") would leave a zone at 3.18069 out
            values = shown.loc[shown["_color"] == color, spec.column].astype(float)
            if values.empty:
                continue
            lower, upper = repr(float(values.min())), repr(float(values.max()))
            if conditions:
                bounds = [f'"{spec.column}" >= {lower}', f'"{spec.column}" <= {upper}']
                ET.SubElement(rules, "rule", key=f"r{k}", symbol=str(k), label=text,
                              filter=" AND ".join([*conditions, *bounds]))
            else:
                ET.SubElement(ranges, "range", lower=lower, upper=upper,
                              symbol=str(k), label=text, render="true")
            _symbol(symbols, str(k), kind, color, "#ffffff", spec.fill_opacity)
    return _document(renderer, _aliases(frame, recipe, lang), None)


def plain_qml(name: str, frame: gpd.GeoDataFrame, recipe: MapRecipe, lang: str = "zh") -> str:
    """QML of a layer the recipe does not style: grey outlines or small points, name labels.

    Parameters
    ----------
    name : str
        Layer name (for its label priority).
    frame : GeoDataFrame
        The layer.
    recipe : MapRecipe
        For the field aliases.
    lang : {"zh", "en"}
        Language of labels and aliases.

    Returns
    -------
    str
    """
    points = bool((frame.geom_type.isin(["Point", "MultiPoint"])).all())
    renderer = ET.Element("renderer-v2", type="singleSymbol", symbollevels="0",
                          forceraster="0")
    symbols = ET.SubElement(renderer, "symbols")
    if points:
        _symbol(symbols, "0", "marker", "#636363", "#ffffff", 0.9, size=1.8)
    else:
        _symbol(symbols, "0", "fill", "#ffffff", "#969696", 0.0, width=0.15)
    # names label a few zones; not thousands of grid cells, nor the town centres
    # whose towns carry the same name
    label = None
    if len(frame) <= _MAX_LABELLED and name not in _UNLABELLED:
        label = f"name_{lang}" if f"name_{lang}" in frame.columns else (
            "name_zh" if "name_zh" in frame.columns else None)
    return _document(renderer, _aliases(frame, recipe, lang), label, name, polygons=not points)


def _aliases(frame: gpd.GeoDataFrame, recipe: MapRecipe, lang: str) -> dict[str, str]:
    return {c: recipe.alias(c, lang) for c in frame.columns
            if c != frame.geometry.name and recipe.alias(c, lang) != c}


def write_layer_styles(
    gpkg: str | Path, layers: dict[str, gpd.GeoDataFrame], recipe: MapRecipe, lang: str = "zh"
) -> int:
    """Store QML styles of the recipe's layers and choropleths in ``gpkg``'s ``layer_styles``.

    Parameters
    ----------
    gpkg : str or Path
        The GeoPackage (written by :func:`geo.export.layers.write_geopackage`).
    layers : dict of str to GeoDataFrame
        The layers it holds (to classify values and list fields).
    recipe : MapRecipe
        Styles.
    lang : {"zh", "en"}
        Language of labels and aliases.

    Returns
    -------
    int
        Number of styles written.
    """
    rows = []
    for style in recipe.layers:
        frame = layers.get(style.name)
        if isinstance(frame, gpd.GeoDataFrame) and not frame.empty:
            rows.append((style.name, style.title(lang), layer_qml(style, frame, recipe, lang)))
    for spec in recipe.choropleths:
        frame = layers.get(spec.layer)
        if isinstance(frame, gpd.GeoDataFrame) and spec.column in frame.columns:
            rows.append((spec.layer, spec.title(lang), choropleth_qml(spec, frame, recipe, lang)))
    covered = {table for table, _, _ in rows}
    for name, frame in layers.items():
        if isinstance(frame, gpd.GeoDataFrame) and not frame.empty and name not in covered:
            rows.append((name, name, plain_qml(name, frame, recipe, lang)))
    # GeoPackage DATETIME with milliseconds: GDAL warns on "…:58Z" ("non-conformant")
    now = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    # closed on leaving (sqlite3's own context only commits): the file is renamed next
    with contextlib.closing(sqlite3.connect(gpkg)) as db, db:
        db.execute(
            """CREATE TABLE IF NOT EXISTS layer_styles (
                id INTEGER PRIMARY KEY AUTOINCREMENT, f_table_catalog TEXT(256),
                f_table_schema TEXT(256), f_table_name TEXT(256),
                f_geometry_column TEXT(256), styleName TEXT(30), styleQML TEXT,
                styleSLD TEXT, useAsDefault BOOLEAN, description TEXT, owner TEXT(30),
                ui TEXT(30), update_time DATETIME DEFAULT CURRENT_TIMESTAMP)"""
        )
        seen: set[str] = set()
        for table, name, qml in rows:
            db.execute(
                "INSERT INTO layer_styles (f_table_catalog, f_table_schema, f_table_name, "
                "f_geometry_column, styleName, styleQML, styleSLD, useAsDefault, description, "
                "owner, ui, update_time) VALUES ('', '', ?, 'geom', ?, ?, '', ?, ?, 'geo', '', ?)",
                (table, name, qml, table not in seen, f"geo map recipe: {name}", now),
            )
            seen.add(table)
        # register the table so GeoPackage readers see it as an attributes table
        db.execute(
            "INSERT OR IGNORE INTO gpkg_contents (table_name, data_type, identifier) "
            "VALUES ('layer_styles', 'attributes', 'layer_styles')"
        )
    return len(rows)
