"""Enterprise points: read, validate, reproject and classify a register.

This is the one place where enterprise data enters the tool; every analysis
receives its output and never re-reads or re-validates files.

Input schema
------------
One row per enterprise (establishment). The fields, and the headers
recognised for each, are in :mod:`geo.io.columns` (Chinese headers of the
economic census, market-regulation registers and 企查查 / 天眼查 / 启信宝
exports included). Required: a position (``lon``/``lat``, or point geometry)
and an industry, given as a GB/T 4754-2017 code (``industry_code``) or as
section/division/group/class codes or names (行业门类/行业大类/行业中类/
行业小类). Other header names are mapped with ``columns={"industry_code":
"行业小类", ...}``; :attr:`FirmTable.mapping` says which column became which
field. ``lon``/``lat`` are in the system given by ``coords`` (WGS84 by
default; GCJ-02 and BD-09 are converted). Industry columns are resolved by
:func:`geo.io.industry_codes.resolve_industry` (lost leading zeros, names,
cross-checks).

Normalised output
-----------------
:class:`FirmTable` ``.firms`` is a GeoDataFrame in WGS84 (EPSG:4326) with the
columns ``firm_id`` (str), ``name`` (str), ``industry_code`` (normalised, e.g.
``"C3911"``; a section letter alone when only the section is known),
``section``, ``division``, ``group``, ``field`` (None outside producer
services), ``high_tech`` (bool), ``employees`` (float, NaN if absent),
``revenue`` (float, in the file's unit), ``registered_capital`` (10,000s of
``capital_currency``), ``capital_currency``, ``year`` (Int64, from a year or a
founding-date column), ``founded`` and ``closed`` (``datetime64[s]``: the
founding date from a 成立日期 column, NaT when only a year is given; the
earlier of the 注销日期 and 吊销日期), ``reported_district`` and ``address`` (as given),
``lon``, ``lat`` (WGS84), ``source_row``, ``flag_zh``/``flag_en`` (why a kept
row needs a look), ``suspect_position`` (bool: a geocoder fallback or a
district mismatch; left out of distance-based statistics by default),
``snapped_m`` (metres a near-boundary point was moved inside; NaN otherwise),
``synthetic`` (bool) and ``geometry``, then the file's other columns.
``.attrs`` holds ``source``, ``coords`` and ``synthetic``.

``source_row`` is the row a spreadsheet shows: the header is row 1, the first
record row 2, and blank rows keep their numbers (see :mod:`geo.io.readers`).

Rows that fail validation are never dropped silently: they go to
``FirmTable.rejects`` with the row number, the column(s) and the reason(s) in
Chinese and English. Every row read is either kept or rejected.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.errors import InputError, OutputError
from geo.io.checks import (
    flag_suspect_positions,
    text_field,
    validate_capital,
    validate_dates,
    validate_ids,
    validate_industry,
    validate_number,
    validate_positions,
    validate_year,
)
from geo.io.columns import ColumnMapping, resolve_columns
from geo.io.crs import (
    WGS84,
    CoordSystem,
    parse_coord_system,
)
from geo.io.industry import Classification, load_classification
from geo.io.problems import RowProblems
from geo.io.quality import SHARED_MIN
from geo.io.readers import SUPPORTED, read_table, scalar_text
from geo.messages import category_label, pick
from geo.outputs import atomic_path
from geo.safety import write_csv

OUTPUT_COLUMNS = (
    "firm_id", "name", "industry_code", "section", "division", "group", "field", "high_tech",
    "employees", "revenue", "registered_capital", "capital_currency", "year", "founded", "closed",
    "reported_district", "address", "lon", "lat", "source_row", "flag_zh", "flag_en",
    "suspect_position", "snapped_m", "synthetic",
)
REJECT_COLUMNS = ("source_row", "source_sheet", "column", "reason_zh", "reason_en", "outside_m")


@dataclass
class FirmTable:
    """Validated enterprises, the rows rejected, and counts.

    Attributes
    ----------
    firms : geopandas.GeoDataFrame
        The normalised firms (see the module docstring for the columns).
    rejects : pandas.DataFrame
        One row per rejected input row: ``source_row``, ``column``,
        ``reason_zh``, ``reason_en`` (several problems joined with "; "),
        ``outside_m`` (metres outside the study area, where that is the
        problem), then the row's original columns as text.
    source : str
        The file (or description) the firms came from.
    summary : dict
        ``n_read`` (= ``n_valid`` + ``n_rejected``), ``n_valid``,
        ``n_rejected``, ``n_flagged`` (among the valid), ``n_suspect_position``,
        ``n_snapped``, ``rejected_by_reason`` and ``flagged_by_reason``
        (counts by first problem), ``blank_rows``, ``firm_id_generated``,
        ``columns`` (field -> input column), ``unused_columns``,
        ``missing_fields``, ``units`` and ``notes``.
    mapping : ColumnMapping, optional
        The column mapping (None for generated tables).
    """

    firms: gpd.GeoDataFrame
    rejects: pd.DataFrame
    source: str
    summary: dict[str, Any] = field(default_factory=dict)
    mapping: ColumnMapping | None = None

    def write_rejects(self, path: str | Path, *, allow_formulas: bool = False) -> Path | None:
        """Write the rejected rows to a CSV (UTF-8 with BOM, for Excel), atomically.

        Text that a spreadsheet would run as a formula gets a leading ``'``
        (see :mod:`geo.safety`).

        Parameters
        ----------
        path : str or Path
            Target file. Its folder is created if needed.
        allow_formulas : bool
            Trusted data: write text cells as they are, formulas included.

        Returns
        -------
        Path or None
            The path written, or None when there are no rejects (nothing is
            written then).

        Raises
        ------
        OutputError
            If the file cannot be written, or ``path`` is the input file.
        """
        return self._write_csv(self.rejects, path, "rejects", allow_formulas)

    def flagged(self) -> pd.DataFrame:
        """Return the kept rows that carry a flag, with their reasons.

        Returns
        -------
        pandas.DataFrame
            ``source_row``, ``firm_id``, ``name``, ``industry_code``,
            ``flag_zh``, ``flag_en``, ``suspect_position``, ``snapped_m``,
            ``lon``, ``lat`` (WGS84).
        """
        columns = ["source_row", "firm_id", "name", "industry_code", "flag_zh", "flag_en",
                   "suspect_position", "snapped_m", "lon", "lat"]
        firms = self.firms
        return pd.DataFrame(firms.loc[firms["flag_en"].notna(), columns]).reset_index(drop=True)

    def write_flagged(self, path: str | Path, *, allow_formulas: bool = False) -> Path | None:
        """Write the flagged rows (:meth:`flagged`) to a CSV, like :meth:`write_rejects`.

        Parameters
        ----------
        path : str or Path
            Target file.
        allow_formulas : bool
            Trusted data: write text cells as they are, formulas included.

        Returns
        -------
        Path or None
            The path written, or None when no row is flagged.
        """
        return self._write_csv(self.flagged(), path, "flagged rows", allow_formulas)

    def _write_csv(
        self, table: pd.DataFrame, path: str | Path, what: str, allow_formulas: bool
    ) -> Path | None:
        if table.empty:
            return None
        path = Path(path)
        if Path(self.source).exists() and path.resolve() == Path(self.source).resolve():
            raise OutputError(f"refusing to overwrite the input file with its {what}", file=path)
        # written beside, flushed and renamed; a crash leaves debris geo recognises
        with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8-sig", newline="") as handle:
            write_csv(table, handle, allow_formulas=allow_formulas)
        return path

    def report(self, lang: str = "en") -> list[str]:
        """Lines that account for every row read, in Chinese or English.

        Parameters
        ----------
        lang : {"en", "zh"}
            Language.

        Returns
        -------
        list of str
        """
        s = self.summary
        zh = lang == "zh"
        lines = [
            f"读取 {s['n_read']:,} 行：{s['n_valid']:,} 行有效（其中 {s['n_flagged']:,} 行"
            f"有标记），{s['n_rejected']:,} 行被拒" if zh else
            f"{s['n_read']:,} rows read: {s['n_valid']:,} valid ({s['n_flagged']:,} of them "
            f"flagged), {s['n_rejected']:,} rejected"
        ]
        if s.get("blank_rows"):
            lines.append(f"  另有 {s['blank_rows']:,} 个空行被跳过" if zh else
                         f"  and {s['blank_rows']:,} blank rows skipped")
        if s.get("n_suspect_position"):
            lines.append(
                f"  {s['n_suspect_position']:,} 家企业坐标可疑（地理编码默认点或与所属区县不符），"
                "默认不参与距离统计和集群识别" if zh else
                f"  {s['n_suspect_position']:,} firms have suspect positions (geocoder fallback "
                "or district mismatch) and are left out of distance statistics and clusters"
            )
        if s.get("n_snapped"):
            lines.append(f"  {s['n_snapped']:,} 个边界外附近的点已移入研究区" if zh else
                         f"  {s['n_snapped']:,} near-boundary points moved inside the study area")
        for key, title in (("rejected_by_reason", ("被拒原因：", "rejected:")),
                           ("flagged_by_reason", ("标记原因：", "flagged:"))):
            counts = s.get(key, {})
            if counts:
                lines.append(pick(lang, *title))
                lines += [f"  {n:>8,}  {category_label(r, lang)}"
                          for r, n in sorted(counts.items(), key=lambda kv: -kv[1])]
        return lines


# --------------------------------------------------------------------------- validation


def normalise_firms(
    df: pd.DataFrame,
    *,
    source: str,
    coords: str | CoordSystem = "wgs84",
    columns: dict[str, str] | None = None,
    study_area: shapely.Geometry | None = None,
    districts: gpd.GeoDataFrame | None = None,
    classification: Classification | None = None,
    synthetic: bool = False,
    require_code: bool = True,
    source_rows: np.ndarray | None = None,
    boundary_tolerance: float = 0.0,
    shared_min: int = SHARED_MIN,
    geocode_checks: bool = True,
    source_sheets: np.ndarray | None = None,
    read_problems: RowProblems | None = None,
    read_flags: RowProblems | None = None,
) -> FirmTable:
    """Validate, reproject, classify and check the positions of enterprise records.

    The one validation path for user files and the synthetic generator alike;
    vectorised, so a million rows take seconds. ``df`` is not modified.

    Rows are **rejected** for: missing or non-numeric coordinates; longitude
    and latitude swapped; projected metres given as degrees; a position
    outside the study area (with the distance; kept and moved inside when
    within ``boundary_tolerance``); a missing, invalid or ambiguous industry,
    or one its own section/division column contradicts; a blank or duplicate
    ``firm_id`` (the first occurrence is kept); non-numeric or negative
    ``employees``; non-numeric ``revenue`` or registered capital; an
    unreadable or implausible year. Rows are kept but **flagged** for: a
    restored leading zero or an ambiguity settled by the column's level; a
    code GB/T 4754-2017 lacks; a shared or geocoder-centre point, or a point
    outside the district the row names (these are ``suspect_position``).

    Parameters
    ----------
    df : pandas.DataFrame
        Raw records (text or numbers).
    source : str
        File name (or description) for messages and metadata.
    coords : str or CoordSystem
        The system ``lon``/``lat`` are in: ``wgs84`` (default), ``gcj02``,
        ``bd09``, ``cgcs2000`` or an EPSG code.
    columns : dict, optional
        Explicit mapping ``{field: input column}`` for headers the aliases do
        not cover.
    study_area : shapely.Geometry, optional
        Study area in WGS84; the union of ``districts`` when not given.
        Positions outside it are rejected; its bounds (plus a margin) are used
        to recognise swapped or projected coordinates. Without either, only
        positions that are not valid degrees are rejected.
    districts : GeoDataFrame, optional
        District polygons (WGS84, ``name_zh``) to check a district column against.
    classification : Classification, optional
        Industry rules; the bundled ones by default.
    synthetic : bool
        Flag every record as synthetic (the seed generator sets it).
    require_code : bool
        Whether an industry column is required. Point files whose types come
        from another column (``--type-column``) may lack it: their points are
        then all ``other`` with no code.
    source_rows : numpy.ndarray, optional
        The spreadsheet row of each record (default: row 2 onwards).
    boundary_tolerance : float
        Metres: positions at most this far outside the study area are kept,
        moved to 1 m inside it, and flagged with the distance.
    shared_min : int
        Firms on one point before it is flagged as a shared point (0: off).
    geocode_checks : bool
        Whether to flag geocoder fallbacks and district mismatches (off for
        drawn, synthetic points).
    source_sheets : numpy.ndarray, optional
        The worksheet of each record when several were read: the firms and
        the rejects then have a ``source_sheet`` column after ``source_row``.
    read_problems : RowProblems, optional
        Records the reader could not read (a malformed line, bad bytes): they
        are rejected with the reader's reasons only (their cells are not checked).
    read_flags : RowProblems, optional
        Flags the reader raised (a line in another encoding).

    Returns
    -------
    FirmTable

    Raises
    ------
    InputError
        If a required field is missing (the message lists the columns that may
        be meant) or most coordinates are not numbers.
    CoordinateError
        If most positions are implausible as a whole (wrong ``coords``, swapped
        columns, projected metres), which is a setting to fix, not bad rows.
    ConfigError
        If ``coords`` or the column mapping is invalid.

    Examples
    --------
    >>> raw = pd.DataFrame({"企业名称": ["甲公司"], "行业代码": ["3911"],
    ...                     "经度": ["120.15"], "纬度": ["30.28"]})
    >>> table = normalise_firms(raw, source="example")
    >>> table.firms[["firm_id", "name", "industry_code", "group", "high_tech"]].values.tolist()
    [['2', '甲公司', 'C3911', 'manufacturing', True]]
    """
    system = coords if isinstance(coords, CoordSystem) else parse_coord_system(coords)
    classification = classification or load_classification()
    if study_area is None and districts is not None:
        study_area = shapely.union_all(districts.to_crs(WGS84).geometry.to_numpy())
    mapping = resolve_columns([str(c) for c in df.columns], columns, source,
                              require_code=require_code)
    # work on positions, not labels: the caller's index may be anything
    frame = df.reset_index(drop=True)
    frame.columns = [str(c) for c in frame.columns]
    n = len(frame)
    rows = (np.arange(2, n + 2, dtype=np.int64) if source_rows is None
            else np.asarray(source_rows, dtype=np.int64))
    problems = RowProblems(n)
    flags = RowProblems(n)
    if read_flags is not None:
        flags.include(read_flags)
    notes: list[str] = []
    # rows the reader could not read are rejected for that alone: their cells (what
    # could be read of a broken line) are not checked, nor counted as ids or names
    unread = read_problems.marked if read_problems is not None else np.zeros(n, dtype=bool)
    checked = frame
    if unread.any():
        checked = frame.copy()
        checked.loc[unread, :] = ""

    lon, lat, outside_m, snapped_m = validate_positions(
        checked, mapping, system, study_area, source, problems, boundary_tolerance
    )
    classes = validate_industry(checked, mapping, classification, problems, flags, notes)
    ids, generated = validate_ids(checked, mapping, rows, problems, source_sheets)
    if generated:
        notes.append("no firm_id column: ids are the spreadsheet row numbers"
                     + (" (worksheet:row)" if source_sheets is not None else ""))
    names = text_field(checked, mapping, "name")
    if "name" not in mapping.fields:
        notes.append("no name column: names are empty")
    employees = validate_number(checked, mapping, "employees", problems, negative=True,
                                flags=flags)
    revenue = validate_number(checked, mapping, "revenue", problems, negative=False,
                              flags=flags)
    capital, currency = validate_capital(checked, mapping, problems, flags)
    year = validate_year(checked, mapping, problems)
    founded, closed = validate_dates(checked, mapping, problems, flags, year)
    if unread.any():
        problems.replace(read_problems)

    rejected = problems.marked
    suspect = np.zeros(n, dtype=bool)
    if geocode_checks:
        suspect = flag_suspect_positions(lon, lat, ~rejected, frame, mapping, districts, flags,
                                         notes, shared_min)
    snapped = np.isfinite(snapped_m) & ~rejected
    if snapped.any():
        en = np.full(n, None, dtype=object)
        zh = np.full(n, None, dtype=object)
        for i in np.flatnonzero(snapped):
            en[i] = f"moved {snapped_m[i]:.0f} m into the study area"
            zh[i] = f"在研究区外 {snapped_m[i]:.0f} 米，已移入研究区"
        flags.add(snapped, mapping.position_label(), en, zh, "snapped into the study area")
    keep = ~rejected
    flagged = flags.marked & keep
    out = pd.DataFrame(
        {
            "firm_id": ids[keep],
            "name": names[keep],
            "industry_code": classes["industry_code"].to_numpy(dtype=object)[keep],
            "section": classes["section"].to_numpy(dtype=object)[keep],
            "division": classes["division"].to_numpy(dtype=object)[keep],
            "group": classes["group"].to_numpy(dtype=object)[keep],
            # object dtype so non-producer-services keep None (pandas would infer str/NaN)
            "field": pd.Series(classes["field"].to_numpy(dtype=object)[keep], dtype=object),
            "high_tech": classes["high_tech"].to_numpy(dtype=bool)[keep],
            "employees": employees[keep],
            "revenue": revenue[keep],
            "registered_capital": capital[keep],
            "capital_currency": pd.Series(currency[keep], dtype=object),
            "year": pd.array(year[keep], dtype="Int64"),
            "founded": founded[keep],
            "closed": closed[keep],
            "reported_district": text_field(checked, mapping, "district", None)[keep],
            "address": text_field(checked, mapping, "address", None)[keep],
            "lon": lon[keep],
            "lat": lat[keep],
            "source_row": rows[keep],
            "flag_zh": pd.Series(flags.reason_zh[keep], dtype=object),
            "flag_en": pd.Series(flags.reason_en[keep], dtype=object),
            "suspect_position": suspect[keep],
            "snapped_m": np.where(snapped, snapped_m, np.nan)[keep],
            "synthetic": np.full(int(keep.sum()), bool(synthetic)),
        }
    )
    if source_sheets is not None:
        out.insert(out.columns.get_loc("source_row") + 1, "source_sheet", source_sheets[keep])
    out = _carry_other_columns(frame, mapping, out, keep)
    firms = gpd.GeoDataFrame(
        out, geometry=gpd.points_from_xy(out["lon"], out["lat"]), crs=WGS84
    )
    firms.attrs.update(
        {"source": source, "coords": system.label(), "synthetic": bool(out["synthetic"].any())}
    )
    rejects = _reject_table(frame, rows, problems, rejected, outside_m, source_sheets)
    summary = {
        "n_read": n,
        "n_valid": int(keep.sum()),
        "n_rejected": int(rejected.sum()),
        "n_flagged": int(flagged.sum()),
        "n_suspect_position": int((suspect & keep).sum()),
        "n_snapped": int(snapped.sum()),
        "rejected_by_reason": problems.counts(rejected),
        "flagged_by_reason": flags.counts(flagged),
        "blank_rows": 0,
        "firm_id_generated": generated,
        "columns": dict(mapping.fields),
        "unused_columns": list(mapping.unused),
        "missing_fields": list(mapping.missing),
        "units": dict(mapping.units),
        "notes": notes,
    }
    return FirmTable(firms=firms, rejects=rejects, source=source, summary=summary,
                     mapping=mapping)


def _carry_other_columns(
    frame: pd.DataFrame, mapping: ColumnMapping, out: pd.DataFrame, keep: np.ndarray
) -> pd.DataFrame:
    """``out`` with the file's unmapped columns added (renamed when they clash)."""
    used = set(mapping.fields.values())
    reserved = {*out.columns, "geometry"}
    positions, names = [], []
    for position, column in enumerate(frame.columns):
        if column in used:
            continue
        if column == "synthetic":
            # a file written by `geo seed` stays flagged synthetic when read back
            flag = frame[column].astype(str).str.strip().str.lower().isin(["true", "1", "yes"])
            out["synthetic"] = out["synthetic"] | flag.to_numpy()[keep]
            continue
        positions.append(position)
        names.append(column if column not in reserved else f"{column}_input")
    if not positions:
        return out
    # one selection, not a column at a time: a file may have thousands of columns
    extra = frame.iloc[np.flatnonzero(keep), positions].set_axis(names, axis=1)
    return pd.concat([out, extra.set_axis(out.index, axis=0)], axis=1)


def _reject_table(
    frame: pd.DataFrame,
    rows: np.ndarray,
    problems: RowProblems,
    rejected: np.ndarray,
    outside_m: np.ndarray,
    sheets: np.ndarray | None,
) -> pd.DataFrame:
    """Rejected rows: row (worksheet), column(s), reasons, distance outside, original values."""
    where = np.flatnonzero(rejected)
    table = pd.DataFrame(
        {
            "source_row": rows[where],
            **({"source_sheet": sheets[where]} if sheets is not None else {}),
            "column": problems.column[where],
            "reason_zh": problems.reason_zh[where],
            "reason_en": problems.reason_en[where],
            "outside_m": np.round(outside_m[where], 1),
        }
    )
    labels = [name if name not in REJECT_COLUMNS else f"{name} (input)"
              for name in frame.columns]
    # one block of text, not a Series per column: a file may have thousands of columns
    text = np.empty((where.size, len(labels)), dtype=object)
    for i, row in enumerate(frame.iloc[where].to_numpy(dtype=object)):
        text[i] = [t if (t := scalar_text(v)) is not None else "" for v in row]
    return pd.concat([table, pd.DataFrame(text, columns=labels, index=table.index)], axis=1)


# --------------------------------------------------------------------------- readers


def read_firms(
    path: str | Path,
    *,
    coords: str | CoordSystem = "wgs84",
    columns: dict[str, str] | None = None,
    encoding: str | None = None,
    sheet: str | None = None,
    layer: str | None = None,
    study_area: shapely.Geometry | None = None,
    districts: gpd.GeoDataFrame | None = None,
    classification: Classification | None = None,
    require_code: bool = True,
    boundary_tolerance: float = 0.0,
    shared_min: int = SHARED_MIN,
) -> FirmTable:
    """Read an enterprise file and validate it with :func:`normalise_firms`.

    Formats, by file extension:

    - ``.csv``, ``.txt`` (delimiter sniffed: comma, tab, semicolon, pipe) and
      ``.tsv``: the encoding is detected among UTF-8, UTF-8 with BOM, UTF-16
      with BOM, GBK and GB18030 unless ``encoding`` is given. All columns are
      read as text, so codes such as ``0511`` and ids keep leading zeros.
    - ``.xlsx``, ``.xlsm``: ``sheet``, or the first worksheet that has the
      required columns (a notes sheet before the data is skipped, and a note
      says which sheet was read); the first non-empty row is the header.
    - ``.gpkg``, ``.geojson``/``.json``, ``.shp``, ``.fgb``: ``layer``, or the
      only layer (or only point layer). ``encoding`` applies to Shapefiles
      without a ``.cpg`` file.
    - ``.parquet``/``.geoparquet``: GeoParquet, or a plain Parquet table with
      lon/lat columns.

    For layers with point geometry the position comes from the geometry, in
    the file's CRS. Without a CRS, ``coords`` says what the coordinates are.
    Because GCJ-02 and BD-09 have no EPSG code, such files are often labelled
    WGS 84: with ``coords`` ``gcj02`` or ``bd09`` a geographic file CRS is
    overridden (and a note says so).

    Parameters
    ----------
    path : str or Path
        The enterprise file.
    coords : str or CoordSystem
        Coordinate system of lon/lat columns (and of geometry without a CRS).
    columns : dict, optional
        ``{field: file column}`` for headers the aliases do not cover.
    encoding : str, optional
        Force a text encoding (CSV/TXT/TSV, Shapefile attributes).
    sheet : str, optional
        Worksheet name (XLSX).
    layer : str, optional
        Layer name (GeoPackage and other multi-layer files).
    study_area : shapely.Geometry, optional
        Study area in WGS84 (see :func:`normalise_firms`).
    districts : GeoDataFrame, optional
        District polygons to check a district column against.
    classification : Classification, optional
        Industry rules; the bundled ones by default.
    require_code : bool
        Whether the file must have an industry column.
    boundary_tolerance : float
        Metres outside the study area within which points are moved inside.
    shared_min : int
        Firms on one point before it is flagged (0: off).

    Returns
    -------
    FirmTable

    Raises
    ------
    InputError
        If the file is missing, empty, unreadable or corrupt, cannot be
        decoded, or lacks required columns.
    CoordinateError
        If most positions are implausible (see :func:`normalise_firms`).
    """
    path = Path(path)
    if not path.exists():
        raise InputError("file not found; check the path", zh="找不到文件，请检查路径", file=path)
    if path.is_dir():
        raise InputError("this is a folder; give the enterprise file inside it",
                         zh="这是文件夹，请给出其中的企业名录文件", file=path)
    suffix = path.suffix.lower()
    if suffix == ".xls":
        raise InputError(
            "the old Excel .xls format is not supported; save the sheet as .xlsx or CSV",
            zh="不支持旧版 Excel .xls 格式，请另存为 .xlsx 或 CSV", file=path,
        )
    if suffix not in SUPPORTED:
        raise InputError(
            f"unsupported file type '{suffix}'; use one of {', '.join(SUPPORTED)}",
            zh=f"不支持的文件类型“{suffix}”，请使用：{'、'.join(SUPPORTED)}", file=path,
        )
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InputError(f"cannot read the file: {exc}", file=path) from exc
    if size == 0:
        raise InputError("the file is empty", zh="文件是空的", file=path)
    declared = coords if isinstance(coords, CoordSystem) else parse_coord_system(coords)
    raw = read_table(path, system=declared, encoding=encoding, sheet=sheet, layer=layer,
                     columns=columns, require_code=require_code)
    if raw.frame.empty:
        raise InputError("the file has a header but no data rows", zh="文件只有表头，没有数据行",
                         file=path)
    mapping = {**(columns or {}), **raw.columns}
    if raw.columns and columns and ({"lon", "lat"} & set(columns)):
        raw.notes.append("positions taken from the point geometry; the lon/lat mapping is ignored")
    table = normalise_firms(
        raw.frame,
        source=str(path),
        coords=raw.system,
        columns=mapping or None,
        study_area=study_area,
        districts=districts,
        classification=classification,
        require_code=require_code,
        source_rows=raw.rows,
        boundary_tolerance=boundary_tolerance,
        shared_min=shared_min,
        source_sheets=raw.sheets,
        read_problems=raw.problems,
        read_flags=raw.flags,
    )
    table.summary["blank_rows"] = raw.blank_rows
    table.summary["notes"] = raw.notes + table.summary["notes"]
    return table
