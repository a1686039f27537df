"""Maps: one recipe, drawn for the browser, the printed report and QGIS.

- :mod:`geo.maps.recipe`: map recipes (``maps/*.toml``), choropleth classes,
  the layers a map can draw;
- :mod:`geo.maps.classify`: class breaks (user-defined, quantiles, Fisher–Jenks)
  as mapclassify computes them, with a kernel compiled once and cached;
- :mod:`geo.maps.web`: the interactive web map (folium/Leaflet);
- :mod:`geo.maps.basemaps`: tile basemaps and their datums (WGS84, GCJ-02);
- :mod:`geo.maps.offline`: self-contained pages (scripts and styles inlined);
- :mod:`geo.maps.static`: static report maps (PNG and PDF, matplotlib), with
  :mod:`geo.maps.fonts` (a font with Chinese glyphs, text wrapping) and
  :mod:`geo.maps.furniture` (north arrow, scale bar, inset);
- :mod:`geo.maps.fontcache`: on-disk cache of the font subsets embedded in PDFs;
- :mod:`geo.maps.styles`: QGIS layer styles stored in GeoPackages.

The recipe and web-map names are importable from here (``from geo.maps import
web_map``); the static maps and QGIS styles load matplotlib and XML writers and
are imported from their modules.
"""

from geo.maps.basemaps import BASEMAPS
from geo.maps.recipe import (
    SYNTHETIC_NOTE,
    SYNTHETIC_TITLE,
    Category,
    Choropleth,
    Lang,
    LayerStyle,
    MapRecipe,
    choropleth_classes,
    classify_values,
    color_ramp,
    drawable_layers,
    load_recipe,
    map_class,
)
from geo.maps.sources import source_note
from geo.maps.web import choose_basemap, save_map, web_map

__all__ = [
    "BASEMAPS",
    "SYNTHETIC_NOTE",
    "SYNTHETIC_TITLE",
    "Category",
    "Choropleth",
    "Lang",
    "LayerStyle",
    "MapRecipe",
    "choose_basemap",
    "choropleth_classes",
    "classify_values",
    "color_ramp",
    "drawable_layers",
    "load_recipe",
    "map_class",
    "save_map",
    "source_note",
    "web_map",
]
