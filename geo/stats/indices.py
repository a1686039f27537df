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

The zonal analysis of a zone layer, every measure per zone and industry, is
:func:`geo.stats.zonal.zonal_indices`; its grouping schemes are in
:mod:`geo.stats.schemes`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, NamedTuple

import numpy as np

Weighting = Literal["count", "employment"]

# Reasons a value is undefined (shown in reason columns).
NO_FIRMS_ZONE = "zone has no firms"
NO_FIRMS_GROUP = "group has no firms"
NO_FIRMS_REFERENCE = "group has no firms in the reference region"
BOTH_ABSENT = "neither industry present in the zone"
ONE_FIRM = "only one firm (H = 1)"
H_ONE = "one firm holds all the weight (H = 1)"
ONE_ZONE = "all activity in one zone (sum x^2 = 1)"
FEWER_THAN_TWO = "fewer than two industries with firms"


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
