"""Types of firms and the lists of industry pairs a co-agglomeration study compares.

Types are industries at a level of GB/T 4754 (``division`` such as ``C39``,
``group`` ``C391``, ``class`` ``C3911``) or the values of a column. A pair
list is ``all`` (every pair of types), ``LEFT*RIGHT`` (every type of the
firms matching LEFT with every type of those matching RIGHT, e.g.
``manufacturing*producer_services``; ``×`` also separates) or a CSV file with
columns ``a`` and ``b`` holding either.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from geo.errors import ConfigError

LEVELS = ("division", "group", "class")
_CODE_LENGTH = {"division": 3, "group": 4, "class": 5}  # letter + digits
_SEPARATOR = re.compile(r"\s*(?:×|\*|\s[xX]\s)\s*")


def industry_types(firms: pd.DataFrame, level: str = "division",
                   type_column: str | None = None) -> np.ndarray:
    """Type of each firm: its industry at ``level`` (``C39``), or a column's values.

    Parameters
    ----------
    firms : DataFrame
        Normalised firms (``industry_code`` such as ``C3911``).
    level : {"division", "group", "class"}
        GB/T 4754 level.
    type_column : str, optional
        Take the types from this column instead (raw values as text).

    Returns
    -------
    ndarray of object
        The type, or None where the firm has none at that level.
    """
    if type_column:
        if type_column not in firms.columns:
            raise ConfigError(f"no column '{type_column}' in the enterprise table")
        values = firms[type_column]
        return np.where(values.isna(), None, values.astype(str)).astype(object)
    if level not in LEVELS:
        raise ConfigError(f"unknown level '{level}': use {', '.join(LEVELS)}")
    codes = firms["industry_code"].astype("string")
    length = _CODE_LENGTH[level]
    cut = codes.str[:length]
    ok = codes.notna() & (codes.str.len() >= length)
    return np.where(ok.to_numpy(), cut.fillna("").to_numpy(dtype=object), None).astype(object)


def _side(firms: pd.DataFrame, types: np.ndarray, spec: str, type_column: str | None,
          where: str) -> list[str]:
    """Types of the firms that ``spec`` selects (a group, field, code prefix or a type)."""
    from geo.stats.distance import type_mask

    spec = spec.strip()
    present = types != None  # noqa: E711 (elementwise on an object array)
    if spec.lower() == "all":
        chosen = present
    elif type_column or spec in set(types[present]):
        chosen = types == spec
    else:
        normalised = spec.replace("-", "_").lower() if spec[:1].isalpha() and not \
            spec[1:].isdigit() else spec
        try:
            chosen = type_mask(firms, normalised) & present
        except ConfigError as error:
            raise ConfigError(f"{where}: {error}") from None
    found = sorted(set(types[chosen]))
    if not found:
        raise ConfigError(f"{where}: no firms of type '{spec}'")
    return found


def resolve_pairs(
    spec: str,
    firms: pd.DataFrame,
    types: np.ndarray,
    *,
    type_column: str | None = None,
    min_firms: int = 2,
    symmetric: bool = True,
) -> tuple[list[tuple[str, str]], list[str]]:
    """Resolve a ``--pairs`` specification into type pairs.

    Parameters
    ----------
    spec : str
        ``all``, ``LEFT*RIGHT`` (or ``LEFT×RIGHT``) or a CSV file with columns
        ``a`` and ``b`` (each cell a type or a selection such as ``manufacturing``).
    firms : DataFrame
        Normalised firms.
    types : ndarray
        Type of each firm (:func:`industry_types`).
    type_column : str, optional
        Types come from this column (selections are then its values).
    min_firms : int
        Types with fewer firms are left out (and listed in the notes).
    symmetric : bool
        The statistic is symmetric (Kd): ``(a, b)`` and ``(b, a)`` are one pair.

    Returns
    -------
    tuple
        The pairs ``(a, b)`` in a stable order, and notes on what was left out.
    """
    present = types != None  # noqa: E711
    counts = pd.Series(types[present]).value_counts()
    small = set(counts.index[counts < min_firms])
    raw: list[tuple[str, str]] = []
    path = Path(spec)
    if spec.strip().lower() == "all":
        names = sorted(counts.index)
        raw = [(a, b) for i, a in enumerate(names) for b in names[i + 1:]]
    elif path.suffix.lower() in (".csv", ".txt") or path.is_file():
        raw = _pairs_from_file(path, firms, types, type_column)
    else:
        sides = _SEPARATOR.split(spec.strip())
        if len(sides) != 2 or not all(sides):
            raise ConfigError(f"--pairs '{spec}': use all, LEFT*RIGHT (e.g. "
                              "manufacturing*producer_services) or a CSV file with columns a,b")
        left = _side(firms, types, sides[0], type_column, "--pairs")
        right = _side(firms, types, sides[1], type_column, "--pairs")
        raw = [(a, b) for a in left for b in right if a != b]
    pairs, seen, notes = [], set(), []
    for a, b in raw:
        key = tuple(sorted((a, b))) if symmetric else (a, b)
        if key in seen:
            continue
        seen.add(key)
        if a in small or b in small:
            continue
        pairs.append((a, b))
    if small:
        notes.append(f"types with fewer than {min_firms} firms left out: "
                     + ", ".join(sorted(small)[:20]) + (" ..." if len(small) > 20 else ""))
    if not pairs:
        raise ConfigError(f"--pairs '{spec}': no pair of types with at least {min_firms} "
                          "firms each")
    return pairs, notes


def _pairs_from_file(path: Path, firms: pd.DataFrame, types: np.ndarray,
                     type_column: str | None) -> list[tuple[str, str]]:
    """Pairs listed in a CSV file (columns ``a`` and ``b``), each cell expanded."""
    from geo.io.industry import read_rules_csv

    if not path.is_file():
        raise ConfigError(f"--pairs: no file {path}")
    table = read_rules_csv(path, "pair list")
    columns = {str(c).strip().lower(): c for c in table.columns}
    if "a" not in columns or "b" not in columns:
        raise ConfigError(f"{path}: the pair list needs columns a and b "
                          f"(found {', '.join(map(str, table.columns)) or 'none'})")
    pairs = []
    for row, (a, b) in enumerate(zip(table[columns["a"]], table[columns["b"]], strict=True),
                                 start=2):
        if not str(a).strip() or not str(b).strip():
            raise ConfigError(f"{path}, row {row}: a and b must both be given")
        left = _side(firms, types, str(a), type_column, f"{path}, row {row}, column a")
        right = _side(firms, types, str(b), type_column, f"{path}, row {row}, column b")
        pairs += [(x, y) for x in left for y in right if x != y or (len(left) == len(right) == 1)]
    return pairs
