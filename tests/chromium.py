"""Headless Chromium with the network off, for the browser tests of the web map and the report.

Chromium and chromedriver come from the system (Debian: ``apt-get install
chromium chromium-driver``; ``.ci/run`` installs them). Without them the
calling test module is skipped.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

pytest.importorskip("selenium", reason="selenium is not installed (pip install -e '.[test]')")

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402

# The page's Leaflet map (folium names it map_<hex>), and how many features it shows.
MAP_JS = """
const MAP = (typeof L === 'undefined') ? undefined : window[Object.keys(window).find(
    k => /^map_[0-9a-f]+$/.test(k) && window[k] instanceof L.Map)];
"""
FEATURES_JS = MAP_JS + "let n = 0; MAP.eachLayer(l => { if (l.feature) n++; }); return n;"


def _find(names: tuple[str, ...]) -> str | None:
    for name in names:
        found = shutil.which(name) if "/" not in name else (name if Path(name).is_file() else None)
        if found:
            return found
    return None


@contextmanager
def offline_chromium(width: int, height: int) -> Iterator[webdriver.Chrome]:
    """Start headless Chromium at ``width`` x ``height`` with every http(s) request blocked.

    Blocked requests are still logged (``Network.requestWillBeSent`` in the
    performance log, :func:`requests`), and so are console messages.
    """
    chromium = _find(("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"))
    chromedriver = _find(("/usr/bin/chromedriver", "chromedriver"))
    if chromium is None or chromedriver is None:
        pytest.skip(
            "browser tests need Chromium and chromedriver "
            "(Debian: apt-get install chromium chromium-driver)"
        )
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        f"--window-size={width},{height}",
        "--force-device-scale-factor=1",
        "--allow-file-access-from-files",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    browser = webdriver.Chrome(options=options, service=Service(chromedriver))
    try:
        browser.set_page_load_timeout(60)
        browser.execute_cdp_cmd("Network.enable", {})
        browser.execute_cdp_cmd("Network.setBlockedURLs", {"urls": ["http://*", "https://*"]})
        browser.execute_cdp_cmd(
            "Network.emulateNetworkConditions",
            {"offline": True, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
        )
        yield browser
    finally:
        browser.quit()


def sent_requests(driver) -> list[dict]:
    """Requests the page tried to send since the last call (from the performance log)."""
    out = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            params = message["params"]
            out.append({"url": params["request"]["url"], "type": params.get("type", "")})
    return out


def severe(entries: list[dict]) -> list[str]:
    """Console messages of level SEVERE (errors)."""
    return [e["message"] for e in entries if e["level"] == "SEVERE"]
