"""Fonts and text of static figures: a font with Chinese glyphs, matplotlib settings, wrapping.

Used by the static maps, the function plots and the report charts alike.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import unicodedata
from typing import TYPE_CHECKING

from geo.errors import ConfigError
from geo.maps.recipe import Lang

if TYPE_CHECKING:
    from matplotlib import font_manager


# Fonts with Simplified Chinese glyphs, best first.
CJK_FAMILIES = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "SimHei",
    "Microsoft YaHei",
    "PingFang SC",
    "Heiti SC",
)
# Bundled with matplotlib, so always present: Latin glyphs and the fallback.
_LATIN_FAMILY = "DejaVu Sans"


def find_cjk_font() -> str | None:
    """Find an installed font family with Simplified Chinese glyphs.

    Families of ``CJK_FAMILIES`` come first. Fonts that fontconfig knows
    (``fc-list :lang=zh``) but matplotlib's font cache does not, because they
    were installed after the cache was built, are added to matplotlib's font
    manager first.

    Returns
    -------
    str or None
        The family name, or ``None`` when no such font is installed.

    Examples
    --------
    >>> find_cjk_font()  # doctest: +SKIP
    'Noto Sans CJK SC'
    """
    from matplotlib import font_manager

    manager = font_manager.fontManager
    family = _preferred_family(manager)
    if family:
        return family
    fontconfig = _fontconfig_chinese_fonts()
    known = {font.fname for font in manager.ttflist}
    for path in fontconfig.keys() - known:
        try:
            manager.addfont(path)
        except (OSError, RuntimeError, ValueError):
            continue  # formats FreeType in matplotlib cannot read (bitmap fonts)
    names = {font.name for font in manager.ttflist}
    return _preferred_family(manager) or next(
        (name for name in fontconfig.values() if name in names), None
    )


def _preferred_family(manager: font_manager.FontManager) -> str | None:
    names = {font.name for font in manager.ttflist}
    return next((family for family in CJK_FAMILIES if family in names), None)


def _fontconfig_chinese_fonts() -> dict[str, str]:
    """Font files fontconfig says cover Chinese, with their first family name."""
    fc_list = shutil.which("fc-list")
    if not fc_list:
        return {}
    try:
        listing = subprocess.run(
            [fc_list, "--format", "%{file}\t%{family[0]}\n", ":lang=zh"],
            capture_output=True, text=True, timeout=30, check=False,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    rows = (line.split("\t", 1) for line in listing.splitlines() if "\t" in line)
    return {path: family for path, family in rows}


def font_rc(lang: Lang) -> dict[str, object]:
    """Matplotlib settings for the maps' text; raises if Chinese cannot be drawn."""
    cjk = find_cjk_font()
    if cjk is None and lang == "zh":
        raise ConfigError(
            "no font with Chinese glyphs is installed, so the Chinese static maps cannot be "
            "drawn: install one (Debian/Ubuntu: apt-get install fonts-noto-cjk; Fedora: "
            "google-noto-sans-cjk-fonts) or draw English maps with --lang en"
        )
    if lang == "zh":
        families = [cjk, _LATIN_FAMILY]
    else:  # English text; a CJK font, if any, draws Chinese names in the sources
        families = [_LATIN_FAMILY, *([cjk] if cjk else [])]
    # Type 42 embeds (subset) TrueType outlines: the PDF's text stays text in editors.
    return {"font.family": families, "pdf.fonttype": 42, "axes.unicode_minus": False}


def wrap_text(text: str, columns: int) -> list[str]:
    """Wrap text to lines of ``columns`` Latin-character widths; CJK characters count double.

    Latin text breaks between words, Chinese between any two characters;
    nothing is cut off.

    Parameters
    ----------
    text : str
        The text.
    columns : int
        Width of a line, in Latin characters.

    Returns
    -------
    list of str

    Examples
    --------
    >>> wrap_text("Sources: a b c", 10)
    ['Sources: a', 'b c']
    """
    lines, line, width = [], "", 0
    # a CJK character, or a Latin word with the spaces after it
    for token in re.findall(r"[\u2e80-\u9fff\uf900-\uffef]|[^\s\u2e80-\u9fff\uf900-\uffef]+\s*"
                            r"|\s+", text):
        size = sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in token)
        if line and width + size - (len(token) - len(token.rstrip())) > columns:
            lines.append(line.rstrip())
            line, width = "", 0
            token = token.lstrip()
        while size > columns:  # a word longer than a line (a URL, a path): split it
            lines.append(token[:columns])
            token = token[columns:]
            size = len(token)
        line += token
        width += size
    if line.strip():
        lines.append(line.rstrip())
    return lines
