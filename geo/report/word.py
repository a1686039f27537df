"""The report as a Word document (python-docx): real headings, tables and figures with captions.

Opens in Word, WPS and LibreOffice. Captions use Word's ``Caption`` style and
number tables and figures (表1, 图1) in reading order; the synthetic-data
banner is in the page header, so it is on every page.
"""

from __future__ import annotations

import io
import re
import struct
from pathlib import Path

from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Cm, Pt, RGBColor

from geo.report.document import Block, Report
from geo.report.findings import Cite
from geo.report.table import ReportTable

# XML 1.0 cannot hold C0 control characters other than tab, LF and CR
_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_FONT_ZH = "SimSun"  # 宋体: in every Chinese Word and WPS install; LibreOffice substitutes
_WIDTH_CM = 22.0  # of a figure
_TEXT_CM = 25.7  # text width of A4 landscape with 2 cm margins
_HEIGHT_CM = 14.0  # of a figure: 17 cm of text height less its caption and note


def _clean(text: object) -> str:
    return _ILLEGAL.sub("\ufffd", str(text))


def _fonts(document: Document, lang: str) -> None:
    for name in ("Normal", "Caption", "Heading 1", "Heading 2", "Heading 3", "Title"):
        style = document.styles[name]
        fonts = style.element.get_or_add_rPr().get_or_add_rFonts()
        fonts.set(qn("w:eastAsia"), _FONT_ZH)
    document.styles["Normal"].font.size = Pt(10.5)


def _caption(document: Document, text: str, *, above: bool = False) -> None:
    paragraph = document.add_paragraph(_clean(text), style="Caption")
    paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
    paragraph.paragraph_format.keep_with_next = above  # a table's caption stays with it


def _widths(table: ReportTable, rows: list[tuple[str, list[str]]]) -> list[float]:
    """Column widths (cm) filling the text width, by the longest text of each column."""
    def size(text: str) -> int:
        return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)

    weights = []
    for j, column in enumerate(table.columns):
        longest = max([size(cells[j]) for _, cells in rows] or [0])
        weights.append(min(max(longest, size(column.header) / 2, 7), 30))
    total = sum(weights)
    return [_TEXT_CM * w / total for w in weights]


def _note(document: Document, text: str) -> None:
    if text:
        run = document.add_paragraph().add_run(_clean(text))
        run.font.size = Pt(8.5)
        run.font.color.rgb = RGBColor(0x55, 0x55, 0x55)


def _table(document: Document, table: ReportTable, number: str) -> None:
    _caption(document, f"{number} {table.title}", above=True)
    rows = table.rows()
    grid = document.add_table(rows=1 + len(rows), cols=len(table.columns))
    grid.style = "Table Grid"
    grid.alignment = WD_TABLE_ALIGNMENT.CENTER
    grid.autofit = False
    for column, width in zip(grid.columns, _widths(table, rows), strict=True):
        column.width = Cm(width)  # the grid, which LibreOffice and WPS follow
        for cell in column.cells:
            cell.width = Cm(width)  # and each cell, which Word follows
    size = Pt(8 if len(table.columns) <= 8 else 7)
    for j, column in enumerate(table.columns):
        cell = grid.cell(0, j)
        cell.text = _clean(column.title)
        for run in cell.paragraphs[0].runs:
            run.font.bold, run.font.size = True, size
    for i, (key, cells) in enumerate(rows, start=1):
        row = grid.rows[i].cells
        for j, (column, text) in enumerate(zip(table.columns, cells, strict=True)):
            row[j].text = _clean(text)
            paragraph = row[j].paragraphs[0]
            if table.fmt(key, column.key) != "text":
                paragraph.alignment = WD_ALIGN_PARAGRAPH.RIGHT
            for run in paragraph.runs:
                run.font.size = size
    # the header row repeats on every page the table spans
    header = grid.rows[0]._tr.get_or_add_trPr()
    repeat = header.makeelement(qn("w:tblHeader"), {qn("w:val"): "true"})
    header.append(repeat)
    _note(document, table.note)


def _cards(document: Document, table: ReportTable, number: str) -> None:
    """Render a scorecard table as one small two-column table per zone."""
    _caption(document, f"{number} {table.title}", above=True)
    for _, cells in table.rows():
        document.add_heading(_clean(cells[0]), level=3)
        grid = document.add_table(rows=len(table.columns) - 1, cols=2)
        grid.style = "Table Grid"
        for i, (column, text) in enumerate(zip(table.columns[1:], cells[1:], strict=True)):
            grid.cell(i, 0).text, grid.cell(i, 1).text = _clean(column.title), _clean(text)
            for cell in (grid.cell(i, 0), grid.cell(i, 1)):
                for run in cell.paragraphs[0].runs:
                    run.font.size = Pt(8)
    _note(document, table.note)


def _picture(document: Document, png: bytes, caption: str, note: str = "") -> None:
    width, height = struct.unpack(">II", png[16:24])  # the PNG header's IHDR chunk
    # as wide as the text, but never taller than what leaves room for the caption
    document.add_picture(io.BytesIO(png), width=Cm(min(_WIDTH_CM, _HEIGHT_CM * width / height)))
    document.paragraphs[-1].alignment = WD_ALIGN_PARAGRAPH.CENTER
    _caption(document, caption)
    _note(document, note)


def _findings(document: Document, findings: list[list[str | Cite]]) -> None:
    for pieces in findings:
        paragraph = document.add_paragraph(style="List Number")
        for piece in pieces:
            run = paragraph.add_run(_clean(piece.text if isinstance(piece, Cite) else piece))
            run.bold = isinstance(piece, Cite)


def write_docx(report: Report, path: str | Path) -> Path:
    """Write the report as a ``.docx`` file.

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
    zh = report.lang == "zh"
    document = Document()
    _fonts(document, report.lang)
    section = document.sections[0]
    section.orientation = WD_ORIENT.LANDSCAPE
    section.page_width, section.page_height = Cm(29.7), Cm(21.0)
    for side in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
        setattr(section, side, Cm(2))
    if report.banner:
        banner = section.header.paragraphs[0]
        banner.alignment = WD_ALIGN_PARAGRAPH.CENTER
        run = banner.add_run(_clean(report.banner))
        run.bold, run.font.color.rgb = True, RGBColor(0xB7, 0x1C, 0x1C)
    document.core_properties.title = _clean(report.title)
    document.core_properties.author = "geo"
    document.add_heading(_clean(report.title), level=0)
    document.add_paragraph(_clean(report.subtitle))
    tables = figures = 0

    def number(kind: str) -> str:
        nonlocal tables, figures
        if kind == "table":
            tables += 1
            return f"表{tables}" if zh else f"Table {tables}"
        figures += 1
        return f"图{figures}" if zh else f"Figure {figures}"

    for i, part in enumerate(report.sections, start=1):
        document.add_heading(_clean(f"{i}. {part.title}"), level=1)
        for block in part.blocks:
            _block(document, block, number)
    document.save(str(path))
    return Path(path)


def _block(document: Document, block: Block, number) -> None:
    if block.kind == "text":
        document.add_paragraph(_clean(block.content))
    elif block.kind == "findings":
        _findings(document, block.content)  # type: ignore[arg-type]
    elif block.kind == "table":
        _table(document, block.content, number("table"))  # type: ignore[arg-type]
    elif block.kind == "cards":
        _cards(document, block.content, number("table"))  # type: ignore[arg-type]
    elif block.kind == "chart":
        chart = block.content
        _picture(document, chart.png, f"{number('figure')} {chart.caption}", chart.note)
    else:
        path, caption = block.content  # type: ignore[misc]
        _picture(document, Path(path).read_bytes(), f"{number('figure')} {caption}")
