r"""Delimited text registers (CSV/TXT/TSV): encodings, delimiters and damaged lines.

A register arrives as an export, often stitched together from several: a few
rows pasted from a GBK system into a UTF-8 file, a name with an unquoted
comma, a quote never closed, a NUL byte from a broken download. One such line
must cost one row, never the file. Reading therefore has two speeds:

- **Fast path.** The whole file decodes in one encoding, holds no NUL byte, and
  pandas parses it with every record on one line and no record longer than
  the header. Nearly every file takes this path.
- **Line path.** Otherwise the file is split into lines with their byte
  offsets, each line is decoded on its own and the csv module parses the
  lines. A line that cannot be read becomes a rejected row whose reason gives
  the line, the byte offset and the cause; the rest of the file is read.

Decisions:

- The encoding is detected by :mod:`geo.io.encodings` (Big5 and foreign
  encodings included). In a file that is mostly UTF-8, a line that decodes as
  GBK, and reads as common simplified Chinese, is **kept and flagged** ("mixed
  encoding"): such lines are rows pasted from another system, and their data
  is good. A line that decodes in neither is rejected. In a GBK file, lines
  that are UTF-8 are kept and flagged the same way.
- A value may escape its quotes MySQL's way (``\"``) when the file never
  doubles them (``""``): such files are read so, with a note.
- A record that spans lines (a quoted value with line breaks) is one row, as
  in a spreadsheet. A multi-line record with the wrong number of fields, or
  with a whole row's delimiters on one line of a value, is a quote never
  closed: its first line is rejected and reading resumes on the next line.
- A line with fewer fields than the header is read with the missing cells
  empty (some exporters leave out trailing empty cells); one with more is
  rejected, unless the extra fields are empty (a trailing delimiter). When
  (nearly) every line ends with the delimiter, the empty field after it is
  ignored with a note, rather than shifting every column.
- A file that is mostly undecodable, or has NUL bytes on most lines, is not a
  damaged register but the wrong file or encoding: it is refused with a message.

Row numbers are spreadsheet rows (the header is row 1, blank rows keep their
numbers, a record over several lines is one row); the reason of a line that
cannot be read also names its line in the file.
"""

from __future__ import annotations

import bisect
import csv
import io
import itertools
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from geo.errors import InputError
from geo.io.encodings import Encoding, charset_hint, detect, plausible
from geo.io.problems import RowProblems

_UNREADABLE_MAX = 0.5  # share of data lines that may be unreadable before the file is refused
_TRAILING_MIN = 0.9  # share of lines ending with the delimiter that makes it a file's habit
_TRAILING = " trailing delimiter"  # name of the empty column after a trailing delimiter
_QUOTE = '"'


@dataclass
class TextTable:
    """Records of a delimited text file (see the module docstring).

    Attributes
    ----------
    frame : pandas.DataFrame
        One row per record (rejected lines included), the file's columns as text.
    rows : numpy.ndarray
        Spreadsheet row of each record.
    problems : RowProblems or None
        Records that could not be read (None when every line was read).
    flags : RowProblems or None
        Records read but needing a look (a line in another encoding).
    blank : int
        Blank rows skipped.
    notes : list of str
        The encoding and what else the reader decided.
    """

    frame: pd.DataFrame
    rows: np.ndarray
    problems: RowProblems | None
    flags: RowProblems | None
    blank: int
    notes: list[str] = field(default_factory=list)


def read_text(path: Path, encoding: str | None, *, tab: bool) -> TextTable:
    """Read a CSV/TXT/TSV register, one row per record.

    Parameters
    ----------
    path : Path
        The file.
    encoding : str, optional
        The file's encoding; detected when not given.
    tab : bool
        Whether the delimiter is a tab (``.tsv``); otherwise it is sniffed
        from the header (comma, tab, semicolon or pipe).

    Returns
    -------
    TextTable

    Raises
    ------
    InputError
        If the file is empty, binary, or mostly undecodable.
    ConfigError
        If ``encoding`` is not a known encoding.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read the file: {exc}", file=path) from exc
    found = detect(data, encoding, path)
    notes = [f"encoding: {found.label}", *found.notes]
    if found.text is not None:
        text = found.text.removeprefix("\ufeff")
        if not text.strip():
            raise InputError("the file is empty", zh="文件是空的", file=path)
        if "\x00" not in text:
            dialect = _Dialect.of(text, tab)
            whole = _parse_whole(text, dialect, path)
            if whole is not None:
                frame, rows, trailing = whole
                if trailing:
                    notes.append(dialect.trailing_note())
                return _finish(frame, rows, None, None, notes, dialect)
    return _parse_lines(data, found, tab, path, notes)


# --------------------------------------------------------------------------- fast path


@dataclass(frozen=True)
class _Dialect:
    """How the file writes a table: its delimiter, and a backslash before quotes (MySQL)."""

    sep: str
    escape: str | None = None

    @classmethod
    def of(cls, text: str, tab: bool) -> _Dialect:
        """Sniff the delimiter from the header line (comma if none) and the quote escape."""
        header = next((line for line in text[:65536].splitlines() if line.strip()), "")
        counts = {sep: header.count(sep) for sep in (",", "\t", ";", "|")}
        best = max(counts, key=counts.get)
        sep = "\t" if tab else best if counts[best] else ","
        # MySQL writes a quote in a value as \" rather than "": read it so, or the value
        # ends at the quote; files with "" use the standard escape
        return cls(sep, "\\" if '\\"' in text and '""' not in text else None)

    @property
    def csv(self) -> dict[str, str | None]:
        """Options of :func:`csv.reader`."""
        return {"delimiter": self.sep, "escapechar": self.escape}

    @property
    def pandas(self) -> dict[str, str | None]:
        """Options of :func:`pandas.read_csv`."""
        return {"sep": self.sep, "escapechar": self.escape}

    def shown(self) -> str:
        return "tab" if self.sep == "\t" else f"'{self.sep}'"

    def trailing_note(self) -> str:
        return f"every line ends with {self.shown()}: the empty field after it is ignored"


def _header(lines: list[str], dialect: _Dialect, path: Path) -> tuple[list[str], int]:
    """Return the header's names as pandas gives them (``Unnamed: 3``) and its line count."""
    reader = csv.reader(lines, **dialect.csv)
    try:
        next(reader, None)
        return [str(c) for c in pd.read_csv(
            io.StringIO("".join(lines[:reader.line_num])), dtype=str, nrows=0, **dialect.pandas,
        ).columns], reader.line_num
    except (csv.Error, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InputError(f"cannot read the header line: {exc}", zh=f"无法读取表头行：{exc}",
                         file=path) from exc


def _trailing_habit(lines: list[str], dialect: _Dialect, width: int) -> bool:
    """Whether (nearly) every data line has one field more than the header, an empty one."""
    counted = ending = 0
    for line in lines:
        fields = next(csv.reader([line], **dialect.csv), [])
        if any(fields):
            counted += 1
            ending += len(fields) == width + 1 and fields[-1] == ""
    return counted > 0 and ending >= _TRAILING_MIN * counted


def _parse_whole(
    text: str, dialect: _Dialect, path: Path
) -> tuple[pd.DataFrame, np.ndarray, bool] | None:
    """Parse the decoded file with pandas; None when the line path must take over."""
    stripped = text.lstrip("\r\n")
    # blank lines before the header still count as spreadsheet rows
    leading = text[: len(text) - len(stripped)].count("\n")
    head = list(itertools.islice(io.StringIO(stripped[:65536], newline=""), 201))
    names, span = _header(head, dialect, path)
    if span > 1:
        return None
    # the sample's last line may be cut short
    trailing = _trailing_habit(head[1:-1] or head[1:], dialect, len(names))
    options = {"header": 0, "names": [*names, _TRAILING]} if trailing else {}
    try:
        frame = pd.read_csv(
            io.StringIO(stripped), dtype=str, keep_default_na=False, na_filter=False,
            skip_blank_lines=False, **dialect.pandas, **options,
        )
    except (pd.errors.ParserError, csv.Error):
        return None
    except pd.errors.EmptyDataError as exc:
        raise InputError("the file is empty", zh="文件是空的", file=path) from exc
    lines = stripped.count("\n") + (not stripped.endswith("\n"))
    # a first record longer than the header becomes pandas' index; a record over
    # several lines may be a quoted line break, or a quote that swallowed lines
    if not isinstance(frame.index, pd.RangeIndex) or len(frame) + 1 != lines:
        return None
    if trailing:
        if (frame[_TRAILING] != "").any():
            return None
        frame = frame.drop(columns=_TRAILING)
    rows = np.arange(2, len(frame) + 2, dtype=np.int64) + leading
    return frame, rows, trailing


def _blank(frame: pd.DataFrame) -> np.ndarray:
    """Rows whose every cell is empty (blank lines, rows of bare delimiters)."""
    if frame.empty:
        return np.zeros(len(frame), dtype=bool)
    # on the numpy array: a frame may have thousands of columns
    values = frame.to_numpy(dtype=object)
    return (pd.isna(values) | (values == "") | (values == "nan")).all(axis=1)


def _finish(
    frame: pd.DataFrame,
    rows: np.ndarray,
    problems: RowProblems | None,
    flags: RowProblems | None,
    notes: list[str],
    dialect: _Dialect,
) -> TextTable:
    """Drop blank rows (counted) and an empty unnamed last column (trailing delimiters)."""
    blank = _blank(frame)
    if problems is not None:
        blank = blank & ~problems.marked
    keep = ~blank
    if blank.any():
        frame = frame[keep].reset_index(drop=True)
        rows = rows[keep]
        problems = _take(problems, keep)
        flags = _take(flags, keep)
    last = frame.columns[-1] if len(frame.columns) > 1 else ""
    if last.startswith("Unnamed: ") and (frame[last].astype(str) == "").all():
        frame = frame.drop(columns=last)
        notes.append(dialect.trailing_note())
    if dialect.escape:
        notes.append('quotes in values are escaped with a backslash (\\"), as MySQL writes '
                     "them")
    return TextTable(frame, rows, problems, flags, int(blank.sum()), notes)


def _take(problems: RowProblems | None, keep: np.ndarray) -> RowProblems | None:
    if problems is None:
        return None
    kept = RowProblems(int(keep.sum()))
    for name in ("reason_en", "reason_zh", "column", "category"):
        setattr(kept, name, getattr(problems, name)[keep])
    return kept


# --------------------------------------------------------------------------- line path


@dataclass
class _Lines:
    """A file's lines, decoded one by one, and what went wrong with which."""

    text: list[str]
    offsets: np.ndarray | None  # byte offset of each line (None for UTF-16)
    bad: dict[int, tuple[str, str, str]]  # line -> (reason_en, reason_zh, category)
    other: dict[int, str]  # line -> label of the fallback encoding that decoded it
    undecodable: int = 0


def _split(data: bytes, found: Encoding) -> _Lines:
    """Split into lines (CR, LF or CRLF) and decode each on its own."""
    if found.codec.startswith("utf-16"):  # not ASCII-compatible: split the decoded text
        lines = _Lines(list(io.StringIO(found.text, newline="")), None, {}, {})
        for i, line in enumerate(lines.text):
            if "\x00" in line:
                lines.bad[i] = _nul_reason(i, None)
                lines.text[i] = line.replace("\x00", "\\x00")
        return lines
    raw = data.splitlines(keepends=True)
    offsets = np.zeros(len(raw) + 1, dtype=np.int64)
    np.cumsum([len(line) for line in raw], out=offsets[1:])
    lines = _Lines([], offsets, {}, {})
    wanted = found.label + (f" or {found.fallback_label}" if found.fallback else "")
    # UTF-8 text often decodes as GB18030 nonsense, while GBK text is almost never valid
    # UTF-8: in a GBK file, a line beyond ASCII is tried as UTF-8 first
    utf8_first = found.fallback == "utf-8"
    for i, line in enumerate(raw):
        if utf8_first and not line.isascii():
            try:
                lines.text.append(line.decode("utf-8"))
                lines.other[i] = "UTF-8"
                continue
            except UnicodeDecodeError:
                pass
        try:
            lines.text.append(line.decode(found.codec))
            continue
        except UnicodeDecodeError as exc:
            first = exc
        if found.fallback and not utf8_first:
            try:
                text = line.decode(found.fallback)
            except UnicodeDecodeError:
                text = None
            if text is not None and plausible(text, found.fallback):
                lines.text.append(text)
                lines.other[i] = found.fallback_label
                continue
        lines.text.append(line.decode(found.codec, errors="backslashreplace"))
        offset = int(offsets[i]) + first.start
        lines.bad[i] = (
            f"line {i + 1}: byte 0x{line[first.start]:02X} at byte offset {offset:,} is not "
            f"valid {wanted}",
            f"第 {i + 1} 行：字节偏移 {offset:,} 处的字节 0x{line[first.start]:02X} 不是有效的 "
            f"{wanted.replace(' or ', ' 或 ')} 编码",
            "undecodable bytes",
        )
        lines.undecodable += 1
    if b"\x00" in data:
        where = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 0)
        # the first NUL of each line that has one
        line_of, first = np.unique(np.searchsorted(offsets, where, side="right") - 1,
                                   return_index=True)
        for i, position in zip(line_of.tolist(), where[first].tolist(), strict=True):
            lines.bad.setdefault(i, _nul_reason(i, position))
            lines.text[i] = lines.text[i].replace("\x00", "\\x00")
    return lines


def _nul_reason(i: int, offset: int | None) -> tuple[str, str, str]:
    at_en = f" at byte offset {offset:,}" if offset is not None else ""
    at_zh = f"字节偏移 {offset:,} 处" if offset is not None else ""
    return (f"line {i + 1}: a NUL byte (0x00){at_en}; is the file damaged?",
            f"第 {i + 1} 行：{at_zh}有空字节（0x00），文件是否损坏？", "NUL byte")


def _refuse(lines: _Lines, found: Encoding, start: int, data: bytes, path: Path) -> None:
    """Refuse a file that is mostly unreadable: the wrong file or encoding, not damage."""
    data_lines = sum(1 for line in lines.text[start + 1:] if line.strip()) or 1
    nul = sum(1 for reason in lines.bad.values() if reason[2] == "NUL byte")
    if nul > _UNREADABLE_MAX * data_lines:
        raise InputError("the file contains binary data, not text; is it really a CSV/TXT "
                         "file?", zh="文件含有二进制数据而不是文本，确定是 CSV/TXT 文件吗？",
                         file=path)
    if lines.undecodable <= _UNREADABLE_MAX * data_lines:
        return
    first = min(i for i, reason in lines.bad.items() if reason[2] == "undecodable bytes")
    where_en, where_zh = lines.bad[first][0], lines.bad[first][1]
    if found.explicit:
        raise InputError(
            f"the file is not valid {found.label} ({where_en}); leave the encoding unset to "
            "detect it, or give the right one",
            zh=f"文件不是有效的 {found.label} 编码（{where_zh}）；不指定编码即可自动识别，"
            "或给出正确的编码",
            file=path,
        )
    hint = charset_hint(data)
    raise InputError(
        "cannot decode the file as UTF-8, UTF-8 with BOM, GBK, GB18030 or Big5 (most lines "
        f"fail; first {where_en}); save it as UTF-8 CSV or pass its encoding.{hint}",
        zh="无法按 UTF-8、GBK、GB18030 或 Big5 解码该文件（大多数行无法解码；首个问题："
        f"{where_zh}）；请另存为 UTF-8 CSV，或用 --encoding 指定编码。{hint}",
        file=path,
    )


def _parse_lines(
    data: bytes, found: Encoding, tab: bool, path: Path, notes: list[str]
) -> TextTable:
    """Read the file line by line; unreadable lines become rejected rows."""
    lines = _split(data, found)
    start = next((i for i, line in enumerate(lines.text) if line.strip()), None)
    if start is None:
        raise InputError("the file is empty", zh="文件是空的", file=path)
    _refuse(lines, found, start, data, path)
    if start in lines.bad:
        en, zh, _ = lines.bad[start]
        raise InputError(f"the header cannot be read: {en}", zh=f"表头无法读取：{zh}", file=path)
    dialect = _Dialect.of("".join(lines.text[start:]), tab)
    parser = _LineParser(lines, dialect)
    parser.run(start, path)
    if parser.trailing >= _TRAILING_MIN * max(len(parser.records), 1):
        notes.append(dialect.trailing_note())
    frame = pd.DataFrame(parser.records, columns=parser.names, dtype=object)
    n = len(frame)
    problems = _row_problems(n, parser.problems) if parser.problems else None
    flags = _row_problems(n, parser.flags) if parser.flags else None
    if parser.flags:
        used = sorted(set(lines.other.values()))
        notes.append(f"{len(parser.flags):,} rows decoded as {', '.join(used)}, not "
                     f"{found.label} (flagged)")
    return _finish(frame, np.asarray(parser.rows, dtype=np.int64), problems, flags, notes,
                   dialect)


def _row_problems(n: int, found: dict[int, tuple[str, str, str]]) -> RowProblems:
    problems = RowProblems(n)
    for record, (en, zh, category) in found.items():
        problems.reason_en[record], problems.reason_zh[record] = en, zh
        problems.column[record], problems.category[record] = "", category
    return problems


class _LineParser:
    """Records from decoded lines, each with its spreadsheet row and any problem."""

    def __init__(self, lines: _Lines, dialect: _Dialect) -> None:
        self.lines = lines
        self.dialect = dialect
        self.barriers = sorted(lines.bad)
        self.names: list[str] = []
        self.records: list[list[str]] = []
        self.rows: list[int] = []
        self.problems: dict[int, tuple[str, str, str]] = {}
        self.flags: dict[int, tuple[str, str, str]] = {}
        self.trailing = 0  # records whose extra fields were all empty

    def run(self, start: int, path: Path) -> None:
        """Parse from the header line ``start`` (0-based) to the end."""
        text = self.lines.text
        end = self.barriers[bisect.bisect_right(self.barriers, start)] if any(
            b > start for b in self.barriers) else len(text)
        self.names, span = _header(text[start:end], self.dialect, path)
        self.row = start + 2  # blank lines before the header are rows too
        position = start + span
        while position < len(text):
            if position in self.lines.bad:
                self._reject(position, self.lines.bad[position])
                position += 1
                continue
            at = bisect.bisect_right(self.barriers, position)
            end = self.barriers[at] if at < len(self.barriers) else len(text)
            position = self._segment(position, end)

    def _segment(self, position: int, end: int) -> int:
        """Parse lines ``position:end`` (no unreadable line among them); return where to go on."""
        reader = csv.reader(map(self.lines.text.__getitem__, range(position, end)),
                            **self.dialect.csv)
        while True:
            first = position + reader.line_num
            try:
                fields = next(reader)
            except StopIteration:
                return end
            except csv.Error as exc:  # e.g. a quote left open over 131,072 characters
                self._reject(first, self._quote_reason(first, str(exc)))
                return first + 1
            last = position + reader.line_num
            width = len(self.names)
            trimmed = fields
            while len(trimmed) > width and trimmed[-1] == "":
                trimmed = trimmed[:-1]
            line = self.lines.text[first]
            if self.dialect.escape:
                line = line.replace(self.dialect.escape + _QUOTE, "")
            odd = line.count(_QUOTE) % 2 == 1
            if last - first > 1 and (len(trimmed) != width or self._swallowed(fields)):
                # a quote opened on this line swallowed the next ones: read them again
                self._reject(first, self._quote_reason(first))
                return first + 1
            if len(trimmed) > width:
                self._reject(first, self._fields_reason(first, len(trimmed)), fields)
            elif len(trimmed) < width and odd and last == end:
                self._reject(first, self._quote_reason(first), fields)
            else:
                self.trailing += len(trimmed) < len(fields)
                self._keep(trimmed + [""] * (width - len(trimmed)), first, last)

    def _swallowed(self, fields: list[str]) -> bool:
        """Whether a value with line breaks holds a line with a whole row's delimiters.

        A quoted line break (an address on two lines) holds few delimiters; a
        quote left open takes in whole rows until the next quote closes it, and
        the record may still come out with the header's number of fields.
        """
        whole = max(len(self.names) - 1, 2)
        return any(line.count(self.dialect.sep) >= whole for value in fields
                   if "\n" in value or "\r" in value for line in value.splitlines())

    def _keep(self, fields: list[str], first: int, last: int) -> None:
        other = [i for i in range(first, last) if i in self.lines.other]
        if other:
            label = self.lines.other[other[0]]
            self.flags[len(self.records)] = (
                f"line {other[0] + 1} is in {label}, unlike the rest of the file; check its text",
                f"第 {other[0] + 1} 行为 {label} 编码，与文件其余部分不同，请核对文字",
                "mixed encoding",
            )
        self._add(fields)

    def _reject(self, line: int, reason: tuple[str, str, str],
                fields: list[str] | None = None) -> None:
        self.problems[len(self.records)] = reason
        if fields is None:
            fields = next(csv.reader([self.lines.text[line]], **self.dialect.csv), [])
        width = len(self.names)
        if len(fields) > width:  # keep every value: the overflow goes into the last cell
            fields = [*fields[:width - 1], self.dialect.sep.join(fields[width - 1:])]
        self._add(fields + [""] * (width - len(fields)))

    def _add(self, fields: list[str]) -> None:
        self.records.append(fields)
        self.rows.append(self.row)
        self.row += 1

    def _fields_reason(self, line: int, got: int) -> tuple[str, str, str]:
        width = len(self.names)
        shown = self.dialect.shown()
        return (f"line {line + 1}: {got} fields where the header has {width}; a {shown} inside "
                "a value that is not quoted? Put such values in double quotes",
                f"第 {line + 1} 行有 {got} 个字段，表头只有 {width} 个；值中含有未加引号的分隔符"
                f" {shown}？请给这样的值加上双引号", "too many fields")

    def _quote_reason(self, line: int, detail: str = "") -> tuple[str, str, str]:
        extra = f" ({detail})" if detail else ""
        return (f"line {line + 1}: a double quote (\") is opened and never closed{extra}; "
                "the line is read on its own",
                f"第 {line + 1} 行的双引号（\"）没有闭合{extra}；该行单独处理", "unclosed quote")
