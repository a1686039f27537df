"""Benchmark: size and build time of the web map, and its first render in Chromium.

For each size it runs ``geo run`` on a synthetic population (``geo.io.seed``) with
cheap statistics (no simulation envelopes, 99 permutations) so the map gets
every layer a run produces, then times ``web_map`` + ``save_map`` on those
layers: the default Chinese map (Amap tiles) and the English one (OSM); every
page is self-contained (Leaflet and geo's script inlined). With selenium and
Chromium installed it also times each page's first render in headless
Chromium at 1,366x768, network off (tiles cannot load; the overlays draw).
Targets (not tests): default run < 10 MB, 200,000 firms < 25 MB, first
render < 5 s.

Run: ``python bench/web_map.py`` (optionally ``--sizes 30000 200000``).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import geopandas as gpd

from geo.export.layers import read_layers
from geo.io.seed import BASE_SIZE
from geo.maps import load_recipe, save_map, source_note, web_map
from geo.pipeline import RunConfig, run


def build(layers: dict, path: Path, lang: str) -> tuple[float, float]:
    """Build and save one map with the recipe's basemap for ``lang``; return (MB, seconds)."""
    start = time.perf_counter()
    m = web_map(layers, load_recipe(), lang=lang, synthetic=True,
                provenance=source_note(layers, lang))
    save_map(m, path)
    return path.stat().st_size / 1e6, time.perf_counter() - start


def first_render(path: Path) -> float | None:
    """Seconds from opening the page to Leaflet's first painted frame (None: no browser)."""
    chromium, driver_path = shutil.which("chromium"), shutil.which("chromedriver")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        return None
    if not chromium or not driver_path:
        return None
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     "--window-size=1366,768"):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=Service(driver_path))
    try:
        driver.execute_cdp_cmd("Network.enable", {})
        driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": ["http://*", "https://*"]})
        driver.set_script_timeout(120)
        start = time.perf_counter()
        driver.get(path.as_uri())  # returns after the load event: every layer is built
        # two animation frames later the canvas has been painted
        driver.execute_async_script(
            "const done = arguments[0];"
            "requestAnimationFrame(() => requestAnimationFrame(() => done(true)));"
        )
        return time.perf_counter() - start
    finally:
        driver.quit()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[BASE_SIZE, 200_000])
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    print(f"{'firms':>9} {'zh MB':>6} {'build s':>8} {'render s':>9} {'en MB':>6} "
          f"{'build s':>8} {'render s':>9}")
    for n in args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp) / "run"
            run(RunConfig(seed_n=n, seed=args.seed, output=folder, distance_nsim=0,
                          permutations=99))
            layers = {k: v for k, v in read_layers([folder]).items()
                      if isinstance(v, gpd.GeoDataFrame)}
            row = f"{n:>9,}"
            for lang in ("zh", "en"):
                page = Path(tmp) / f"map_{lang}.html"
                size, seconds = build(layers, page, lang)
                render = first_render(page)
                shown = f"{render:9.1f}" if render is not None else f"{'n/a':>9}"
                row += f" {size:>6.1f} {seconds:>8.1f} {shown}"
            print(row, flush=True)

if __name__ == "__main__":
    main()
