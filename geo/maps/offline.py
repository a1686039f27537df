"""Self-contained web pages: inline every script, stylesheet and image a page loads.

An offline map is one HTML file that opens with no network: folium's CDN
``<script src>`` and ``<link href>`` tags are replaced by the files themselves,
taken from installed packages (Leaflet from ``xstatic-leaflet``), and the
images their CSS points at become ``data:`` URIs. A URL that no installed
package provides is an error, never a page that silently needs the network.
"""

from __future__ import annotations

import base64
import mimetypes
import re
from pathlib import Path

from geo.errors import ConfigError

# folium's Leaflet URLs, e.g. https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js
_LEAFLET = re.compile(
    r"/npm/leaflet@(?P<version>\d+\.\d+[\w.-]*)/dist/(?P<file>leaflet\.(?:js|css))$"
)
_SCRIPT = re.compile(r"""<script\s+src=["'](?P<url>[^"']+)["']\s*>\s*</script>""", re.IGNORECASE)
_STYLESHEET = re.compile(
    r"""<link\s+rel=["']stylesheet["']\s+href=["'](?P<url>[^"']+)["']\s*/?>""", re.IGNORECASE
)
_CSS_URL = re.compile(r"""url\(\s*["']?(?P<url>[^"')]+)["']?\s*\)""")
# Anything the browser would still fetch: src/href of loading tags, url() in CSS.
_FETCHED = re.compile(
    r"""<(?:script|link|img|iframe|source|embed)\b[^>]*?\b(?:src|href)=["'](?P<tag>https?:[^"']+)"""
    r"""|url\(\s*["']?(?P<css>https?:[^"')]+)""",
    re.IGNORECASE,
)


def _leaflet_file(url: str) -> Path:
    """Return the file of the installed xstatic-leaflet that ``url`` names."""
    match = _LEAFLET.search(url)
    if match is None:
        raise ConfigError(
            f"cannot inline {url} in an offline map: no installed package provides it"
        )
    import xstatic.pkg.leaflet as leaflet

    # Leaflet keeps its API within a minor version, so 1.9.x serves any 1.9 page.
    wanted, have = match["version"].split(".")[:2], leaflet.VERSION.split(".")[:2]
    if wanted != have:
        raise ConfigError(
            f"cannot inline {url} in an offline map: xstatic-leaflet provides Leaflet "
            f"{leaflet.VERSION}; install xstatic-leaflet {match['version']}"
        )
    return Path(leaflet.BASE_DIR) / match["file"]


def _data_uri(path: Path) -> str:
    kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return f"data:{kind};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


def _stylesheet(path: Path) -> str:
    """CSS text with its relative ``url()`` images inlined as data URIs."""

    def inline(match: re.Match) -> str:
        url = match["url"]
        if url.startswith(("data:", "#")):
            return match[0]
        target = path.parent / url
        if url.startswith(("http:", "https:", "//")) or not target.is_file():
            raise ConfigError(f"cannot inline {url} (from {path.name}) in an offline map")
        return f'url("{_data_uri(target)}")'

    return _CSS_URL.sub(inline, path.read_text(encoding="utf-8"))


def inline_assets(page: str) -> str:
    """Replace a page's CDN scripts and stylesheets by their inlined contents.

    Parameters
    ----------
    page : str
        HTML as folium renders it.

    Returns
    -------
    str
        The same page with every ``<script src>`` and stylesheet ``<link>``
        inlined from installed packages.

    Raises
    ------
    ConfigError
        Naming the URL, if an asset is not available from an installed
        package or the page still loads anything over http(s).

    Examples
    --------
    >>> page = '<script src="https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js"></script>'
    >>> inline_assets(page).startswith("<script>/* @preserve")
    True
    """

    def script(match: re.Match) -> str:
        code = _leaflet_file(match["url"]).read_text(encoding="utf-8")
        # "</script" inside the code would end the element early
        return "<script>" + code.replace("</script", "<\\/script") + "</script>"

    def stylesheet(match: re.Match) -> str:
        return "<style>" + _stylesheet(_leaflet_file(match["url"])) + "</style>"

    page = _STYLESHEET.sub(stylesheet, _SCRIPT.sub(script, page))
    left = _FETCHED.search(page)
    if left:
        raise ConfigError(
            f"the offline map would still load {left['tag'] or left['css']}; "
            "it cannot be inlined from an installed package"
        )
    return page
