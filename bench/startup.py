"""Benchmark: fixed start-up costs, and the time a default ``geo run`` spends outside its stages.

Prints, each in a fresh interpreter:

- import times (``python -X importtime``) of ``geo.cli``, ``geo.pipeline``
  (what ``geo run`` imports before its first stage) and of the libraries
  imported where they are used (esda, matplotlib, mapclassify, folium);
- Fisher–Jenks classes: geo's cached kernel (:mod:`geo.maps.classify`) against
  importing mapclassify, which compiles its kernel in every process;
- the font step of the PDF maps: saving a page of Chinese text (regular and
  bold Noto Sans CJK) as PDF without the font-subset cache, with an empty one
  and with a warm one (:mod:`geo.maps.fontcache`);
- ``geo run`` with its defaults (30,000 synthetic firms) into a temporary
  folder: wall time, the sum of the stage timings in its ``manifest.json``,
  and the difference, the time outside the stages (interpreter start,
  imports, checks, exit). Target: < 3 s outside the stages.

Run: ``python bench/startup.py`` (``--runs 2`` repeats the run, the second
with warm caches; ``--skip-run`` only measures the imports and the fixed
costs; ``--n`` sets the population).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MODULES = ("geo.cli", "geo.pipeline", "esda", "matplotlib", "mapclassify", "folium")

# what a run has imported by the time it draws its maps, so only classing is timed
_FISHER_JENKS = """
import time, numpy as np, numba, scipy.stats, sklearn.cluster, geo.maps
values = np.random.default_rng(0).lognormal(size=500)
start = time.perf_counter()
{body}
print(time.perf_counter() - start)
"""
_FONT_PAGE = """
import sys, time
from pathlib import Path
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
import matplotlib
from geo.maps.fontcache import cached_font_subsets
from geo.maps.fonts import find_cjk_font, font_rc
if find_cjk_font() is None:
    print("nan"); sys.exit()
with matplotlib.rc_context(font_rc("zh")):
    figure = Figure(figsize=(4, 3))
    FigureCanvasAgg(figure)
    figure.text(0.1, 0.8, "杭州市两业协同集聚", fontsize=14, fontweight="bold")
    figure.text(0.1, 0.5, "制造业与生产性服务业 上城区 拱墅区 西湖区 滨江区 萧山区", fontsize=8)
    figure.text(0.1, 0.2, "Sources: districts 2024", fontsize=8)
    start = time.perf_counter()
    with cached_font_subsets():
        figure.savefig(Path(sys.argv[1]), format="pdf")
    print(time.perf_counter() - start)
"""


def import_seconds(module: str) -> float:
    """Cumulative import time of ``module`` in a fresh interpreter (``-X importtime``)."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", f"import {module}"],
                          capture_output=True, text=True, check=True)
    pattern = re.compile(rf"^import time:\s*\d+ \|\s*(\d+) \| {re.escape(module)}$")
    for line in done.stderr.splitlines():
        match = pattern.match(line)
        if match:
            return int(match.group(1)) / 1e6
    return 0.0  # already imported by the interpreter's start-up


def snippet_seconds(code: str, *args: str, env: dict[str, str] | None = None) -> float:
    """Seconds a snippet prints, run in a fresh interpreter."""
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          check=True, env={**os.environ, **(env or {})})
    return float(done.stdout.split()[-1])


def default_run(folder: Path, n: int | None) -> dict[str, float]:
    """Wall time of ``geo run`` into ``folder`` and the stage timings of its manifest."""
    command = [sys.executable, "-m", "geo", "run", "--out", str(folder)]
    if n:
        command += ["--n", str(n)]
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    timings = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))["timings_s"]
    return {"wall": wall, **timings}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--n", type=int, default=None, help="population (default: geo run's)")
    parser.add_argument("--skip-run", action="store_true")
    args = parser.parse_args()

    print("import times (fresh interpreter, -X importtime):")
    for module in MODULES:
        print(f"  {module:<14} {import_seconds(module):6.2f} s")

    classify = snippet_seconds(_FISHER_JENKS.format(
        body="from geo.maps.classify import class_breaks\n"
             "class_breaks(values, 'fisher_jenks', k=5)"))
    mapclassify = snippet_seconds(_FISHER_JENKS.format(
        body="import mapclassify\nmapclassify.FisherJenks(values, k=5)"))
    print("Fisher-Jenks, 500 values, first call in a fresh interpreter (numba, scipy, "
          "sklearn and geo.maps imported):")
    print(f"  geo.maps.classify (cached kernel)  {classify:6.2f} s")
    print(f"  import mapclassify + FisherJenks   {mapclassify:6.2f} s")

    with tempfile.TemporaryDirectory() as tmp:
        pdf = str(Path(tmp) / "page.pdf")
        cache = {"GEO_CACHE_DIR": str(Path(tmp) / "cache")}
        off = snippet_seconds(_FONT_PAGE, pdf, env={"GEO_CACHE_DIR": ""})
        cold = snippet_seconds(_FONT_PAGE, pdf, env=cache)
        warm = snippet_seconds(_FONT_PAGE, pdf, env=cache)
    print("PDF page of Chinese text (regular + bold CJK font, Type 42 subsets), savefig:")
    print(f"  no cache {off:6.2f} s   empty cache {cold:6.2f} s   warm cache {warm:6.2f} s")

    if args.skip_run:
        return
    for number in range(1, args.runs + 1):
        with tempfile.TemporaryDirectory() as tmp:
            timings = default_run(Path(tmp) / "run", args.n)
        wall = timings.pop("wall")
        stages = sum(timings.values())
        print(f"geo run #{number}: wall {wall:6.1f} s, stages {stages:6.1f} s, "
              f"outside the stages {wall - stages:5.1f} s")
        for name, seconds in timings.items():
            print(f"    {name:<44} {seconds:6.1f} s")


if __name__ == "__main__":
    main()
