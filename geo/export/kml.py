"""Attributes and class styles for KML exports, so Google Earth and QGIS can style them.

GDAL writes each placemark's geometry, name and HTML description
(:func:`geo.export.layers.export_layers`); :func:`style_kml` then adds

- every attribute as typed ``<ExtendedData>`` (a ``<Schema>`` of
  ``<SimpleField>`` with ``<SimpleData>`` per placemark, as GDAL's KML and
  LIBKML drivers write and read it), so QGIS reads the attributes and Google
  Earth lists them in the balloon;
- one shared ``<Style>`` per class of the layer and a ``<styleUrl>`` on every
  placemark: the classes and colours of the map recipe (``maps/*.toml``), the
  same as on the web map and in the QGIS styles. A layer the recipe draws with
  categories (the firms' ``map_class``) gets a style per category; a layer it
  draws with one symbol (districts, platforms...) gets that symbol; a layer of
  a choropleth (``districts_indices``, ``grid_clusters``...) gets the classes of
  the recipe's first choropleth of that layer, from
  :func:`geo.maps.recipe.choropleth_classes`. Features the maps leave out
  (missing values, too few firms, hot-spot cells not significant or not
  tested) get a faint ``unclassified`` style; layers the recipe does not know
  get one plain style.

Google Earth renders names, descriptions and extended-data values as HTML, so
text values are HTML-escaped there too (a firm named ``<script>`` reaches the
file as ``&amp;lt;script&amp;gt;``); XML then escapes the text once more.
KML colours are ``aabbggrr``.
"""

from __future__ import annotations

import datetime as _dt
import numbers
import re
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree as ET

import geopandas as gpd
import numpy as np
import pandas as pd

from geo.errors import OutputError
from geo.maps.recipe import MapRecipe, choropleth_classes, load_recipe
from geo.safety import escape_html

KML_NS = "http://www.opengis.net/kml/2.2"
_Q = f"{{{KML_NS}}}"
SCHEMA_ID = "attributes"
# Google Earth's round marker; it tints the white icon with IconStyle's colour
POINT_ICON = "https://maps.google.com/mapfiles/kml/shapes/placemark_circle.png"
# above this many points, names are not drawn on the globe (they stay in the list
# and balloons): thousands of firm names would hide the map
_MAX_LABELLED_POINTS = 300
# characters XML 1.0 cannot hold, even escaped
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_RGB = re.compile(r"rgba?\(\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+)\s*(?:,\s*[\d.]+\s*)?\)")


@dataclass(frozen=True)
class KmlStyle:
    """One shared ``<Style>`` of a KML document.

    Attributes
    ----------
    id : str
        The style's id (``styleUrl`` ``#id``).
    fill : str
        CSS colour of polygon fills and point icons.
    fill_opacity : float
        Opacity of the fill (0-1).
    outline : str
        CSS colour of outlines.
    width : float
        Outline width in pixels.
    point : bool
        Points (IconStyle) rather than lines and polygons (LineStyle, PolyStyle).
    scale : float
        Icon scale of points.
    """

    id: str
    fill: str
    fill_opacity: float
    outline: str
    width: float = 1.0
    point: bool = False
    scale: float = 0.5


def kml_color(color: str, opacity: float = 1.0) -> str:
    """Convert a CSS colour (``#rrggbb``, a name, ``rgb(r, g, b)``) to KML's ``aabbggrr``.

    Parameters
    ----------
    color : str
        The colour, as the map recipe writes it.
    opacity : float
        Alpha, 0 (transparent) to 1.

    Returns
    -------
    str
        Eight hex digits; grey for a colour that cannot be read.

    Examples
    --------
    >>> kml_color("#b2182b", 0.5)
    '802b18b2'
    """
    from matplotlib.colors import to_rgb

    match = _RGB.fullmatch(str(color).strip())
    if match:
        r, g, b = (min(int(v), 255) for v in match.groups())
    else:
        try:
            r, g, b = (round(255 * v) for v in to_rgb(str(color).strip()))
        except ValueError:
            r = g = b = 128
    alpha = round(255 * min(max(float(opacity), 0.0), 1.0))
    return f"{alpha:02x}{b:02x}{g:02x}{r:02x}"


def _is_point_layer(frame: gpd.GeoDataFrame) -> bool:
    kinds = frame.geometry.dropna().geom_type
    return bool(len(kinds)) and bool(kinds.isin(["Point", "MultiPoint"]).all())


def layer_styles(
    name: str, frame: gpd.GeoDataFrame, recipe: MapRecipe | None = None, lang: str = "zh"
) -> tuple[list[KmlStyle], np.ndarray]:
    """Return the KML styles of a layer and the style of each feature, from the recipe.

    Parameters
    ----------
    name : str
        Layer name (as in the recipe: ``firms``, ``districts_indices``...).
    frame : GeoDataFrame
        The layer.
    recipe : MapRecipe, optional
        The map recipe; the bundled default when omitted.
    lang : {"zh", "en"}
        Language of categorical choropleth labels (the classes do not depend on it).

    Returns
    -------
    tuple
        ``(styles, which)``: the styles, and for each row of ``frame`` (in
        order) the position of its style in ``styles``.
    """
    recipe = recipe or load_recipe("default")
    frame = frame.reset_index(drop=True)
    point = _is_point_layer(frame)
    scale = 0.4 if len(frame) > _MAX_LABELLED_POINTS else 0.6
    which = np.full(len(frame), -1, dtype=np.int64)
    styles: list[KmlStyle] = []
    layer = recipe.layer(name)
    spec = next((c for c in recipe.choropleths
                 if c.layer == name and c.column in frame.columns), None)
    if layer is not None and layer.categories and layer.category_field in frame.columns:
        for k, category in enumerate(layer.categories):
            styles.append(KmlStyle(f"class_{k}", category.color, layer.fill_opacity,
                                   category.color, layer.weight, point, scale))
        keys = {category.key: k for k, category in enumerate(layer.categories)}
        which = frame[layer.category_field].map(keys).fillna(-1).to_numpy(np.int64)
    elif layer is not None:
        styles.append(KmlStyle("layer", layer.fill_color, layer.fill_opacity, layer.color,
                               layer.weight, point, scale))
        which[:] = 0
    elif spec is not None and (drawn := choropleth_classes(frame, spec, lang)) is not None:
        shown, rows, _ = drawn
        # white outlines, as the QGIS styles draw choropleth classes
        styles = [KmlStyle(f"class_{k}", color, spec.fill_opacity, "#ffffff", 0.5, point, scale)
                  for k, (color, _) in enumerate(rows)]
        first = {}
        for k, (color, _) in enumerate(rows):
            first.setdefault(color, k)
        which[shown.index.to_numpy()] = shown["_color"].map(first).to_numpy(np.int64)
    else:
        # as the QGIS style of a layer the recipe does not know: grey outlines, grey points
        styles.append(KmlStyle("plain", "#636363" if point else "#ffffff", 0.9 if point else 0.0,
                               "#969696", 1.0, point, scale))
        which[:] = 0
    if (which < 0).any():
        # what the maps leave out stays in the file, faint, with its attributes
        styles.append(KmlStyle("unclassified", "#9e9e9e", 0.5 if point else 0.0, "#bdbdbd",
                               0.5, point, scale * 0.7))
        which[which < 0] = len(styles) - 1
    return styles, which


def _style_element(style: KmlStyle, labels: bool) -> ET.Element:
    element = ET.Element(f"{_Q}Style", id=style.id)
    if style.point:
        icon_style = ET.SubElement(element, f"{_Q}IconStyle")
        ET.SubElement(icon_style, f"{_Q}color").text = kml_color(style.fill, style.fill_opacity)
        ET.SubElement(icon_style, f"{_Q}scale").text = f"{style.scale:g}"
        icon = ET.SubElement(icon_style, f"{_Q}Icon")
        ET.SubElement(icon, f"{_Q}href").text = POINT_ICON
        if not labels:
            label_style = ET.SubElement(element, f"{_Q}LabelStyle")
            ET.SubElement(label_style, f"{_Q}scale").text = "0"
    else:
        line = ET.SubElement(element, f"{_Q}LineStyle")
        ET.SubElement(line, f"{_Q}color").text = kml_color(style.outline)
        ET.SubElement(line, f"{_Q}width").text = f"{style.width:g}"
        poly = ET.SubElement(element, f"{_Q}PolyStyle")
        ET.SubElement(poly, f"{_Q}color").text = kml_color(style.fill, style.fill_opacity)
        ET.SubElement(poly, f"{_Q}fill").text = "1" if style.fill_opacity > 0 else "0"
        ET.SubElement(poly, f"{_Q}outline").text = "1"
    return element


def _kml_type(values: pd.Series) -> str:
    """KML SimpleField type of a column (GDAL reads int, double and bool back typed)."""
    if pd.api.types.is_bool_dtype(values):
        return "bool"
    if pd.api.types.is_integer_dtype(values):
        return "int"
    if pd.api.types.is_float_dtype(values):
        return "double"
    return "string"


def _kml_value(value: object) -> str | None:
    """Text of one attribute value (None for a missing one); text is HTML-escaped."""
    if value is None or (not isinstance(value, str) and pd.api.types.is_scalar(value)
                         and pd.isna(value)):
        return None
    if isinstance(value, bool | np.bool_):
        return "1" if value else "0"
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        return repr(float(value))
    if isinstance(value, _dt.datetime | _dt.date | pd.Timestamp):
        return value.isoformat()
    return escape_html(_NOT_XML.sub("", str(value)))


def _field_name(name: object) -> str:
    """Return a field or layer name for an XML attribute (escaped: headers are data too)."""
    return escape_html(_NOT_XML.sub("", str(name)))


def style_kml(path: str | Path, frame: gpd.GeoDataFrame, layer: str,
              recipe: MapRecipe | None = None, lang: str = "zh") -> None:
    """Add typed extended data and the recipe's class styles to a KML GDAL wrote.

    Parameters
    ----------
    path : str or Path
        The KML file (one layer, one placemark per row of ``frame``, in order);
        rewritten in place.
    frame : GeoDataFrame
        The layer's attributes and geometries.
    layer : str
        Layer name, to find its style in the recipe.
    recipe : MapRecipe, optional
        The map recipe; the bundled default when omitted.
    lang : {"zh", "en"}
        Language of categorical labels.

    Raises
    ------
    OutputError
        If the file does not hold one placemark per row.
    """
    path = Path(path)
    ET.register_namespace("", KML_NS)
    tree = ET.parse(path)
    document = tree.getroot().find(f"{_Q}Document")
    placemarks = list(tree.getroot().iter(f"{_Q}Placemark"))
    if document is None or len(placemarks) != len(frame):
        raise OutputError(f"KML of layer '{layer}' has {len(placemarks)} placemarks for "
                          f"{len(frame)} features", file=path)
    frame = frame.reset_index(drop=True)
    styles, which = layer_styles(layer, frame, recipe, lang)
    labels = not (styles[0].point and len(frame) > _MAX_LABELLED_POINTS)
    # the layer becomes a Document of its own, as GDAL's LIBKML driver writes layers:
    # LIBKML reads a KMZ's SchemaData only from a schema in the placemarks' Document
    container = document.find(f"{_Q}Folder")
    if container is not None:
        container.tag = f"{_Q}Document"
    else:
        container = document
    # KML 2.2 order: name, styles, schema, placemarks
    head = [_style_element(style, labels) for style in styles]
    schema = ET.Element(f"{_Q}Schema", name=_field_name(layer), id=SCHEMA_ID)
    columns = [c for c in frame.columns if c != frame.geometry.name]
    for column in columns:
        ET.SubElement(schema, f"{_Q}SimpleField", name=_field_name(column),
                      type=_kml_type(frame[column]))
    head.append(schema)
    start = 1 if len(container) and container[0].tag == f"{_Q}name" else 0
    for position, element in enumerate(head, start):
        container.insert(position, element)
    records = frame[columns].to_dict("records")
    for placemark, record, k in zip(placemarks, records, which, strict=True):
        # GDAL's inline default style (red outline, no fill) would override the shared one
        for inline in placemark.findall(f"{_Q}Style") + placemark.findall(f"{_Q}StyleMap"):
            placemark.remove(inline)
        children = list(placemark)
        after = max((i for i, c in enumerate(children)
                     if c.tag in (f"{_Q}name", f"{_Q}description")), default=-1)
        style_url = ET.Element(f"{_Q}styleUrl")
        style_url.text = f"#{styles[k].id}"
        extended = ET.Element(f"{_Q}ExtendedData")
        data = ET.SubElement(extended, f"{_Q}SchemaData", schemaUrl=f"#{SCHEMA_ID}")
        for column in columns:
            text = _kml_value(record[column])
            if text is not None:
                ET.SubElement(data, f"{_Q}SimpleData", name=_field_name(column)).text = text
        # Placemark order: name, description, styleUrl, ExtendedData, geometry
        placemark.insert(after + 1, style_url)
        placemark.insert(after + 2, extended)
    tree.write(path, encoding="utf-8", xml_declaration=True)
