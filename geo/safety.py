"""Escaping of user-supplied text for the formats ``geo`` writes.

Names, sources and every other field of a user's files reach web pages, KML
and spreadsheets. Each context has its own rule, and every writer uses the
one here:

- HTML text and attributes: :func:`escape_html`; also KML names and
  descriptions, which Google Earth renders as HTML.
- JavaScript values inside a ``<script>`` element: :func:`script_json`.
- CSV cells: :func:`neutralise_formulas`, the OWASP CSV-injection rule: a text
  cell starting with ``=``, ``+``, ``-``, ``@``, tab or carriage return gets a
  leading ``'`` so a spreadsheet shows it as text instead of running it.
  Numbers stored as numbers are untouched, and so is text that is exactly a
  plain decimal number (``-3.5``, ``+2e3``): a spreadsheet reads it as that
  number, which runs nothing. :func:`write_csv` applies it and quotes every
  cell with a line break, so no cell can start a row of its own.
- XLSX cells: :func:`protect_text_cells` stores the same cells as text with
  Excel's "quote prefix" style, so the workbook keeps the exact text (no
  ``'`` added) and Excel never evaluates it, not even after editing the cell.
  :func:`xlsx_text` replaces the control characters XLSX cannot hold.

Trusted data may carry formulas on purpose; the writers take an
``allow_formulas`` switch that skips the formula rules.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pandas as pd

# Characters that make a spreadsheet read a cell as a formula (OWASP CSV injection).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
# Characters that could end a <script> element or a JavaScript string early
# (U+2028/2029 were line terminators in JavaScript strings before ES2019).
_SCRIPT_UNSAFE = str.maketrans({
    "<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029",
})


def escape_html(value: Any) -> str:
    """Text of ``value`` escaped for HTML text and quoted attribute values.

    Parameters
    ----------
    value : object
        Any value; it is converted with ``str``.

    Returns
    -------
    str

    Examples
    --------
    >>> escape_html('<img src=x onerror="alert(1)">')
    '&lt;img src=x onerror=&quot;alert(1)&quot;&gt;'
    """
    return html.escape(str(value), quote=True)


def script_json(value: Any) -> str:
    r"""JSON of ``value`` that is safe inside an HTML ``<script>`` element.

    ``<``, ``>`` and ``&`` are written as ``\u`` escapes (they can only occur
    inside JSON strings, where the escapes mean the same characters), so no
    value can close the element with ``</script>`` or open an HTML comment.

    Parameters
    ----------
    value : object
        Anything :func:`json.dumps` takes; other objects are written as ``str``.

    Returns
    -------
    str
        A JavaScript expression.

    Examples
    --------
    >>> script_json({"name": "</script><script>alert(1)//"})
    '{"name":"\\u003c/script\\u003e\\u003cscript\\u003ealert(1)//"}'
    """
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    return text.translate(_SCRIPT_UNSAFE)


def formula_risk(text: str) -> bool:
    """Whether a spreadsheet could read the text cell ``text`` as a formula.

    Parameters
    ----------
    text : str
        A cell's text.

    Returns
    -------
    bool
        True if it starts with one of :data:`FORMULA_PREFIXES` and is not a
        plain decimal number.

    Examples
    --------
    >>> formula_risk('=HYPERLINK("http://evil.example","x")'), formula_risk("-3.5")
    (True, False)
    """
    return text.startswith(FORMULA_PREFIXES) and _NUMBER.fullmatch(text) is None


def _neutralise_name(name: Any) -> Any:
    """Return a column name under the OWASP rule."""
    return "'" + name if isinstance(name, str) and formula_risk(name) else name


# What pandas infers for columns holding text (its .str methods accept only these)
_TEXT_KINDS = ("string", "mixed", "mixed-integer")


def _text_columns(table: pd.DataFrame) -> Iterator[tuple[int, pd.Series]]:
    """Position and values (as objects) of each column that holds text."""
    for position, dtype in enumerate(table.dtypes):
        if not (pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype)
                or isinstance(dtype, pd.CategoricalDtype)):
            continue
        values = table.iloc[:, position].astype(object)
        if pd.api.types.infer_dtype(values, skipna=True) in _TEXT_KINDS:
            yield position, values


def neutralise_formulas(table: pd.DataFrame, allow_formulas: bool = False) -> pd.DataFrame:
    """Return the table with its text cells and column names neutralised for CSV.

    Parameters
    ----------
    table : pandas.DataFrame
        The table to write.
    allow_formulas : bool
        Trusted data: return ``table`` itself, formulas and all.

    Returns
    -------
    pandas.DataFrame
        A copy in which every text cell (and column name) that
        :func:`formula_risk` finds starts with ``'``.

    Examples
    --------
    >>> neutralise_formulas(pd.DataFrame({"name": ["=1+1", "-3.5", "ok"], "x": [-1, 2, 3]}))
        name  x
    0  '=1+1 -1
    1   -3.5  2
    2     ok  3
    """
    if allow_formulas:
        return table
    out = table.rename(columns=_neutralise_name)
    for position, values in _text_columns(out):
        # .str gives NaN for cells that are not text (numbers in object columns)
        risky = (
            values.str.startswith(FORMULA_PREFIXES).fillna(False).astype(bool)
            & ~values.str.fullmatch(_NUMBER).fillna(False).astype(bool)
        )
        if risky.any():
            values[risky] = "'" + values[risky]
            out.isetitem(position, values)
    return out


def write_csv(
    table: pd.DataFrame,
    target: str | Path | IO[str],
    *,
    allow_formulas: bool = False,
    float_format: str | None = None,
) -> None:
    r"""Write a table as CSV for spreadsheets: UTF-8 with BOM, no live formula.

    Lines end in CRLF (RFC 4180), so every cell holding a carriage return or
    line feed is quoted: Python's csv module leaves a bare carriage return
    unquoted under ``\n`` line ends, and Excel would start a new row there,
    whose first cell escapes :func:`neutralise_formulas`.

    Parameters
    ----------
    table : pandas.DataFrame
        The table; its index is not written.
    target : str, Path or text file
        Destination (an open file must have been opened with ``newline=""``).
    allow_formulas : bool
        Trusted data: write text cells as they are, formulas included.
    float_format : str, optional
        Format of floating-point numbers, as :meth:`pandas.DataFrame.to_csv`.
    """
    neutralise_formulas(table, allow_formulas).to_csv(
        target, index=False, encoding="utf-8-sig", lineterminator="\r\n",
        float_format=float_format,
    )


def xlsx_text(table: pd.DataFrame) -> pd.DataFrame:
    """Return the table with the control characters XLSX cannot hold replaced by U+FFFD.

    XML 1.0, the format inside an XLSX file, cannot store C0 control
    characters other than tab, line feed and carriage return, and openpyxl
    refuses them; one such character in a name would lose the whole workbook.

    Parameters
    ----------
    table : pandas.DataFrame
        A table to write to a worksheet.

    Returns
    -------
    pandas.DataFrame
        A copy, with the same cells unless they held such characters.
    """
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    def clean(name: Any) -> Any:
        return ILLEGAL_CHARACTERS_RE.sub("\ufffd", name) if isinstance(name, str) else name

    out = table.rename(columns=clean)
    for position, values in _text_columns(out):
        illegal = values.str.contains(ILLEGAL_CHARACTERS_RE).fillna(False).astype(bool)
        if illegal.any():
            values[illegal] = values[illegal].map(clean)
            out.isetitem(position, values)
    return out


def protect_text_cells(sheet: Any) -> None:
    """Store the risky text cells of an openpyxl worksheet as quote-prefixed text.

    openpyxl turns any string starting with ``=`` into a formula; this stores
    such cells (and the others :func:`formula_risk` finds) as plain strings
    with Excel's ``quotePrefix`` style, so the text stays exactly as it was
    and is never evaluated, not even when the cell is edited.

    Parameters
    ----------
    sheet : openpyxl.worksheet.worksheet.Worksheet
        A worksheet being written; changed in place.
    """
    for row in sheet.iter_rows():
        for cell in row:
            if isinstance(cell.value, str) and formula_risk(cell.value):
                cell.data_type = "s"
                cell.quotePrefix = True
