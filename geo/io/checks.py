"""Per-field checks of register rows: positions, industry, ids, numbers, years.

Each check parses one field of every row at once (vectorised) and records the
rows it rejects or flags, with the reason in English and Chinese, in a
:class:`~geo.io.problems.RowProblems`. :func:`geo.io.firms.normalise_firms` runs
them in turn.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.errors import InputError
from geo.io.columns import FIELD_LABELS, ColumnMapping
from geo.io.crs import (
    POSITION_MISSING,
    POSITION_OK,
    POSITION_OUTSIDE,
    POSITION_PROJECTED,
    POSITION_SWAPPED,
    WGS84,
    CoordSystem,
    check_plausible,
    diagnose_positions,
    to_wgs84,
)
from geo.io.industry import Classification
from geo.io.industry_codes import CLAIM_FIELDS, CODE_FIELD, resolve_industry
from geo.io.problems import RowProblems
from geo.io.quality import distance_outside, flag_positions, metric_crs, snap_inside
from geo.io.values import parse_capital, parse_dates, parse_years, to_number, to_text

# Degrees added around the study area's bounds when diagnosing positions: the
# polygon test decides "outside"; the box only has to separate swapped/projected.
_BBOX_MARGIN = 0.5
_WORLD = (-180.0, -90.0, 180.0, 90.0)
_YEAR_RANGE = (1800, 2100)
# Figures beyond these are data errors (a wrong unit, digits run together), not firms:
# the row is kept and flagged, and the figure left empty so that it cannot swamp an
# employment- or revenue-weighted index.
MAX_EMPLOYEES = 500_000  # one establishment; the largest plants in China employ ~300,000
MAX_YUAN = 1e13  # revenue or capital: ~3x the annual revenue of China's largest firm
_YUAN_PER_UNIT = {"元": 1.0, "千元": 1e3, "万元": 1e4, "亿元": 1e8}
POSITION_ZH = {
    POSITION_MISSING: "缺少坐标",
    POSITION_SWAPPED: "经纬度颠倒",
    POSITION_PROJECTED: "坐标像是投影坐标（米），不是经纬度",
    POSITION_OUTSIDE: "不在研究区内",
}


def text_field(
    frame: pd.DataFrame, mapping: ColumnMapping, name: str, default: str | None = ""
) -> np.ndarray:
    """Return a text field's values (``default`` where absent or blank)."""
    if name not in mapping.fields:
        return np.full(len(frame), default, dtype=object)
    values = to_text(frame[mapping.fields[name]])
    return values.where(values.notna(), default).to_numpy(dtype=object)


def validate_positions(
    frame: pd.DataFrame,
    mapping: ColumnMapping,
    system: CoordSystem,
    study_area: shapely.Geometry | None,
    source: str,
    problems: RowProblems,
    tolerance: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Parse, convert and diagnose positions.

    Returns WGS84 lon/lat (NaN where unusable), metres outside the study area
    (NaN where not measured) and metres moved inside (NaN where not snapped).
    """
    x_col, y_col = mapping.fields["lon"], mapping.fields["lat"]
    both = mapping.position_label()
    x, x_bad = to_number(frame[x_col])
    y, y_bad = to_number(frame[y_col])
    non_numeric = x_bad | y_bad
    n = len(frame)
    if n and non_numeric.sum() > 0.5 * n:
        raise InputError(
            f"{non_numeric.sum():,} of {n:,} rows have coordinates that are not numbers in "
            f"columns '{x_col}'/'{y_col}'; give decimal degrees (e.g. 120.15) or map the "
            "right columns, e.g. --column lon=经度 --column lat=纬度",
            zh=f"{n:,} 行中有 {non_numeric.sum():,} 行的坐标（“{x_col}”/“{y_col}”列）不是数字；"
            "请给出十进制经纬度（如 120.15），或用 --column lon=经度 --column lat=纬度 "
            "指定正确的列",
            file=source,
            column=both,
        )
    problems.add(non_numeric, both, "non-numeric coordinates", "坐标不是数字",
                 "non-numeric coordinates")
    missing = ~non_numeric & (np.isnan(x) | np.isnan(y))
    problems.add(missing, both, POSITION_MISSING, POSITION_ZH[POSITION_MISSING],
                 POSITION_MISSING)

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

    for cause in (POSITION_SWAPPED, POSITION_PROJECTED):
        problems.add(diagnoses == cause, both, cause, POSITION_ZH[cause], cause)
    outside_m = np.full(n, np.nan)
    snapped_m = np.full(n, np.nan)
    if study_area is None:
        problems.add(diagnoses == POSITION_OUTSIDE, both, POSITION_OUTSIDE,
                     POSITION_ZH[POSITION_OUTSIDE], POSITION_OUTSIDE)
        return lon, lat, outside_m, snapped_m
    candidates = np.flatnonzero((diagnoses == POSITION_OK) | (diagnoses == POSITION_OUTSIDE))
    # intersects (not contains): a firm on the boundary line is in the study area
    shapely.prepare(study_area)
    inside = shapely.intersects_xy(study_area, lon[candidates], lat[candidates])
    outside = candidates[~inside]
    if outside.size:
        crs = metric_crs(study_area)
        outside_m[outside] = distance_outside(lon[outside], lat[outside], study_area, crs)
        near = outside[outside_m[outside] <= tolerance] if tolerance > 0 else outside[:0]
        if near.size:
            lon[near], lat[near], snapped_m[near] = snap_inside(
                lon[near], lat[near], study_area, crs
            )
        far = np.zeros(n, dtype=bool)
        far[np.setdiff1d(outside, near)] = True
        en = np.full(n, None, dtype=object)
        zh = np.full(n, None, dtype=object)
        for i in np.flatnonzero(far):
            en[i] = f"outside the study area by {distance_text(outside_m[i])}"
            zh[i] = f"在研究区外 {distance_text(outside_m[i], 'zh')}"
        problems.add(far, both, en, zh, POSITION_OUTSIDE)
    return lon, lat, outside_m, snapped_m


def distance_text(metres: float, lang: str = "en") -> str:
    """'950 m' / '12.3 km' (Chinese: 950 米 / 12.3 公里)."""
    if not np.isfinite(metres):
        return ""
    if metres < 1000:
        return f"{metres:.0f} 米" if lang == "zh" else f"{metres:.0f} m"
    return f"{metres / 1000:.1f} 公里" if lang == "zh" else f"{metres / 1000:.1f} km"


def validate_industry(
    frame: pd.DataFrame,
    mapping: ColumnMapping,
    classification: Classification,
    problems: RowProblems,
    flags: RowProblems,
    notes: list[str],
) -> pd.DataFrame:
    """Resolve and classify the industry columns; reject or flag rows as needed."""
    n = len(frame)
    fields = [f for f in (CODE_FIELD, *CLAIM_FIELDS) if f in mapping.fields]
    if not fields:  # a plain point file typed by another column
        notes.append("no industry column: every point is 'other'")
        return pd.DataFrame(
            {c: [None] * n for c in ("industry_code", "section", "division", "field")}
        ).assign(group="other", high_tech=False)
    resolved = resolve_industry(
        {f: frame[mapping.fields[f]] for f in fields}, {f: mapping.fields[f] for f in fields}
    )
    columns = ", ".join(mapping.fields[f] for f in fields)
    column = mapping.fields.get(CODE_FIELD, columns)
    bad = resolved["reason_en"].notna().to_numpy()
    for category, group in resolved[bad].groupby("category", sort=False):
        mask = np.zeros(n, dtype=bool)
        mask[group.index.to_numpy()] = True
        reason_en = resolved["reason_en"].to_numpy(dtype=object)
        reason_zh = resolved["reason_zh"].to_numpy(dtype=object)
        problems.add(mask, column, reason_en, reason_zh, str(category))
    flagged = resolved["flag_en"].notna().to_numpy()
    for category, group in resolved[flagged].groupby("flag_category", sort=False):
        mask = np.zeros(n, dtype=bool)
        mask[group.index.to_numpy()] = True
        flags.add(mask, column, resolved["flag_en"].to_numpy(dtype=object),
                  resolved["flag_zh"].to_numpy(dtype=object), str(category))
    unmatched = sorted({name for text in resolved["unmatched"].dropna().unique()
                        for name in str(text).split("|")})
    if unmatched:
        notes.append(f"industry names not in GB/T 4754-2017 ({len(unmatched)}): "
                     + ", ".join(unmatched[:20]) + (" …" if len(unmatched) > 20 else ""))
    return classification.classify_codes(resolved["industry_code"])


def flag_suspect_positions(
    lon: np.ndarray,
    lat: np.ndarray,
    usable: np.ndarray,
    frame: pd.DataFrame,
    mapping: ColumnMapping,
    districts: gpd.GeoDataFrame | None,
    flags: RowProblems,
    notes: list[str],
    shared_min: int,
) -> np.ndarray:
    """Flag geocoder fallbacks and district mismatches; return the suspect-position mask."""
    column = mapping.fields.get("district")
    result = flag_positions(
        lon, lat, usable,
        districts=districts.to_crs(WGS84) if districts is not None else None,
        district_names=frame[column] if column else None, district_column=column,
        shared_min=shared_min,
    )
    notes.extend(result.notes)
    suspect = np.zeros(len(lon), dtype=bool)
    for category in ("shared point", "geocoder centre", "district mismatch"):
        mask = result.category == category
        # each row's full flag text goes in with its first category
        flags.add(mask, mapping.position_label(), result.flag_en, result.flag_zh, category)
    suspect[~pd.isna(result.flag_en)] = True
    return suspect


def validate_ids(
    frame: pd.DataFrame,
    mapping: ColumnMapping,
    rows: np.ndarray,
    problems: RowProblems,
    sheets: np.ndarray | None = None,
) -> tuple[np.ndarray, bool]:
    """Return the ids (generated from row numbers when the column is absent).

    With ``sheets`` (several worksheets read), generated ids are
    ``worksheet:row`` and a duplicate names the worksheet of the first one.
    """
    if "firm_id" not in mapping.fields:
        ids = rows.astype(str)
        if sheets is not None:
            ids = np.char.add(np.char.add(sheets.astype(str), ":"), ids)
        return ids.astype(object), True
    column = mapping.fields["firm_id"]
    ids = to_text(frame[column])
    blank = ids.isna().to_numpy()
    problems.add(blank, column, "missing firm_id", "缺少企业编号", "missing firm_id")
    duplicate = (ids.duplicated(keep="first") & ids.notna()).to_numpy()
    if duplicate.any():
        keys = ids.to_numpy(dtype=object)
        first = pd.Series(np.arange(len(keys))).groupby(keys, sort=False).transform("first")
        first = first.fillna(0).to_numpy(dtype=np.int64)
        en = np.full(len(keys), None, dtype=object)
        zh = np.full(len(keys), None, dtype=object)
        for i in np.flatnonzero(duplicate):
            row = rows[first[i]]
            if sheets is None:
                en[i] = f"duplicate firm_id '{keys[i]}' (first at row {row})"
                zh[i] = f"企业编号“{keys[i]}”重复（首次出现在第 {row} 行）"
            else:
                sheet = sheets[first[i]]
                en[i] = f"duplicate firm_id '{keys[i]}' (first at row {row} of worksheet {sheet})"
                zh[i] = f"企业编号“{keys[i]}”重复（首次出现在工作表“{sheet}”第 {row} 行）"
        problems.add(duplicate, column, en, zh, "duplicate firm_id")
    return ids.fillna("").to_numpy(dtype=object), False


def validate_number(
    frame: pd.DataFrame,
    mapping: ColumnMapping,
    name: str,
    problems: RowProblems,
    *,
    negative: bool,
    flags: RowProblems | None = None,
) -> np.ndarray:
    """Parse an optional numeric column; NaN where absent or blank.

    ``employees`` and ``revenue`` beyond their plausible maximum (see
    :data:`MAX_EMPLOYEES`, :data:`MAX_YUAN`) are flagged in ``flags`` and left empty.
    """
    if name not in mapping.fields:
        return np.full(len(frame), np.nan)
    column = mapping.fields[name]
    values, bad = to_number(frame[column], thousands=True)
    label = FIELD_LABELS[name][0]
    problems.add(bad, column, f"non-numeric {name}", f"{label}不是数字", f"non-numeric {name}")
    if negative:
        with np.errstate(invalid="ignore"):
            problems.add(values < 0, column, f"negative {name}", f"{label}为负数",
                         f"negative {name}")
    if flags is not None and name == "employees":
        _implausible(values, MAX_EMPLOYEES, "", name, column, flags)
    elif flags is not None and name == "revenue":
        unit = (mapping.units.get(name) or "").replace(" ", "")
        # without a unit the file is read as yuan: the loosest bound, no false flags
        _implausible(values, MAX_YUAN / _YUAN_PER_UNIT.get(unit, 1.0), unit, name, column,
                     flags)
    return values


def _implausible(values: np.ndarray, limit: float, unit: str, name: str, column: str,
                 flags: RowProblems) -> None:
    """Flag values above ``limit`` and leave them empty (in place)."""
    with np.errstate(invalid="ignore"):
        above = values > limit
    if not above.any():
        return
    label_zh, label_en = FIELD_LABELS[name]
    en = np.full(len(values), None, dtype=object)
    zh = np.full(len(values), None, dtype=object)
    for i in np.flatnonzero(above):
        value = f"{values[i]:,.0f}{unit}"
        en[i] = (f"{label_en} {value} is beyond the plausible {limit:,.0f}{unit} for one "
                 "establishment; left empty")
        zh[i] = f"{label_zh} {value} 超出单个企业的合理上限 {limit:,.0f}{unit}，已置空"
    flags.add(above, column, en, zh, f"implausible {name}")
    values[above] = np.nan


def validate_capital(
    frame: pd.DataFrame, mapping: ColumnMapping, problems: RowProblems,
    flags: RowProblems | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Parse the optional registered capital (万 of its currency) and its currency.

    Amounts beyond :data:`MAX_YUAN` (in 万) are flagged in ``flags`` and left empty.
    """
    n = len(frame)
    if "registered_capital" not in mapping.fields:
        return np.full(n, np.nan), np.full(n, None, dtype=object)
    column = mapping.fields["registered_capital"]
    amount, currency, bad = parse_capital(frame[column], mapping.units.get("registered_capital"))
    problems.add(bad, column, "unreadable registered capital (e.g. 500万元人民币)",
                 "注册资本无法识别（应如 500万元人民币）", "non-numeric registered_capital")
    if flags is not None:
        _implausible(amount, MAX_YUAN / _YUAN_PER_UNIT["万元"], "万", "registered_capital",
                     column, flags)
    return amount, currency


def validate_year(
    frame: pd.DataFrame, mapping: ColumnMapping, problems: RowProblems
) -> np.ndarray:
    """Parse the optional year (or founding date) column; NaN where absent or blank."""
    if "year" not in mapping.fields:
        return np.full(len(frame), np.nan)
    column = mapping.fields["year"]
    dates = mapping.is_date("year")
    values, bad = parse_years(frame[column], dates=dates)
    what_en, what_zh = ("date", "日期") if dates else ("year", "年份")
    problems.add(bad, column, f"non-numeric {what_en}", f"成立{what_zh}无法识别",
                 "non-numeric year")
    with np.errstate(invalid="ignore"):
        fractional = np.isfinite(values) & (values != np.round(values))
        out_of_range = np.isfinite(values) & ~fractional & (
            (values < _YEAR_RANGE[0]) | (values > _YEAR_RANGE[1])
        )
    problems.add(fractional, column, "year is not a whole number", "成立年份不是整数",
                 "non-numeric year")
    low, high = _YEAR_RANGE
    problems.add(
        out_of_range, column, f"implausible year (expected {low}-{high})",
        f"成立年份不合理（应在 {low}–{high} 之间）", "implausible year",
    )
    values = values.copy()
    values[fractional | out_of_range] = np.nan
    return values


def _year_of(dates: np.ndarray) -> np.ndarray:
    years = dates.astype("datetime64[Y]").astype(float) + 1970
    years[np.isnat(dates)] = np.nan
    return years


def validate_dates(
    frame: pd.DataFrame, mapping: ColumnMapping, problems: RowProblems, flags: RowProblems,
    years: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Founding and closing dates: ``founded`` from a 成立日期 column, ``closed`` from 注销/吊销.

    A closing date that cannot be read, or whose year is implausible, rejects
    the row (as an unreadable founding year does); one before the founding
    date (or year) flags it. A firm with both a deregistration and a
    revocation date closed at the earlier.

    Parameters
    ----------
    frame : pandas.DataFrame
        The rows.
    mapping : ColumnMapping
        Which columns hold the dates.
    problems, flags : RowProblems
        Reasons to reject and to flag rows, added to.
    years : numpy.ndarray
        Founding years already read (:func:`validate_year`).

    Returns
    -------
    tuple of numpy.ndarray
        ``founded`` and ``closed`` as ``datetime64[s]`` (NaT where unknown;
        ``founded`` also where the file gives only a year).
    """
    n = len(frame)
    nat = np.full(n, np.datetime64("NaT"), dtype="datetime64[s]")
    founded = nat.copy()
    if "year" in mapping.fields and mapping.is_date("year"):
        founded, _ = parse_dates(frame[mapping.fields["year"]])  # unreadable: validate_year
        founded = np.where(np.isfinite(years), founded, nat)
    closed = nat.copy()
    low, high = _YEAR_RANGE
    for name, what_en, what_zh in (("deregistered", "deregistration", "注销"),
                                   ("revoked", "revocation", "吊销")):
        if name not in mapping.fields:
            continue
        column = mapping.fields[name]
        dates, bad = parse_dates(frame[column])
        problems.add(bad, column, f"unreadable {what_en} date", f"{what_zh}日期无法识别",
                     f"unreadable {what_en} date")
        year = _year_of(dates)
        with np.errstate(invalid="ignore"):
            implausible = np.isfinite(year) & ((year < low) | (year > high))
        problems.add(implausible, column, f"implausible {what_en} date (expected {low}-{high})",
                     f"{what_zh}日期不合理（应在 {low}–{high} 年之间）",
                     f"implausible {what_en} date")
        dates = np.where(implausible, nat, dates)
        earlier = ~np.isnat(dates) & (np.isnat(closed) | (dates < closed))
        closed = np.where(earlier, dates, closed)
    known = ~np.isnat(closed)
    with np.errstate(invalid="ignore"):
        # by date where the founding date is known, else by year (founded in 2015 and
        # closed in 2014 is impossible; closed in 2015 is not)
        before = known & np.where(~np.isnat(founded), closed < founded,
                                  np.isfinite(years) & (_year_of(closed) < years))
    if before.any():
        columns = "/".join(mapping.fields[f] for f in ("deregistered", "revoked")
                           if f in mapping.fields)
        flags.add(before, columns, "closed before it was founded", "注销/吊销日期早于成立日期",
                  "closed before founded")
    return founded, closed

