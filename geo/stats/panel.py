"""Co-agglomeration over time: snapshots of a register by year, and a test of change.

A firm is *active in year Y* when it was founded in or before Y and not closed
before Y (:func:`active_in_year`). A panel computes every zonal index for the
firms active in each year (the same :func:`geo.stats.zonal.zonal_indices` as a
single run, so each year's numbers are those a run on that year's firms gives).

Change between two years is tested by random relabelling (:func:`change_test`):
the firm-years of both snapshots are pooled and dealt at random into two
snapshots of the observed sizes, as if the year made no difference; a zone's
change in LQ, C or C' is significant when few such relabellings change it as
much. A firm active in both years is two firm-years, so firms that stay put
are part of both snapshots in the null as in the data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd

from geo.errors import ConfigError
from geo.stats.indices import coagglomeration_lq, location_quotient
from geo.stats.schemes import Scheme
from geo.stats.zonal import ZonalResult, firm_weights, result_tables, zonal_indices

CHANGE_STATISTICS = ("lq_a", "lq_b", "quality", "level")


def parse_years(text: str | Sequence[int]) -> list[int]:
    """Read ``2015,2020,2024`` (or a list) as increasing distinct years.

    Examples
    --------
    >>> parse_years("2024, 2015,2020")
    [2015, 2020, 2024]
    """
    items = text.split(",") if isinstance(text, str) else list(text)
    try:
        years = sorted({int(str(item).strip()) for item in items if str(item).strip()})
    except ValueError:
        raise ConfigError(f"--years takes years separated by commas (2015,2020,2024), got "
                          f"'{text}'") from None
    if len(years) < 2:
        raise ConfigError(f"a panel needs at least two years, got {years}")
    if years[0] < 1800 or years[-1] > 2100:
        raise ConfigError(f"panel years must lie within 1800-2100, got {years}")
    return years


def active_in_year(firms: pd.DataFrame, year: int) -> np.ndarray:
    """Firms active in ``year``: founded in or before it and not closed before it.

    Parameters
    ----------
    firms : pandas.DataFrame
        ``year`` (founding year; firms without one are never active) and,
        optionally, ``closed`` (a date; NaT while open).
    year : int
        The year.

    Returns
    -------
    numpy.ndarray of bool

    Examples
    --------
    >>> firms = pd.DataFrame({"year": pd.array([2010, 2016, None, 2010], dtype="Int64"),
    ...                       "closed": pd.to_datetime([None, None, None, "2014-06-30"])})
    >>> active_in_year(firms, 2015).tolist(), active_in_year(firms, 2014).tolist()
    ([True, False, False, False], [True, False, False, True])
    """
    founded = firms["year"].to_numpy(dtype=float, na_value=np.nan)
    with np.errstate(invalid="ignore"):
        active = founded <= year
    if "closed" in firms:
        closed = pd.to_datetime(firms["closed"]).dt.year.to_numpy(dtype=float, na_value=np.nan)
        with np.errstate(invalid="ignore"):
            active &= ~(closed < year)
    return active


@dataclass
class Snapshot:
    """The firms of one year of a panel, with their zone in each layer."""

    label: str
    firms: gpd.GeoDataFrame
    zone_of: dict[str, np.ndarray]


@dataclass
class Panel:
    """Zonal indices of every year and their change.

    Attributes
    ----------
    years : list of str
        Labels of the snapshots, in order.
    results : dict of str to list of ZonalResult
        Per year, one result per zone layer.
    changes : DataFrame
        First to last year, per layer and zone (:func:`change_test`).
    parameters : dict
        Years, firms per year, the permutations and seed of the test.
    entrants : DataFrame or None
        Co-location of the period's new producer-service firms with
        incumbent manufacturing (:func:`geo.stats.entrants.entrant_colocation`).
    functions : list of FunctionResult
        Cross-L of manufacturing with producer services in the first and the
        last year (:func:`geo.stats.distance.cross_l_by_year`).
    clusters : GeoDataFrame or None
        Producer-service clusters followed from the first to the last year
        (:func:`match_clusters`).
    """

    years: list[str]
    results: dict[str, list[ZonalResult]]
    changes: pd.DataFrame
    parameters: dict = field(default_factory=dict)
    entrants: pd.DataFrame | None = None
    functions: list = field(default_factory=list)
    clusters: gpd.GeoDataFrame | None = None

    def tables(self) -> dict[str, pd.DataFrame]:
        """Tidy tables with a ``year`` column, then one wide table per index (zone x year).

        Returns
        -------
        dict of str to DataFrame
            ``zone_measures``, ``industry_measures``, ``coagglomeration``,
            ``egk_pairs`` (tidy, every year); ``lq_<group>``, ``coagg_quality``,
            ``coagg_level`` (wide: layer, zone, one column per year),
            ``eg_gamma`` (layer, group or division), ``eg_gamma_c`` (layer, set of
            industries), ``egk_gamma`` (layer, pair), ``changes`` and, when
            computed, ``entrants`` and ``clusters``.
        """
        tidy: dict[str, list[pd.DataFrame]] = {}
        for year, results in self.results.items():
            for name, table in result_tables(results).items():
                if name in ("zone_measures", "industry_measures", "coagglomeration",
                            "egk_pairs"):
                    tidy.setdefault(name, []).append(table.assign(year=year))
        out = {name: _year_first(pd.concat(frames, ignore_index=True))
               for name, frames in tidy.items()}
        measures = out["zone_measures"]
        pair = self.parameters["pair"]
        wanted = [("lq", g) for g in pair.split("__")] + [
            ("coagg_quality", pair), ("coagg_level", pair)]
        for measure, group in wanted:
            part = measures[(measures["measure"] == measure) & (measures["group"] == group)]
            wide = part.set_index(["layer", "zone_id", "name_zh", "year"])["value"].unstack(
                "year", sort=False)
            wide = wide.reindex(columns=self.years).reset_index().rename_axis(columns=None)
            out[f"{measure}_{group}" if measure == "lq" else measure] = wide
        # the industry-level indices, one row per layer and industry (set, pair)
        for name, source, keys, value in (
                ("eg_gamma", "industry_measures", ["layer", "kind", "industry", "label_zh"],
                 "eg_gamma"),
                ("eg_gamma_c", "coagglomeration", ["layer", "set"], "gamma_c"),
                ("egk_gamma", "egk_pairs", ["layer", "industry_a", "label_a_zh", "industry_b",
                                            "label_b_zh"], "egk_gamma")):
            wide = out[source].set_index([*keys, "year"])[value].unstack("year", sort=False)
            out[name] = wide.reindex(columns=self.years).reset_index().rename_axis(columns=None)
        out["changes"] = self.changes
        if self.entrants is not None:
            out["entrants"] = self.entrants
        if self.clusters is not None:
            out["clusters"] = pd.DataFrame(self.clusters.drop(columns="geometry"))
        return out


def _year_first(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[["year", *[c for c in frame.columns if c != "year"]]]


def _zone_codes(zone_of: np.ndarray, zone_ids: np.ndarray) -> np.ndarray:
    position = pd.Series(np.arange(len(zone_ids)), index=zone_ids)
    codes = position.reindex(pd.Series(zone_of, dtype=object).where(pd.notna(zone_of), None))
    return codes.fillna(-1).to_numpy(dtype=np.int64)


def _coagg(zone: np.ndarray, w: np.ndarray, a: np.ndarray, b: np.ndarray,
           n_zones: int) -> np.ndarray:
    """LQ of groups a and b, C and C' per zone (rows: CHANGE_STATISTICS) of one snapshot.

    As :func:`geo.stats.zonal.zonal_indices` computes them: the reference is every
    firm of the snapshot, inside a zone or not.
    """
    inside = zone >= 0
    totals = np.bincount(zone[inside], w[inside], n_zones)
    group = np.column_stack([np.bincount(zone[inside & m], w[inside & m], n_zones)
                             for m in (a, b)])
    lq = location_quotient(group, totals, np.array([w[a].sum(), w[b].sum()]), w.sum()).value
    quality, level = coagglomeration_lq(lq[:, 0], lq[:, 1])
    return np.vstack([lq[:, 0], lq[:, 1], quality.value, level.value])


def change_test(
    first: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    last: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    n_zones: int,
    *,
    permutations: int = 999,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Change of LQ_a, LQ_b, C and C' per zone between two snapshots, with permutation p-values.

    Parameters
    ----------
    first, last : tuple of numpy.ndarray
        Each snapshot's firm-years: zone code (0..n_zones-1, -1 outside every
        zone), weight, and whether each is in group a and in group b.
    n_zones : int
        Zones of the layer.
    permutations : int
        Random relabellings of the pooled firm-years into two snapshots of
        the observed sizes (0: no test).
    seed : int
        Seed of the relabellings.

    Returns
    -------
    dict of str to numpy.ndarray
        ``first`` and ``last`` (4 x zones: the statistics of each snapshot),
        ``delta`` (last - first) and ``p`` (two-sided: the share of
        relabellings, counting the data, whose absolute change is at least the
        observed one; NaN where the change is undefined or untested).
    """
    before, after = _coagg(*first, n_zones), _coagg(*last, n_zones)
    delta = after - before
    p = np.full(delta.shape, np.nan)
    if permutations > 0:
        pooled = [np.concatenate([x, y]) for x, y in zip(first, last, strict=True)]
        n_first = len(first[0])
        rng = np.random.default_rng(seed)
        observed = np.abs(delta)
        at_least = np.ones(delta.shape)  # the data count as one relabelling
        tolerance = 1e-12 * np.maximum(observed, 1.0)  # ties of equal changes count
        for _ in range(permutations):
            order = rng.permutation(len(pooled[0]))
            one, two = order[:n_first], order[n_first:]
            change = (_coagg(*(x[two] for x in pooled), n_zones)
                      - _coagg(*(x[one] for x in pooled), n_zones))
            with np.errstate(invalid="ignore"):
                at_least += np.abs(change) >= observed - tolerance
        p = np.where(np.isfinite(delta), at_least / (permutations + 1), np.nan)
    return {"first": before, "last": after, "delta": delta, "p": p}


def _records(snapshot: Snapshot, layer: str, zone_ids: np.ndarray, scheme: Scheme,
             columns: tuple[int, int], weighting: str) -> tuple[np.ndarray, ...]:
    """Return the firm-years of a snapshot for :func:`change_test` (zone, weight, a, b)."""
    frame = pd.DataFrame(snapshot.firms.drop(columns="geometry", errors="ignore"))
    members = scheme.membership(frame)
    w, _ = firm_weights(frame, weighting)
    return (_zone_codes(snapshot.zone_of[layer], zone_ids), w, members[:, columns[0]],
            members[:, columns[1]])


def _rank(values: np.ndarray) -> np.ndarray:
    return pd.Series(values).rank(ascending=False, method="min").to_numpy()


def build_panel(
    snapshots: Sequence[Snapshot],
    zones: dict[str, gpd.GeoDataFrame],
    *,
    scheme: Scheme,
    weighting: str = "count",
    analysis_crs: str | None = None,
    permutations: int = 999,
    seed: int = 0,
) -> Panel:
    """Zonal indices of every snapshot, and the test of change from the first to the last.

    Parameters
    ----------
    snapshots : sequence of Snapshot
        The years, in order, each with its firms and their zone per layer.
    zones : dict of str to GeoDataFrame
        The zone layers named in the snapshots' ``zone_of``.
    scheme : Scheme
        Grouping; the change is tested for its first pair (manufacturing and
        producer services in the bundled schemes).
    weighting : {"count", "employment"}
        Weight of a firm.
    analysis_crs : str, optional
        Projected CRS of the indices.
    permutations, seed : int
        Relabellings of :func:`change_test` and their seed.

    Returns
    -------
    Panel
    """
    if len(snapshots) < 2:
        raise ConfigError("a panel needs at least two years")
    results = {
        s.label: [zonal_indices(s.firms, zones[name], zone_of_firm=ids, scheme=scheme,
                                weighting=weighting, analysis_crs=analysis_crs, layer_name=name)
                  for name, ids in s.zone_of.items()]
        for s in snapshots
    }
    a, b = next(iter(scheme.pairs()))
    keys = [g.key for g in scheme.groups]
    first, last = snapshots[0], snapshots[-1]
    rows = []
    columns = (keys.index(a.key), keys.index(b.key))
    for k, name in enumerate(first.zone_of):
        zone_ids = zones[name]["zone_id"].astype(str).to_numpy()
        test = change_test(*(_records(s, name, zone_ids, scheme, columns, weighting)
                             for s in (first, last)), len(zone_ids),
                           permutations=permutations, seed=seed + k)
        table = pd.DataFrame({"layer": name, "zone_id": zone_ids,
                              "name_zh": zones[name].get("name_zh", pd.Series(zone_ids))
                              .astype(str).to_numpy()})
        for i, stat in enumerate(CHANGE_STATISTICS):
            table[f"{stat}_{first.label}"] = test["first"][i]
            table[f"{stat}_{last.label}"] = test["last"][i]
            table[f"d_{stat}"] = test["delta"][i]
            table[f"p_{stat}"] = test["p"][i]
        rank_first, rank_last = _rank(test["first"][2]), _rank(test["last"][2])
        table[f"rank_quality_{first.label}"] = pd.array(rank_first, dtype="Int64")
        table[f"rank_quality_{last.label}"] = pd.array(rank_last, dtype="Int64")
        # positive: the zone moved up the ranking of C
        table["rank_change"] = pd.array(rank_first - rank_last, dtype="Int64")
        rows.append(table)
    changes = pd.concat(rows, ignore_index=True).rename(
        columns=lambda c: c.replace("lq_a", f"lq_{a.key}").replace("lq_b", f"lq_{b.key}"))
    parameters = {
        "years": [s.label for s in snapshots],
        "firms": {s.label: len(s.firms) for s in snapshots},
        "pair": f"{a.key}__{b.key}",
        "permutations": permutations,
        "seed": seed,
        "null": "firm-years of the first and last year pooled and dealt at random into two "
                "snapshots of the observed sizes",
        "active": "founded in or before the year and not closed before it",
    }
    return Panel([s.label for s in snapshots], results, changes, parameters)


def panel_by_year(
    firms: gpd.GeoDataFrame,
    zones: dict[str, gpd.GeoDataFrame],
    zone_of: dict[str, pd.Series | np.ndarray],
    years: Sequence[int],
    **options,
) -> Panel:
    """Snapshots of one register by activity year (:func:`active_in_year`), as a panel.

    Parameters
    ----------
    firms : GeoDataFrame
        Normalised firms with ``year`` (founding year) and ``closed``.
    zones : dict of str to GeoDataFrame
        Zone layers.
    zone_of : dict of str to array-like
        Zone id of each firm in each layer (as ``geo run`` assigns them).
    years : sequence of int
        The years, increasing.
    **options
        Passed to :func:`build_panel` (``scheme``, ``weighting``,
        ``analysis_crs``, ``permutations``, ``seed``).

    Returns
    -------
    Panel
        Its ``parameters`` also say how many firms have no founding year
        (never active) and how many closed before the last year.

    Raises
    ------
    ConfigError
        If no firm has a founding year, or a year has no active firm.
    """
    known = firms["year"].notna().to_numpy()
    if not known.any():
        raise ConfigError("a panel by year needs founding years: the firms have no 成立日期 or "
                          "成立年份 column (map one with --column year=COLUMN)")
    snapshots = []
    for year in years:
        active = active_in_year(firms, year)
        if not active.any():
            raise ConfigError(f"no firm is active in {year} (founded by then and not closed "
                              "before): choose later years")
        snapshots.append(Snapshot(
            str(year), firms[active].reset_index(drop=True),
            {name: np.asarray(ids, dtype=object)[active] for name, ids in zone_of.items()}))
    panel = build_panel(snapshots, zones, **options)
    closed = pd.to_datetime(firms["closed"]).dt.year if "closed" in firms else pd.Series(
        dtype=float)
    panel.parameters.update({
        "firms_without_founding_year": int((~known).sum()),
        "firms_closed_before_last_year": int((closed < years[-1]).sum()),
    })
    return panel


def _ids(areas: gpd.GeoDataFrame, positions: list[int]) -> list:
    """Cluster ids at ``positions`` (none of an empty result, which may lack the column)."""
    return areas["cluster_id"].iloc[positions].tolist() if positions else []


CLUSTER_OVERLAP = 0.25  # share of the smaller area two clusters must share to be one
CLUSTER_GROWTH = 0.10  # firm count change beyond which a matched cluster grew or shrank


def match_clusters(
    first: gpd.GeoDataFrame,
    last: gpd.GeoDataFrame,
    labels: tuple[str, str],
    *,
    analysis_crs: str,
) -> gpd.GeoDataFrame:
    """Follow clusters from the first to the last year by overlap: appeared, grew, vanished...

    Two clusters are the same place when their intersection covers at least
    ``CLUSTER_OVERLAP`` of the smaller one. A last-year cluster that matches
    none *appeared*; one that matches several *merged*; one that matches one
    *grew* or *shrank* when its firms changed by more than ``CLUSTER_GROWTH``,
    else it is *stable*. A first-year cluster that matches none *vanished*; one
    that several match *split*.

    Parameters
    ----------
    first, last : GeoDataFrame
        Cluster areas of the two years (:func:`geo.stats.clusters.cluster_areas`):
        ``cluster_id``, ``n_firms``, ``name_zh``, ``name_en``.
    labels : tuple of str
        The two years' labels.
    analysis_crs : str
        Projected CRS of the areas.

    Returns
    -------
    GeoDataFrame
        Every last-year cluster and every first-year cluster that vanished or
        split: ``year``, ``cluster_id``, ``name_zh``, ``name_en``, ``n_firms``,
        ``status``, ``matched`` (the other year's ids), ``n_firms_before``
        (matched first-year firms), in WGS84.
    """
    a = first.to_crs(analysis_crs).reset_index(drop=True)
    b = last.to_crs(analysis_crs).reset_index(drop=True)
    pairs = []
    if len(a) and len(b):
        hits = gpd.sjoin(b[["geometry"]], a[["geometry"]], predicate="intersects")
        for j, i in zip(hits.index, hits["index_right"], strict=True):
            shared = b.geometry[j].intersection(a.geometry[i]).area
            if shared >= CLUSTER_OVERLAP * min(b.geometry[j].area, a.geometry[i].area):
                pairs.append((i, j))
    of_last = {j: [i for i, jj in pairs if jj == j] for j in range(len(b))}
    of_first = {i: [j for ii, j in pairs if ii == i] for i in range(len(a))}
    rows = []
    for j, matched in of_last.items():
        before = float(a["n_firms"].iloc[matched].sum()) if matched else np.nan
        if not matched:
            status = "appeared"
        elif len(matched) > 1:
            status = "merged"
        elif b["n_firms"].iloc[j] >= (1 + CLUSTER_GROWTH) * before:
            status = "grew"
        elif b["n_firms"].iloc[j] <= (1 - CLUSTER_GROWTH) * before:
            status = "shrank"
        else:
            status = "stable"
        rows.append((labels[1], b.iloc[j], status, _ids(a, matched), before))
    for i, matched in of_first.items():
        if len(matched) != 1:
            rows.append((labels[0], a.iloc[i], "vanished" if not matched else "split",
                         _ids(b, matched), np.nan))
    return gpd.GeoDataFrame(
        {"year": [r[0] for r in rows],
         "cluster_id": [r[1]["cluster_id"] for r in rows],
         "name_zh": [r[1].get("name_zh", "") for r in rows],
         "name_en": [r[1].get("name_en", "") for r in rows],
         "n_firms": [int(r[1]["n_firms"]) for r in rows],
         "status": [r[2] for r in rows],
         "matched": [";".join(map(str, r[3])) for r in rows],
         "n_firms_before": [r[4] for r in rows]},
        geometry=[r[1].geometry for r in rows], crs=analysis_crs,
    ).to_crs("EPSG:4326")
