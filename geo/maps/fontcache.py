"""On-disk cache of the font subsets that matplotlib embeds in PDF maps.

Writing a PDF, matplotlib embeds each font it drew with as a Type 42 subset
(the text stays text, searchable and copyable) and builds that subset with
fontTools. For a CJK font of 65,000 glyphs (Noto Sans CJK) that takes about a
second per font and file: 4-5 s for the two maps of a run, which embed the
regular and the bold face. A subset depends only on the font file and the
glyphs drawn, so :func:`cached_font_subsets` keeps it on disk, keyed by the
font file (path, face, size, modification time), the glyph ids and the
matplotlib and fontTools versions, and reads it back byte for byte: a PDF is
the same with or without the cache. matplotlib has no public hook for this;
when the private function it uses (``get_glyphs_subset`` of
``matplotlib.backends._backend_pdf_ps``) is not the one expected, fonts are
subset as usual.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from geo.resources import cache_dir

CACHE_NAME = "font-subsets"
MAX_ENTRIES = 256  # ~10-30 KB each; the least recently used go beyond this
_MAGIC = b"geo-font-subset 1\n"
_SUFFIX = ".subset"


@contextlib.contextmanager
def cached_font_subsets(folder: Path | None = None) -> Iterator[Path | None]:
    """Within the block, PDF font subsets come from (and go to) the on-disk cache.

    Parameters
    ----------
    folder : Path, optional
        Cache folder; default ``geo.resources.cache_dir("font-subsets")``
        (``$GEO_CACHE_DIR/font-subsets``; an empty ``GEO_CACHE_DIR`` turns the
        cache off).

    Yields
    ------
    Path or None
        The cache folder in use, or None when fonts are subset without cache.

    Examples
    --------
    >>> with cached_font_subsets():  # doctest: +SKIP
    ...     figure.savefig("map.pdf")
    """
    folder = folder if folder is not None else cache_dir(CACHE_NAME)
    from matplotlib.backends import _backend_pdf_ps as pdf_ps

    original = getattr(pdf_ps, "get_glyphs_subset", None)
    if (folder is None or original is None or getattr(original, "_geo_cache", False)
            or not hasattr(pdf_ps, "SubsetResults") or not hasattr(pdf_ps, "font_as_file")):
        yield None  # off, an unexpected matplotlib, or already cached by an outer block
        return

    def get_glyphs_subset(fontfile: Any, glyphs: Iterable[int]) -> Any:
        return _subset(pdf_ps, original, Path(folder), fontfile, glyphs)

    get_glyphs_subset._geo_cache = True  # type: ignore[attr-defined]
    pdf_ps.get_glyphs_subset = get_glyphs_subset
    try:
        yield Path(folder)
    finally:
        pdf_ps.get_glyphs_subset = original


def _subset(pdf_ps: Any, original: Callable[..., Any], folder: Path, fontfile: Any,
            glyphs: Iterable[int]) -> contextlib.AbstractContextManager[Any]:
    """Matplotlib's ``get_glyphs_subset``, read from the cache when it holds the subset."""
    glyphs = set(glyphs)
    key = _key(fontfile, glyphs)
    if key is None:
        return original(fontfile, glyphs)
    path = folder / f"{key}{_SUFFIX}"
    cached = _read(path)
    if cached is None:
        with original(fontfile, glyphs) as results:
            data = pdf_ps.font_as_file(results.font).getvalue()
            mapping = {int(k): int(v) for k, v in results.glyph_index_map.items()}
        _write(path, data, mapping)
    else:
        data, mapping = cached
    return _results(pdf_ps, data, mapping)


@contextlib.contextmanager
def _results(pdf_ps: Any, data: bytes, mapping: dict[int, int]) -> Iterator[Any]:
    """Open the subset as ``get_glyphs_subset`` gives it: the font and the glyph id map."""
    from fontTools.ttLib import TTFont

    # as fontTools' subsetter loads fonts: saved again, the font is the same bytes
    font = TTFont(io.BytesIO(data), recalcBBoxes=False, recalcTimestamp=False)
    with font:
        yield pdf_ps.SubsetResults(font, mapping)


def _key(fontfile: Any, glyphs: set[int]) -> str | None:
    """Cache key of a subset, or None when the font file cannot be identified."""
    import fontTools
    import matplotlib

    try:
        stat = os.stat(fontfile)
        identity = {
            "font": os.path.abspath(fontfile), "face": int(getattr(fontfile, "face_index", 0)),
            "size": stat.st_size, "mtime_ns": stat.st_mtime_ns,
            "glyphs": sorted(int(g) for g in glyphs),
            "matplotlib": matplotlib.__version__, "fonttools": fontTools.version,
        }
    except (OSError, TypeError, ValueError):
        return None
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()


def _read(path: Path) -> tuple[bytes, dict[int, int]] | None:
    """Font bytes and glyph map of a cache entry; None if missing or damaged."""
    try:
        raw = path.read_bytes()
        if not raw.startswith(_MAGIC):
            return None
        header, _, data = raw[len(_MAGIC):].partition(b"\n")
        meta = json.loads(header)
        if hashlib.sha256(data).hexdigest() != meta["sha256"]:
            return None
        mapping = {int(k): int(v) for k, v in meta["map"]}
    except (OSError, ValueError, KeyError, TypeError):
        return None
    with contextlib.suppress(OSError):
        os.utime(path)  # recently used: pruned last
    return data, mapping


def _write(path: Path, data: bytes, mapping: dict[int, int]) -> None:
    """Store a subset atomically; a cache that cannot be written is left alone."""
    header = json.dumps({"sha256": hashlib.sha256(data).hexdigest(),
                         "map": sorted(mapping.items())}).encode()
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(_MAGIC + header + b"\n" + data)
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink()
        return
    _prune(path.parent)


def _prune(folder: Path) -> None:
    """Remove the least recently used entries beyond ``MAX_ENTRIES``."""
    with contextlib.suppress(OSError):
        entries = []
        for entry in folder.glob(f"*{_SUFFIX}"):
            with contextlib.suppress(OSError):
                entries.append((entry.stat().st_mtime, entry))
        entries.sort()
        for _, entry in entries[:max(len(entries) - MAX_ENTRIES, 0)]:
            with contextlib.suppress(OSError):
                entry.unlink()
