"""The web map in a real headless browser (Chromium driven by Selenium).

The other map tests read the HTML folium writes; these open it in Chromium with
the network switched off and ask Leaflet what it actually drew: whether an
offline map works with no network at all, where a known firm lands on an OSM
and on an Amap (GCJ-02) basemap, and whether the layer control works.

Chromium and chromedriver come from the system (Debian: ``apt-get install
chromium chromium-driver``; ``.ci/run`` installs them). Without them, or
without the ``selenium`` package, the module is skipped.
"""

from __future__ import annotations

import io
import re
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from chromium import (  # skips the module without selenium
    FEATURES_JS,
    MAP_JS,
    offline_chromium,
    sent_requests,
    severe,
)
from pyproj import Geod
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.support.ui import WebDriverWait

from geo.io.crs import transform_geometries, wgs84_to_gcj02
from geo.io.zones import load_layer
from geo.maps import load_recipe, save_map, web_map

pytestmark = pytest.mark.browser

WIDTH, HEIGHT = 1280, 900
GEOD = Geod(ellps="WGS84")
# A firm away from all the others, in central Hangzhou (WGS84).
KNOWN_ID = "known"
KNOWN_LON, KNOWN_LAT = 120.1700, 30.2800
KNOWN_CLASS = "manufacturing_high_tech"  # drawn #b71c1c (red)
TOWN = "梦想小镇"  # a small polygon whose displayed position is checked


@pytest.fixture(scope="module")
def driver():
    """One headless Chromium for the module, with every http(s) request blocked."""
    with offline_chromium(WIDTH, HEIGHT) as browser:
        yield browser


def _firms(n: int = 300, seed: int = 0) -> gpd.GeoDataFrame:
    """``n`` firms spread over urban Hangzhou plus the known one, alone in its area."""
    rng = np.random.default_rng(seed)
    lon = 120.00 + rng.random(n * 2) * 0.40
    lat = 30.10 + rng.random(n * 2) * 0.35
    away = np.hypot(lon - KNOWN_LON, lat - KNOWN_LAT) > 0.02
    lon, lat = lon[away][:n], lat[away][:n]
    keys = [c.key for c in load_recipe("default").layer("firms").categories]
    classes = np.array(keys)[np.arange(n) % len(keys)]
    return gpd.GeoDataFrame(
        {
            "firm_id": [KNOWN_ID, *(f"f{i}" for i in range(n))],
            "name": ["已知企业", *(f"企业{i}" for i in range(n))],
            "employees": [120, *rng.integers(1, 500, n).tolist()],
            "map_class": [KNOWN_CLASS, *classes],
        },
        geometry=shapely.points([KNOWN_LON, *lon], [KNOWN_LAT, *lat]),
        crs="EPSG:4326",
    )


@pytest.fixture(scope="module")
def layers():
    zones = {name: load_layer(name) for name in ("districts", "platforms", "towns")}
    return {**zones, "firms": _firms()}


@pytest.fixture(scope="module")
def pages(layers, tmp_path_factory):
    """Build maps on demand: ``pages(lang=..., basemap=..., offline=...) -> Path``."""
    folder = tmp_path_factory.mktemp("web_maps")
    recipe = load_recipe("default")
    built: dict[tuple, Path] = {}

    def build(*, lang: str = "zh", basemap: str = "none", offline: bool = True) -> Path:
        """``offline=False``: the page as folium renders it, before geo inlines its assets."""
        key = (lang, basemap, offline)
        if key not in built:
            m = web_map(layers, recipe, lang=lang, basemap=basemap)
            path = folder / f"map_{lang}_{basemap}_{'offline' if offline else 'online'}.html"
            if offline:
                built[key] = save_map(m, path)
            else:
                path.write_text(m.get_root().render(), encoding="utf-8")
                built[key] = path
        return built[key]

    return build


# JavaScript run in the page. MAP finds folium's map object (``var map_<hash>``).
_MAP = MAP_JS
_READY = _MAP + "return MAP !== undefined && MAP._loaded === true;"
_FEATURES = FEATURES_JS
# How much is drawn: painted pixels of Leaflet's canvas plus SVG paths (either renderer).
_DRAWN = """
let painted = 0;
for (const c of document.querySelectorAll('.leaflet-overlay-pane canvas')) {
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    for (let i = 3; i < d.length; i += 4) if (d[i] > 0) painted++;
}
const paths = document.querySelectorAll('.leaflet-overlay-pane svg path').length;
return {painted: painted, paths: paths, total: painted + paths};
"""
_FIND = _MAP + """
const [key, value] = [arguments[0], arguments[1]];
let hit = null;
MAP.eachLayer(l => { if (l.feature && l.feature.properties[key] === value) hit = l; });
if (hit === null) return null;
if (hit.getLatLng) {
    const ll = hit.getLatLng();
    return {lat: ll.lat, lng: ll.lng, canvas: hit._renderer instanceof L.Canvas};
}
const b = hit.getBounds();
return {south: b.getSouth(), west: b.getWest(), north: b.getNorth(), east: b.getEast()};
"""


def _open(driver, path: Path) -> None:
    """Load ``path`` from a file:// URL and wait for Leaflet's map."""
    driver.get_log("browser")  # drain the logs of earlier pages
    driver.get_log("performance")
    driver.get(path.as_uri())
    try:
        WebDriverWait(driver, 10).until(lambda d: d.execute_script(_READY))
    except TimeoutException:
        leaflet = driver.execute_script("return typeof L")
        pytest.fail(f"no Leaflet map in {path.name} after 10 s (typeof L: {leaflet})")
    _wait_drawn(driver)


def _wait_drawn(driver, timeout: float = 10) -> dict:
    """Wait until Leaflet has drawn and the drawing stopped changing; return _DRAWN."""
    last: list[dict | None] = [None]

    def settled(d):
        now = d.execute_script(_DRAWN)
        done = now["total"] > 0 and now == last[0]
        last[0] = now
        return now if done else False

    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.2).until(settled)
    except TimeoutException:
        return driver.execute_script(_DRAWN)


def _web(requests: list[dict]) -> list[dict]:
    return [r for r in requests if r["url"].startswith(("http://", "https://"))]


def _expand(driver) -> None:
    """Open the (collapsed) layer control, as hovering it does."""
    driver.execute_script("document.querySelector('.leaflet-control-layers')"
                          ".classList.add('leaflet-control-layers-expanded')")


def _control_text(driver) -> str:
    _expand(driver)
    return driver.find_element("css selector", ".leaflet-control-layers").text


_ZOOM = _MAP + "MAP.setZoom(arguments[0], {animate: false}); return MAP.getZoom();"


def _zoom(driver, zoom: int) -> None:
    """Zoom the map (firms are points from zoom 13 on, hexagons below)."""
    assert driver.execute_script(_ZOOM, zoom) == zoom
    _wait_drawn(driver)


def _metres(lon1, lat1, lon2, lat2) -> float:
    return float(GEOD.inv(lon1, lat1, lon2, lat2)[2])


def _overlay_names(layers, lang: str) -> list[str]:
    """Overlay names the control must list: zone layer titles and firm classes with counts."""
    recipe = load_recipe("default")
    names = [recipe.layer(n).title(lang) for n in ("districts", "platforms", "towns")]
    counts = layers["firms"]["map_class"].value_counts()
    names += [
        f"{c.label(lang)} ({counts[c.key]})"
        for c in recipe.layer("firms").categories
        if c.key in counts
    ]
    return names


def test_offline_map_works_with_the_network_off(driver, pages, layers, tmp_path):
    _open(driver, pages(basemap="none", offline=True))
    requests = sent_requests(driver)
    assert _web(requests) == [], f"offline map reached for the network: {_web(requests)[:5]}"
    assert not driver.execute_script(
        "return document.querySelectorAll('script[src^=\"http\"], link[href^=\"http\"]').length"
    )
    assert severe(driver.get_log("browser")) == []
    assert driver.execute_script('return typeof L !== "undefined"')

    control = _control_text(driver)
    for name in _overlay_names(layers, "zh"):
        assert name in control, f"layer control lacks {name!r}: {control!r}"
    legend = driver.find_element("css selector", ".geo-legend")
    assert legend.is_displayed()
    assert "企业" in legend.text and "高技术制造业" in legend.text

    # Every feature is a Leaflet layer on the map (firms from zoom 13 on), and drawn.
    _zoom(driver, 13)
    n_features = sum(len(layers[n]) for n in ("districts", "platforms", "towns", "firms"))
    assert driver.execute_script(_FEATURES) == n_features
    drawn = driver.execute_script(_DRAWN)
    assert drawn["total"] > 10_000, drawn  # a few pixels would be a blank map
    district_labels = driver.find_elements("css selector", ".geo-label")
    assert len(district_labels) == len(layers["districts"]) + len(layers["towns"])

    png = driver.get_screenshot_as_png()
    shot = tmp_path / "offline_map.png"
    shot.write_bytes(png)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    assert image.size == (WIDTH, driver.execute_script("return window.innerHeight"))
    assert len(image.getcolors(maxcolors=1 << 20)) > 50  # not a blank page


def test_online_map_needs_the_network_and_the_check_sees_it(driver, pages):
    """The check above can fail: folium's own page asks a CDN for its scripts."""
    online = pages(basemap="none", offline=False)
    driver.get_log("performance")
    driver.get(online.as_uri())
    scripts = [r for r in _web(sent_requests(driver)) if r["type"] in ("Script", "Stylesheet")]
    assert scripts, "a non-offline map should load Leaflet from the web"


@pytest.mark.parametrize("basemap", ["osm", "amap"])
def test_known_firm_is_drawn_where_the_basemap_expects_it(driver, pages, layers, basemap):
    # JavaScript and CSS are inlined so Leaflet runs with the network off; the
    # basemap's tiles cannot load, which does not matter for positions.
    _open(driver, pages(basemap=basemap, offline=True))
    tiles = [r["url"] for r in _web(sent_requests(driver)) if r["type"] == "Image"]
    hosts = {"osm": ("openstreetmap.org",), "amap": ("autonavi.com", "amap.com")}[basemap]
    assert tiles and all(any(h in url for h in hosts) for url in tiles), tiles[:3]
    errors = [e for e in driver.get_log("browser")
              if e["level"] == "SEVERE" and "Failed to load resource" not in e["message"]]
    assert errors == []

    _zoom(driver, 13)
    firm = driver.execute_script(_FIND, "firm_id", KNOWN_ID)
    assert firm is not None, "the known firm is not on the map"
    if basemap == "amap":
        want_lon, want_lat = (float(v) for v in wgs84_to_gcj02(KNOWN_LON, KNOWN_LAT))
        assert 300 < _metres(firm["lng"], firm["lat"], KNOWN_LON, KNOWN_LAT) < 700
    else:
        want_lon, want_lat = KNOWN_LON, KNOWN_LAT
    assert _metres(firm["lng"], firm["lat"], want_lon, want_lat) < 1.0

    # Polygons move with the points: a small town's displayed bounds.
    towns = layers["towns"]
    source = towns.loc[towns["name_zh"] == TOWN, "geometry"].to_numpy()
    if basemap == "amap":
        source = transform_geometries(source, wgs84_to_gcj02)
    west, south, east, north = shapely.bounds(source[0])
    shown = driver.execute_script(_FIND, "name_zh", TOWN)
    assert shown is not None and "south" in shown, f"town {TOWN} is not on the map"
    assert _metres(shown["west"], shown["south"], west, south) < 3.0
    assert _metres(shown["east"], shown["north"], east, north) < 3.0

    # Zoom onto the firm: the marker is drawn (red) at its container point, and
    # on Amap the true WGS84 position is hundreds of pixels away from it.
    position = driver.execute_script(
        _MAP
        + """
        const ll = L.latLng(arguments[0], arguments[1]);
        MAP.setView(ll, 16, {animate: false});
        const p = MAP.latLngToContainerPoint(ll);
        const t = MAP.latLngToContainerPoint(L.latLng(arguments[2], arguments[3]));
        const r = MAP.getContainer().getBoundingClientRect();
        return {x: p.x + r.left, y: p.y + r.top, tx: t.x + r.left, ty: t.y + r.top,
                m_per_px: 40075016.686 * Math.cos(ll.lat * Math.PI / 180) / 256 / 2 ** 16};
        """,
        firm["lat"], firm["lng"], KNOWN_LAT, KNOWN_LON,
    )
    _wait_drawn(driver)
    offset = float(np.hypot(position["x"] - position["tx"], position["y"] - position["ty"]))
    shift = _metres(firm["lng"], firm["lat"], KNOWN_LON, KNOWN_LAT)
    assert offset == pytest.approx(shift / position["m_per_px"], abs=1.0)
    if basemap == "osm":
        assert offset < 1.0

    from PIL import Image

    image = Image.open(io.BytesIO(driver.get_screenshot_as_png())).convert("RGB")
    red, green, blue = image.getpixel((round(position["x"]), round(position["y"])))
    assert red > 140 and red - green > 60 and red - blue > 60, (red, green, blue)
    if basemap == "amap":
        red, green, blue = image.getpixel((round(position["tx"]), round(position["ty"])))
        assert not (red - green > 60 and red - blue > 60), "a marker at the WGS84 position"


def _toggle(driver, name: str) -> None:
    """Hover the collapsed layer control, as a person does, then click the layer's box.

    Leaflet ignores a click in the same instant as the hover that opens the
    control, so the pointer rests on the control first.
    """
    from selenium.webdriver.common.action_chains import ActionChains

    control = driver.find_element("css selector", ".leaflet-control-layers")
    ActionChains(driver).move_to_element(control).perform()
    time.sleep(0.05)
    for label in driver.find_elements("css selector", ".leaflet-control-layers-overlays label"):
        if name in label.text:
            label.find_element("css selector", "input").click()
            return
    pytest.fail(f"no overlay {name!r} in the layer control")


def test_unchecking_an_overlay_removes_its_features(driver, pages, layers):
    _open(driver, pages(basemap="none", offline=True))
    _zoom(driver, 13)  # every firm a point
    before = driver.execute_script(_FEATURES)
    drawn_before = driver.execute_script(_DRAWN)["total"]
    labels_before = len(driver.find_elements("css selector", ".geo-label"))

    _expand(driver)
    _toggle(driver, "区县")
    assert driver.execute_script(_FEATURES) == before - len(layers["districts"])
    assert len(driver.find_elements("css selector", ".geo-label")) == (
        labels_before - len(layers["districts"])
    )
    assert _wait_drawn(driver)["total"] < drawn_before
    legend = driver.find_element("css selector", ".geo-legend")
    assert "区县" not in legend.text and "重点平台" in legend.text  # entries follow the layers

    n_high_tech = int((layers["firms"]["map_class"] == KNOWN_CLASS).sum())
    _toggle(driver, "高技术制造业")
    assert driver.execute_script(_FEATURES) == before - len(layers["districts"]) - n_high_tech
    assert driver.execute_script(_FIND, "firm_id", KNOWN_ID) is None

    _toggle(driver, "区县")  # checked again: back
    _toggle(driver, "高技术制造业")
    assert driver.execute_script(_FEATURES) == before
    assert "区县" in driver.find_element("css selector", ".geo-legend").text
    assert _wait_drawn(driver)["total"] == pytest.approx(drawn_before, rel=0.01)


_CLICK = _MAP + """
const [key, value] = [arguments[0], arguments[1]];
let hit = null;
MAP.eachLayer(l => { if (l.feature && l.feature.properties[key] === value && l.getBounds)
    hit = l; });
if (hit === null) return false;
hit.fire("click", {latlng: hit.getBounds().getCenter()}, true);
return true;
"""


def test_clicking_a_zone_opens_a_popup_with_labelled_fields(driver, pages, layers):
    _open(driver, pages(basemap="none", offline=True))
    assert driver.find_elements("css selector", ".leaflet-popup-content") == []
    assert driver.execute_script(_CLICK, "name_zh", TOWN)
    popup = driver.execute_script(
        "return document.querySelector('.leaflet-popup-content').textContent;")
    # aliases from the recipe label the values
    assert "名称" in popup and TOWN in popup and "主导领域" in popup
    assert severe(driver.get_log("browser")) == []


def test_english_map_names_its_layers_in_english(driver, pages, layers):
    _open(driver, pages(lang="en", basemap="none", offline=True))
    control = _control_text(driver)
    for name in _overlay_names(layers, "en"):
        assert name in control, f"layer control lacks {name!r}: {control!r}"
    for name in _overlay_names(layers, "zh"):
        assert name.split(" (")[0] not in control
    legend = driver.find_element("css selector", ".geo-legend").text
    assert "Enterprises" in legend and "High-tech manufacturing" in legend
    assert severe(driver.get_log("browser")) == []



# --------------------------------------------------------------------------- readability
# Issue 14: the map read at a laptop's 1366x768 and a desktop's 1600x1000, both languages.

REASON = ("制造业企业密集、生产性服务业供给不足，" * 12, "Dense manufacturing with too few "
          "producer services within reach; " * 12)


@pytest.fixture(scope="module")
def site_layers(layers):
    """The layers plus a proposed zone with long reasons (the headline result)."""
    zone = shapely.Point(120.20, 30.25).buffer(0.02)
    sites = gpd.GeoDataFrame(
        {"rank": [1], "name_zh": ["拟建 1"], "name_en": ["Proposed 1"], "label_zh": ["拟建 1"],
         "label_en": ["Proposed 1"], "reason_zh": [REASON[0]], "reason_en": [REASON[1]],
         "demand": [1234.5], "supply": [12.0], "district": ["上城区"],
         "district_en": ["Shangcheng"]},
        geometry=[zone], crs="EPSG:4326")
    indices = layers["districts"].assign(
        coagg_level_manufacturing__producer_services=np.linspace(0.5, 3.5, len(
            layers["districts"])), n_firms=100)
    return {**layers, "site_zones": sites, "districts_indices": indices}


@pytest.fixture(scope="module")
def site_pages(site_layers, tmp_path_factory):
    folder = tmp_path_factory.mktemp("site_maps")
    built: dict[tuple, Path] = {}

    def build(lang: str, basemap: str = "none") -> Path:
        if (lang, basemap) not in built:
            m = web_map(site_layers, load_recipe("default"), lang=lang, basemap=basemap)
            built[(lang, basemap)] = save_map(m, folder / f"sites_{lang}_{basemap}.html")
        return built[(lang, basemap)]

    return build


@pytest.fixture(params=[(1366, 768), (1600, 1000)], ids=["1366x768", "1600x1000"])
def viewport(driver, request):
    width, height = request.param
    driver.set_window_size(width, height)
    yield width, height
    driver.set_window_size(WIDTH, HEIGHT)


_RECT = "const r = arguments[0].getBoundingClientRect(); return [r.left, r.top, r.width, r.height];"
_FIRM_POINTS = _MAP + """
const out = [];
const size = MAP.getSize();
for (const ll of arguments[0]) {
    const p = MAP.latLngToContainerPoint(L.latLng(ll[1], ll[0]));
    if (p.x >= 0 && p.y >= 0 && p.x < size.x && p.y < size.y) out.push([p.x, p.y]);
}
return out;
"""


def test_default_map_loads_no_code_from_a_cdn(driver, site_pages):
    """The default map (Amap tiles for Chinese) asks the network for tiles only."""
    _open(driver, site_pages("zh", basemap="amap"))
    kinds = {r["type"] for r in _web(sent_requests(driver))}
    assert kinds <= {"Image"}, kinds
    assert driver.execute_script('return typeof L !== "undefined"')


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_first_view_is_readable(driver, site_pages, layers, viewport, lang):
    _open(driver, site_pages(lang))
    width, height = viewport
    # the layer control starts collapsed and hides at most 10 % of the firms in view
    control = driver.find_element("css selector", ".leaflet-control-layers")
    left, top, w, h = driver.execute_script(_RECT, control)
    firms = layers["firms"]
    points = driver.execute_script(_FIRM_POINTS, np.column_stack(
        [firms.geometry.x, firms.geometry.y]).tolist())
    assert len(points) > 0.5 * len(firms), "the first view should hold most firms"
    covered = sum(left <= x <= left + w and top <= y <= top + h for x, y in points)
    assert covered <= 0.10 * len(points), (covered, len(points), (w, h))
    # metric scale only
    scale = driver.find_elements("css selector", ".leaflet-control-scale-line")
    assert len(scale) == 1 and scale[0].text.strip().endswith(("m", "km"))
    # the whole-city and core buttons
    buttons = [b.text for b in driver.find_elements("css selector", ".geo-views a")]
    assert buttons == (["核心区", "全市"] if lang == "zh" else ["Core", "Whole city"])
    # grouped control
    _expand(driver)
    headings = [h.text for h in driver.find_elements("css selector", ".geo-group-title")]
    want = (["区划与平台", "企业", "分析结果", "选址建议"] if lang == "zh"
            else ["Zones", "Enterprises", "Analyses", "Siting"])
    assert headings == want, headings
    assert severe(driver.get_log("browser")) == []


_ZONE_CENTRE = _MAP + """
let hit = null;
MAP.eachLayer(l => { if (l.feature && l.feature.properties.rank === 1 && l.getBounds) hit = l; });
const p = MAP.latLngToContainerPoint(hit.getBounds().getCenter());
const r = MAP.getContainer().getBoundingClientRect();
return [p.x + r.left, p.y + r.top];
"""


def _mouse(driver, kind: str, x: float, y: float) -> None:
    """A real mouse event at page pixel (x, y): the browser hit-tests it as a person's."""
    event = {"type": kind, "x": x, "y": y, "button": "left" if kind != "mouseMoved" else "none"}
    if kind != "mouseMoved":
        event["clickCount"] = 1
    driver.execute_cdp_cmd("Input.dispatchMouseEvent", event)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_proposed_zone_tooltip_and_popup_fit(driver, site_pages, viewport, lang):
    _open(driver, site_pages(lang))
    width, height = viewport
    x, y = driver.execute_script(_ZONE_CENTRE)
    _mouse(driver, "mouseMoved", x + 2, y + 12)  # beside the label, on the zone
    _mouse(driver, "mouseMoved", x + 3, y + 14)
    tooltip = driver.find_element("css selector", ".leaflet-tooltip")
    _, _, w, h = driver.execute_script(_RECT, tooltip)
    assert w <= 400, f"tooltip {w:.0f} px wide"
    assert REASON[0 if lang == "zh" else 1][:20] in tooltip.text
    assert driver.execute_script(_CLICK, "rank", 1)
    popup = driver.find_element("css selector", ".leaflet-popup")
    _, _, w, h = driver.execute_script(_RECT, popup)
    assert h <= 0.8 * height, f"popup {h:.0f} px high in a {height} px window"
    content = driver.find_element("css selector", ".leaflet-popup-content")
    assert driver.execute_script("return arguments[0].scrollHeight > arguments[0].clientHeight",
                                 content), "the long popup should scroll"


def test_a_click_on_a_zone_label_opens_the_zone_popup(driver, site_pages, viewport):
    _open(driver, site_pages("zh"))
    time.sleep(0.3)  # labels are placed on the next animation frame
    label = next(e for e in driver.find_elements("css selector", ".geo-label")
                 if e.text == "拟建 1")
    assert label.is_displayed()
    left, top, w, h = driver.execute_script(_RECT, label)
    x, y = left + w / 2, top + h / 2
    for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
        _mouse(driver, kind, x, y)
    content = driver.execute_script(
        "const c = document.querySelector('.leaflet-popup-content');"
        "return c ? c.textContent : null;")  # all of it: the long popup scrolls
    assert content is not None and "拟建 1" in content and "上城区" in content


def test_english_map_has_no_chinese_outside_user_names(driver, site_pages):
    _open(driver, site_pages("en"))
    _expand(driver)
    driver.execute_script("document.querySelectorAll('details').forEach(d => d.open = true)")
    time.sleep(0.3)
    text = driver.execute_script("return document.body.innerText")
    cjk = re.findall(r"[\u3400-\u9fff\uff00-\uffef]+", text)
    assert cjk == [], cjk[:10]


def test_labels_do_not_overlap(driver, pages):
    _open(driver, pages(lang="zh"))
    time.sleep(0.3)
    boxes = [driver.execute_script(_RECT, e) for e in driver.find_elements(
        "css selector", ".geo-label") if e.is_displayed()]
    assert len(boxes) >= 5
    for i, (x1, y1, w1, h1) in enumerate(boxes):
        for x2, y2, w2, h2 in boxes[i + 1:]:
            assert x1 + w1 <= x2 or x2 + w2 <= x1 or y1 + h1 <= y2 or y2 + h2 <= y1


def test_a_layer_switched_on_shows_its_legend_entry(driver, site_pages):
    """The legend scrolls to the entry of a layer switched on, however long it is."""
    _open(driver, site_pages("en"))
    title = load_recipe("default").choropleths[3].title("en")  # districts, co-agglomeration
    assert "Co-agglomeration" in title
    legend = driver.find_element("css selector", ".geo-legend")
    assert title not in legend.text  # off at first
    _toggle(driver, title.split(" (")[0])
    time.sleep(0.3)
    entry = next(e for e in driver.find_elements("css selector", ".geo-legend-entry")
                 if title in e.get_attribute("textContent"))
    box = driver.execute_script(_RECT, entry)
    frame = driver.execute_script(_RECT, legend)
    assert frame[1] <= box[1] and box[1] + min(box[3], 40) <= frame[1] + frame[3], (box, frame)
