"""Producer-service cluster areas from HDBSCAN, named by the platform or town they sit in.

HDBSCAN (Campello, Moulavi & Sander 2013; McInnes, Healy & Astels 2017) finds
clusters of firm locations of varying density and leaves scattered firms as
noise. The ``hdbscan`` package (scikit-learn-contrib) is used because it is
about 20 times faster on planar points than scikit-learn's port of the same
algorithm, which gives the same clusters (tested).

Each cluster becomes an area: the concave hull of its firms (shapely
``concave_hull``, ``hull_ratio``) buffered by ``buffer_m`` metres so small or
thin clusters still have an area. Its attributes:

- ``cluster_id``, ``n_firms``, ``employment``;
- ``share_<field>`` for each producer-service field and ``dominant_field``;
- ``top_industries``: the three most frequent GB/T 4754 divisions;
- ``lq``: share of the focus firms among *all* firms inside the area over
  their share in the whole study area;
- ``area_km2``, ``density_per_km2``;
- ``district``, ``platform``, ``town``: the zone of each layer holding most of
  the cluster's firms (Chinese name; ``*_en`` English), with ``*_share``
  (share of its firms there);
- ``name_zh``/``name_en``, e.g. "滨江互联网小镇 — 数字服务集群（1,240 家企业）";
- ``stability``: the best Jaccard overlap of the cluster's firms with a
  cluster found when ``min_cluster_size`` is 20 % smaller and 25 % larger
  (the smaller of the two), and ``robust`` (stability >= 0.5). The re-runs
  keep ``min_samples`` (the density estimate), so they share the first fit's
  minimum spanning tree (cached) and only condense it differently.
"""

from __future__ import annotations

import tempfile

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.errors import ConfigError
from geo.io.crs import DEFAULT_ANALYSIS_CRS, WGS84
from geo.io.industry import FIELDS, label, load_divisions

STABILITY_FACTORS = (0.8, 1.25)


def hdbscan_labels(
    x: np.ndarray,
    y: np.ndarray,
    min_cluster_size: int,
    min_samples: int | None = None,
    *,
    cache: str | None = None,
) -> np.ndarray:
    """HDBSCAN cluster label of each point (-1: noise).

    Parameters
    ----------
    x, y : ndarray
        Coordinates in metres.
    min_cluster_size : int
        Smallest cluster.
    min_samples : int, optional
        Core-distance neighbours (default: ``min_cluster_size``).
    cache : str, optional
        Folder where hdbscan keeps the spanning tree of these points and
        ``min_samples`` (joblib), for later calls that differ only in
        ``min_cluster_size``.

    Returns
    -------
    ndarray of int
    """
    import hdbscan
    import joblib

    if min_cluster_size < 2:
        raise ConfigError("min_cluster_size must be at least 2")
    if len(x) <= min_cluster_size:
        return np.full(len(x), -1)
    model = hdbscan.HDBSCAN(
        min_cluster_size=int(min_cluster_size),
        min_samples=None if min_samples is None else int(min_samples),
        core_dist_n_jobs=2,
        memory=joblib.Memory(cache, verbose=0),
    )
    return model.fit_predict(np.column_stack([x, y]))


def _jaccard_best(base: np.ndarray, other: np.ndarray) -> dict[int, float]:
    """For each cluster of ``base``, its best Jaccard overlap with a cluster of ``other``."""
    best = np.zeros(base.max() + 1 if len(base) else 0)
    both = (base >= 0) & (other >= 0)
    if both.any():
        # the contingency table of the two labellings, only its non-empty cells
        (a, b), shared = np.unique(np.stack([base[both], other[both]]), axis=1,
                                   return_counts=True)
        size_a, size_b = np.bincount(base[base >= 0]), np.bincount(other[other >= 0])
        np.maximum.at(best, a, shared / (size_a[a] + size_b[b] - shared))
    return {int(c): float(best[c]) for c in np.unique(base[base >= 0])}


def cluster_areas(
    firms: gpd.GeoDataFrame,
    focus: np.ndarray,
    *,
    zones: dict[str, gpd.GeoDataFrame] | None = None,
    min_cluster_size: int = 50,
    min_samples: int | None = None,
    hull_ratio: float = 0.3,
    buffer_m: float = 100.0,
    analysis_crs: str = DEFAULT_ANALYSIS_CRS,
    stability: bool = True,
) -> tuple[gpd.GeoDataFrame, np.ndarray]:
    """Cluster areas of the focus firms with their statistics and names.

    Parameters
    ----------
    firms : GeoDataFrame
        Normalised firms (all of them: the LQ compares with every firm).
    focus : ndarray of bool
        Firms to cluster (e.g. producer services, or one field).
    zones : dict of str to GeoDataFrame, optional
        ``districts``, ``platforms``, ``towns`` layers that name the clusters.
    min_cluster_size, min_samples : int
        HDBSCAN parameters.
    hull_ratio : float
        Concave-hull ratio (0 most concave, 1 convex hull).
    buffer_m : float
        Buffer around the hull, metres.
    analysis_crs : str
        Projected CRS.
    stability : bool
        Re-run with perturbed ``min_cluster_size`` to rate each cluster.

    Returns
    -------
    tuple
        ``(areas, labels)``: cluster areas (WGS84) and the cluster label of
        each focus firm (-1 noise), in the order of ``firms[focus]``.
    """
    focus = np.asarray(focus, bool)
    projected = firms.to_crs(analysis_crs)
    x_all, y_all = projected.geometry.x.to_numpy(), projected.geometry.y.to_numpy()
    xf, yf = x_all[focus], y_all[focus]
    density = min_cluster_size if min_samples is None else min_samples  # hdbscan's default
    scores = {}
    with tempfile.TemporaryDirectory(prefix="geo-hdbscan-") as cache:
        labels = hdbscan_labels(xf, yf, min_cluster_size, density, cache=cache)
        if stability and (labels >= 0).any():
            runs = [
                hdbscan_labels(xf, yf, max(2, round(min_cluster_size * f)), density,
                               cache=cache)
                for f in STABILITY_FACTORS
            ]
            per_run = [_jaccard_best(labels, other) for other in runs]
            scores = {c: min(r.get(c, 0.0) for r in per_run) for c in per_run[0]}
    sub = firms[focus].reset_index(drop=True)
    rows = []
    geoms = []
    divisions = load_divisions().set_index("division")["name_zh"].to_dict()
    for cluster in np.unique(labels[labels >= 0]):
        members = labels == cluster
        pts = shapely.multipoints(np.column_stack([xf[members], yf[members]]))
        area = shapely.buffer(shapely.concave_hull(pts, ratio=hull_ratio), buffer_m)
        group = sub[members]
        fields = group["field"].value_counts(normalize=True)
        top = group["division"].value_counts().head(3)
        row = {
            "cluster_id": int(cluster) + 1,
            "n_firms": int(members.sum()),
            "employment": float(pd.to_numeric(group["employees"], errors="coerce").sum()),
            **{f"share_{f}": float(fields.get(f, 0.0)) for f in FIELDS},
            "dominant_field": str(fields.index[0]) if len(fields) else "",
            "top_industries": "; ".join(f"{d} {divisions.get(d, '')}" for d in top.index),
            "area_km2": area.area / 1e6,
            "stability": scores.get(int(cluster), np.nan),
        }
        row["density_per_km2"] = row["n_firms"] / row["area_km2"]
        rows.append(row)
        geoms.append(area)
    areas = gpd.GeoDataFrame(rows, geometry=geoms, crs=analysis_crs)
    if areas.empty:
        return areas.to_crs(WGS84), labels
    areas["robust"] = areas["stability"] >= 0.5
    # LQ inside each area against all firms
    inside = shapely.STRtree(np.asarray(areas.geometry)).query(
        shapely.points(x_all, y_all), predicate="within"
    )
    counts_all = np.bincount(inside[1], minlength=len(areas))
    counts_focus = np.bincount(inside[1][focus[inside[0]]], minlength=len(areas))
    overall = focus.mean()
    with np.errstate(divide="ignore", invalid="ignore"):
        areas["lq"] = (counts_focus / counts_all) / overall
    for layer, column in (("districts", "district_id"), ("platforms", "platform_id"),
                          ("towns", "town_id")):
        _name_by_layer(areas, labels, sub, zones, layer, column, analysis_crs, xf, yf)
    _names(areas)
    return areas.to_crs(WGS84), labels


def _name_by_layer(areas, labels, sub, zones, layer, column, crs, xf, yf) -> None:
    """Zone of ``layer`` holding most of each cluster's firms, and that share."""
    key = layer[:-1]
    areas[key] = ""
    areas[f"{key}_en"] = ""
    areas[f"{key}_share"] = 0.0
    if not zones or layer not in zones:
        return
    from geo.io.zones import assign_points

    zone = zones[layer]
    if column in sub.columns:
        ids = sub[column].to_numpy(dtype=object)
    else:
        pts = gpd.GeoDataFrame(geometry=shapely.points(xf, yf), crs=crs)
        ids = assign_points(pts, zone.to_crs(crs)).to_numpy(dtype=object)
    by_id = zone.set_index(zone["zone_id"].astype(str))
    names = by_id["name_zh"].to_dict()
    names_en = by_id["name_en"].to_dict() if "name_en" in by_id else names
    for k, cluster in enumerate(areas["cluster_id"] - 1):
        members = pd.Series(ids[labels == cluster]).dropna()
        if members.empty:
            continue
        counts = members.value_counts()
        areas.loc[k, key] = names.get(str(counts.index[0]), str(counts.index[0]))
        areas.loc[k, f"{key}_en"] = names_en.get(str(counts.index[0]), str(counts.index[0]))
        areas.loc[k, f"{key}_share"] = counts.iloc[0] / int((labels == cluster).sum())


def _names(areas: gpd.GeoDataFrame) -> None:
    """Readable names: the most specific place holding most of the firms, then the field."""
    zh, en = [], []
    for row in areas.itertuples():
        level = next((k for k in ("town", "platform", "district")
                      if getattr(row, k) and getattr(row, f"{k}_share") >= 0.5), "district")
        place = getattr(row, level) or f"#{row.cluster_id}"
        place_en = getattr(row, f"{level}_en") or f"#{row.cluster_id}"
        field_zh = label(row.dominant_field, "zh") if row.dominant_field else "生产性服务业"
        field_en = label(row.dominant_field, "en") if row.dominant_field else "producer services"
        zh.append(f"{place} — {field_zh}集群（{row.n_firms:,} 家企业）")
        en.append(f"{place_en} — {field_en} cluster ({row.n_firms:,} firms)")
    areas.insert(1, "name_zh", zh)
    areas.insert(2, "name_en", en)
