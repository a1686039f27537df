"""Fixed start-up costs: what geo run imports before its stages, and the PDF font-subset cache."""

import subprocess
import sys

import matplotlib
import pytest
from matplotlib.backends import _backend_pdf_ps as pdf_ps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from geo.maps import fontcache
from geo.maps.fontcache import cached_font_subsets
from geo.maps.fonts import find_cjk_font, font_rc
from geo.resources import cache_dir

# imported where they are used (hot spots, static maps, other map schemes)
DEFERRED = ("esda", "libpysal", "matplotlib", "mapclassify")


def test_geo_run_imports_no_deferred_library_before_its_stages():
    code = ("import sys\nimport geo.cli, geo.pipeline\n"
            f"print(sorted(m for m in {DEFERRED!r} if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "[]"


def test_classing_the_default_recipe_does_not_import_mapclassify():
    code = (
        "import sys\nimport numpy as np, pandas as pd\n"
        "from geo.maps import classify_values, load_recipe\n"
        "values = pd.Series(np.random.default_rng(0).lognormal(size=200))\n"
        "for spec in load_recipe().choropleths:\n"
        "    if spec.scheme != 'categorical':\n"
        "        classify_values(values, spec)\n"
        "print('mapclassify' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "False"


def _page_pdf(path, lang):
    """A small page with bold and regular text (Chinese when a CJK font is installed)."""
    with matplotlib.rc_context(font_rc(lang)):
        figure = Figure(figsize=(3, 2))
        FigureCanvasAgg(figure)
        if lang == "zh":
            figure.text(0.1, 0.7, "杭州市两业协同集聚", fontweight="bold")
            figure.text(0.1, 0.4, "制造业与生产性服务业 上城区 滨江区")
        figure.text(0.1, 0.1, "Sources: districts", fontsize=6)
        figure.savefig(path, format="pdf", metadata={"CreationDate": None})
    return path.read_bytes()


LANGS = ["en", pytest.param("zh", marks=pytest.mark.skipif(
    find_cjk_font() is None, reason="no font with Chinese glyphs installed"))]


@pytest.mark.parametrize("lang", LANGS)
def test_cached_font_subsets_give_the_same_pdf(tmp_path, monkeypatch, lang):
    folder = tmp_path / "cache"
    plain = _page_pdf(tmp_path / "plain.pdf", lang)
    with cached_font_subsets(folder) as used:
        assert used == folder
        cold = _page_pdf(tmp_path / "cold.pdf", lang)
    entries = sorted(folder.glob("*.subset"))
    assert len(entries) == (3 if lang == "zh" else 1)  # CJK regular and bold, DejaVu Sans
    assert cold == plain

    def fail(*args, **kwargs):
        raise AssertionError("a cached subset was built again")

    monkeypatch.setattr(pdf_ps, "get_glyphs_subset", fail)
    with cached_font_subsets(folder):
        warm = _page_pdf(tmp_path / "warm.pdf", lang)
    assert warm == plain
    assert pdf_ps.get_glyphs_subset is fail  # the hook is gone after the block
    # the fonts are embedded as subsets with a ToUnicode map: the text stays text
    assert b"/FontFile2" in warm and b"/ToUnicode" in warm


def test_damaged_cache_entries_are_rebuilt(tmp_path):
    folder = tmp_path / "cache"
    with cached_font_subsets(folder):
        first = _page_pdf(tmp_path / "a.pdf", "en")
    for entry in folder.glob("*.subset"):
        entry.write_bytes(entry.read_bytes()[:-10])  # truncated
    with cached_font_subsets(folder):
        assert _page_pdf(tmp_path / "b.pdf", "en") == first
    with cached_font_subsets(folder):
        assert _page_pdf(tmp_path / "c.pdf", "en") == first


def test_cache_keeps_the_most_recently_used_entries(tmp_path, monkeypatch):
    monkeypatch.setattr(fontcache, "MAX_ENTRIES", 2)
    folder = tmp_path / "cache"
    for i, text in enumerate(("abc", "def", "ghi", "jkl")):
        with matplotlib.rc_context(font_rc("en")), cached_font_subsets(folder):
            figure = Figure(figsize=(2, 1))
            FigureCanvasAgg(figure)
            figure.text(0.1, 0.5, text)
            figure.savefig(tmp_path / f"{i}.pdf", format="pdf")
    assert len(list(folder.glob("*.subset"))) == 2


def test_cache_dir_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("GEO_CACHE_DIR", str(tmp_path))
    assert cache_dir("font-subsets") == tmp_path / "font-subsets"
    monkeypatch.setenv("GEO_CACHE_DIR", "")
    assert cache_dir("font-subsets") is None
    with cached_font_subsets() as used:  # off: matplotlib subsets as usual
        assert used is None
    monkeypatch.delenv("GEO_CACHE_DIR")
    if sys.platform.startswith("linux"):
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
        assert cache_dir("x") == tmp_path / "xdg" / "geo" / "x"


def test_quick_exit_stops_joblib_worker_threads():
    """The quick exit runs threading's exit callbacks before joining threads, as Python does.

    HDBSCAN on a million firms runs joblib's process pool, whose manager and
    feeder threads are not daemons and stop only in those callbacks: joining
    them first left ``geo run --n 1000000`` waiting for ever after its last file.
    """
    code = (
        "import sys\n"
        "from joblib import Parallel, delayed\n"
        "from geo.cli import entry\n"
        "assert Parallel(n_jobs=2)(delayed(abs)(-i) for i in range(4)) == [0, 1, 2, 3]\n"
        "sys.argv = ['geo', '--help']\n"
        "entry()\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert "Usage" in done.stdout
