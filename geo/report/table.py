"""A report table: its columns (headers, units, number formats) and its cells as text.

HTML, Word and the summary sentences all print a cell with :meth:`ReportTable.text`,
so a number quoted in a sentence is the same text as the cell it comes from; the
workbook keeps the numbers and gives Excel the matching number format.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd

# number formats: how a cell prints, and the Excel format that prints it the same way
FORMATS = {
    "text": ("{}", "@"),
    "int": ("{:,.0f}", "#,##0"),
    "f1": ("{:,.1f}", "#,##0.0"),
    "f2": ("{:,.2f}", "#,##0.00"),
    "f3": ("{:.3f}", "0.000"),
    "f4": ("{:.4f}", "0.0000"),
    "pct": ("{:.1%}", "0.0%"),
    "lonlat": ("{:.6f}", "0.000000"),
}
MISSING = "—"


def format_value(value: object, fmt: str) -> str:
    """Print a cell: numbers in ``fmt`` (a key of ``FORMATS``), missing values as a dash.

    Examples
    --------
    >>> format_value(0.6321, "pct"), format_value(1234.5, "int"), format_value(None, "f2")
    ('63.2%', '1,234', '—')
    """
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return MISSING
    if fmt == "text" or isinstance(value, str):
        return str(value)
    if isinstance(value, bool):
        return str(value)
    number = float(value)  # type: ignore[arg-type]
    text = FORMATS[fmt][0].format(number)
    if text.startswith("-") and not any(ch in "123456789" for ch in text):
        text = text[1:]  # "-0.00": the sign of a number printed as zero says nothing
    return text


@dataclass
class Column:
    """A column: key in the frame, header in the report's language, unit and format."""

    key: str
    header: str
    fmt: str = "text"
    unit: str = ""

    @property
    def title(self) -> str:
        """The header with its unit, as printed."""
        return f"{self.header}（{self.unit}）" if self.unit and _cjk(self.header) else (
            f"{self.header} ({self.unit})" if self.unit else self.header)


def _cjk(text: str) -> bool:
    return any("\u3400" <= ch <= "\u9fff" for ch in text)


@dataclass
class ReportTable:
    """A table of the report.

    Attributes
    ----------
    id : str
        Stable identifier (HTML ``id``, workbook sheet, citations).
    title : str
        Caption in the report's language.
    frame : DataFrame
        One row per report row; its index is the row key (a string).
    columns : list of Column
        The columns shown, in order.
    note : str
        What the table holds and how it was made, printed under it.
    sheet : str
        Workbook sheet name (at most 31 characters).
    flag : str or None
        Key of the column holding warnings, if any.
    """

    id: str
    title: str
    frame: pd.DataFrame
    columns: list[Column]
    note: str = ""
    sheet: str = ""
    flag: str | None = None
    row_formats: dict[str, str] = field(default_factory=dict)
    extra: dict = field(default_factory=dict)

    def column(self, key: str) -> Column:
        """Return the column with key ``key``."""
        for column in self.columns:
            if column.key == key:
                return column
        raise KeyError(key)

    def fmt(self, row: str, key: str) -> str:
        """Return the format of cell ``(row, key)``: its column's, or its row's in ``value``.

        Tables of items (one quantity per row) give each row its own format.
        """
        if key == "value" and row in self.row_formats:
            return self.row_formats[row]
        return self.column(key).fmt

    def text(self, row: str, key: str) -> str:
        """Cell ``(row, key)`` as printed."""
        return format_value(self.frame.at[row, key], self.fmt(row, key))

    def value(self, row: str, key: str) -> object:
        """Cell ``(row, key)`` as stored."""
        return self.frame.at[row, key]

    def rows(self) -> list[tuple[str, list[str]]]:
        """Every row: its key and its cells as printed."""
        return [(str(key), [self.text(key, c.key) for c in self.columns])
                for key in self.frame.index]
