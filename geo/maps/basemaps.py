"""Basemaps of the web map: tile providers, their datum and attribution.

OpenStreetMap and CARTO tiles are WGS84 web mercator; Tianditu's ``_w`` tiles
are CGCS2000, which differs from WGS84 by centimetres; Amap (Gaode) tiles are
drawn in GCJ-02, so overlays must be shifted to GCJ-02 to line up with them.
``none`` draws no tiles: the page then needs no network for its background.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import folium

from geo.errors import ConfigError

BASEMAPS = ("osm", "cartodb", "amap", "amap-satellite", "tianditu", "none")
# Older recipes and configurations name OpenStreetMap as folium does.
_ALIASES = {"openstreetmap": "osm"}

_TIANDITU_WMTS = (
    "https://t{s}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
    "&LAYER={layer}&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles"
    "&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk={token}"
)


@dataclass(frozen=True)
class Tiles:
    """One tile layer: URL template, subdomains, attribution, zoom limit."""

    url: str
    attribution: str
    subdomains: str = "abc"
    max_zoom: int = 18


@dataclass(frozen=True)
class Basemap:
    """A basemap: its tile layers (drawn in order), datum and switchable alternative."""

    name: str
    title_zh: str
    title_en: str
    tiles: tuple[Tiles, ...]
    datum: str = "wgs84"  # the datum overlays must be drawn in: "wgs84" or "gcj02"
    alternative: str | None = None  # a second basemap of the same datum

    def title(self, lang: str) -> str:
        """Name in the layer control."""
        return self.title_zh if lang == "zh" else self.title_en


def canonical_basemap(name: str) -> str:
    """Return the canonical basemap name (``openstreetmap`` is ``osm``).

    Parameters
    ----------
    name : str
        A name from :data:`BASEMAPS` or an alias.

    Returns
    -------
    str

    Raises
    ------
    ConfigError
        For an unknown name.
    """
    key = _ALIASES.get(name.strip().lower(), name.strip().lower())
    if key not in BASEMAPS:
        raise ConfigError(f"unknown basemap '{name}': use one of {', '.join(BASEMAPS)}")
    return key


def basemap(name: str, tianditu_token: str | None = None) -> Basemap:
    """Describe basemap ``name``.

    Parameters
    ----------
    name : str
        One of :data:`BASEMAPS` (or an alias).
    tianditu_token : str, optional
        Tianditu key; defaults to the ``TIANDITU_TOKEN`` environment variable.
        Only ``tianditu`` needs it. The key ends up in the page, as every
        browser that draws the tiles sends it.

    Returns
    -------
    Basemap

    Raises
    ------
    ConfigError
        For an unknown name or a Tianditu basemap without a token.
    """
    name = canonical_basemap(name)
    if name == "osm":
        tiles = Tiles(
            "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
            '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> '
            "contributors",
            max_zoom=19,
        )
        return Basemap(name, "OpenStreetMap", "OpenStreetMap", (tiles,), alternative="cartodb")
    if name == "cartodb":
        tiles = Tiles(
            "https://{s}.basemaps.cartocdn.com/light_all/{z}/{x}/{y}{r}.png",
            '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> '
            'contributors &copy; <a href="https://carto.com/attributions">CARTO</a>',
            subdomains="abcd",
            max_zoom=20,
        )
        return Basemap(name, "CARTO 浅色", "CARTO Positron", (tiles,), alternative="osm")
    if name in ("amap", "amap-satellite"):
        road = name == "amap"
        host, style = ("webrd", 8) if road else ("webst", 6)
        tiles = Tiles(
            f"https://{host}0{{s}}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1"
            f"&style={style}&x={{x}}&y={{y}}&z={{z}}",
            '&copy; <a href="https://www.amap.com/">高德地图 AutoNavi</a>',
            subdomains="1234",
        )
        return Basemap(
            name, "高德地图" if road else "高德卫星影像", "Amap" if road else "Amap satellite",
            (tiles,), datum="gcj02", alternative="amap-satellite" if road else "amap",
        )
    if name == "tianditu":
        token = tianditu_token or os.environ.get("TIANDITU_TOKEN")
        if not token:
            raise ConfigError(
                "the tianditu basemap needs a key: pass --tianditu-token KEY or set the "
                "TIANDITU_TOKEN environment variable (a free browser key from "
                "https://console.tianditu.gov.cn/)"
            )
        attribution = '&copy; <a href="https://www.tianditu.gov.cn/">天地图 Tianditu</a>'
        # vector map, then its label overlay; CGCS2000 and WGS84 differ by
        # centimetres, so OSM lines up as well
        tiles = tuple(
            Tiles(_TIANDITU_WMTS.replace("{layer}", layer).replace("{token}", token),
                  attribution, subdomains="01234567")
            for layer in ("vec", "cva")
        )
        return Basemap(name, "天地图", "Tianditu", tiles, alternative="osm")
    return Basemap(name, "无底图", "No tiles", ())


def add_basemap(m: folium.Map, base: Basemap, lang: str) -> None:
    """Add a basemap's tiles and its alternative (not shown) to the map's base layers.

    Parameters
    ----------
    m : folium.Map
        The map.
    base : Basemap
        The basemap shown when the page opens.
    lang : {"zh", "en"}
        Language of the names in the layer control.
    """
    choices = [(base, True)]
    if base.alternative:
        choices.append((basemap(base.alternative), False))
    for choice, show in choices:
        if not choice.tiles:
            continue
        # one base-layer choice, even when it stacks tiles (Tianditu's labels)
        group = folium.FeatureGroup(name=choice.title(lang), overlay=False, show=show)
        for tiles in choice.tiles:
            folium.TileLayer(
                tiles.url,
                attr=tiles.attribution,
                subdomains=tiles.subdomains,
                max_zoom=tiles.max_zoom,
                max_native_zoom=tiles.max_zoom,
                control=False,
            ).add_to(group)
        group.add_to(m)
