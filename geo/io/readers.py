"""File formats of enterprise registers: CSV/TXT/TSV, XLSX, GIS layers, (Geo)Parquet.

Each reader returns the raw records as they are in the file (text where the
format is text, so codes such as ``0511`` keep their zeros) together with the
row number a spreadsheet shows for each record: the header is row 1, the first
record row 2, and blank rows keep their numbers (they are skipped, not
renumbered). GIS layers and Parquet tables are numbered the same way, as if
exported to a spreadsheet: the first feature is row 2.

Text files are read by :mod:`geo.io.text` (encodings, damaged lines). A
workbook's firms may span several worksheets with the same header: all are
read and ``sheets`` says which record came from which. Cells a table cannot
hold as text (Parquet lists and structs) are turned into JSON text.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.errors import ConfigError, InputError
from geo.io.columns import header_key, resolve_columns
from geo.io.crs import CoordSystem, non_horizontal_kind
from geo.io.problems import RowProblems
from geo.io.text import read_text
from geo.io.vector import gdal_message, read_vector, restore_cut_names

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
    problems : RowProblems, optional
        Records the reader could not read (a malformed line, bad bytes): they
        are in ``frame`` as far as they could be read, and are rejected.
    flags : RowProblems, optional
        Records read but needing a look (a line in another encoding).
    sheets : numpy.ndarray, optional
        The worksheet of each record, when several worksheets were read.
    """

    frame: pd.DataFrame
    rows: np.ndarray
    system: CoordSystem
    columns: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    blank_rows: int = 0
    problems: RowProblems | None = None
    flags: RowProblems | None = None
    sheets: np.ndarray | None = None


def read_table(
    path: Path,
    *,
    system: CoordSystem,
    encoding: str | None = None,
    sheet: str | None = None,
    layer: str | None = None,
    columns: dict[str, str] | None = None,
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
        Worksheet (XLSX); by default the first sheet with the required columns,
        and the other visible sheets with the same header.
    layer : str, optional
        Layer (multi-layer GIS files).
    columns : dict, optional
        The user's ``{field: column}`` mapping (to choose a worksheet).
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
        text = read_text(path, encoding, tab=suffix == ".tsv")
        return RawTable(text.frame, text.rows, system, notes=text.notes, blank_rows=text.blank,
                        problems=text.problems, flags=text.flags)
    if suffix in EXCEL_SUFFIXES:
        return _read_excel(path, system, sheet, columns, require_code)
    notes: list[str] = []
    frame = _read_parquet(path, notes) if suffix in PARQUET_SUFFIXES else _read_layer(
        path, layer, encoding, notes
    )
    mapping: dict[str, str] = {}
    attributes, system = _positions_from_geometry(frame, system, path, mapping, notes)
    attributes = attributes.reset_index(drop=True)
    rows = np.arange(2, len(attributes) + 2, dtype=np.int64)
    return RawTable(attributes, rows, system, columns=mapping, notes=notes)


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


@dataclass
class _Sheet:
    name: str
    header: list[str]
    records: list[list[str]]
    rows: list[int]
    blank: int
    hidden: bool
    fits: bool  # the header has the required fields

    @property
    def key(self) -> list[str]:
        return [header_key(h) for h in self.header]


def _read_excel(
    path: Path,
    system: CoordSystem,
    sheet: str | None,
    columns: dict[str, str] | None,
    require_code: bool,
) -> RawTable:
    """Read the worksheet with the firms, and the visible ones with the same header."""
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
    names = book.sheetnames
    found: list[_Sheet] = []
    try:
        if sheet is not None and sheet not in names:
            raise InputError(
                f"no worksheet '{sheet}'; the sheets are: {', '.join(names)}",
                zh=f"没有名为“{sheet}”的工作表；工作表有：{'、'.join(names)}", file=path,
            )
        for name in [sheet] if sheet is not None else names:
            worksheet = book[name]
            if not hasattr(worksheet, "iter_rows"):  # a chart sheet holds no cells
                if sheet is not None:
                    raise InputError(f"worksheet '{sheet}' is a chart, not a table",
                                     zh=f"工作表“{sheet}”是图表，不是表格", file=path)
                continue
            header, records, rows, blank = _sheet_records(worksheet)
            if header is None or not records:
                continue
            fits = sheet is not None or _has_fields(header, columns, path, require_code)
            found.append(_Sheet(name, header, records, rows, blank,
                                worksheet.sheet_state != "visible", fits))
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many types on corrupt sheets
        raise InputError(f"cannot read the worksheet: {exc}", file=path) from exc
    finally:
        book.close()
    if not found:
        raise InputError(
            f"no worksheet has data rows under a header; the sheets are: "
            f"{', '.join(names)} (choose one with --sheet)",
            zh=f"没有一个工作表在表头下有数据；工作表有：{'、'.join(names)}"
            "（用 --sheet 指定）",
            file=path,
        )
    fitting = [s for s in found if s.fits]
    if not fitting and len(names) > 1:  # name the largest sheet's columns: the likeliest data
        _no_sheet_fits(max(found, key=lambda s: len(s.records)), names, columns, path,
                       require_code)
    # a notes or cover sheet may come first; a hidden sheet only when no visible one fits
    first = next((s for s in fitting if not s.hidden), fitting[0] if fitting else found[0])
    chosen = [s for s in found if s is first or (not s.hidden and s.fits and s.key == first.key)]
    notes = _sheet_notes(found, chosen, names)
    width = len(first.header)
    records = [(r + [""] * width)[:width] for s in chosen for r in s.records]
    frame = pd.DataFrame(records, columns=first.header, dtype=object)
    rows = np.asarray([r for s in chosen for r in s.rows], dtype=np.int64)
    sheets = (np.repeat(np.array([s.name for s in chosen], dtype=object),
                        [len(s.records) for s in chosen]) if len(chosen) > 1 else None)
    return RawTable(frame, rows, system, notes=notes, blank_rows=sum(s.blank for s in chosen),
                    sheets=sheets)


def _has_fields(header: list[str], columns: dict[str, str] | None, path: Path,
                require_code: bool) -> bool:
    try:
        resolve_columns(header, columns, str(path), require_code=require_code)
    except (InputError, ConfigError):
        return False
    return True


def _no_sheet_fits(first: _Sheet, names: list[str], columns: dict[str, str] | None,
                   path: Path, require_code: bool) -> None:
    """Raise the missing-field error of one sheet (the largest), naming all the sheets."""
    try:
        resolve_columns(first.header, columns, str(path), require_code=require_code)
    except InputError as exc:
        raise InputError(
            f"no worksheet has the required columns (the sheets are: {', '.join(names)}); "
            f"choose the one with the firms with --sheet, or map its columns with --column. "
            f"Worksheet '{first.name}': {exc.message}",
            zh=f"没有一个工作表含有必需的列（工作表有：{'、'.join(names)}）；请用 --sheet "
            f"指定企业名录所在的工作表，或用 --column 指定列。工作表“{first.name}”："
            f"{exc.message_zh or exc.message}",
            file=path,
        ) from exc


def _sheet_notes(found: list[_Sheet], chosen: list[_Sheet], names: list[str]) -> list[str]:
    """Say which worksheets were read, and why each other one with data was not."""
    if len(chosen) > 1:
        read = ", ".join(f"{s.name} ({_rows(s)})" for s in chosen)
        notes = [f"worksheets {read} have the same header: all are read (column source_sheet "
                 "says which; choose one with --sheet)"]
    elif len(names) > 1:
        hidden = ", hidden" if chosen[0].hidden else ""
        notes = [f"worksheet: {chosen[0].name}{hidden} (the workbook has {', '.join(names)}; "
                 "choose another with --sheet)"]
    else:
        notes = []
    for s in found:
        if s in chosen:
            continue
        why = ("it is hidden (a copy?)" if s.hidden and s.key == chosen[0].key
               else "its header differs")
        notes.append(f"worksheet {s.name} ({_rows(s)}{', hidden' * s.hidden}) "
                     f"is not read: {why}; read it with --sheet")
    return notes


def _rows(sheet: _Sheet) -> str:
    n = len(sheet.records)
    return f"{n:,} row" + "s" * (n != 1)


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


def _read_layer(path: Path, layer: str | None, encoding: str | None, notes: list[str]):
    import pyogrio

    try:
        layers = pyogrio.list_layers(path)
    except Exception as exc:  # noqa: BLE001 - GDAL errors on corrupt files vary by driver
        raise InputError(
            f"cannot open the file as a GIS layer: {gdal_message(exc)}", file=path
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
    try:
        frame = read_vector(path, layer=layer, encoding=encoding, notes=notes)
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise InputError(f"cannot read the layer: {gdal_message(exc)}", file=path) from exc
    return restore_cut_names(frame, notes) if path.suffix.lower() == ".shp" else frame


def _read_parquet(path: Path, notes: list[str]) -> pd.DataFrame:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(path)
        geo = schema.metadata and b"geo" in schema.metadata
        frame = gpd.read_parquet(path) if geo else pd.read_parquet(path)
    except Exception as exc:  # noqa: BLE001 - pyarrow raises several types on corrupt files
        raise InputError(f"cannot read the file as (Geo)Parquet: {exc}", file=path) from exc
    geometries = set(frame.columns[frame.dtypes == "geometry"]) if geo else set()
    # lists, structs and maps are not cells of a register: keep them, as JSON text
    nested = [f.name for f in schema if pa.types.is_nested(f.type) and f.name not in geometries
              and f.name in frame.columns]
    for column in nested:
        frame[column] = [_json_text(v) for v in frame[column].to_numpy(dtype=object)]
    if nested:
        notes.append(f"Parquet columns holding lists or structs read as JSON text: "
                     f"{', '.join(nested)}")
    return frame


def _json_text(value: object) -> str | None:
    if value is None:
        return None
    return json.dumps(value, ensure_ascii=False, default=_json_plain)


def _json_plain(value: object) -> object:
    """Return numpy arrays and scalars (Parquet lists) as JSON values, anything else as text."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return str(value)


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
    kind = non_horizontal_kind(crs)
    if kind is not None:
        raise InputError(
            f"the file's coordinate system ({crs.name}) is {kind[0]}, which has no conversion "
            "to longitude/latitude; reproject the file to a geographic or projected CRS (in "
            "QGIS: Export > Save Features As), or remove its CRS (.prj) and pass --coords",
            zh=f"文件的坐标系（{crs.name}）是{kind[1]}，无法转换为经纬度；请将文件转换到地理或投影"
            "坐标系（QGIS：导出 > 要素另存为），或删除其坐标系定义（.prj）并用 --coords 指定",
            file=path,
        )
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
