"""File formats of enterprise registers: CSV/TXT/TSV, XLSX, GIS layers, (Geo)Parquet.

Each reader returns the raw records as they are in the file (text where the
format is text, so codes such as ``0511`` keep their zeros) together with the
row number a spreadsheet shows for each record: the header is row 1, the first
record row 2, and blank rows keep their numbers (they are skipped, not
renumbered). GIS layers and Parquet tables are numbered the same way, as if
exported to a spreadsheet: the first feature is row 2.
"""

from __future__ import annotations

import codecs
import csv
import io
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.crs import CoordSystem
from geo.errors import ConfigError, InputError
from geo.io.columns import resolve_columns

TEXT_SUFFIXES = (".csv", ".tsv", ".txt")
EXCEL_SUFFIXES = (".xlsx", ".xlsm")
LAYER_SUFFIXES = (".gpkg", ".geojson", ".json", ".shp", ".fgb")
PARQUET_SUFFIXES = (".parquet", ".geoparquet")
SUPPORTED = TEXT_SUFFIXES + EXCEL_SUFFIXES + LAYER_SUFFIXES + PARQUET_SUFFIXES
# Geometry-derived coordinate columns added to layer files (shown in rejects).
GEOM_X, GEOM_Y = "geometry_x", "geometry_y"


@dataclass
class RawTable:
    """Records as read from a file, before validation.

    Attributes
    ----------
    frame : pandas.DataFrame
        One row per record, the file's own columns.
    rows : numpy.ndarray
        The spreadsheet row number of each record (header = row 1).
    system : CoordSystem
        The coordinate system the positions are in.
    columns : dict
        Field mapping forced by the format (lon/lat from a point geometry).
    notes : list of str
        What the reader decided (encoding, sheet, layer, CRS).
    blank_rows : int
        Blank rows skipped.
    """

    frame: pd.DataFrame
    rows: np.ndarray
    system: CoordSystem
    columns: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    blank_rows: int = 0


def read_table(
    path: Path,
    *,
    system: CoordSystem,
    encoding: str | None = None,
    sheet: str | None = None,
    layer: str | None = None,
    require_code: bool = True,
) -> RawTable:
    """Read a register file's records (see the module docstring).

    Parameters
    ----------
    path : Path
        The file (its extension selects the format).
    system : CoordSystem
        Coordinate system declared for lon/lat columns and CRS-less geometry.
    encoding : str, optional
        Text encoding (CSV/TXT/TSV, Shapefile attributes).
    sheet : str, optional
        Worksheet (XLSX); by default the first sheet with the required columns.
    layer : str, optional
        Layer (multi-layer GIS files).
    require_code : bool
        Whether an industry column is required (to choose a worksheet).

    Returns
    -------
    RawTable

    Raises
    ------
    InputError
        If the file cannot be read as its format.
    """
    suffix = path.suffix.lower()
    if suffix in TEXT_SUFFIXES:
        frame, rows, blank, used = _read_text(path, encoding, tab=suffix == ".tsv")
        return RawTable(frame, rows, system, notes=[f"encoding: {used}"], blank_rows=blank)
    if suffix in EXCEL_SUFFIXES:
        frame, rows, blank, notes = _read_excel(path, sheet, require_code)
        return RawTable(frame, rows, system, notes=notes, blank_rows=blank)
    notes: list[str] = []
    frame = _read_parquet(path) if suffix in PARQUET_SUFFIXES else _read_layer(
        path, layer, encoding, notes
    )
    mapping: dict[str, str] = {}
    attributes, system = _positions_from_geometry(frame, system, path, mapping, notes)
    attributes = attributes.reset_index(drop=True)
    rows = np.arange(2, len(attributes) + 2, dtype=np.int64)
    return RawTable(attributes, rows, system, columns=mapping, notes=notes)


def _decode(data: bytes, encoding: str | None, path: Path) -> tuple[str, str]:
    """Decode a text file: the given encoding, else BOM, UTF-8, GBK, GB18030."""
    if encoding:
        try:
            return data.decode(encoding), encoding
        except LookupError as exc:
            raise ConfigError(f"unknown encoding '{encoding}'") from exc
        except UnicodeDecodeError as exc:
            raise InputError(
                f"the file is not valid {encoding} (byte {exc.start}); leave the encoding "
                "unset to detect it, or give the right one",
                file=path,
            ) from exc
    if data.startswith(codecs.BOM_UTF8):
        candidates = [("utf-8-sig", "UTF-8 with BOM")]
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        candidates = [("utf-16", "UTF-16")]
    else:
        candidates = [("utf-8", "UTF-8"), ("gbk", "GBK"), ("gb18030", "GB18030")]
    for name, label in candidates:
        try:
            return data.decode(name), label
        except UnicodeDecodeError:
            continue
    hint = ""
    try:
        from charset_normalizer import from_bytes

        best = from_bytes(data[:200_000]).best()
        if best is not None:
            hint = f" It may be {best.encoding}; if so, pass that encoding (--encoding)."
    except Exception:  # noqa: BLE001 - the hint is optional, the error below is not
        hint = ""
    raise InputError(
        "cannot decode the file as UTF-8, UTF-8 with BOM, GBK or GB18030; save it as UTF-8 "
        f"CSV or pass its encoding.{hint}",
        zh="无法按 UTF-8、GBK 或 GB18030 解码该文件；请另存为 UTF-8 CSV，或用 --encoding 指定编码。"
        + hint,
        file=path,
    )


def _sniff_delimiter(text: str) -> str:
    """Pick the delimiter that splits the header line most often (comma if none)."""
    header = next((line for line in text.splitlines() if line.strip()), "")
    counts = {sep: header.count(sep) for sep in (",", "\t", ";", "|")}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


def _read_text(
    path: Path, encoding: str | None, *, tab: bool
) -> tuple[pd.DataFrame, np.ndarray, int, str]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read the file: {exc}", file=path) from exc
    text, used = _decode(data, encoding, path)
    # a BOM left by an explicit encoding="utf-8" would stick to the first header
    text = text.removeprefix("\ufeff")
    if "\x00" in text[:65536]:
        raise InputError(
            "the file contains binary data, not text; is it really a CSV/TXT file?", file=path
        )
    if not text.strip():
        raise InputError("the file is empty", zh="文件是空的", file=path)
    sep = "\t" if tab else _sniff_delimiter(text)
    # blank lines before the header still count as spreadsheet rows
    stripped = text.lstrip("\r\n")
    leading = text[: len(text) - len(stripped)].count("\n")
    try:
        frame = pd.read_csv(
            io.StringIO(stripped), sep=sep, dtype=str, keep_default_na=False, na_filter=False,
            skip_blank_lines=False,
        )
    except (pd.errors.ParserError, csv.Error) as exc:
        raise InputError(
            f"cannot parse the file as a table with '{sep}' between columns: {exc}", file=path
        ) from exc
    except pd.errors.EmptyDataError as exc:
        raise InputError("the file is empty", file=path) from exc
    rows = np.arange(2, len(frame) + 2, dtype=np.int64) + leading
    blank = _blank(frame)
    return frame[~blank].reset_index(drop=True), rows[~blank], int(blank.sum()), used


def _blank(frame: pd.DataFrame) -> np.ndarray:
    """Rows whose every cell is empty (blank lines, rows of bare delimiters)."""
    if frame.empty:
        return np.zeros(len(frame), dtype=bool)
    text = frame.astype(str)
    return ((text == "") | (text == "nan") | frame.isna()).all(axis=1).to_numpy()


def scalar_text(value: object) -> str | None:
    """Return one cell as text: None for missing, integral floats without '.0'.

    Parameters
    ----------
    value : object
        A cell value of any type.

    Returns
    -------
    str or None
    """
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float | np.floating):
        if np.isnan(value):
            return None
        return str(int(value)) if float(value).is_integer() else repr(float(value))
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return scalar_text(value) or ""


def _read_excel(
    path: Path, sheet: str | None, require_code: bool
) -> tuple[pd.DataFrame, np.ndarray, int, list[str]]:
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise InputError(
            f"cannot open the file as an Excel workbook ({exc}); is it corrupt or another "
            "format?",
            file=path,
        ) from exc
    notes: list[str] = []
    try:
        if sheet is not None and sheet not in book.sheetnames:
            raise InputError(
                f"no worksheet '{sheet}'; the sheets are: {', '.join(book.sheetnames)}",
                zh=f"没有名为“{sheet}”的工作表；工作表有：{'、'.join(book.sheetnames)}", file=path,
            )
        chosen = None
        first_with_data = None
        for name in [sheet] if sheet is not None else book.sheetnames:
            header, records, rows, blank = _sheet_records(book[name])
            if header is None or not records:
                continue
            if sheet is not None:
                chosen = (name, header, records, rows, blank)
                break
            first_with_data = first_with_data or (name, header, records, rows, blank)
            try:  # a notes or cover sheet may come first: take the sheet with the fields
                resolve_columns(header, None, str(path), require_code=require_code)
            except (InputError, ConfigError):
                continue
            chosen = (name, header, records, rows, blank)
            break
        chosen = chosen or first_with_data
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many types on corrupt sheets
        raise InputError(f"cannot read the worksheet: {exc}", file=path) from exc
    finally:
        book.close()
    if chosen is None:
        raise InputError(
            f"no worksheet has data rows under a header; the sheets are: "
            f"{', '.join(book.sheetnames)} (choose one with --sheet)",
            zh=f"没有一个工作表在表头下有数据；工作表有：{'、'.join(book.sheetnames)}"
            "（用 --sheet 指定）",
            file=path,
        )
    name, header, records, rows, blank = chosen
    if len(book.sheetnames) > 1:
        notes.append(
            f"worksheet: {name} (the workbook has {', '.join(book.sheetnames)}; choose another "
            "with --sheet)"
        )
    width = len(header)
    records = [(r + [""] * width)[:width] for r in records]
    frame = pd.DataFrame(records, columns=header, dtype=object)
    return frame, np.asarray(rows, dtype=np.int64), blank, notes


def _sheet_records(worksheet) -> tuple[list[str] | None, list[list[str]], list[int], int]:
    """Header, records and their worksheet row numbers; blank rows are counted."""
    records: list[list[str]] = []
    rows: list[int] = []
    header: list[str] | None = None
    blank = 0
    # min_row=1: read-only sheets then yield every row from the top, gaps included,
    # so the position is the row number Excel shows
    for number, values in enumerate(worksheet.iter_rows(min_row=1, values_only=True), start=1):
        if all(v is None or (isinstance(v, str) and not v.strip()) for v in values):
            if header is not None:
                blank += 1
            continue
        if header is None:
            header = [_cell_text(v) or f"column_{i + 1}" for i, v in enumerate(values)]
            continue
        records.append([_cell_text(v) for v in values])
        rows.append(number)
    return header, records, rows, blank


def _gdal_message(exc: Exception) -> str:
    """GDAL's message without its hint about driver prefixes, which does not apply here."""
    text = str(exc).split("; It might help")[0].rstrip(". ")
    return f"{text}; is the file complete and in the format its extension says?"


def _read_layer(path: Path, layer: str | None, encoding: str | None, notes: list[str]):
    import pyogrio

    try:
        layers = pyogrio.list_layers(path)
    except Exception as exc:  # noqa: BLE001 - GDAL errors on corrupt files vary by driver
        raise InputError(
            f"cannot open the file as a GIS layer: {_gdal_message(exc)}", file=path
        ) from exc
    names = [str(name) for name, _ in layers]
    if layer is None and len(names) > 1:
        points = [str(name) for name, kind in layers if kind and "point" in str(kind).lower()]
        if len(points) != 1:
            raise InputError(
                f"the file has several layers ({', '.join(names)}); choose one with --layer",
                file=path,
            )
        layer = points[0]
        notes.append(f"layer: {layer} (the only point layer)")
    elif layer is not None and layer not in names:
        raise InputError(f"no layer '{layer}'; the layers are: {', '.join(names)}", file=path)
    options: dict[str, Any] = {}
    if path.suffix.lower() == ".shp":
        encoding = encoding or _shapefile_encoding(path, notes)
        if encoding:
            options["encoding"] = encoding
    try:
        return pyogrio.read_dataframe(path, layer=layer, **options)
    except Exception as exc:  # noqa: BLE001
        raise InputError(f"cannot read the layer: {_gdal_message(exc)}", file=path) from exc


def _shapefile_encoding(path: Path, notes: list[str]) -> str | None:
    """Guess the attribute encoding of a Shapefile that does not declare one.

    Without a ``.cpg`` file or a code page in the DBF header, GDAL reads text as
    ISO-8859-1 and Chinese names come out garbled without any error. Older
    Chinese ArcGIS exports are GBK, newer ones UTF-8; the records tell them apart.
    """
    if any(path.with_suffix(s).exists() for s in (".cpg", ".CPG")):
        return None
    dbf = next((p for p in (path.with_suffix(".dbf"), path.with_suffix(".DBF")) if p.exists()),
               None)
    if dbf is None:
        return None
    try:
        data = dbf.read_bytes()
    except OSError:
        return None
    if len(data) < 32 or data[29] != 0:  # byte 29: the DBF code page (0 = none declared)
        return None
    header_length = int.from_bytes(data[8:10], "little")
    records = data[header_length:]
    if records.isascii():
        return None
    for name, label in (("utf-8", "UTF-8"), ("gb18030", "GB18030")):
        try:
            records.decode(name)
        except UnicodeDecodeError:
            continue
        notes.append(f"Shapefile without .cpg: attributes read as {label}")
        return name
    return None


def _read_parquet(path: Path) -> pd.DataFrame:
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(path)
        if schema.metadata and b"geo" in schema.metadata:
            return gpd.read_parquet(path)
        return pd.read_parquet(path)
    except Exception as exc:  # noqa: BLE001 - pyarrow raises several types on corrupt files
        raise InputError(f"cannot read the file as (Geo)Parquet: {exc}", file=path) from exc


def _positions_from_geometry(
    frame: pd.DataFrame,
    declared: CoordSystem,
    path: Path,
    mapping: dict[str, str],
    notes: list[str],
) -> tuple[pd.DataFrame, CoordSystem]:
    """Attribute table with x/y taken from point geometry, and the system they are in.

    ``mapping`` is updated in place so lon/lat point at the geometry columns.
    """
    if not isinstance(frame, gpd.GeoDataFrame) or frame.geometry.name not in frame:
        return pd.DataFrame(frame), declared
    geoms = np.asarray(frame.geometry.values, dtype=object)
    present = ~shapely.is_missing(geoms) & ~shapely.is_empty(geoms)
    kinds = shapely.get_type_id(geoms)
    single = (kinds == shapely.GeometryType.MULTIPOINT) & (shapely.get_num_geometries(geoms) == 1)
    geoms = np.where(single, shapely.get_geometry(geoms, 0), geoms)
    points = present & (shapely.get_type_id(geoms) == shapely.GeometryType.POINT)
    attributes = pd.DataFrame(frame.drop(columns=frame.geometry.name))
    if present.any() and not points.any():
        kind = geoms[np.flatnonzero(present)[0]].geom_type
        raise InputError(
            f"the layer holds {kind} geometries; enterprises must be points", file=path
        )
    if not present.any():
        notes.append("the layer has no geometry; positions read from lon/lat columns")
        return attributes, declared
    x = np.full(len(geoms), np.nan)
    y = np.full(len(geoms), np.nan)
    x[points] = shapely.get_x(geoms[points])
    y[points] = shapely.get_y(geoms[points])
    x_name, y_name = GEOM_X, GEOM_Y
    while x_name in attributes or y_name in attributes:
        x_name, y_name = "_" + x_name, "_" + y_name
    attributes[x_name] = x
    attributes[y_name] = y
    mapping["lon"], mapping["lat"] = x_name, y_name

    crs = frame.crs
    if crs is None:
        notes.append(f"the file has no CRS; positions read as {declared.label()}")
        return attributes, declared
    if declared.crs is None and crs.is_geographic:
        notes.append(
            f"the file says {crs.name}, read as {declared.label()} as requested "
            "(GCJ-02/BD-09 files are often labelled WGS 84)"
        )
        return attributes, declared
    epsg = crs.to_epsg()
    system = CoordSystem(f"EPSG:{epsg}" if epsg else crs.name, crs)
    if declared.name != "wgs84" and declared.crs != crs:
        notes.append(f"the file's CRS ({system.label()}) is used, not {declared.label()}")
    return attributes, system
