"""Distance-based analyses of enterprise data: types, windows and the studies ``geo run`` makes.

Glue between firm tables and the point-pattern functions (:mod:`geo.stats.ripley`,
:mod:`geo.stats.kdensity`, :mod:`geo.stats.mfunction`, :mod:`geo.stats.colocation`), shared by
the CLI and ``geo run``. Their tables, readings and plots are in
:mod:`geo.function_outputs`.

A *type* is named by a group (``manufacturing``, ``producer_services``,
``other``), ``high_tech``, a producer-service field (``digital``, ``tech``,
``finance``, ``logistics``, ``business``, ``other_ps``), or a GB/T 4754 code
prefix (``C39``, ``I65``, ``7320``); or, with ``type_column``, any value of a
column of the file.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.errors import ConfigError
from geo.io.crs import WGS84
from geo.io.industry import FIELDS, GROUPS, normalise_code
from geo.stats.ripley import FunctionResult, Window


def type_mask(firms: pd.DataFrame, spec: str, type_column: str | None = None) -> np.ndarray:
    """Which firms are of type ``spec``.

    Parameters
    ----------
    firms : DataFrame
        Normalised firms.
    spec : str
        Group, ``high_tech``, field, code prefix, or a value of ``type_column``.
    type_column : str, optional
        Column whose raw values name the types.

    Returns
    -------
    ndarray of bool

    Raises
    ------
    ConfigError
        If ``spec`` names nothing.
    """
    if type_column:
        if type_column not in firms.columns:
            raise ConfigError(f"no column '{type_column}' in the enterprise table")
        return (firms[type_column].astype(str) == spec).to_numpy()
    if spec in GROUPS:
        return firms["group"].eq(spec).to_numpy()
    if spec == "high_tech":
        return (firms["group"].eq("manufacturing") & firms["high_tech"]).to_numpy()
    if spec in FIELDS:
        return (firms["group"].eq("producer_services") & firms["field"].eq(spec)).to_numpy()
    code, error = normalise_code(spec)
    if code is None:
        raise ConfigError(
            f"unknown type '{spec}': use {', '.join(GROUPS)}, high_tech, a field "
            f"({', '.join(FIELDS)}) or a GB/T 4754 code prefix such as C39 ({error})"
        )
    digits = code[1:]
    return firms["industry_code"].astype(str).str[1:].str.startswith(digits).to_numpy()


def labelled_types(
    firms: pd.DataFrame, a: str, b: str | None, type_column: str | None = None
) -> np.ndarray:
    """Type label per firm: ``a``, ``b`` or ``"other"`` (A wins where both match)."""
    mask_a = type_mask(firms, a, type_column)
    labels = np.full(len(firms), "other", dtype=object)
    if b is not None:
        mask_b = type_mask(firms, b, type_column)
        labels[mask_b] = b
    labels[mask_a] = a
    return labels


def type_atoms(
    firms: pd.DataFrame, a: str, partners: tuple[str, ...], type_column: str | None = None
) -> tuple[np.ndarray, dict[str, tuple[str, ...]]]:
    """One type per firm for several overlapping types: the pieces they cut the firms into.

    ``a`` and each partner select firms (:func:`type_mask`); a firm's piece
    is the set of selections it falls in (``a`` wins over the partners, as
    in :func:`labelled_types`), and each selection is the union of its
    pieces. The pair engine of :mod:`geo.stats.coagglomeration` then serves ``a``
    with every partner in one pass.

    Parameters
    ----------
    firms : DataFrame
        Normalised firms.
    a : str
        The first type (``manufacturing``).
    partners : tuple of str
        The types paired with it (``producer_services``, ``digital``...).
    type_column : str, optional
        Column whose raw values name the types.

    Returns
    -------
    tuple
        The piece of each firm (None: in no selection) and, for ``a`` and
        every partner, the pieces it unites.
    """
    mask_a = type_mask(firms, a, type_column)
    masks = np.column_stack([type_mask(firms, p, type_column) & ~mask_a for p in partners])
    keys = np.where(mask_a, a, None).astype(object)
    # a piece per combination of selections: its bits, then its name (vectorised: 1M firms)
    bits = masks.astype(np.int64) @ (np.int64(1) << np.arange(len(partners), dtype=np.int64))
    for combination in np.unique(bits[bits > 0]):
        keys[bits == combination] = "+".join(
            p for k, p in enumerate(partners) if combination >> k & 1)
    members = {a: (a,)} if mask_a.any() else {}
    for k, partner in enumerate(partners):
        pieces = sorted({keys[i] for i in np.flatnonzero(masks[:, k])})
        if pieces:
            members[partner] = tuple(pieces)
    return keys, members


def make_window(
    spec: str, firms_projected: gpd.GeoDataFrame, analysis_crs: str, area: shapely.Geometry
) -> Window:
    """Observation window: ``study`` (the study area), ``bbox``, or a zone layer / file.

    A layer spec may select zones by id: ``districts:330106,330108``.

    Parameters
    ----------
    spec : str
        Window specification.
    firms_projected : GeoDataFrame
        Firms in the analysis CRS (for ``bbox``).
    analysis_crs : str
        Projected CRS.
    area : shapely.Geometry
        Study area in WGS84.

    Returns
    -------
    Window
    """
    from geo.io.zones import load_zones

    if spec == "bbox":
        x0, y0, x1, y1 = firms_projected.total_bounds
        return Window.rectangle(x0, x1, y0, y1)
    if spec == "study":
        geometry = gpd.GeoSeries([area], crs=WGS84).to_crs(analysis_crs).iloc[0]
        return Window.from_geometry(geometry)
    name, _, ids = spec.partition(":") if not Path(spec).suffix else (spec, "", "")
    layer = load_zones(name, area=area, analysis_crs=analysis_crs)
    if ids:
        wanted = {i.strip() for i in ids.split(",") if i.strip()}
        unknown = wanted - set(layer["zone_id"])
        if unknown:
            raise ConfigError(f"window: no zones {', '.join(sorted(unknown))} in {name}")
        layer = layer[layer["zone_id"].isin(wanted)]
    return Window.from_geometry(layer.to_crs(analysis_crs).union_all())


def points_in_window(
    firms: gpd.GeoDataFrame, window: Window, analysis_crs: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Projected coordinates of the firms inside the window, and the inside mask."""
    projected = firms.to_crs(analysis_crs).geometry
    x, y = projected.x.to_numpy(), projected.y.to_numpy()
    inside = window.contains(x, y)
    return x, y, inside



PAIR_STATISTICS = ("clq", "kd", "crossk", "m")


def _pair_studies(frame, x, y, sample, window, pairs: str, statistics: tuple[str, ...], *,
                  nsim: int, seed: int, k_rmax: float, kd_rmax: float, notes: list,
                  neighbours=None) -> dict:
    """Division-pair studies of :func:`run_distance_analyses` (CLQ on every firm)."""
    from geo.stats.coagglomeration import (
        coagglomeration_clq,
        coagglomeration_cross_l,
        coagglomeration_kd,
        coagglomeration_m,
        industry_types,
        resolve_pairs,
    )
    from geo.stats.ripley import default_r

    unknown = set(statistics) - set(PAIR_STATISTICS)
    if unknown:
        raise ConfigError(f"[distance] pair_statistics: unknown {', '.join(sorted(unknown))}; "
                          f"use {', '.join(PAIR_STATISTICS)}")
    if not pairs or not statistics:
        return {}
    types = industry_types(frame, "division")
    studies = {}
    for statistic in statistics:
        try:
            chosen, _ = resolve_pairs(pairs, frame, types, min_firms=10,
                                      symmetric=statistic == "kd")
        except ConfigError as error:
            # a small or narrow register may have no such pair: the run goes on without it
            notes.append(f"{statistic} of industry pairs skipped: {error}")
            continue
        if statistic == "clq":
            studies[statistic] = coagglomeration_clq(x, y, types, chosen, nsim=nsim, seed=seed,
                                                     neighbours=neighbours)
            continue
        xs, ys, ts = x[sample], y[sample], types[sample]
        if statistic == "kd":
            studies[statistic] = coagglomeration_kd(xs, ys, ts, chosen, rmax=kd_rmax, n_r=101,
                                                    nsim=nsim, seed=seed)
        elif statistic == "crossk":
            studies[statistic] = coagglomeration_cross_l(
                xs, ys, window, ts, [p for p in chosen if p[0] != p[1]],
                r=default_r(k_rmax, 129), nsim=nsim, seed=seed)
        else:
            studies[statistic] = coagglomeration_m(xs, ys, ts, chosen,
                                                   r=np.linspace(0, k_rmax, 65), nsim=nsim,
                                                   seed=seed)
    return studies


DEFAULT_PARTNERS = ("producer_services", "digital", "tech", "finance", "logistics", "business")


def run_distance_analyses(
    firms: gpd.GeoDataFrame,
    area: shapely.Geometry,
    analysis_crs: str,
    *,
    partners: tuple[str, ...] = DEFAULT_PARTNERS,
    nsim: int = 99,
    seed: int = 1,
    k_rmax: float = 3000.0,
    kd_rmax: float = 5000.0,
    max_points: int = 50_000,
    pairs: str = "",
    pair_statistics: tuple[str, ...] = ("clq",),
) -> dict:
    """Cross-L, Kd and co-location of manufacturing with producer services (and each field).

    Parameters
    ----------
    firms : GeoDataFrame
        Normalised firms (WGS84).
    area : shapely.Geometry
        Study area (WGS84): the window of the K functions.
    analysis_crs : str
        Projected CRS.
    partners : tuple of str
        Service types paired with manufacturing.
    nsim : int
        Simulations of every envelope and test.
    seed : int
        Seed of the sample and the simulations.
    k_rmax, kd_rmax : float
        Largest distances of cross-L and Kd (metres).
    max_points : int
        Above this many firms, the K and Kd functions use a seeded random
        sample of them (independent thinning leaves K and Kd unchanged in
        expectation); 0 uses every firm. Co-location quotients always use
        every firm.
    pairs : str
        Industry pairs by GB/T 4754 division (``manufacturing*producer_services``,
        ``all`` or a CSV file, see :func:`geo.stats.coagglomeration.resolve_pairs`);
        empty for none.
    pair_statistics : tuple of str
        Statistics of those pairs: ``clq`` (every firm), ``kd``, ``crossk``,
        ``m`` (the sample, like the functions above).

    Returns
    -------
    dict
        ``functions`` (list of FunctionResult), ``colocation`` (DataFrame),
        ``local_clq`` (GeoDataFrame of producer-service firms), ``pair_studies``
        (statistic -> :class:`geo.stats.coagglomeration.PairStudy`) and ``parameters``.
    """
    from geo.stats.coagglomeration import coagglomeration_cross_l, coagglomeration_kd
    from geo.stats.colocation import (
        colocation_quotients,
        local_colocation_quotient,
        nearest_neighbour_matrix,
    )
    from geo.stats.ripley import default_r

    window = make_window("study", firms.to_crs(analysis_crs), analysis_crs, area)
    x_all, y_all, inside = points_in_window(firms, window, analysis_crs)
    frame = firms[inside]
    x_all, y_all = x_all[inside], y_all[inside]
    sample = np.arange(len(frame))
    if 0 < max_points < len(frame):
        sample = np.sort(np.random.default_rng(seed).choice(len(frame), max_points, False))
    sub = frame.iloc[sample]
    xs, ys = x_all[sample], y_all[sample]
    # every partner with manufacturing in one pass of each function (pieces: type_atoms)
    pieces, members = type_atoms(sub, "manufacturing", partners)
    counts = pd.Series(pieces).value_counts()
    sizes = {name: int(counts.reindex(list(parts)).fillna(0).sum())
             for name, parts in members.items()}
    paired = [p for p in partners
              if sizes.get(p, 0) >= 2 and sizes.get("manufacturing", 0) >= 2]
    field_pairs = [("manufacturing", p) for p in paired]
    functions = []
    if field_pairs:
        cross = coagglomeration_cross_l(xs, ys, window, pieces, field_pairs, members=members,
                                        r=default_r(k_rmax, 129), nsim=nsim, seed=seed)
        kd = coagglomeration_kd(xs, ys, pieces, field_pairs, members=members, rmax=kd_rmax,
                                n_r=101, nsim=nsim, seed=seed)
        for lcross, kdensity in zip(cross.results, kd.results, strict=True):
            functions += [lcross, kdensity]
    clq_rows = []
    nearest = nearest_neighbour_matrix(x_all, y_all)  # built once for every partner
    for partner in paired:
        full_types = labelled_types(frame, "manufacturing", partner)
        clq = colocation_quotients(
            x_all, y_all, full_types, pairs=[(partner, "manufacturing"),
                                              ("manufacturing", partner)],
            nsim=nsim, seed=seed, neighbours=nearest,
        )
        clq_rows.append(clq.table)
    pair_notes: list[str] = []
    pair_studies = _pair_studies(frame, x_all, y_all, sample, window, pairs, pair_statistics,
                                 nsim=nsim, seed=seed, k_rmax=k_rmax, kd_rmax=kd_rmax,
                                 notes=pair_notes, neighbours=nearest)
    ps_types = labelled_types(frame, "producer_services", "manufacturing")
    local = local_colocation_quotient(x_all, y_all, ps_types, "producer_services",
                                      "manufacturing", nsim=nsim, seed=seed)
    layer = frame.iloc[local.index][
        [c for c in ("firm_id", "name", "industry_code", "field", "geometry") if c in frame]
    ].copy()
    layer["lclq"] = local["lclq"].to_numpy()
    layer["bandwidth_m"] = local["bandwidth"].to_numpy()
    if nsim:
        layer["p_colocation"] = local["p_colocation"].to_numpy()
        layer["p_isolation"] = local["p_isolation"].to_numpy()
    return {
        "functions": functions,
        "colocation": pd.concat(clq_rows, ignore_index=True) if clq_rows else pd.DataFrame(),
        "local_clq": layer,
        "pair_studies": pair_studies,
        "parameters": {
            "nsim": nsim, "seed": seed, "k_rmax_m": k_rmax, "kd_rmax_m": kd_rmax,
            "points_in_window": int(len(frame)), "points_used_for_k_and_kd": int(len(sub)),
            "k_correction": "border", "local_clq_k": 8, "pairs": pairs,
            "pair_statistics": list(pair_statistics) if pairs else [],
            "pair_counts": {k: len(v.table) for k, v in pair_studies.items()},
            "pair_notes": pair_notes,
            "null": "types permuted over all firms (one permutation per simulation serves "
                    "every pair)",
        },
    }


def cross_l_by_year(
    firms_by_year: dict[str, gpd.GeoDataFrame],
    area: shapely.Geometry,
    analysis_crs: str,
    *,
    a: str = "manufacturing",
    b: str = "producer_services",
    nsim: int = 99,
    seed: int = 1,
    rmax: float = 3000.0,
    max_points: int = 50_000,
) -> list[FunctionResult]:
    """Cross-L of ``a`` with ``b`` for each year's firms, as :func:`run_distance_analyses` does.

    Parameters
    ----------
    firms_by_year : dict of str to GeoDataFrame
        The firms of each year (WGS84), in order.
    area : shapely.Geometry
        Study area (WGS84), the window.
    analysis_crs : str
        Projected CRS.
    a, b : str
        The types.
    nsim, seed : int
        Random-labelling simulations of each envelope and their seed.
    rmax : float
        Largest distance (metres).
    max_points : int
        A seeded random sample of this many firms above it (0: every firm).

    Returns
    -------
    list of FunctionResult
        One per year with both types, ``parameters["year"]`` its label.
    """
    from geo.stats.coagglomeration import coagglomeration_cross_l
    from geo.stats.ripley import default_r

    results = []
    for year, firms in firms_by_year.items():
        window = make_window("study", firms.to_crs(analysis_crs), analysis_crs, area)
        x, y, inside = points_in_window(firms, window, analysis_crs)
        frame, x, y = firms[inside], x[inside], y[inside]
        if 0 < max_points < len(frame):
            keep = np.sort(np.random.default_rng(seed).choice(len(frame), max_points, False))
            frame, x, y = frame.iloc[keep], x[keep], y[keep]
        pieces, members = type_atoms(frame, a, (b,))
        if min(int(np.isin(pieces, members[t]).sum()) for t in (a, b)) < 2:
            continue
        study = coagglomeration_cross_l(x, y, window, pieces, [(a, b)], members=members,
                                        r=default_r(rmax, 129), nsim=nsim, seed=seed)
        result = study.results[0]
        result.parameters["year"] = year
        results.append(result)
    return results
