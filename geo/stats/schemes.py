"""Grouping schemes of the zonal indices: which firms each group (industry) holds.

Bundled schemes group producer services by field (``fields``) or by GB/T 4754
section (``sections``); a CSV of code prefixes defines a custom one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from geo.errors import ConfigError
from geo.io.industry import (
    label,
    load_sections,
    longest_prefix,
    normalise_code,
    read_rules_csv,
)


@dataclass(frozen=True)
class Group:
    """A set of firms analysed as one industry: ``key``, labels and its role."""

    key: str
    label_zh: str
    label_en: str
    role: str = ""  # "manufacturing", "services" or "" (pairs for co-agglomeration)

    def label(self, lang: str = "zh") -> str:
        """Label in the requested language."""
        return self.label_zh if lang == "zh" else self.label_en


@dataclass(frozen=True)
class Scheme:
    """Groups of a grouping scheme and the membership of each firm in each."""

    name: str
    groups: tuple[Group, ...]
    source: str = "bundled"
    custom_rules: dict[str, str] = field(default_factory=dict)

    def membership(self, firms: pd.DataFrame) -> np.ndarray:
        """Boolean matrix firms x groups (a firm may be in several groups)."""
        columns = [_member(firms, g.key, self.custom_rules) for g in self.groups]
        return np.column_stack(columns) if columns else np.zeros((len(firms), 0), bool)

    def pairs(self) -> list[tuple[Group, Group]]:
        """(manufacturing-side, services-side) pairs for co-agglomeration."""
        m = [g for g in self.groups if g.role == "manufacturing"]
        s = [g for g in self.groups if g.role == "services"]
        return [(a, b) for a in m for b in s]


SCHEMES = ("fields", "sections")
_PS_SECTIONS = ("G", "I", "J", "L", "M", "N")
_FIVE_FIELDS = ("digital", "tech", "finance", "logistics", "business")


def _member(firms: pd.DataFrame, key: str, custom: dict[str, str]) -> np.ndarray:
    if custom:
        return (firms["_custom_group"] == key).to_numpy()
    if key == "manufacturing" or key == "producer_services":
        return firms["group"].eq(key).to_numpy()
    if key == "high_tech":
        return (firms["group"].eq("manufacturing") & firms["high_tech"].astype(bool)).to_numpy()
    if key.startswith("ps_"):
        return (
            firms["group"].eq("producer_services") & firms["section"].eq(key[3:])
        ).to_numpy()
    return (firms["group"].eq("producer_services") & firms["field"].eq(key)).to_numpy()


def load_scheme(name_or_path: str | Path = "fields") -> Scheme:
    """Load a grouping scheme: ``fields``, ``sections`` or a custom CSV table.

    ``fields``: manufacturing, high-tech manufacturing, producer services and
    Hangzhou's five producer-service fields. ``sections``: manufacturing,
    high-tech manufacturing, producer services and the producer services of
    each of the six sections G, I, J, L, M, N. A custom table (UTF-8 or GBK
    CSV) has the columns ``code_prefix`` (GB/T 4754 code, 2–4 digits, the
    longest matching prefix wins), ``group``, and optionally ``label_zh``,
    ``label_en`` and ``role`` (``manufacturing`` or ``services``: groups
    paired for co-agglomeration).

    Parameters
    ----------
    name_or_path : str or Path
        Scheme name or CSV path.

    Returns
    -------
    Scheme

    Raises
    ------
    ConfigError
        If the name is unknown or the table is invalid (file, row, column named).
    """
    base = (
        Group("manufacturing", label("manufacturing", "zh"), label("manufacturing", "en"),
              "manufacturing"),
        Group("high_tech", label("high_tech", "zh"), label("high_tech", "en"), "manufacturing"),
        Group("producer_services", label("producer_services", "zh"),
              label("producer_services", "en"), "services"),
    )
    if str(name_or_path) == "fields":
        extra = tuple(Group(f, label(f, "zh"), label(f, "en"), "services") for f in _FIVE_FIELDS)
        return Scheme("fields", base + extra)
    if str(name_or_path) == "sections":
        sections = load_sections().set_index("section")
        extra = tuple(
            Group(
                f"ps_{s}",
                f"{s} {sections.loc[s, 'name_zh']}",
                f"{s} {sections.loc[s, 'name_en']}",
                "services",
            )
            for s in _PS_SECTIONS
        )
        return Scheme("sections", base + extra)
    return _custom_scheme(Path(name_or_path))


def _custom_scheme(path: Path) -> Scheme:
    if not path.is_file():
        raise ConfigError(
            f"unknown grouping scheme '{path}': use {', '.join(SCHEMES)} or a CSV file"
        )
    table = read_rules_csv(path, "grouping table")
    for column in ("code_prefix", "group"):
        if column not in table.columns:
            raise ConfigError(
                f"missing column '{column}'; a grouping table needs code_prefix and group "
                "(optional: label_zh, label_en, role)",
                file=path,
            )
    rules: dict[str, str] = {}
    groups: dict[str, Group] = {}
    for row_number, row in enumerate(table.to_dict("records"), start=2):
        code, error = normalise_code(row["code_prefix"].strip())
        if code is None:
            raise ConfigError(
                f"invalid code_prefix '{row['code_prefix']}': {error}",
                file=path, row=row_number, column="code_prefix",
            )
        key = row["group"].strip()
        if not key:
            raise ConfigError("empty group", file=path, row=row_number, column="group")
        if code[1:] in rules:
            raise ConfigError(
                f"code_prefix {code[1:]} is listed twice", file=path, row=row_number,
                column="code_prefix",
            )
        role = row.get("role", "").strip().lower()
        if role not in ("", "manufacturing", "services"):
            raise ConfigError(
                f"role must be manufacturing, services or empty, got '{role}'",
                file=path, row=row_number, column="role",
            )
        rules[code[1:]] = key
        previous = groups.get(key)
        if previous is not None and role and previous.role and previous.role != role:
            raise ConfigError(
                f"group '{key}' has two roles ({previous.role}, {role})",
                file=path, row=row_number, column="role",
            )
        if previous is None or (role and not previous.role):
            groups[key] = Group(
                key,
                row.get("label_zh", "").strip() or key,
                row.get("label_en", "").strip() or key,
                role or (previous.role if previous else ""),
            )
    if not rules:
        raise ConfigError("the grouping table has no rows", file=path)
    return Scheme(path.stem, tuple(groups.values()), source=str(path), custom_rules=rules)


def _custom_groups(codes: pd.Series, rules: dict[str, str]) -> pd.Series:
    """Group of each normalised code by the longest matching prefix (None if none)."""
    uniques = pd.unique(codes.dropna())
    lookup = {code: longest_prefix(rules, code[1:]) for code in uniques}
    return codes.map(lookup)
