"""Cell values of registers: text, numbers, dates, founding years and registered capital.

Registers write numbers the way people do: thousands separators, full-width
digits, ``500万元人民币``, ``2015年3月12日``. These parsers are vectorised over
distinct values so a million rows take a second or two.
"""

from __future__ import annotations

import re
import unicodedata

import numpy as np
import pandas as pd

from geo.io.readers import scalar_text

NULL_TOKENS = frozenset({"", "nan", "null", "none", "na", "n/a", "#n/a", "-", "--", "—"})
_EXCEL_EPOCH = pd.Timestamp("1899-12-30")
_CAPITAL = re.compile(r"^([-+]?\d+(?:\.\d+)?)\s*(亿|万|千)?\s*(元)?\s*(.*)$")
_CURRENCIES = {
    "人民币": "CNY", "": "CNY", "元": "CNY", "美元": "USD", "港元": "HKD", "港币": "HKD",
    "欧元": "EUR", "日元": "JPY", "英镑": "GBP", "新台币": "TWD", "澳元": "AUD",
}


def to_text(values: pd.Series) -> pd.Series:
    """Return text values stripped of surrounding spaces; None where blank or missing.

    Parameters
    ----------
    values : pandas.Series
        Cells of any type.

    Returns
    -------
    pandas.Series
        Object dtype.
    """
    if pd.api.types.is_string_dtype(values.dtype) and pd.api.types.infer_dtype(
        values, skipna=True
    ) in ("string", "empty"):
        text = values.astype(object).str.strip()
    else:
        codes, uniques = pd.factorize(values.astype(object), use_na_sentinel=True)
        converted = np.array([scalar_text(v) for v in uniques] + [None], dtype=object)
        text = pd.Series(converted[codes], index=values.index, dtype=object)
        text = text.str.strip()
    text = text.astype(object)
    return text.where(text.notna() & (text != ""), None)


def to_number(
    values: pd.Series, *, thousands: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Parse numbers.

    Parameters
    ----------
    values : pandas.Series
        Cells (text or numbers); full-width digits are accepted.
    thousands : bool
        Accept thousands separators (``1,234``, ``1，234``).

    Returns
    -------
    tuple of numpy.ndarray
        Float values (NaN for blanks and errors) and the mask of cells that
        are not numbers.
    """
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
        text = to_text(values.iloc[failed])
        blank = (text.isna() | text.str.lower().isin(NULL_TOKENS)).to_numpy()
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




# A date written year first: 2024-03-05, 2024/3/5, 2024.3.5, 2024年3月5日, 2024-03,
# 2024年3月, 2024年, with an optional time after it (2024-03-05 00:00:00, 2024-03-05T08:30)
_YMD = re.compile(r"^(\d{4})\s*(?:[-/.年]\s*(\d{1,2})\s*(?:[-/.月]\s*(\d{1,2})\s*日?|月)?)?\s*"
                  r"(?:年\s*)?(?:[T\s]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$")
_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})(?:\d{6})?$")  # 20240305, 20240305083000
# Chinese numerals of dates written out: 二〇二四年三月五日, 二零二四年十二月三十一日
_HAN_DIGITS = str.maketrans("〇零一二三四五六七八九", "00123456789")
_HAN_DATE = re.compile(r"^([〇零一二三四五六七八九]{4})年(?:([一二三四五六七八九十]{1,3})月"
                       r"(?:([一二三四五六七八九十]{1,3})日)?)?$")


def _han_number(text: str) -> int:
    """十二 -> 12, 三十一 -> 31, 五 -> 5 (the numbers of months and days)."""
    if "十" not in text:
        return int(text.translate(_HAN_DIGITS))
    tens, _, units = text.partition("十")
    return int(tens.translate(_HAN_DIGITS) or 1) * 10 + int(units.translate(_HAN_DIGITS) or 0)


def _date_of(cell: str) -> pd.Timestamp | None:
    """One cell as a date (the first day of a month or year given alone); None if unreadable."""
    cell = unicodedata.normalize("NFKC", cell).strip()
    parts = None
    for pattern, convert in ((_YMD, int), (_COMPACT, int), (_HAN_DATE, _han_number)):
        match = pattern.match(cell)
        if match:
            year = match.group(1)
            parts = (int(year.translate(_HAN_DIGITS)),
                     *(convert(g) if g else 1 for g in match.groups()[1:3]))
            break
    if parts is None:
        try:  # a date cell Excel saved as its day number (45356, or 45356.5 with a time)
            number = float(cell)
        except ValueError:
            return None
        if not 10_000 <= number <= 80_000:
            return None
        return (_EXCEL_EPOCH + pd.Timedelta(days=int(number))).normalize()
    try:
        return pd.Timestamp(year=parts[0], month=parts[1], day=parts[2])
    except ValueError:  # 2024-02-30, 2024-13-01
        return None


def parse_dates(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Read dates as registers write them (成立日期, 注销日期, 吊销日期).

    Year first, in the common Chinese and ISO forms: ``2024-03-05``,
    ``2024/3/5``, ``2024.3.5``, ``20240305``, ``2024年3月5日`` (also with
    full-width digits, or written out: ``二〇二四年三月五日``), with or without
    a time (``2024-03-05 08:30:00``, ``2024-03-05T08:30``); a month or a year
    alone (``2024-03``, ``2024年3月``, ``2024``, ``2024年``) as its first day;
    Excel day numbers (``45356``) of cells saved as numbers; and the dates and
    times a spreadsheet reader returns. Day-first forms (``05/03/2024``) are
    ambiguous and not read.

    Parameters
    ----------
    values : pandas.Series
        Cells of any type.

    Returns
    -------
    tuple of numpy.ndarray
        Dates as ``datetime64[s]`` (NaT where blank or unreadable) and the
        mask of cells that could not be read.

    Examples
    --------
    >>> dates, bad = parse_dates(pd.Series(["2024年3月5日", "20240305", "45356", "2024-02-30"]))
    >>> [str(d) for d in dates.astype("datetime64[D]")], bad.tolist()
    (['2024-03-05', '2024-03-05', '2024-03-05', 'NaT'], [False, False, False, True])
    """
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        dates = values.dt.tz_localize(None) if getattr(values.dt, "tz", None) else values
        return dates.dt.normalize().to_numpy(dtype="datetime64[s]"), np.zeros(len(values), bool)
    text = to_text(values)
    codes, uniques = pd.factorize(text, use_na_sentinel=True)
    dates = np.full(len(uniques) + 1, np.datetime64("NaT"), dtype="datetime64[s]")
    bad = np.zeros(len(uniques) + 1, dtype=bool)
    for i, cell in enumerate(uniques):
        if str(cell).strip().lower() in NULL_TOKENS:
            continue
        date = _date_of(str(cell))
        if date is None:
            bad[i] = True
        else:
            dates[i] = np.datetime64(date.to_datetime64(), "s")
    return dates[codes], bad[codes]


def parse_years(values: pd.Series, *, dates: bool) -> tuple[np.ndarray, np.ndarray]:
    """Read founding years from a year column or a date column (成立日期).

    Parameters
    ----------
    values : pandas.Series
        Cells: years (``2015``), or, when ``dates``, dates in the forms
        :func:`parse_dates` reads.
    dates : bool
        Whether the column holds dates.

    Returns
    -------
    tuple of numpy.ndarray
        Years as floats (NaN where blank or unreadable) and the mask of cells
        that could not be read.
    """
    if not dates:
        return to_number(values)
    found, bad = parse_dates(values)
    years = found.astype("datetime64[Y]").astype(float) + 1970
    years[np.isnat(found)] = np.nan
    return years, bad


def parse_capital(
    values: pd.Series, unit: str | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Read registered capital (注册资本) into 10,000s of the stated currency.

    Parameters
    ----------
    values : pandas.Series
        Cells such as ``500万元人民币``, ``100万美元``, ``1.2亿元``, ``5000000``.
    unit : str, optional
        The column's unit from its header (``注册资本(万元)``); a bare number is
        read in this unit, and in 万元 when there is none (the registers'
        convention).

    Returns
    -------
    tuple of numpy.ndarray
        Amount in 万 (10,000) of the currency (NaN where blank or
        unreadable), the currency (ISO code, None where blank) and the mask of
        unreadable cells.
    """
    header_scale = {"元": 1e-4, "千元": 0.1, "万元": 1.0, "亿元": 1e4}.get(
        (unit or "").replace(" ", ""), 1.0
    )
    text = to_text(values)
    codes, uniques = pd.factorize(text, use_na_sentinel=True)
    amounts = np.full(len(uniques) + 1, np.nan)
    currency = np.full(len(uniques) + 1, None, dtype=object)
    bad = np.zeros(len(uniques) + 1, dtype=bool)
    for i, cell in enumerate(uniques):
        cell = re.sub(r"[,，\s]", "", unicodedata.normalize("NFKC", str(cell)))
        if cell.lower() in NULL_TOKENS:
            continue
        match = _CAPITAL.match(cell)
        name = match.group(4) if match else None
        if match is None or name not in _CURRENCIES:
            bad[i] = True
            continue
        number, scale, yuan = float(match.group(1)), match.group(2), match.group(3)
        if scale:
            factor = {"亿": 1e4, "万": 1.0, "千": 0.1}[scale]
        elif yuan:
            factor = 1e-4
        else:
            factor = header_scale
        amounts[i] = number * factor
        currency[i] = _CURRENCIES[name]
    return amounts[codes], currency[codes], bad[codes]
