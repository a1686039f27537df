r"""Zonal agglomeration and co-agglomeration indices.

Notation (one zone layer, one weighting): zones :math:`i`, industries or groups
:math:`k`; :math:`E_{ik}` is the weight (firm count or employment) of
:math:`k` in zone :math:`i`, :math:`E_i` the weight of *all* firms in zone
:math:`i`, :math:`E_k` and :math:`E` the totals. Shares:
:math:`s_{ik} = E_{ik}/E_k` (where industry :math:`k` is) and
:math:`x_i = E_i/E` (where all activity is).

Measures, each with its source:

- **Location quotient** (Florence 1939; Isard 1960, *Methods of Regional
  Analysis*, ch. 7): :math:`LQ_{ik} = (E_{ik}/E_i)/(E^r_k/E^r)` with the
  totals of a reference region :math:`r` (the whole study area by default).
- **Herfindahl–Hirschman index over zones**: :math:`HHI_k = \sum_i s_{ik}^2`.
- **Locational Gini** (Krugman 1991, *Geography and Trade*, app. D;
  Audretsch & Feldman 1996, AER 86(3)): zones sorted by :math:`s_{ik}/x_i`
  ascending, Lorenz curve of cumulative :math:`s` against cumulative
  :math:`x`, :math:`G_k = 1 - \sum_j (X_j - X_{j-1})(Y_j + Y_{j-1})`.
- **Hoover index of localisation** (Hoover 1936, QJE 51(1)):
  :math:`\tfrac12 \sum_i |s_{ik} - x_i|`.
- **Ellison–Glaeser γ** (Ellison & Glaeser 1997, JPE 105(5), eq. 5):
  :math:`G = \sum_i (s_i - x_i)^2`, :math:`H = \sum_j z_j^2` the plant
  Herfindahl (:math:`z_j` = firm :math:`j`'s share of the industry; with count
  weighting :math:`H = 1/N`),
  :math:`\gamma = \frac{G/(1-\sum_i x_i^2) - H}{1 - H}`.
- **Ellison–Glaeser multi-industry co-agglomeration γc** (EG 1997, eq. 9) for
  industries :math:`j = 1..r` with weights :math:`w_j` (shares of the group):
  :math:`\gamma^c = \frac{G/(1-\sum x_i^2) - H - \sum_j \gamma_j w_j^2 (1-H_j)}
  {1 - \sum_j w_j^2}` with :math:`G`, :math:`H` of the group as a whole.
- **Ellison–Glaeser–Kerr pairwise co-agglomeration** (Ellison, Glaeser & Kerr
  2010, AER 100(3), eq. 2):
  :math:`\gamma^c_{kl} = \sum_i (s_{ik} - x_i)(s_{il} - x_i) / (1 - \sum_i x_i^2)`
  (EG's γc for :math:`r = 2`).
- **LQ-based co-agglomeration index** 协同集聚指数, manufacturing :math:`m`
  vs. services :math:`s` in a zone: *quality*
  :math:`C = 1 - |LQ_m - LQ_s|/(LQ_m + LQ_s)` (杨仁发 2013, 产业集聚与地区
  工资差距, 管理世界 2013(8): 41-52); *level* :math:`C + (LQ_m + LQ_s)`
  (陈建军、刘月、邹苗苗 2016, 产业协同集聚下的城市生产效率增进,
  浙江大学学报(人文社会科学版) 46(3): 150-163; 张虎、韩爱华、杨青龙 2017,
  中国制造业与生产性服务业协同集聚的空间效应分析, 数量经济技术经济研究
  34(2): 3-20), which also rewards zones where both are dense.

Where a measure is undefined its value is NaN and a ``reason`` says why.

Concentration measures (HHI, Gini, Hoover, EG, EGK) need shares that sum to
one: when some firms lie outside every zone of the layer (a platforms layer
covers part of the city), they form one extra "outside" pseudo-zone for these
measures; the result records how many.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, NamedTuple

import geopandas as gpd
import numpy as np
import pandas as pd

from geo.errors import ConfigError, InputError
from geo.io.industry import (
    label,
    load_divisions,
    load_sections,
    longest_prefix,
    normalise_code,
    read_rules_csv,
)

Weighting = Literal["count", "employment"]
OUTSIDE = "(outside)"

# Reasons a value is undefined (shown in reason columns).
NO_FIRMS_ZONE = "zone has no firms"
NO_FIRMS_GROUP = "group has no firms"
NO_FIRMS_REFERENCE = "group has no firms in the reference region"
BOTH_ABSENT = "neither industry present in the zone"
ONE_FIRM = "only one firm (H = 1)"
H_ONE = "one firm holds all the weight (H = 1)"
ONE_ZONE = "all activity in one zone (sum x^2 = 1)"
FEWER_THAN_TWO = "fewer than two industries with firms"
NO_WEIGHT = "industry has zero total weight"


class Values(NamedTuple):
    """Values of a measure with the reason each undefined one is NaN ('' if defined)."""

    value: np.ndarray
    reason: np.ndarray


def _values(value: np.ndarray, conditions: Sequence[tuple[np.ndarray, str]]) -> Values:
    """Set NaN and a reason where a condition holds (the first listed condition wins)."""
    value = np.array(value, dtype=float)
    reason = np.full(value.shape, "", dtype=object)
    for mask, why in reversed(conditions):
        mask = np.broadcast_to(mask, value.shape)
        value[mask] = np.nan
        reason[mask] = why
    return Values(value, reason)


def _divide(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(a, dtype=float) / np.asarray(b, dtype=float)


# ---------------------------------------------------------------------------
# Measures on arrays. Matrices are zones x industries.
# ---------------------------------------------------------------------------


def location_quotient(
    weights: np.ndarray,
    zone_totals: np.ndarray,
    reference_industry: np.ndarray | None = None,
    reference_total: float | None = None,
) -> Values:
    r"""Location quotient :math:`LQ_{ik} = (E_{ik}/E_i) / (E^r_k/E^r)`.

    Florence (1939); Isard (1960), *Methods of Regional Analysis*, ch. 7.

    Parameters
    ----------
    weights : ndarray, shape (zones, industries)
        :math:`E_{ik}`.
    zone_totals : ndarray, shape (zones,)
        :math:`E_i`, the weight of all firms in each zone (all industries).
    reference_industry : ndarray, shape (industries,), optional
        :math:`E^r_k`; by default the column sums of ``weights``.
    reference_total : float, optional
        :math:`E^r`; by default the sum of ``zone_totals``.

    Returns
    -------
    Values
        NaN where the zone has no firms or the industry none in the reference.
    """
    weights = np.asarray(weights, dtype=float)
    zone_totals = np.asarray(zone_totals, dtype=float)
    ref_k = weights.sum(axis=0) if reference_industry is None else np.asarray(reference_industry)
    ref = zone_totals.sum() if reference_total is None else float(reference_total)
    lq = _divide(_divide(weights, zone_totals[:, None]), _divide(ref_k, ref)[None, :])
    return _values(
        lq,
        [
            ((zone_totals <= 0)[:, None], NO_FIRMS_ZONE),
            ((ref_k <= 0)[None, :], NO_FIRMS_REFERENCE),
        ],
    )


def _shares(weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Column shares of a zones x industries matrix and the columns that are empty."""
    weights = np.asarray(weights, dtype=float)
    if weights.ndim == 1:
        weights = weights[:, None]
    totals = weights.sum(axis=0)
    return _divide(weights, totals[None, :]), totals <= 0


def herfindahl(weights: np.ndarray) -> Values:
    r"""Herfindahl–Hirschman index of each industry over zones, :math:`\sum_i s_{ik}^2`.

    Parameters
    ----------
    weights : ndarray, shape (zones, industries) or (zones,)
        :math:`E_{ik}`.

    Returns
    -------
    Values
        One value per industry, in :math:`[1/n_{zones}, 1]`.
    """
    s, empty = _shares(weights)
    return _values(np.nansum(s**2, axis=0), [(empty, NO_FIRMS_GROUP)])


def hoover(weights: np.ndarray, zone_totals: np.ndarray) -> Values:
    r"""Hoover index of localisation, :math:`\tfrac12 \sum_i |s_{ik} - x_i|`.

    Hoover (1936), "The measurement of industrial localization", Review of
    Economics and Statistics 18(4). 0 when the industry is spread like all
    activity, towards 1 when it sits where little else is.

    Parameters
    ----------
    weights : ndarray, shape (zones, industries) or (zones,)
        :math:`E_{ik}`.
    zone_totals : ndarray, shape (zones,)
        :math:`E_i` (all activity).

    Returns
    -------
    Values
    """
    s, empty = _shares(weights)
    x = _divide(zone_totals, np.sum(zone_totals))[:, None]
    return _values(0.5 * np.abs(s - x).sum(axis=0), [(empty, NO_FIRMS_GROUP)])


def locational_gini(weights: np.ndarray, zone_totals: np.ndarray) -> Values:
    r"""Krugman's locational Gini of each industry.

    Zones are sorted by :math:`s_{ik}/x_i` (the location quotient) ascending;
    the Lorenz curve plots cumulative :math:`s` (industry) against cumulative
    :math:`x` (all activity) and
    :math:`G_k = 1 - \sum_j (X_j - X_{j-1})(Y_j + Y_{j-1})`, twice the area
    between the diagonal and the curve. Krugman (1991), *Geography and Trade*,
    appendix D; Audretsch & Feldman (1996), AER 86(3), 630-640.

    Parameters
    ----------
    weights : ndarray, shape (zones, industries) or (zones,)
        :math:`E_{ik}`.
    zone_totals : ndarray, shape (zones,)
        :math:`E_i` (all activity).

    Returns
    -------
    Values
        In :math:`[0, 1)`; 0 when the industry is spread exactly like all activity.
    """
    s, empty = _shares(weights)
    x = _divide(zone_totals, np.sum(zone_totals))
    occupied = x > 0  # zones without any firm add nothing to either axis
    s, x = s[occupied], x[occupied]
    order = np.argsort(_divide(s, x[:, None]), axis=0, kind="stable")
    xs = x[order]
    ys = np.take_along_axis(np.nan_to_num(s), order, axis=0)
    cx = np.vstack([np.zeros(xs.shape[1]), np.cumsum(xs, axis=0)])
    cy = np.vstack([np.zeros(ys.shape[1]), np.cumsum(ys, axis=0)])
    gini = 1.0 - np.sum(np.diff(cx, axis=0) * (cy[1:] + cy[:-1]), axis=0)
    return _values(gini, [(empty, NO_FIRMS_GROUP)])


class EGResult(NamedTuple):
    """Ellison–Glaeser γ with its components and reasons."""

    gamma: np.ndarray
    G: np.ndarray
    H: np.ndarray
    sum_x2: float
    reason: np.ndarray


def ellison_glaeser(
    weights: np.ndarray, zone_totals: np.ndarray, plant_herfindahl: np.ndarray
) -> EGResult:
    r"""Ellison–Glaeser (1997) agglomeration index γ of each industry.

    :math:`G = \sum_i (s_i - x_i)^2`,
    :math:`\gamma = \frac{G/(1-\sum_i x_i^2) - H}{1 - H}`
    (Ellison & Glaeser 1997, "Geographic concentration in U.S. manufacturing
    industries: a dartboard approach", JPE 105(5), 889-927, eq. 5). Its
    expectation is 0 when firms locate at random with probabilities
    :math:`x_i`.

    Parameters
    ----------
    weights : ndarray, shape (zones, industries) or (zones,)
        :math:`E_{ik}`.
    zone_totals : ndarray, shape (zones,)
        :math:`E_i`, defining :math:`x_i = E_i/E`.
    plant_herfindahl : ndarray, shape (industries,)
        :math:`H_k = \sum_j z_j^2` over the industry's firms.

    Returns
    -------
    EGResult
        ``gamma``, ``G``, ``H`` per industry, ``sum_x2``, ``reason``.
    """
    s, empty = _shares(weights)
    x = _divide(zone_totals, np.sum(zone_totals))
    sum_x2 = float(np.sum(x**2))
    G = np.sum((np.nan_to_num(s) - x[:, None]) ** 2, axis=0)
    H = np.atleast_1d(np.asarray(plant_herfindahl, dtype=float))
    gamma = _divide(_divide(G, 1.0 - sum_x2) - H, 1.0 - H)
    values = _values(
        gamma,
        [
            (empty, NO_FIRMS_GROUP),
            (np.isclose(H, 1.0), H_ONE),
            (np.isclose(sum_x2, 1.0), ONE_ZONE),
        ],
    )
    G = np.where(empty, np.nan, G)
    return EGResult(values.value, G, H, sum_x2, values.reason)


class CoaggResult(NamedTuple):
    """Ellison–Glaeser γc of a set of industries with its components."""

    gamma_c: float
    G: float
    H: float
    sum_x2: float
    sum_w2: float
    n_industries: int
    reason: str


def ellison_glaeser_coagglomeration(
    weights: np.ndarray, zone_totals: np.ndarray, plant_herfindahl: np.ndarray
) -> CoaggResult:
    r"""Ellison–Glaeser (1997) co-agglomeration γc of a set of industries.

    .. math::
        \gamma^c = \frac{G/(1-\sum_i x_i^2) - H - \sum_j \gamma_j w_j^2 (1-H_j)}
                        {1 - \sum_j w_j^2}

    where :math:`G` and :math:`H = \sum_j w_j^2 H_j` are those of the set
    taken as one industry and :math:`w_j` are the industries' shares of the
    set (EG 1997, JPE 105(5), eq. 9). For two industries it equals the EGK
    pairwise index. With one industry the formula is 0/0; γc is then that
    industry's γ (the limit of a set whose parts share all spillovers) and the
    reason says so.

    Parameters
    ----------
    weights : ndarray, shape (zones, industries)
        :math:`E_{ij}` of the industries of the set.
    zone_totals : ndarray, shape (zones,)
        :math:`E_i` (all activity).
    plant_herfindahl : ndarray, shape (industries,)
        :math:`H_j` of each industry.

    Returns
    -------
    CoaggResult
    """
    weights = np.asarray(weights, dtype=float)
    totals = weights.sum(axis=0)
    present = totals > 0
    weights, H_j = weights[:, present], np.asarray(plant_herfindahl, dtype=float)[present]
    r = int(present.sum())
    single = ellison_glaeser(weights.sum(axis=1), zone_totals, [0.0])
    if r == 0:
        return CoaggResult(np.nan, np.nan, np.nan, single.sum_x2, np.nan, 0, FEWER_THAN_TWO)
    w = weights.sum(axis=0) / weights.sum()
    H = float(np.sum(w**2 * H_j))
    whole = ellison_glaeser(weights.sum(axis=1), zone_totals, [H])
    G, sum_x2 = float(whole.G[0]), whole.sum_x2
    sum_w2 = float(np.sum(w**2))
    if r == 1:
        reason = whole.reason[0] or "one industry: γc is its γ"
        return CoaggResult(float(whole.gamma[0]), G, H, sum_x2, sum_w2, 1, reason)
    parts = ellison_glaeser(weights, zone_totals, H_j)
    if np.isclose(sum_x2, 1.0):
        return CoaggResult(np.nan, G, H, sum_x2, sum_w2, r, ONE_ZONE)
    # (1 - H_j) gamma_j = G_j/(1 - sum x^2) - H_j stays finite even when H_j = 1
    spill = parts.G / (1.0 - sum_x2) - H_j
    gamma_c = (G / (1.0 - sum_x2) - H - np.sum(w**2 * spill)) / (1.0 - sum_w2)
    return CoaggResult(float(gamma_c), G, H, sum_x2, sum_w2, r, "")


def egk_coagglomeration(
    weights_a: np.ndarray, weights_b: np.ndarray, zone_totals: np.ndarray
) -> Values:
    r"""Ellison–Glaeser–Kerr (2010) pairwise co-agglomeration of every (a, b) pair.

    :math:`\gamma^c_{kl} = \frac{\sum_i (s_{ik} - x_i)(s_{il} - x_i)}{1 - \sum_i x_i^2}`
    (Ellison, Glaeser & Kerr 2010, "What causes industry agglomeration?
    Evidence from coagglomeration patterns", AER 100(3), 1195-1213, eq. 2).

    Parameters
    ----------
    weights_a, weights_b : ndarray, shape (zones, industries_a / industries_b)
        Weights of the two sets of industries.
    zone_totals : ndarray, shape (zones,)
        :math:`E_i` (all activity).

    Returns
    -------
    Values
        Matrix (industries_a, industries_b); symmetric when a and b are the same set.
    """
    sa, empty_a = _shares(weights_a)
    sb, empty_b = _shares(weights_b)
    x = _divide(zone_totals, np.sum(zone_totals))
    sum_x2 = float(np.sum(x**2))
    da = np.nan_to_num(sa) - x[:, None]
    db = np.nan_to_num(sb) - x[:, None]
    gamma = _divide(da.T @ db, 1.0 - sum_x2)
    return _values(
        gamma,
        [
            (empty_a[:, None] | empty_b[None, :], NO_FIRMS_GROUP),
            (np.full(gamma.shape, np.isclose(sum_x2, 1.0)), ONE_ZONE),
        ],
    )


def coagglomeration_lq(lq_m: np.ndarray, lq_s: np.ndarray) -> tuple[Values, Values]:
    r"""LQ-based co-agglomeration index 协同集聚指数 of two industries per zone.

    Quality :math:`C = 1 - |LQ_m - LQ_s| / (LQ_m + LQ_s)` in :math:`[0, 1]`,
    1 when both are equally over- or under-represented (杨仁发 2013, 管理世界
    2013(8)); level :math:`C + (LQ_m + LQ_s)` (陈建军、刘月、邹苗苗 2016,
    浙江大学学报(人文社会科学版) 46(3); 张虎、韩爱华、杨青龙 2017,
    数量经济技术经济研究 34(2)), which also grows with how dense both are.

    Parameters
    ----------
    lq_m, lq_s : ndarray
        Location quotients of the two industries in each zone (NaN allowed).

    Returns
    -------
    tuple of Values
        ``(quality, level)``.
    """
    lq_m, lq_s = np.asarray(lq_m, dtype=float), np.asarray(lq_s, dtype=float)
    total = lq_m + lq_s
    quality = 1.0 - _divide(np.abs(lq_m - lq_s), total)
    level = quality + total
    undefined = [(np.isnan(lq_m) | np.isnan(lq_s), "LQ undefined"), (total <= 0, BOTH_ABSENT)]
    return _values(quality, undefined), _values(level, undefined)


# ---------------------------------------------------------------------------
# Grouping schemes: which firms each group holds.
# ---------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------
# The zonal analysis of one zone layer.
# ---------------------------------------------------------------------------


@dataclass
class ZonalResult:
    """Indices of one zone layer.

    Attributes
    ----------
    zones : GeoDataFrame
        The zone layer with wide columns ready to map: ``n_firms``,
        ``weight_total``, ``lq_<group>``, ``coagg_quality_<m>__<s>``,
        ``coagg_level_<m>__<s>`` and ``synthetic``.
    zone_measures : DataFrame
        Tidy table: ``zone_id``, ``name_zh``, ``group``, ``measure``
        (``weight``, ``share``, ``lq``, ``coagg_quality``, ``coagg_level``),
        ``value``, ``reason``.
    industry_measures : DataFrame
        One row per group or GB/T 4754 division: firms, weight, ``hhi``,
        ``gini``, ``hoover``, ``eg_gamma`` with ``eg_G``, ``eg_H``,
        ``eg_sum_x2`` and ``reason`` columns.
    coagglomeration : DataFrame
        EG γc of sets of divisions, with components.
    pairs : DataFrame
        EGK pairwise index, tidy: ``industry_a``, ``industry_b``, labels,
        ``egk_gamma``, ``reason``.
    parameters : dict
        Layer, weighting, scheme, reference, analysis CRS, formula variants.
    summary : dict
        Firms analysed, outside every zone, without a weight, zones, empty zones.
    """

    zones: gpd.GeoDataFrame
    zone_measures: pd.DataFrame
    industry_measures: pd.DataFrame
    coagglomeration: pd.DataFrame
    pairs: pd.DataFrame
    parameters: dict
    summary: dict

    def pair_matrix(self) -> pd.DataFrame:
        """EGK index as a matrix.

        Rows are manufacturing divisions; columns the producer-service
        divisions, then the scheme's service groups (fields or sections).
        """
        order = list(dict.fromkeys(self.pairs["industry_b"]))
        matrix = self.pairs.pivot(index="industry_a", columns="industry_b", values="egk_gamma")
        return matrix.reindex(columns=order)


def firm_weights(firms: pd.DataFrame, weighting: Weighting) -> tuple[np.ndarray, int]:
    """Weight of each firm: 1 (``count``) or its employees (``employment``).

    Parameters
    ----------
    firms : DataFrame
        Normalised firms (``employees`` needed for ``employment``).
    weighting : {"count", "employment"}
        How a firm counts.

    Returns
    -------
    tuple
        Weights (0 where employees are missing) and how many firms lack one.
    """
    if weighting == "count":
        return np.ones(len(firms)), 0
    if weighting != "employment":
        raise ConfigError(f"unknown weighting '{weighting}': use count or employment")
    if "employees" not in firms.columns or firms["employees"].notna().sum() == 0:
        raise InputError(
            "weighting by employment needs an 'employees' column with values; "
            "use --weight count or add employees (从业人员)"
        )
    employees = pd.to_numeric(firms["employees"], errors="coerce").to_numpy(dtype=float)
    missing = ~np.isfinite(employees)
    return np.where(missing, 0.0, employees), int(missing.sum())


def zonal_indices(
    firms: gpd.GeoDataFrame,
    zones: gpd.GeoDataFrame,
    *,
    zone_of_firm: pd.Series | np.ndarray | None = None,
    scheme: str | Path | Scheme = "fields",
    weighting: Weighting = "count",
    reference: np.ndarray | None = None,
    analysis_crs: str | None = None,
    layer_name: str = "zones",
) -> ZonalResult:
    """Compute every zonal measure of one zone layer.

    Parameters
    ----------
    firms : GeoDataFrame
        Normalised firms (:func:`geo.io.firms.normalise_firms` or the seed
        population): ``industry_code``, ``division``, ``group``, ``field``,
        ``high_tech``, optional ``employees``.
    zones : GeoDataFrame
        Zone layer with ``zone_id`` (and ``name_zh``).
    zone_of_firm : array-like, optional
        Zone id of each firm (NaN outside every zone); computed by
        point-in-polygon in ``analysis_crs`` when omitted.
    scheme : str, Path or Scheme
        Grouping scheme (``fields``, ``sections`` or a custom CSV).
    weighting : {"count", "employment"}
        Weight of a firm.
    reference : ndarray of bool, optional
        Firms forming the reference region of the location quotients; all
        firms by default.
    analysis_crs : str, optional
        Projected CRS for point-in-polygon (default EPSG:4549).
    layer_name : str
        Name of the layer, recorded in the outputs.

    Returns
    -------
    ZonalResult
    """
    from geo.io.crs import DEFAULT_ANALYSIS_CRS
    from geo.io.zones import assign_points

    crs = analysis_crs or DEFAULT_ANALYSIS_CRS
    scheme = scheme if isinstance(scheme, Scheme) else load_scheme(scheme)
    if zone_of_firm is None:
        zone_of_firm = assign_points(firms.to_crs(crs), zones.to_crs(crs))
    zone_of_firm = pd.Series(np.asarray(zone_of_firm, dtype=object), index=firms.index)
    frame = pd.DataFrame(firms.drop(columns="geometry", errors="ignore"))
    if scheme.custom_rules:
        frame["_custom_group"] = _custom_groups(frame["industry_code"], scheme.custom_rules)
    w, n_no_weight = firm_weights(frame, weighting)

    zone_ids = zones["zone_id"].astype(str).to_numpy()
    position = pd.Series(np.arange(len(zone_ids)), index=zone_ids)
    z = position.reindex(zone_of_firm.astype(object).where(zone_of_firm.notna(), None))
    z = z.to_numpy(dtype=float)
    outside = np.isnan(z)
    n_outside = int(outside.sum())
    # the outside pseudo-zone (index M) joins the concentration measures only
    n_zones = len(zone_ids)
    zi = np.where(outside, n_zones, z).astype(np.int64)
    n_all = n_zones + (1 if n_outside else 0)

    def by_zone(weights: np.ndarray) -> np.ndarray:
        return np.bincount(zi, weights=weights, minlength=n_zones + 1)[:n_all]

    zone_totals = by_zone(w)
    zone_counts = by_zone(np.ones(len(frame)))
    members = scheme.membership(frame)
    group_weights = np.column_stack([by_zone(w * members[:, j]) for j in range(members.shape[1])])

    # location quotients and the LQ-based co-agglomeration index, per real zone
    ref = np.ones(len(frame), bool) if reference is None else np.asarray(reference, bool)
    ref_k = (w[:, None] * members)[ref].sum(axis=0)
    lq = location_quotient(group_weights[:n_zones], zone_totals[:n_zones], ref_k, w[ref].sum())
    keys = [g.key for g in scheme.groups]
    zone_measures = _zone_table(zones, keys, group_weights[:n_zones], zone_totals[:n_zones], lq)
    wide = zones.copy()
    wide["n_firms"] = zone_counts[:n_zones].astype(np.int64)
    wide["weight_total"] = zone_totals[:n_zones]
    for j, key in enumerate(keys):
        wide[f"lq_{key}"] = lq.value[:, j]
    coagg_rows = []
    for a, b in scheme.pairs():
        ja, jb = keys.index(a.key), keys.index(b.key)
        quality, level = coagglomeration_lq(lq.value[:, ja], lq.value[:, jb])
        # an undefined LQ explains itself better than "LQ undefined"
        why = np.where(lq.reason[:, ja] != "", lq.reason[:, ja], lq.reason[:, jb])
        for measure, values in (("coagg_quality", quality), ("coagg_level", level)):
            reason = np.where(values.reason == "LQ undefined", why, values.reason)
            wide[f"{measure}_{a.key}__{b.key}"] = values.value
            coagg_rows.append(
                pd.DataFrame(
                    {
                        "zone_id": zone_ids,
                        "name_zh": wide.get("name_zh", pd.Series(zone_ids)).to_numpy(),
                        "group": f"{a.key}__{b.key}",
                        "measure": measure,
                        "value": values.value,
                        "reason": reason,
                    }
                )
            )
    zone_measures = pd.concat([zone_measures, *coagg_rows], ignore_index=True)

    # concentration and EG measures: scheme groups and every division present
    divisions = frame["division"].astype(object).where(frame["division"].notna(), None)
    present = sorted(d for d in divisions.dropna().unique())
    division_index = pd.Series(np.arange(len(present)), index=present)
    di = division_index.reindex(divisions).to_numpy(dtype=float)
    has_division = ~np.isnan(di)
    di = np.where(has_division, di, 0).astype(np.int64)
    n_div = len(present)
    div_weights = np.zeros((n_all, n_div))
    np.add.at(div_weights, (zi[has_division], di[has_division]), w[has_division])
    div_counts = np.bincount(di[has_division], minlength=n_div)
    div_h = _plant_herfindahl(w[has_division], di[has_division], n_div)
    group_h = np.array([_plant_herfindahl(w[members[:, j]], None, 1)[0]
                        for j in range(members.shape[1])])
    division_labels = _division_labels()
    industries = pd.concat(
        [
            _industry_table(
                "group", keys, [g.label_zh for g in scheme.groups],
                [g.label_en for g in scheme.groups], members.sum(axis=0),
                group_weights, zone_totals, group_h,
            ),
            _industry_table(
                "division", present, [division_labels.get(d, ("", ""))[0] for d in present],
                [division_labels.get(d, ("", ""))[1] for d in present], div_counts,
                div_weights, zone_totals, div_h,
            ),
        ],
        ignore_index=True,
    )

    # EG gamma_c of division sets, EGK pairs
    div_group = (
        frame.loc[has_division].groupby(divisions[has_division])["group"].first()
        .reindex(present)
    )
    is_m = (div_group == "manufacturing").to_numpy()
    is_s = (div_group == "producer_services").to_numpy()
    sets = {
        "manufacturing+producer_services": is_m | is_s,
        "manufacturing": is_m,
        "producer_services": is_s,
    }
    coagg = pd.DataFrame(
        [
            {"set": name, **ellison_glaeser_coagglomeration(
                div_weights[:, mask], zone_totals, div_h[mask])._asdict()}
            for name, mask in sets.items()
        ]
    )
    pairs = _pairs(
        present, is_m, is_s, div_weights, scheme, keys, group_weights, zone_totals,
        division_labels,
    )
    empty_zones = int((zone_counts[:n_zones] == 0).sum())
    parameters = {
        "layer": layer_name,
        "weighting": weighting,
        "scheme": scheme.name,
        "scheme_source": scheme.source,
        "reference": "study area (all firms)" if reference is None
        else f"{int(ref.sum()):,} firms selected",
        "analysis_crs": crs,
        "outside_pseudo_zone": bool(n_outside),
        "coagg_quality": "C = 1 - |LQm - LQs|/(LQm + LQs) (Yang 2013)",
        "coagg_level": "C + (LQm + LQs) (Chen, Liu & Zou 2016; Zhang, Han & Yang 2017)",
        "eg_gamma": "(G/(1 - sum x^2) - H)/(1 - H), Ellison & Glaeser 1997 eq. 5",
        "eg_gamma_c": "Ellison & Glaeser 1997 eq. 9",
        "egk_gamma": "Ellison, Glaeser & Kerr 2010 eq. 2",
        "gini": "locational Gini, Lorenz curve sorted by LQ (Krugman 1991)",
    }
    summary = {
        "n_firms": len(frame),
        "n_outside": n_outside,
        "n_without_weight": n_no_weight,
        "n_zones": n_zones,
        "n_empty_zones": empty_zones,
        "synthetic": bool(frame.get("synthetic", pd.Series(False)).any()),
    }
    wide["synthetic"] = summary["synthetic"]
    for table in (zone_measures, industries, coagg, pairs):
        table.insert(0, "layer", layer_name)
        table["weighting"] = weighting
        table["synthetic"] = summary["synthetic"]
    wide.attrs.update(parameters=parameters, summary=summary)
    return ZonalResult(wide, zone_measures, industries, coagg, pairs, parameters, summary)


def _plant_herfindahl(w: np.ndarray, index: np.ndarray | None, n: int) -> np.ndarray:
    """Sum of squared firm shares within each industry."""
    index = np.zeros(len(w), np.int64) if index is None else index
    total = np.bincount(index, weights=w, minlength=n)
    return _divide(np.bincount(index, weights=w**2, minlength=n), total**2)


def _division_labels() -> dict[str, tuple[str, str]]:
    table = load_divisions()
    return {
        d: (zh, en)
        for d, zh, en in zip(table["division"], table["name_zh"], table["name_en"], strict=True)
    }


def _zone_table(
    zones: gpd.GeoDataFrame,
    keys: list[str],
    weights: np.ndarray,
    totals: np.ndarray,
    lq: Values,
) -> pd.DataFrame:
    n_zones, n_groups = weights.shape
    zone_ids = np.repeat(zones["zone_id"].astype(str).to_numpy(), n_groups)
    names = np.repeat(
        zones["name_zh"].to_numpy() if "name_zh" in zones else zones["zone_id"].to_numpy(),
        n_groups,
    )
    groups = np.tile(np.asarray(keys, dtype=object), n_zones)
    share = location_quotient(weights, totals, np.ones(n_groups), 1.0)  # E_ik / E_i
    parts = [
        ("weight", weights.ravel(), np.full(weights.size, "", dtype=object)),
        ("share", share.value.ravel(), share.reason.ravel()),
        ("lq", lq.value.ravel(), lq.reason.ravel()),
    ]
    return pd.concat(
        [
            pd.DataFrame(
                {"zone_id": zone_ids, "name_zh": names, "group": groups, "measure": m,
                 "value": v, "reason": r}
            )
            for m, v, r in parts
        ],
        ignore_index=True,
    )


def _industry_table(
    kind: str,
    keys: Sequence[str],
    labels_zh: Sequence[str],
    labels_en: Sequence[str],
    n_firms: np.ndarray,
    weights: np.ndarray,
    zone_totals: np.ndarray,
    plant_h: np.ndarray,
) -> pd.DataFrame:
    hhi = herfindahl(weights)
    gini = locational_gini(weights, zone_totals)
    hov = hoover(weights, zone_totals)
    eg = ellison_glaeser(weights, zone_totals, plant_h)
    n_firms = np.asarray(n_firms, dtype=np.int64)
    eg_reason = np.where((n_firms == 1) & (eg.reason == H_ONE), ONE_FIRM, eg.reason)
    return pd.DataFrame(
        {
            "kind": kind,
            "industry": list(keys),
            "label_zh": list(labels_zh),
            "label_en": list(labels_en),
            "n_firms": n_firms,
            "weight": weights.sum(axis=0),
            "hhi": hhi.value,
            "gini": gini.value,
            "hoover": hov.value,
            "concentration_reason": hhi.reason,
            "eg_gamma": eg.gamma,
            "eg_G": eg.G,
            "eg_H": eg.H,
            "eg_sum_x2": eg.sum_x2,
            "eg_reason": eg_reason,
        }
    )


def _pairs(
    present: list[str],
    is_m: np.ndarray,
    is_s: np.ndarray,
    div_weights: np.ndarray,
    scheme: Scheme,
    keys: list[str],
    group_weights: np.ndarray,
    zone_totals: np.ndarray,
    division_labels: dict[str, tuple[str, str]],
) -> pd.DataFrame:
    """EGK for manufacturing divisions x services divisions and x the scheme's service groups."""
    m_codes = [d for d, flag in zip(present, is_m, strict=True) if flag]
    s_codes = [d for d, flag in zip(present, is_s, strict=True) if flag]
    service_groups = [g for g in scheme.groups if g.role == "services"]
    tables = []
    targets = [
        ("division", s_codes, div_weights[:, is_s],
         [division_labels.get(d, ("", ""))[0] for d in s_codes]),
        ("group", [g.key for g in service_groups],
         group_weights[:, [keys.index(g.key) for g in service_groups]],
         [g.label_zh for g in service_groups]),
    ]
    if not m_codes:
        return pd.DataFrame(
            columns=["industry_a", "label_a_zh", "kind_b", "industry_b", "label_b_zh",
                     "egk_gamma", "reason"]
        )
    for kind_b, codes_b, weights_b, labels_b in targets:
        if not codes_b:
            continue
        values = egk_coagglomeration(div_weights[:, is_m], weights_b, zone_totals)
        tables.append(
            pd.DataFrame(
                {
                    "industry_a": np.repeat(m_codes, len(codes_b)),
                    "label_a_zh": np.repeat(
                        [division_labels.get(d, ("", ""))[0] for d in m_codes], len(codes_b)
                    ),
                    "kind_b": kind_b,
                    "industry_b": np.tile(codes_b, len(m_codes)),
                    "label_b_zh": np.tile(labels_b, len(m_codes)),
                    "egk_gamma": values.value.ravel(),
                    "reason": values.reason.ravel(),
                }
            )
        )
    return pd.concat(tables, ignore_index=True)


def result_tables(results: Sequence[ZonalResult]) -> dict[str, pd.DataFrame]:
    """Tables of one or more zonal results (several layers), ready to write.

    Parameters
    ----------
    results : sequence of ZonalResult
        Results, e.g. one per zone layer.

    Returns
    -------
    dict of str to DataFrame
        ``zone_measures``, ``industry_measures``, ``coagglomeration``,
        ``egk_pairs``, ``egk_matrix`` (per layer: manufacturing divisions in
        rows, producer-service divisions and groups in columns) and
        ``parameters`` (one row per layer, with the data summary).
    """
    matrices = []
    for result in results:
        matrix = result.pair_matrix().reset_index().rename_axis(columns=None)
        matrix.insert(0, "layer", result.parameters["layer"])
        matrices.append(matrix)
    return {
        "zone_measures": pd.concat([r.zone_measures for r in results], ignore_index=True),
        "industry_measures": pd.concat([r.industry_measures for r in results], ignore_index=True),
        "coagglomeration": pd.concat([r.coagglomeration for r in results], ignore_index=True),
        "egk_pairs": pd.concat([r.pairs for r in results], ignore_index=True),
        "egk_matrix": pd.concat(matrices, ignore_index=True),
        "parameters": pd.DataFrame([{**r.parameters, **r.summary} for r in results]),
    }
