"""The report's tables as one workbook: a sheet per table, wide, with headers, units and formats.

Each sheet: the synthetic-data banner (when the firms are synthetic), then the
header row (frozen, with units), the rows with Excel number formats that print
as the report prints, the flag column where the table has one, and under the
rows the table's title and note. Text from the data is stored as text that
Excel never evaluates (:func:`geo.safety.protect_text_cells`).
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from geo.report.document import Report
from geo.report.table import FORMATS, ReportTable
from geo.safety import protect_text_cells, xlsx_text

_BAD_SHEET = re.compile(r"[\[\]:*?/\\]")
_HEADER = PatternFill("solid", fgColor="EEF3FB")
_FLAGGED = PatternFill("solid", fgColor="FFF4E5")


def _sheet_name(wanted: str, taken: set[str]) -> str:
    name = _BAD_SHEET.sub("_", wanted).strip("'")[:31] or "Sheet"
    base, i = name, 2
    while name.lower() in taken:
        suffix = f" {i}"
        name, i = base[:31 - len(suffix)] + suffix, i + 1
    taken.add(name.lower())
    return name


def _width(texts: list[str]) -> float:
    longest = max((sum(2 if ord(ch) > 0x2E80 else 1 for ch in t) for t in texts), default=8)
    return float(min(max(longest + 2, 8), 60))


def _sheet(book: Workbook, table: ReportTable, banner: str, taken: set[str]) -> None:
    sheet = book.create_sheet(_sheet_name(table.sheet or table.id, taken))
    frame = xlsx_text(table.frame)
    row = 1
    if banner:
        sheet.cell(row, 1, banner).font = Font(bold=True, color="B71C1C")
        row += 1
    header = row
    for j, column in enumerate(table.columns, start=1):
        cell = sheet.cell(header, j, column.title)
        cell.font, cell.fill = Font(bold=True), _HEADER
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    for key in frame.index:
        row += 1
        flagged = bool(table.flag and frame.at[key, table.flag])
        for j, column in enumerate(table.columns, start=1):
            value = frame.at[key, column.key]
            fmt = table.fmt(str(key), column.key)
            if fmt == "text" or isinstance(value, str):
                value = "" if pd.isna(value) else str(value)
            else:
                value = None if pd.isna(value) else float(value)
            cell = sheet.cell(row, j, value)
            if fmt != "text" and value is not None and not isinstance(value, str):
                cell.number_format = FORMATS[fmt][1]
            if len(str(value or "")) > 40:
                cell.alignment = Alignment(wrap_text=True, vertical="top")
            if flagged:
                cell.fill = _FLAGGED
    sheet.cell(row + 2, 1, table.title).font = Font(bold=True)
    sheet.cell(row + 3, 1, table.note)
    sheet.freeze_panes = sheet.cell(header + 1, 2)
    for j, column in enumerate(table.columns, start=1):
        texts = [column.title] + [table.text(str(k), column.key) for k in table.frame.index]
        sheet.column_dimensions[get_column_letter(j)].width = _width(texts)
    protect_text_cells(sheet)


def write_xlsx(report: Report, path: str | Path) -> Path:
    """Write the report's tables, one sheet each, the reading guide last.

    Parameters
    ----------
    report : Report
        The assembled report.
    path : str or Path
        Destination (the caller writes it atomically).

    Returns
    -------
    Path
    """
    book = Workbook()
    book.remove(book.active)
    taken: set[str] = set()
    for table in report.workbook_tables():
        _sheet(book, table, report.banner, taken)
    book.properties.title = report.title
    book.properties.creator = "geo"
    book.save(str(path))
    return Path(path)
