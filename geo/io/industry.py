"""Industry classification: GB/T 4754-2017 codes into manufacturing and producer services.

The rules are data, not code. ``geo/data/industry/`` holds the 20 sections and
97 divisions of GB/T 4754-2017 and a rules table (``groups.csv``) that maps code
prefixes to a group (``manufacturing``, ``producer_services``; everything else
is ``other``), a producer-service field (Hangzhou's five key fields ``digital``,
``tech``, ``finance``, ``logistics``, ``business``, plus ``other_ps``) and a
high-tech manufacturing flag. The longest matching prefix wins, so a user can
refine a division by adding a group or class row. See
``geo/data/industry/README.md`` for the sources and simplifications.

Examples
--------
>>> normalise_code("ｃ３９１１")
('C3911', None)
>>> normalise_code("I3911")
(None, 'section I does not contain division 39 (it is in section C)')
>>> table = load_classification().classify(pd.Series(["C3911", "6510"]))
>>> table[["industry_code", "group", "field", "high_tech"]].values.tolist()
[['C3911', 'manufacturing', None, True], ['I6510', 'producer_services', 'digital', False]]
"""

from __future__ import annotations

import io
import math
import numbers
import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from geo.errors import ConfigError
from geo.resources import package_data

GROUPS = ("manufacturing", "producer_services", "other")
FIELDS = ("digital", "tech", "finance", "logistics", "business", "other_ps")
RULE_COLUMNS = ("code_prefix", "group", "field", "high_tech", "label_zh", "label_en")
CLASSIFY_COLUMNS = (
    "industry_code",
    "section",
    "division",
    "group",
    "field",
    "high_tech",
    "code_error",
)

_CODE = re.compile(r"([A-Za-z]?)(\d{2,4})")
_NUMBER = re.compile(r"(\d+)(?:\.0*)?")
_SECTIONS = frozenset("ABCDEFGHIJKLMNOPQRST")
_TRUE = {"true", "1", "yes", "y", "t", "是"}
_FALSE = {"false", "0", "no", "n", "f", "否", ""}

Lang = Literal["zh", "en"]


@lru_cache(maxsize=1)
def load_sections() -> pd.DataFrame:
    """Return the 20 sections (门类) of GB/T 4754-2017.

    Returns
    -------
    pandas.DataFrame
        Columns ``section``, ``name_zh``, ``name_en``, ``first_division``,
        ``last_division`` (two-digit strings). Treat as read-only (cached).
    """
    return pd.read_csv(package_data("industry/sections.csv"), dtype=str, encoding="utf-8")


@lru_cache(maxsize=1)
def load_divisions() -> pd.DataFrame:
    """Return the 97 divisions (大类) of GB/T 4754-2017.

    Returns
    -------
    pandas.DataFrame
        Columns ``division`` (two-digit string), ``section``, ``name_zh``,
        ``name_en``. Treat as read-only (cached).
    """
    return pd.read_csv(package_data("industry/divisions.csv"), dtype=str, encoding="utf-8")


@lru_cache(maxsize=1)
def _division_sections() -> dict[str, str]:
    divisions = load_divisions()
    return dict(zip(divisions["division"], divisions["section"], strict=True))


@lru_cache(maxsize=1)
def _labels() -> dict[str, tuple[str, str]]:
    table = pd.read_csv(package_data("industry/labels.csv"), dtype=str, encoding="utf-8")
    out = {row.key: (row.label_zh, row.label_en) for row in table.itertuples()}
    for row in load_sections().itertuples():
        out.setdefault(row.section, (row.name_zh, row.name_en))
    for row in load_divisions().itertuples():
        out.setdefault(row.division, (row.name_zh, row.name_en))
    return out


def label(key: str, lang: Lang = "zh") -> str:
    """Return the Chinese or English label of a group, field, section or division.

    Parameters
    ----------
    key : str
        A group (``"manufacturing"``), field (``"digital"``), ``"high_tech"``,
        a section letter (``"C"``) or a two-digit division (``"39"``).
    lang : {"zh", "en"}
        Language of the label.

    Returns
    -------
    str

    Raises
    ------
    ConfigError
        If ``lang`` is not ``"zh"`` or ``"en"``.
    KeyError
        If the key is unknown.

    Examples
    --------
    >>> label("producer_services"), label("digital", "en")
    ('生产性服务业', 'Digital services')
    """
    if lang not in ("zh", "en"):
        raise ConfigError(f"unknown language '{lang}': use zh or en")
    labels = _labels()
    if key not in labels:
        raise KeyError(f"no label for '{key}'")
    return labels[key][0 if lang == "zh" else 1]


def _is_missing(raw: object) -> bool:
    if raw is None or raw is pd.NA or raw is pd.NaT:
        return True
    return isinstance(raw, float) and math.isnan(raw)


def normalise_code(raw: object) -> tuple[str | None, str | None]:
    """Normalise one GB/T 4754-2017 industry code.

    Accepts 2- to 4-digit codes (division, group or class) with or without the
    section letter, in any case, with surrounding or inner spaces and in
    full-width characters (``"Ｃ３９１１"``), and numbers as spreadsheets store
    them (``3911``, ``3911.0``, ``"3911.0"``).

    Only the division is checked against the standard: a 3- or 4-digit code is
    accepted when it has the right format and its first two digits are an
    existing division, because the full list of groups and classes is not
    bundled. A section letter, if given, must be the division's section.

    A spreadsheet stores ``0511`` as the number 511, which cannot be told apart
    from the group code 511 (division 51). A 3-digit code is therefore taken as
    given (here: group 511 of wholesale) when that is valid; keep code columns
    as text in Excel to avoid the ambiguity. A 1-digit number can only be a
    division that lost its leading zero (``5`` -> ``05``) and is padded.

    Parameters
    ----------
    raw : object
        The code as read from the file (str, int, float or missing).

    Returns
    -------
    tuple of (str or None, str or None)
        ``(code, None)`` with the code normalised as section letter + digits
        (``"C3911"``), or ``(None, reason)`` when it is missing or invalid.

    Examples
    --------
    >>> normalise_code(" i6510 ")
    ('I6510', None)
    >>> normalise_code(3911.0)
    ('C3911', None)
    >>> normalise_code("99")
    (None, 'no division 99 in GB/T 4754-2017')
    """
    if _is_missing(raw):
        return None, "missing industry code"
    if isinstance(raw, bool):
        return None, f"'{raw}' is not an industry code"
    if isinstance(raw, numbers.Integral):
        text = str(int(raw))
    elif isinstance(raw, numbers.Real):
        value = float(raw)
        if not value.is_integer():
            return None, f"'{raw}' is not an industry code (2 to 4 digits, e.g. C3911)"
        text = str(int(value))
    else:
        # NFKC folds full-width letters, digits and spaces to ASCII
        text = re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(raw)))
    if not text:
        return None, "missing industry code"
    number = _NUMBER.fullmatch(text)
    if number:
        # read as a number: "3911.0" -> "3911"; a lone digit lost its leading zero
        text = number.group(1)
        if len(text) == 1:
            text = "0" + text
    match = _CODE.fullmatch(text)
    if not match:
        return None, (
            f"'{raw}' is not an industry code: expected 2 to 4 digits with an optional "
            "section letter, e.g. C3911 or 3911"
        )
    letter, digits = match.group(1).upper(), match.group(2)
    if letter and letter not in _SECTIONS:
        return None, f"unknown section letter {letter} (GB/T 4754-2017 sections are A to T)"
    division = digits[:2]
    section = _division_sections().get(division)
    if section is None:
        return None, f"no division {division} in GB/T 4754-2017"
    if letter and letter != section:
        return None, (
            f"section {letter} does not contain division {division} (it is in section {section})"
        )
    return section + digits, None


def _parse_bool(value: str) -> bool | None:
    text = value.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    return None


def longest_prefix(lookup: dict[str, object], digits: str) -> object | None:
    """Value of the longest key of ``lookup`` that prefixes ``digits`` (at least 2 digits).

    Parameters
    ----------
    lookup : dict
        Code prefixes (digits only, no section letter) to values.
    digits : str
        A code's digits, e.g. ``"3911"``.

    Returns
    -------
    object or None
        None when no key matches.
    """
    for length in range(len(digits), 1, -1):
        hit = lookup.get(digits[:length])
        if hit is not None:
            return hit
    return None


@dataclass(frozen=True, eq=False)
class Classification:
    """Rules mapping industry-code prefixes to group, field and high-tech flag.

    Build it with :func:`load_classification`, which validates the table.

    Attributes
    ----------
    rules : pandas.DataFrame
        One row per prefix: ``code_prefix`` (2-4 digits, no section letter),
        ``group``, ``field`` (None outside producer services), ``high_tech``
        (bool), ``label_zh``, ``label_en``.
    source : str
        Where the rules were read from.
    """

    rules: pd.DataFrame
    source: str = "bundled"
    _lookup: dict[str, tuple[str, str | None, bool]] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        lookup = {
            row.code_prefix: (row.group, row.field, bool(row.high_tech))
            for row in self.rules.itertuples()
        }
        object.__setattr__(self, "_lookup", lookup)

    def match(self, code: str) -> tuple[str, str | None, bool]:
        """Classify one normalised code (``"C3911"``) by its longest matching prefix.

        Parameters
        ----------
        code : str
            A code as returned by :func:`normalise_code`.

        Returns
        -------
        tuple
            ``(group, field, high_tech)``; ``("other", None, False)`` when no
            rule matches.
        """
        hit = longest_prefix(self._lookup, code[1:])
        return ("other", None, False) if hit is None else hit

    def classify(self, codes: pd.Series) -> pd.DataFrame:
        """Normalise and classify a column of industry codes.

        Each distinct value is normalised once and the result mapped back, so
        a million rows with a few thousand distinct codes take well under a
        second.

        Parameters
        ----------
        codes : pandas.Series
            Raw codes (str, int, float or missing).

        Returns
        -------
        pandas.DataFrame
            Same index as ``codes``; columns ``industry_code`` (normalised, None
            if invalid), ``section``, ``division``, ``group``, ``field`` (None
            outside producer services), ``high_tech`` (bool) and ``code_error``
            (None, or why the code is invalid). Invalid codes get None for
            everything but ``high_tech`` (False) and ``code_error``.
        """
        # factorize keeps 3911 (int) and "3911" (str) apart; both normalise the same
        positions, uniques = pd.factorize(pd.Series(codes, dtype=object), use_na_sentinel=True)
        values = list(uniques) + [None]  # position -1 (missing) maps to the last entry
        table = np.empty((len(values), len(CLASSIFY_COLUMNS)), dtype=object)
        for i, raw in enumerate(values):
            code, error = normalise_code(raw)
            if code is None:
                table[i] = (None, None, None, None, None, False, error)
            else:
                group, field_, high_tech = self.match(code)
                table[i] = (code, code[0], code[1:3], group, field_, high_tech, None)
        picked = table[positions]
        # column by column so missing values stay None (a 2-D object array becomes NaN)
        out = pd.DataFrame(
            {
                name: pd.Series(picked[:, j], index=codes.index, dtype=object)
                for j, name in enumerate(CLASSIFY_COLUMNS)
            }
        )
        out["high_tech"] = out["high_tech"].astype(bool)
        return out


    def match_section(self, letter: str) -> tuple[str, str | None, bool]:
        """Classify a firm known only by its section (门类), when the rules allow.

        Parameters
        ----------
        letter : str
            A section letter.

        Returns
        -------
        tuple
            ``(group, field, high_tech)`` shared by every division of the
            section; ``field`` is None and ``high_tech`` False unless all
            divisions agree; ``("other", None, False)`` when the divisions fall
            in different groups.
        """
        divisions = load_divisions()
        results = {self.match(letter + d) for d in divisions.loc[
            divisions["section"] == letter, "division"]}
        groups = {r[0] for r in results}
        if len(groups) != 1:
            return ("other", None, False)
        fields = {r[1] for r in results}
        return (groups.pop(), fields.pop() if len(fields) == 1 else None,
                all(r[2] for r in results))

    def classify_codes(self, codes: pd.Series) -> pd.DataFrame:
        """Classify normalised codes (``"C3911"``, ``"C17"``, ``"C"``; None for none).

        Parameters
        ----------
        codes : pandas.Series
            Codes as resolved by :func:`geo.io.industry_codes.resolve_industry`.

        Returns
        -------
        pandas.DataFrame
            Same index; ``industry_code``, ``section``, ``division`` (None for
            a section-only code), ``group``, ``field``, ``high_tech``.
        """
        positions, uniques = pd.factorize(pd.Series(codes, dtype=object), use_na_sentinel=True)
        table = np.empty((len(uniques) + 1, 6), dtype=object)
        for i, code in enumerate(uniques):
            group, field_, high_tech = (
                self.match(code) if len(code) > 1 else self.match_section(code)
            )
            table[i] = (code, code[0], code[1:3] or None, group, field_, high_tech)
        table[-1] = (None, None, None, None, None, False)
        picked = table[positions]
        names = ("industry_code", "section", "division", "group", "field", "high_tech")
        out = pd.DataFrame({
            name: pd.Series(picked[:, j], index=codes.index, dtype=object)
            for j, name in enumerate(names)
        })
        out["high_tech"] = out["high_tech"].astype(bool)
        return out


def _validate_rules(table: pd.DataFrame, source: str) -> pd.DataFrame:
    """Check a rules table; return it cleaned (prefix digits, bool flag, None fields)."""
    missing = [c for c in RULE_COLUMNS if c not in table.columns]
    if missing:
        raise ConfigError(
            f"missing columns {missing}; a classification table needs the columns "
            f"{list(RULE_COLUMNS)} (found {list(table.columns)})",
            file=source,
        )
    rows = []
    seen: dict[str, int] = {}
    for i, row in enumerate(table.itertuples(index=False), start=1):
        raw_prefix = str(row.code_prefix).strip()
        code, error = normalise_code(raw_prefix)
        if code is None:
            raise ConfigError(
                f"invalid code_prefix '{raw_prefix}': {error}", file=source, row=i,
                column="code_prefix",
            )
        prefix = code[1:]
        if prefix in seen:
            raise ConfigError(
                f"code_prefix {prefix} is listed twice (first at row {seen[prefix]})",
                file=source, row=i, column="code_prefix",
            )
        seen[prefix] = i
        group = str(row.group).strip()
        if group not in GROUPS:
            raise ConfigError(
                f"unknown group '{group}': use one of {', '.join(GROUPS)}",
                file=source, row=i, column="group",
            )
        field_ = str(row.field).strip() or None
        if group == "producer_services" and field_ not in FIELDS:
            raise ConfigError(
                f"producer services need a field, one of {', '.join(FIELDS)} "
                f"(got '{field_ or ''}')",
                file=source, row=i, column="field",
            )
        if group != "producer_services" and field_ is not None:
            raise ConfigError(
                f"field '{field_}' is only allowed for group producer_services (group is "
                f"{group}); leave it empty",
                file=source, row=i, column="field",
            )
        high_tech = _parse_bool(str(row.high_tech))
        if high_tech is None:
            raise ConfigError(
                f"high_tech must be true or false, got '{row.high_tech}'",
                file=source, row=i, column="high_tech",
            )
        if high_tech and group != "manufacturing":
            raise ConfigError(
                "high_tech marks high-tech manufacturing; it can only be true for group "
                f"manufacturing (group is {group})",
                file=source, row=i, column="high_tech",
            )
        rows.append((prefix, group, field_, high_tech, str(row.label_zh), str(row.label_en)))
    rules = pd.DataFrame(rows, columns=list(RULE_COLUMNS))
    rules["field"] = rules["field"].astype(object).where(rules["field"].notna(), None)
    return rules


@lru_cache(maxsize=1)
def _bundled() -> Classification:
    path = package_data("industry/groups.csv")
    table = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    return Classification(_validate_rules(table, str(path)), source=str(path))


def read_rules_csv(path: Path, what: str) -> pd.DataFrame:
    """Read a small rules table saved as UTF-8 (with or without BOM) or GBK CSV.

    Excel on Chinese Windows saves "CSV" as GBK; both are accepted. Every
    value is text; headers are stripped.

    Parameters
    ----------
    path : Path
        The CSV file.
    what : str
        What the table is, for error messages ("classification table").

    Returns
    -------
    pandas.DataFrame

    Raises
    ------
    ConfigError
        If the file cannot be decoded or parsed.
    """
    data = path.read_bytes()
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise ConfigError(f"cannot decode the {what}; save it as a UTF-8 CSV", file=path)
    try:
        table = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise ConfigError(
            f"cannot read the {what} ({exc}); save it as a UTF-8 CSV", file=path
        ) from exc
    table.columns = [str(c).strip() for c in table.columns]
    return table


def load_classification(path: str | Path | None = None) -> Classification:
    """Load the bundled classification rules or a user's table.

    Parameters
    ----------
    path : str or Path, optional
        A CSV (UTF-8 with or without BOM, or GBK) with the columns of the bundled
        ``groups.csv``: ``code_prefix, group, field, high_tech, label_zh,
        label_en``. It replaces the bundled rules entirely. None loads the
        bundled rules.

    Returns
    -------
    Classification

    Raises
    ------
    ConfigError
        If the file is missing or unreadable, or a column or value is invalid
        (the message names the file, row and column).
    """
    if path is None:
        return _bundled()
    path = Path(path)
    if not path.is_file():
        raise ConfigError("classification file not found", file=path)
    table = read_rules_csv(path, "classification table")
    return Classification(_validate_rules(table, str(path)), source=str(path))
