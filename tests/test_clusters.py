"""HDBSCAN cluster areas: planted clusters, equality with scikit-learn, naming, stability."""

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from geo.io.crs import DEFAULT_ANALYSIS_CRS
from geo.stats.clusters import cluster_areas, hdbscan_labels


def _planted(seed=0):
    rng = np.random.default_rng(seed)
    centres = np.array([[500_000.0, 3_350_000.0], [510_000.0, 3_352_000.0],
                        [505_000.0, 3_340_000.0]])
    pts = [c + rng.normal(0, 300, (150, 2)) for c in centres]
    noise = rng.uniform([490_000, 3_330_000], [520_000, 3_360_000], (300, 2))
    xy = np.vstack([*pts, noise])
    return centres, xy


def _firms(xy, field="digital"):
    n = len(xy)
    frame = gpd.GeoDataFrame(
        {"group": "producer_services", "field": field, "division": "65",
         "employees": np.full(n, 10.0), "synthetic": True},
        geometry=shapely.points(xy), crs=DEFAULT_ANALYSIS_CRS,
    )
    return frame.to_crs("EPSG:4326")


def test_planted_clusters_are_recovered_as_areas_containing_their_centres():
    centres, xy = _planted()
    firms = _firms(xy)
    areas, labels = cluster_areas(firms, np.ones(len(xy), bool), min_cluster_size=40)
    assert len(areas) == 3
    projected = areas.to_crs(DEFAULT_ANALYSIS_CRS)
    for c in centres:
        assert projected.contains(shapely.Point(c)).sum() == 1
    assert (areas["n_firms"] >= 140).all()
    assert (areas["dominant_field"] == "digital").all()
    assert np.allclose(areas["share_digital"], 1.0)
    assert (areas["robust"]).all()
    assert areas["name_en"].str.contains("cluster").all()
    # areas are hulls, not bounding boxes: a few per cent of the 900 km2 extent
    assert (projected.area < 40e6).all()
    assert len(labels) == len(xy)


def test_hdbscan_package_gives_scikit_learns_clusters():
    from sklearn.cluster import HDBSCAN

    _, xy = _planted(1)
    ours = hdbscan_labels(xy[:, 0], xy[:, 1], 40)
    theirs = HDBSCAN(min_cluster_size=40, copy=True).fit_predict(xy)
    # the same partition up to the numbering of clusters (borderline points aside)
    table = pd.crosstab(ours, theirs)
    matched = table.max(axis=1).sum()
    assert matched / len(xy) > 0.995
    assert (table.drop(index=-1, errors="ignore").gt(0).sum(axis=0).drop(-1) == 1).all()


def test_names_come_from_the_town_holding_most_firms():
    centres, xy = _planted(2)
    firms = _firms(xy)
    town = gpd.GeoDataFrame(
        {"zone_id": ["t1"], "name_zh": ["梦想小镇"], "name_en": ["Dream Town"]},
        geometry=[shapely.Point(centres[0]).buffer(2000)], crs=DEFAULT_ANALYSIS_CRS,
    ).to_crs("EPSG:4326")
    areas, _ = cluster_areas(firms, np.ones(len(xy), bool), zones={"towns": town},
                             min_cluster_size=40, stability=False)
    named = areas[areas["town"] == "梦想小镇"]
    assert len(named) == 1 and named["name_zh"].iloc[0].startswith("梦想小镇 — 数字服务集群")
    assert named["town_share"].iloc[0] > 0.8
    assert areas["stability"].isna().all()


def test_lq_inside_areas_and_too_small_inputs():
    centres, xy = _planted(3)
    firms = _firms(xy)
    # make half the firms manufacturing, scattered: services concentrate in the clusters
    other = np.random.default_rng(0).uniform([490_000, 3_330_000], [520_000, 3_360_000],
                                            (750, 2))
    all_firms = pd.concat([firms, _firms(other).assign(group="manufacturing", field=None)],
                          ignore_index=True)
    focus = all_firms["group"].eq("producer_services").to_numpy()
    areas, _ = cluster_areas(all_firms, focus, min_cluster_size=40, stability=False)
    assert (areas["lq"] > 1.5).all()
    few, labels = cluster_areas(firms.iloc[:10], np.ones(10, bool), min_cluster_size=40)
    assert few.empty and (labels == -1).all()
    with pytest.raises(Exception, match="at least 2"):
        hdbscan_labels(xy[:, 0], xy[:, 1], 1)


def test_stability_re_runs_reuse_the_spanning_tree_and_equal_fresh_fits(tmp_path):
    import hdbscan

    _, xy = _planted(4)
    x, y = xy[:, 0], xy[:, 1]
    base = hdbscan_labels(x, y, 40, 40, cache=str(tmp_path))
    for size in (32, 50):  # 0.8 and 1.25 of 40, with the first fit's min_samples
        cached = hdbscan_labels(x, y, size, 40, cache=str(tmp_path))
        fresh = hdbscan.HDBSCAN(min_cluster_size=size, min_samples=40).fit_predict(xy)
        assert np.array_equal(cached, fresh)
    # one tree computed and stored for the three fits
    stored = [p for p in tmp_path.rglob("output.pkl")]
    assert len(stored) == 1
    assert np.array_equal(base, hdbscan_labels(x, y, 40))  # min_samples defaults to the size


def test_best_jaccard_overlap_equals_a_direct_count():
    from geo.stats.clusters import _jaccard_best

    rng = np.random.default_rng(5)
    for _ in range(20):
        base = rng.integers(-1, 6, 400)
        other = rng.integers(-1, 9, 400)
        other[rng.random(400) < 0.2] = -1
        want = {}
        for c in np.unique(base[base >= 0]):
            mine = base == c
            want[int(c)] = max([(mine & (other == d)).sum() / (mine | (other == d)).sum()
                                for d in np.unique(other[mine & (other >= 0)])], default=0.0)
        got = _jaccard_best(base, other)
        assert got.keys() == want.keys()
        assert all(abs(got[c] - want[c]) < 1e-15 for c in want)
    labels = np.array([0, 0, 1, 1, -1])
    assert _jaccard_best(labels, labels) == {0: 1.0, 1: 1.0}
    assert _jaccard_best(labels, np.full(5, -1)) == {0: 0.0, 1: 0.0}
