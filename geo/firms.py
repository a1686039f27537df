"""Enterprise points: read, validate, reproject and classify a firms file.

This is the one place where enterprise data enters the tool; every analysis
receives its output and never re-reads or re-validates files.

Input schema
------------
One row per enterprise (establishment), with these columns:

=============  =========  ==============================================================
field          required   accepted header names (case-insensitive, in order of preference)
=============  =========  ==============================================================
firm_id        no         firm_id, firmid, enterprise_id, company_id, 企业ID, 企业编号,
                          统一社会信用代码, 信用代码, id
name           no         name, firm_name, company_name, enterprise_name, 企业名称,
                          公司名称, 名称
industry_code  yes        industry_code, industry_c (Shapefile), 行业代码, 国民经济行业代码,
                          行业小类代码, industry, 行业, code
lon            yes        lon, lng, longitude, 经度, long, x
lat            yes        lat, latitude, 纬度, y
employees      no         employees, employee, 从业人员, 从业人数, 员工人数, staff
revenue        no         revenue, 营业收入, sales, turnover
year           no         year, 成立年份, 年份, founded
=============  =========  ==============================================================

Other header names are mapped with ``columns={"industry_code": "行业小类", ...}``.
``industry_code`` is a GB/T 4754-2017 code (see :mod:`geo.industry`);
``lon``/``lat`` are in the system given by ``coords`` (WGS84 by default; GCJ-02
and BD-09 are converted). Files with point geometry (GeoPackage, GeoJSON,
Shapefile, GeoParquet) take the position from the geometry instead.
Without a ``firm_id`` column, ids are the data row numbers (``"1"``, ``"2"``...).

Normalised output
-----------------
:class:`FirmTable` ``.firms`` is a GeoDataFrame in WGS84 (EPSG:4326) with the
columns ``firm_id`` (str), ``name`` (str), ``industry_code`` (normalised, e.g.
``"C3911"``), ``section``, ``division``, ``group``, ``field`` (None outside
producer services), ``high_tech`` (bool), ``employees`` (float, NaN if absent),
``revenue`` (float), ``year`` (Int64), ``lon``, ``lat`` (WGS84), ``source_row``,
``synthetic`` (bool) and ``geometry``; ``.attrs`` holds ``source``, ``coords``
(the coordinate system the positions were read in) and ``synthetic``.

``source_row`` is the 1-based data row: row 1 is the first record under the
header (line 2 of a CSV, row 2 of a worksheet whose header is in row 1;
blank lines and empty worksheet rows are not counted), or the first feature of
a layer.

Rows that fail validation are not dropped silently: they go to
``FirmTable.rejects`` with the row number, the column(s) and the reason(s).
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import tempfile
import unicodedata
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.crs import (
    POSITION_MISSING,
    POSITION_OK,
    POSITION_OUTSIDE,
    POSITION_PROJECTED,
    POSITION_SWAPPED,
    WGS84,
    CoordSystem,
    check_plausible,
    diagnose_positions,
    parse_coord_system,
    to_wgs84,
)
from geo.errors import ConfigError, InputError, OutputError
from geo.industry import Classification, load_classification

SCHEMA = ("firm_id", "name", "industry_code", "lon", "lat", "employees", "revenue", "year")
REQUIRED = ("industry_code", "lon", "lat")
# Specific names come before generic ones ("code", "id", "x"): the first alias
# present in the file wins.
ALIASES: dict[str, tuple[str, ...]] = {
    "firm_id": (
        "firm_id", "firmid", "enterprise_id", "company_id", "企业id", "企业编号",
        "统一社会信用代码", "信用代码", "id",
    ),
    "name": (
        "name", "firm_name", "company_name", "enterprise_name", "企业名称", "公司名称", "名称",
    ),
    "industry_code": (
        "industry_code", "industry_c", "行业代码", "国民经济行业代码", "行业小类代码",
        "industry", "行业", "code",
    ),
    "lon": ("lon", "lng", "longitude", "经度", "long", "x"),
    "lat": ("lat", "latitude", "纬度", "y"),
    "employees": ("employees", "employee", "从业人员", "从业人数", "员工人数", "staff"),
    "revenue": ("revenue", "营业收入", "sales", "turnover"),
    "year": ("year", "成立年份", "年份", "founded"),
}
OUTPUT_COLUMNS = (
    "firm_id", "name", "industry_code", "section", "division", "group", "field", "high_tech",
    "employees", "revenue", "year", "lon", "lat", "source_row", "synthetic",
)
REJECT_COLUMNS = ("source_row", "column", "reason")

TEXT_SUFFIXES = (".csv", ".tsv", ".txt")
EXCEL_SUFFIXES = (".xlsx", ".xlsm")
LAYER_SUFFIXES = (".gpkg", ".geojson", ".json", ".shp", ".fgb")
PARQUET_SUFFIXES = (".parquet", ".geoparquet")
SUPPORTED = TEXT_SUFFIXES + EXCEL_SUFFIXES + LAYER_SUFFIXES + PARQUET_SUFFIXES

# Degrees added around the study area's bounds when diagnosing positions: the
# polygon test decides "outside"; the box only has to separate swapped/projected.
_BBOX_MARGIN = 0.5
_WORLD = (-180.0, -90.0, 180.0, 90.0)
_NULL_TOKENS = frozenset({"", "nan", "null", "none", "na", "n/a", "#n/a", "-", "--", "—"})
_YEAR_RANGE = (1800, 2100)
# Geometry-derived coordinate columns added to layer files (shown in rejects).
_GEOM_X, _GEOM_Y = "geometry_x", "geometry_y"


@dataclass
class FirmTable:
    """Validated enterprises, the rows rejected, and counts.

    Attributes
    ----------
    firms : geopandas.GeoDataFrame
        The normalised firms (see the module docstring for the columns).
    rejects : pandas.DataFrame
        One row per rejected input row: ``source_row``, ``column``, ``reason``
        (several problems are joined with ``"; "``), then the row's original
        columns as text.
    source : str
        The file (or description) the firms came from.
    summary : dict
        ``n_read``, ``n_valid``, ``n_rejected``, ``rejected_by_reason``
        (count of rejected rows by their first problem), ``firm_id_generated``,
        ``columns`` (schema field -> input column used) and ``notes``.
    """

    firms: gpd.GeoDataFrame
    rejects: pd.DataFrame
    source: str
    summary: dict[str, Any] = field(default_factory=dict)

    def write_rejects(self, path: str | Path) -> Path | None:
        """Write the rejected rows to a CSV (UTF-8 with BOM, for Excel), atomically.

        Parameters
        ----------
        path : str or Path
            Target file. Its folder is created if needed.

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
        if self.rejects.empty:
            return None
        path = Path(path)
        if Path(self.source).exists() and path.resolve() == Path(self.source).resolve():
            raise OutputError("refusing to overwrite the input file with its rejects", file=path)
        tmp = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # temp file in the target folder so os.replace is an atomic rename
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
            with os.fdopen(fd, "w", encoding="utf-8-sig", newline="") as handle:
                self.rejects.to_csv(handle, index=False)
            os.replace(tmp, path)
        except OSError as exc:
            if tmp is not None and os.path.exists(tmp):
                os.unlink(tmp)
            raise OutputError(f"cannot write the rejects file: {exc}", file=path) from exc
        return path


# --------------------------------------------------------------------------- columns


def _header_key(name: object) -> str:
    """Compare headers ignoring case, width, surrounding spaces and space/hyphen/underscore."""
    text = unicodedata.normalize("NFKC", str(name)).replace("\ufeff", "").strip().lower()
    return "_".join(text.replace("-", " ").replace("_", " ").split())


def _resolve_columns(
    found: list[str],
    columns: dict[str, str] | None,
    source: str,
    required: tuple[str, ...] = REQUIRED,
) -> dict[str, str]:
    """Map schema fields to the file's columns (explicit mapping first, then aliases)."""
    mapping: dict[str, str] = {}
    columns = dict(columns or {})
    unknown = sorted(set(columns) - set(SCHEMA))
    if unknown:
        raise ConfigError(
            f"unknown field(s) {unknown} in the column mapping; the fields are {', '.join(SCHEMA)}"
        )
    by_key: dict[str, str] = {}
    for name in found:
        by_key.setdefault(_header_key(name), name)
    for schema_name, wanted in columns.items():
        if wanted in found:
            mapping[schema_name] = wanted
        elif _header_key(wanted) in by_key:
            mapping[schema_name] = by_key[_header_key(wanted)]
        else:
            raise InputError(
                f"column '{wanted}' (given for {schema_name}) is not in the file; "
                f"the columns found are: {', '.join(map(str, found))}",
                file=source,
            )
    used = set(mapping.values())
    for schema_name in SCHEMA:
        if schema_name in mapping:
            continue
        for alias in ALIASES[schema_name]:
            hit = by_key.get(alias)
            if hit is not None and hit not in used:
                mapping[schema_name] = hit
                used.add(hit)
                break
    missing = [name for name in required if name not in mapping]
    if missing:
        accepted = "; ".join(f"{name}: {', '.join(ALIASES[name])}" for name in missing)
        raise InputError(
            f"required column(s) {', '.join(missing)} not found. The columns found are: "
            f"{', '.join(map(str, found)) or '(none)'}. Accepted names: {accepted}. "
            "Map other names explicitly, e.g. --column lon=东经",
            file=source,
        )
    return {name: mapping[name] for name in SCHEMA if name in mapping}


# --------------------------------------------------------------------------- values


def _scalar_text(value: object) -> str | None:
    """One cell as text: None for missing, integral floats without '.0'."""
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


def _to_text(values: pd.Series) -> pd.Series:
    """Text values stripped of surrounding spaces; None where blank or missing."""
    if pd.api.types.is_string_dtype(values.dtype) and pd.api.types.infer_dtype(
        values, skipna=True
    ) in ("string", "empty"):
        text = values.astype(object).str.strip()
    else:
        codes, uniques = pd.factorize(values.astype(object), use_na_sentinel=True)
        converted = np.array([_scalar_text(v) for v in uniques] + [None], dtype=object)
        text = pd.Series(converted[codes], index=values.index, dtype=object)
        text = text.str.strip()
    text = text.astype(object)
    return text.where(text.notna() & (text != ""), None)


def _to_number(
    values: pd.Series, *, thousands: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Parse numbers; return (float values with NaN for blanks and errors, non-numeric mask)."""
    if pd.api.types.is_bool_dtype(values.dtype):
        return values.to_numpy(dtype=np.float64), np.zeros(len(values), dtype=bool)
    if pd.api.types.is_numeric_dtype(values.dtype):
        # a copy: never hand out a view of the caller's data
        numbers = np.array(values.to_numpy(dtype=np.float64, na_value=np.nan), copy=True)
        return numbers, np.isinf(numbers)
    # fast path: most cells parse as they are; only the failures are inspected as text
    numbers = np.array(
        pd.to_numeric(values.astype(object), errors="coerce").to_numpy(
            dtype=np.float64, na_value=np.nan
        ),
        copy=True,
    )
    bad = np.isinf(numbers)
    failed = np.flatnonzero(np.isnan(numbers))
    if failed.size:
        text = _to_text(values.iloc[failed])
        blank = (text.isna() | text.str.lower().isin(_NULL_TOKENS)).to_numpy()
        candidates = text[~blank]
        if thousands:
            # 1,234 / 1，234 as written by spreadsheets and Chinese systems
            candidates = candidates.str.replace(r"[,，\s]", "", regex=True)
        # NFKC folds full-width digits (１２０．５) that some systems export
        candidates = candidates.map(lambda t: unicodedata.normalize("NFKC", t))
        parsed = pd.to_numeric(candidates, errors="coerce").to_numpy(
            dtype=np.float64, na_value=np.nan
        )
        numbers[failed[~blank]] = parsed
        bad[failed[~blank]] = ~np.isfinite(parsed)
    numbers[bad] = np.nan
    return numbers, bad


class _Problems:
    """Collects per-row problems; a row may have several."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.reason = np.full(n, None, dtype=object)
        self.column = np.full(n, None, dtype=object)
        self.category = np.full(n, None, dtype=object)

    def add(self, mask: np.ndarray, column: str, reason: str | np.ndarray, category: str) -> None:
        """Record ``reason`` (one text, or one per row) for the rows where ``mask`` is True."""
        rows = np.flatnonzero(mask)
        if rows.size == 0:
            return
        texts = [reason] * rows.size if isinstance(reason, str) else list(reason[rows])
        for i, text in zip(rows.tolist(), texts, strict=True):
            if self.reason[i] is None:
                self.reason[i], self.column[i], self.category[i] = text, column, category
            else:
                self.reason[i] = f"{self.reason[i]}; {text}"
                if column not in self.column[i].split(", "):
                    self.column[i] = f"{self.column[i]}, {column}"

    @property
    def rejected(self) -> np.ndarray:
        """Rows with at least one problem."""
        return ~pd.isna(self.reason)


# --------------------------------------------------------------------------- validation


def normalise_firms(
    df: pd.DataFrame,
    *,
    source: str,
    coords: str | CoordSystem = "wgs84",
    columns: dict[str, str] | None = None,
    study_area: shapely.Geometry | None = None,
    classification: Classification | None = None,
    synthetic: bool = False,
    require_code: bool = True,
) -> FirmTable:
    """Validate, reproject and classify enterprise records.

    The one validation path for user files and the synthetic generator alike;
    vectorised, so a million rows take a few seconds. ``df`` is not modified.

    Each row is checked for: missing or non-numeric coordinates; longitude and
    latitude swapped; projected metres given as degrees; position outside the
    study area; missing or invalid industry code; blank or duplicate
    ``firm_id`` (the first occurrence is kept); non-numeric or negative
    ``employees``; non-numeric ``revenue``; non-numeric or implausible ``year``.
    Rows with any problem go to the rejects with all their problems.

    Parameters
    ----------
    df : pandas.DataFrame
        Raw records (text or numbers) with the columns described in the module
        docstring.
    source : str
        File name (or description) for messages and metadata.
    coords : str or CoordSystem
        The system ``lon``/``lat`` are in: ``wgs84`` (default), ``gcj02``,
        ``bd09``, ``cgcs2000`` or an EPSG code.
    columns : dict, optional
        Explicit mapping ``{schema field: input column}`` for headers the
        aliases do not cover.
    study_area : shapely.Geometry, optional
        Study area in WGS84. Positions outside it are rejected; its bounds (plus
        a margin) are used to recognise swapped or projected coordinates.
        Without it, only positions that are not valid degrees are rejected.
    classification : Classification, optional
        Industry rules; the bundled ones by default.
    synthetic : bool
        Flag every record as synthetic (the seed generator sets it).
    require_code : bool
        Whether ``industry_code`` is required. Point files whose types come
        from another column (``--type-column``) may lack it: their points are
        then all ``other`` with no code.

    Returns
    -------
    FirmTable

    Raises
    ------
    InputError
        If a required column is missing (the message lists the columns found
        and the accepted names) or most coordinates are not numbers.
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
    [['1', '甲公司', 'C3911', 'manufacturing', True]]
    """
    system = coords if isinstance(coords, CoordSystem) else parse_coord_system(coords)
    classification = classification or load_classification()
    required = REQUIRED if require_code else tuple(c for c in REQUIRED if c != "industry_code")
    mapping = _resolve_columns([str(c) for c in df.columns], columns, source, required)
    # work on positions, not labels: the caller's index may be anything
    frame = df.reset_index(drop=True)
    frame.columns = [str(c) for c in frame.columns]
    n = len(frame)
    rows = np.arange(1, n + 1, dtype=np.int64)
    problems = _Problems(n)
    notes: list[str] = []

    lon, lat = _validate_positions(frame, mapping, system, study_area, source, problems)

    if "industry_code" in mapping:
        classes = classification.classify(frame[mapping["industry_code"]])
        code_error = classes["code_error"].to_numpy(dtype=object)
    else:  # a plain point file typed by another column
        classes = pd.DataFrame(
            {c: [None] * n for c in ("industry_code", "section", "division", "field")}
        ).assign(group="other", high_tech=False)
        code_error = np.full(n, None, dtype=object)
        notes.append("no industry_code column: every point is 'other'")
    missing_code = code_error == "missing industry code"
    bad_code = ~pd.isna(code_error) & ~missing_code
    if missing_code.any():
        problems.add(missing_code, mapping["industry_code"], "missing industry code",
                     "missing industry code")
    if bad_code.any():
        where = np.flatnonzero(bad_code)
        raw_codes = _to_text(frame[mapping["industry_code"]].iloc[where]).to_numpy(dtype=object)
        reasons = np.full(n, None, dtype=object)
        reasons[where] = [
            f"invalid industry code '{r}': {e}"
            for r, e in zip(raw_codes, code_error[where], strict=True)
        ]
        problems.add(bad_code, mapping["industry_code"], reasons, "invalid industry code")

    ids, generated = _validate_ids(frame, mapping, rows, problems)
    if generated:
        notes.append("no firm_id column: ids are the data row numbers")
    if "name" in mapping:
        names = _to_text(frame[mapping["name"]]).fillna("").to_numpy(dtype=object)
    else:
        names = np.full(n, "", dtype=object)
        notes.append("no name column: names are empty")

    employees = _validate_number(frame, mapping, "employees", problems, negative=True)
    revenue = _validate_number(frame, mapping, "revenue", problems, negative=False)
    year = _validate_year(frame, mapping, problems)

    rejected = problems.rejected
    keep = ~rejected
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
            "year": pd.array(year[keep], dtype="Int64"),
            "lon": lon[keep],
            "lat": lat[keep],
            "source_row": rows[keep],
            "synthetic": np.full(int(keep.sum()), bool(synthetic)),
        }
    )
    # the file's other columns travel along (a user's own category, address...),
    # renamed when they clash with a schema column
    used = set(mapping.values())
    reserved = {*out.columns, "geometry"}
    for column in frame.columns:
        if column in used:
            continue
        if column == "synthetic":
            # a file written by `geo seed` stays flagged synthetic when read back
            flag = frame[column].astype(str).str.strip().str.lower().isin(["true", "1", "yes"])
            out["synthetic"] = out["synthetic"] | flag.to_numpy()[keep]
            continue
        name = column if column not in reserved else f"{column}_input"
        out[name] = frame[column].to_numpy()[keep]
    firms = gpd.GeoDataFrame(
        out, geometry=gpd.points_from_xy(out["lon"], out["lat"]), crs=WGS84
    )
    firms.attrs.update(
        {"source": source, "coords": system.label(), "synthetic": bool(out["synthetic"].any())}
    )

    rejects = _reject_table(frame, rows, problems, rejected)
    categories = pd.Series(problems.category[rejected], dtype=object).value_counts()
    summary = {
        "n_read": n,
        "n_valid": int(keep.sum()),
        "n_rejected": int(rejected.sum()),
        "rejected_by_reason": {str(k): int(v) for k, v in categories.items()},
        "firm_id_generated": generated,
        "columns": mapping,
        "notes": notes,
    }
    return FirmTable(firms=firms, rejects=rejects, source=source, summary=summary)


def _validate_positions(
    frame: pd.DataFrame,
    mapping: dict[str, str],
    system: CoordSystem,
    study_area: shapely.Geometry | None,
    source: str,
    problems: _Problems,
) -> tuple[np.ndarray, np.ndarray]:
    """Parse, convert and diagnose positions; return WGS84 lon/lat (NaN where unusable)."""
    x_col, y_col = mapping["lon"], mapping["lat"]
    both = f"{x_col}/{y_col}"
    x, x_bad = _to_number(frame[x_col])
    y, y_bad = _to_number(frame[y_col])
    non_numeric = x_bad | y_bad
    n = len(frame)
    if n and non_numeric.sum() > 0.5 * n:
        raise InputError(
            f"{non_numeric.sum():,} of {n:,} rows have coordinates that are not numbers in "
            f"columns '{x_col}'/'{y_col}'; give decimal degrees (e.g. 120.15) or map the "
            "right columns, e.g. --column lon=经度 --column lat=纬度",
            file=source,
            column=both,
        )
    problems.add(non_numeric, both, "non-numeric coordinates", "non-numeric coordinates")
    missing = ~non_numeric & (np.isnan(x) | np.isnan(y))
    problems.add(missing, both, POSITION_MISSING, POSITION_MISSING)

    lon, lat = to_wgs84(x, y, system)
    unusable = np.isnan(x) | np.isnan(y) | ~np.isfinite(lon) | ~np.isfinite(lat)
    lon[unusable] = np.nan
    lat[unusable] = np.nan
    if study_area is not None:
        west, south, east, north = study_area.bounds
        bbox = (west - _BBOX_MARGIN, south - _BBOX_MARGIN, east + _BBOX_MARGIN,
                north + _BBOX_MARGIN)
    else:
        bbox = _WORLD
    diagnoses = diagnose_positions(lon, lat, bbox)
    # a position that converted to nothing finite was not degrees (nor the declared system)
    diagnoses[~(np.isnan(x) | np.isnan(y)) & unusable] = POSITION_PROJECTED
    check_plausible(diagnoses, file=source, system=system, columns=(x_col, y_col))

    for cause in (POSITION_SWAPPED, POSITION_PROJECTED, POSITION_OUTSIDE):
        problems.add(diagnoses == cause, both, cause, cause)
    if study_area is not None:
        candidates = np.flatnonzero(diagnoses == POSITION_OK)
        # intersects (not contains): a firm on the boundary line is in the study area
        shapely.prepare(study_area)
        inside = shapely.intersects_xy(study_area, lon[candidates], lat[candidates])
        outside = np.zeros(n, dtype=bool)
        outside[candidates[~inside]] = True
        problems.add(outside, both, POSITION_OUTSIDE, POSITION_OUTSIDE)
    return lon, lat


def _validate_ids(
    frame: pd.DataFrame, mapping: dict[str, str], rows: np.ndarray, problems: _Problems
) -> tuple[np.ndarray, bool]:
    """Return the ids (generated from row numbers when the column is absent)."""
    if "firm_id" not in mapping:
        return rows.astype(str).astype(object), True
    column = mapping["firm_id"]
    ids = _to_text(frame[column])
    blank = ids.isna().to_numpy()
    problems.add(blank, column, "missing firm_id", "missing firm_id")
    duplicate = (ids.duplicated(keep="first") & ids.notna()).to_numpy()
    if duplicate.any():
        keys = ids.to_numpy(dtype=object)
        first_row = pd.Series(rows).groupby(keys, sort=False).transform("first")
        first_row = first_row.fillna(0).to_numpy(dtype=np.int64)
        values = ids.to_numpy(dtype=object)
        reasons = np.full(len(values), None, dtype=object)
        where = np.flatnonzero(duplicate)
        reasons[where] = [
            f"duplicate firm_id '{values[i]}' (first at row {first_row[i]})" for i in where
        ]
        problems.add(duplicate, column, reasons, "duplicate firm_id")
    return ids.fillna("").to_numpy(dtype=object), False


def _validate_number(
    frame: pd.DataFrame,
    mapping: dict[str, str],
    name: str,
    problems: _Problems,
    *,
    negative: bool,
) -> np.ndarray:
    """Parse an optional numeric column; NaN where absent or blank."""
    if name not in mapping:
        return np.full(len(frame), np.nan)
    column = mapping[name]
    values, bad = _to_number(frame[column], thousands=True)
    problems.add(bad, column, f"non-numeric {name}", f"non-numeric {name}")
    if negative:
        with np.errstate(invalid="ignore"):
            problems.add(values < 0, column, f"negative {name}", f"negative {name}")
    return values


def _validate_year(
    frame: pd.DataFrame, mapping: dict[str, str], problems: _Problems
) -> np.ndarray:
    """Parse the optional year column; NaN where absent or blank."""
    if "year" not in mapping:
        return np.full(len(frame), np.nan)
    column = mapping["year"]
    values, bad = _to_number(frame[column])
    problems.add(bad, column, "non-numeric year", "non-numeric year")
    with np.errstate(invalid="ignore"):
        fractional = np.isfinite(values) & (values != np.round(values))
        out_of_range = np.isfinite(values) & ~fractional & (
            (values < _YEAR_RANGE[0]) | (values > _YEAR_RANGE[1])
        )
    problems.add(fractional, column, "year is not a whole number", "non-numeric year")
    problems.add(
        out_of_range, column,
        f"implausible year (expected {_YEAR_RANGE[0]}-{_YEAR_RANGE[1]})", "implausible year",
    )
    values = values.copy()
    values[fractional | out_of_range] = np.nan
    return values


def _reject_table(
    frame: pd.DataFrame, rows: np.ndarray, problems: _Problems, rejected: np.ndarray
) -> pd.DataFrame:
    """Rejected rows: number, column(s), reason(s), then the original values as text."""
    where = np.flatnonzero(rejected)
    table = pd.DataFrame(
        {
            "source_row": rows[where],
            "column": problems.column[where],
            "reason": problems.reason[where],
        }
    )
    subset = frame.iloc[where]
    for name in frame.columns:
        label = name if name not in REJECT_COLUMNS else f"{name} (input)"
        text = [_scalar_text(v) for v in subset[name].to_numpy(dtype=object)]
        table[label] = pd.Series(
            [t if t is not None else "" for t in text], index=table.index, dtype=object
        )
    return table


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
    classification: Classification | None = None,
    require_code: bool = True,
) -> FirmTable:
    """Read an enterprise file and validate it with :func:`normalise_firms`.

    Formats, by file extension:

    - ``.csv``, ``.txt`` (delimiter sniffed: comma, tab, semicolon, pipe) and
      ``.tsv``: the encoding is detected among UTF-8, UTF-8 with BOM, UTF-16
      with BOM, GBK and GB18030 unless ``encoding`` is given. All columns are
      read as text, so codes such as ``0511`` and ids keep leading zeros.
    - ``.xlsx``, ``.xlsm``: the first worksheet, or ``sheet``; the first
      non-empty row is the header.
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
        ``{schema field: file column}`` for headers the aliases do not cover.
    encoding : str, optional
        Force a text encoding (CSV/TXT/TSV, Shapefile attributes).
    sheet : str, optional
        Worksheet name (XLSX).
    layer : str, optional
        Layer name (GeoPackage and other multi-layer files).
    study_area : shapely.Geometry, optional
        Study area in WGS84 (see :func:`normalise_firms`).
    classification : Classification, optional
        Industry rules; the bundled ones by default.
    require_code : bool
        Whether the file must have industry codes (see :func:`normalise_firms`).

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
        raise InputError("file not found; check the path", file=path)
    if path.is_dir():
        raise InputError("this is a folder; give the enterprise file inside it", file=path)
    suffix = path.suffix.lower()
    if suffix == ".xls":
        raise InputError(
            "the old Excel .xls format is not supported; save the sheet as .xlsx or CSV",
            file=path,
        )
    if suffix not in SUPPORTED:
        raise InputError(
            f"unsupported file type '{suffix}'; use one of {', '.join(SUPPORTED)}", file=path
        )
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InputError(f"cannot read the file: {exc}", file=path) from exc
    if size == 0:
        raise InputError("the file is empty", file=path)
    declared = coords if isinstance(coords, CoordSystem) else parse_coord_system(coords)
    system = declared
    notes: list[str] = []
    mapping = dict(columns or {})
    if suffix in TEXT_SUFFIXES:
        raw, used = _read_text(path, encoding, tab=suffix == ".tsv")
        notes.append(f"encoding: {used}")
    elif suffix in EXCEL_SUFFIXES:
        raw = _read_excel(path, sheet)
    else:
        frame = _read_parquet(path) if suffix in PARQUET_SUFFIXES else _read_layer(
            path, layer, encoding, notes
        )
        raw, system = _positions_from_geometry(frame, declared, path, mapping, notes)
    if raw.empty:
        raise InputError("the file has a header but no data rows", file=path)
    table = normalise_firms(
        raw,
        source=str(path),
        coords=system,
        columns=mapping or None,
        study_area=study_area,
        classification=classification,
        require_code=require_code,
    )
    table.summary["notes"] = notes + table.summary["notes"]
    return table


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
        file=path,
    )


def _sniff_delimiter(text: str) -> str:
    """Pick the delimiter that splits the header line most often (comma if none)."""
    header = next((line for line in text.splitlines() if line.strip()), "")
    counts = {sep: header.count(sep) for sep in (",", "\t", ";", "|")}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


def _read_text(path: Path, encoding: str | None, *, tab: bool) -> tuple[pd.DataFrame, str]:
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
        raise InputError("the file is empty", file=path)
    sep = "\t" if tab else _sniff_delimiter(text)
    try:
        frame = pd.read_csv(
            io.StringIO(text), sep=sep, dtype=str, keep_default_na=False, na_filter=False
        )
    except (pd.errors.ParserError, csv.Error) as exc:
        raise InputError(
            f"cannot parse the file as a table with '{sep}' between columns: {exc}", file=path
        ) from exc
    except pd.errors.EmptyDataError as exc:
        raise InputError("the file is empty", file=path) from exc
    return frame, used


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return _scalar_text(value) or ""


def _read_excel(path: Path, sheet: str | None) -> pd.DataFrame:
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
    try:
        if sheet is None:
            worksheet = book.worksheets[0]
        elif sheet in book.sheetnames:
            worksheet = book[sheet]
        else:
            raise InputError(
                f"no worksheet '{sheet}'; the sheets are: {', '.join(book.sheetnames)}", file=path
            )
        records = []
        header: list[str] | None = None
        for values in worksheet.iter_rows(values_only=True):
            if all(v is None or (isinstance(v, str) and not v.strip()) for v in values):
                continue
            if header is None:
                header = [
                    _cell_text(v) or f"column_{i + 1}" for i, v in enumerate(values)
                ]
                continue
            records.append([_cell_text(v) for v in values])
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many types on corrupt sheets
        raise InputError(f"cannot read the worksheet: {exc}", file=path) from exc
    finally:
        book.close()
    if header is None or not records:
        raise InputError(
            f"the worksheet '{worksheet.title}' has no data rows; the sheets are: "
            f"{', '.join(book.sheetnames)} (choose one with --sheet)",
            file=path,
        )
    width = len(header)
    records = [(r + [""] * width)[:width] for r in records]
    return pd.DataFrame(records, columns=header, dtype=object)


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
    x_name, y_name = _GEOM_X, _GEOM_Y
    while x_name in attributes or y_name in attributes:
        x_name, y_name = "_" + x_name, "_" + y_name
    attributes[x_name] = x
    attributes[y_name] = y
    if "lon" in mapping or "lat" in mapping:
        notes.append("positions taken from the point geometry; the lon/lat mapping is ignored")
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
