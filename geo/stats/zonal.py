"""The zonal analysis of one zone layer: every index of :mod:`geo.stats.indices` per zone.

Concentration measures (HHI, Gini, Hoover, EG, EGK) need shares that sum to
one: when some firms lie outside every zone of the layer (a platforms layer
covers part of the city), they form one extra "outside" pseudo-zone for these
measures; the result records how many.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from geo.errors import ConfigError, InputError
from geo.io.industry import load_divisions
from geo.stats.indices import (
    H_ONE,
    ONE_FIRM,
    Values,
    Weighting,
    _divide,
    coagglomeration_lq,
    egk_coagglomeration,
    ellison_glaeser,
    ellison_glaeser_coagglomeration,
    herfindahl,
    hoover,
    location_quotient,
    locational_gini,
)
from geo.stats.schemes import Scheme, _custom_groups, load_scheme


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
