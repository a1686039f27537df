"""Siting of new producer-service zones: a hand-computed fixture and the CLI."""

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from typer.testing import CliRunner

from geo.cli import app
from geo.errors import ConfigError, InputError
from geo.siting.study import SiteOptions, site_zones

CRS = "EPSG:4549"
X0, Y0 = 510_000.0, 3_350_000.0


def _frame(rows, crs=CRS):
    x, y = zip(*[(X0 + r[0], Y0 + r[1]) for r in rows], strict=True)
    return gpd.GeoDataFrame(geometry=gpd.points_from_xy(x, y), crs=crs)


def _firms():
    # supply S at (0, 0); demand A (2 firms) 500 m away; demand B (3 firms) 5 km away
    spots = [(0, 0, "producer_services", "digital"), (500, 0, "manufacturing", None),
             (500, 0, "manufacturing", None), (5000, 0, "manufacturing", None),
             (5000, 0, "manufacturing", None), (5000, 0, "manufacturing", None)]
    firms = _frame([(s[0], s[1]) for s in spots])
    firms["group"] = [s[2] for s in spots]
    firms["field"] = [s[3] for s in spots]
    firms["high_tech"] = [False, True, False, False, False, False]
    firms["employees"] = [10.0, 20, 30, 1, 1, 1]
    return firms


def _zones(platform=None):
    box = shapely.box(X0 - 3000, Y0 - 3000, X0 + 9000, Y0 + 6000)
    districts = gpd.GeoDataFrame({"zone_id": ["D1"], "name_zh": ["甲区"], "name_en": ["Jia"]},
                                 geometry=[box], crs=CRS).to_crs("EPSG:4326")
    zones = {"districts": districts}
    if platform is not None:
        zones["platforms"] = gpd.GeoDataFrame(
            {"zone_id": ["P1"], "name_zh": ["乙平台"], "name_en": ["Yi platform"]},
            geometry=[platform], crs=CRS).to_crs("EPSG:4326")
    return zones


def _candidates(spots=((500, 0), (5000, 0), (5000, 3000))):
    frame = _frame(spots)
    frame["candidate_id"] = [f"C{i + 1}" for i in range(len(frame))]
    return frame


OPTIONS = dict(k=1, radius=1000.0, decay="uniform", mask="none", zone_supply=1.0)


def test_hand_computed_case():
    result = site_zones(_firms(), _zones(), SiteOptions(**OPTIONS), candidates=_candidates(),
                        analysis_crs=CRS)
    c = result.candidates.set_index("candidate_id")
    # 2SFCA: R_S = 1 / 2; A = 0.5 for A's firms, 0 for B's; city ratio 1 / 5
    assert c.loc["C1", "demand"] == 2 and c.loc["C1", "supply"] == 1
    assert c.loc["C1", "access_before"] == pytest.approx(0.5 / 0.2)
    assert c.loc["C1", "unmet_demand"] == 0
    assert c.loc["C2", "unmet_demand"] == pytest.approx(3.0)
    assert c.loc["C2", "access_before"] == 0
    assert np.isnan(c.loc["C3", "access_before"]) and c.loc["C3", "demand"] == 0
    # LQ within 1 km of C1: 2 of 3 firms manufacturing vs 5 of 6 in the city; 1 of 3 services
    assert c.loc["C1", "lq_manufacturing"] == pytest.approx((2 / 3) / (5 / 6))
    assert c.loc["C1", "lq_producer_services"] == pytest.approx((1 / 3) / (1 / 6))
    assert c.loc["C1", "coagg_quality"] == pytest.approx(1 - 1.2 / 2.8)
    site = result.sites.iloc[0]
    assert site["candidate_id"] == "C2" and site["rank"] == 1
    assert site["unmet_covered"] == pytest.approx(3.0)
    # one unit of supply among 3 demand: A = 1/3, relative to the city 1/3 / 0.2
    assert site["access_after"] == pytest.approx((1 / 3) / 0.2)
    assert site["district"] == "甲区" and site["district_en"] == "Jia"
    assert "甲区" in site["reason_zh"] and "未满足需求 3" in site["reason_zh"]
    assert "Jia" in site["reason_en"] and "newly covers 3" in site["reason_en"]
    s = result.summary
    assert s["unmet_before"] == pytest.approx(3.0) and s["unmet_after"] == pytest.approx(0.0)
    assert s["share_covered_before"] == 0 and s["share_covered_after"] == pytest.approx(0.6)
    assert s["status"] == "optimal"
    # the catchment is the service-radius circle around the site (area pi r^2)
    area = result.catchments.to_crs(CRS).area.iloc[0]
    assert area == pytest.approx(np.pi * 1000**2, rel=2e-3)


def test_weighting_and_high_tech():
    options = SiteOptions(**{**OPTIONS, "weighting": "employment", "high_tech_weight": 2.0})
    result = site_zones(_firms(), _zones(), options, candidates=_candidates(), analysis_crs=CRS)
    c = result.candidates.set_index("candidate_id")
    assert c.loc["C1", "demand"] == 20 * 2 + 30 and c.loc["C1", "supply"] == 10
    assert c.loc["C2", "demand"] == 3


def test_zero_weights_say_why():
    firms = _firms()
    firms.loc[firms["group"] == "manufacturing", "employees"] = np.nan
    with pytest.raises(Exception, match="employees"):
        site_zones(firms, _zones(), SiteOptions(**{**OPTIONS, "weighting": "employment"}),
                   candidates=_candidates(), analysis_crs=CRS)


def test_field_filter_and_unknown_field():
    with pytest.raises(Exception, match="no producer-service firms in field finance"):
        site_zones(_firms(), _zones(), SiteOptions(**{**OPTIONS, "field": "finance"}),
                   candidates=_candidates(), analysis_crs=CRS)
    with pytest.raises(ConfigError, match="unknown field"):
        SiteOptions(field="banking").check()


def test_clusters_and_masks_exclude_candidates():
    cluster = gpd.GeoDataFrame({"robust": [True]}, geometry=[shapely.Point(X0 + 5000, Y0)
                                                              .buffer(200)], crs=CRS)
    # C4 also reaches B, from outside the cluster
    spots = ((500, 0), (5000, 0), (5000, 3000), (5600, 0))
    result = site_zones(_firms(), _zones(), SiteOptions(**OPTIONS), candidates=_candidates(spots),
                        clusters=cluster, analysis_crs=CRS)
    c = result.candidates.set_index("candidate_id")
    assert not c.loc["C2", "eligible"] and "cluster" in c.loc["C2", "excluded"]
    assert result.sites["candidate_id"].tolist() == ["C4"]
    # a weak (not robust) cluster does not exclude
    weak = cluster.assign(robust=False)
    kept = site_zones(_firms(), _zones(), SiteOptions(**OPTIONS), candidates=_candidates(),
                      clusters=weak, analysis_crs=CRS)
    assert kept.sites["candidate_id"].iloc[0] == "C2"
    # platform mask: C2 and C3 lie in the platform
    platform = shapely.box(X0 + 4000, Y0 - 1000, X0 + 6000, Y0 + 4000)
    masked = site_zones(_firms(), _zones(platform), SiteOptions(**{**OPTIONS, "mask": "platforms"}),
                        candidates=_candidates(), analysis_crs=CRS)
    assert masked.candidates["eligible"].tolist() == [False, True, True]
    assert masked.sites["candidate_id"].tolist() == ["C2"]
    assert masked.sites["platform"].iloc[0] == "乙平台"
    # k = 2, but C3 has no manufacturing in reach: one zone is proposed, and the notes say so
    fewer = site_zones(_firms(), _zones(platform),
                       SiteOptions(**{**OPTIONS, "mask": "platforms", "k": 2}),
                       candidates=_candidates(), analysis_crs=CRS)
    assert fewer.sites["candidate_id"].tolist() == ["C2"]
    assert fewer.summary["n_proposed"] == 1 and "only 1 of the 2" in fewer.summary["notes"][0]
    # only C3 in the platform: nothing worth proposing, and the error says why
    far = shapely.box(X0 + 4000, Y0 + 2000, X0 + 6000, Y0 + 4000)
    with pytest.raises(InputError, match="no eligible candidate has unmet"):
        site_zones(_firms(), _zones(far), SiteOptions(**{**OPTIONS, "mask": "platforms"}),
                   candidates=_candidates(), analysis_crs=CRS)
    with pytest.raises(ConfigError, match="no candidate remains"):
        site_zones(_firms(), _zones(platform), SiteOptions(**{**OPTIONS, "mask": "platforms"}),
                   candidates=_candidates(((0, 0),)), analysis_crs=CRS)


def _underserved_a():
    """The fixture's firms plus four far producer services: A gets half the city average."""
    firms = _firms()
    far = _frame([(8000, 5000)] * 4)
    far["group"], far["field"], far["high_tech"], far["employees"] = (
        "producer_services", "digital", False, 10.0)
    return pd.concat([firms, far], ignore_index=True)


def test_one_per_platform_and_spacing():
    # two candidates at B inside one platform, one at A outside
    spots = ((5000, 0), (5100, 0), (500, 0))
    platform = shapely.box(X0 + 4500, Y0 - 500, X0 + 5500, Y0 + 500)
    base = {**OPTIONS, "k": 2}
    firms = _underserved_a()
    free = site_zones(firms, _zones(platform), SiteOptions(**base),
                      candidates=_candidates(spots), analysis_crs=CRS)
    limited = site_zones(firms, _zones(platform), SiteOptions(**base, one_per_platform=True),
                         candidates=_candidates(spots), analysis_crs=CRS)
    spaced = site_zones(firms, _zones(platform), SiteOptions(**base, min_spacing=1000),
                        candidates=_candidates(spots), analysis_crs=CRS)
    for result in (free, limited, spaced):
        assert sorted(result.sites["candidate_id"]) in (["C1", "C3"], ["C2", "C3"])
        assert result.sites["unmet_covered"].tolist() == pytest.approx([3.0, 1.0])
    # with A served, a second zone would add nothing: one zone, and the notes say why
    served = site_zones(_firms(), _zones(platform), SiteOptions(**base, one_per_platform=True),
                        candidates=_candidates(spots), analysis_crs=CRS)
    assert served.sites["candidate_id"].tolist() in (["C1"], ["C2"])
    assert "one zone per platform" in served.summary["notes"][0]


def _two_platforms():
    zones = _zones()
    zones["platforms"] = gpd.GeoDataFrame(
        {"zone_id": ["P1", "P2"], "name_zh": ["乙平台", "丙平台"],
         "name_en": ["Yi platform", "Bing platform"]},
        geometry=[shapely.box(X0 + 4500, Y0 - 500, X0 + 5500, Y0 + 500),
                  shapely.box(X0 + 7000, Y0 + 4000, X0 + 9000, Y0 + 6000)],
        crs=CRS).to_crs("EPSG:4326")
    return zones


@pytest.mark.parametrize("method", ["mclp", "p-median"])
def test_one_per_platform_never_forces_a_zone_without_demand(method):
    """Issue 13, 8: k = 2, one per platform, the second platform has no firm in reach.

    The zone there added nothing, its reason read "区位熵 nan", and its unit was
    employees although the demand was high-tech weighted.
    """
    spots = ((5000, 0), (5100, 0), (8000, 5000))
    options = SiteOptions(**{**OPTIONS, "k": 2, "mask": "platforms", "method": method,
                             "one_per_platform": True, "weighting": "employment",
                             "high_tech_weight": 2.0})
    result = site_zones(_firms(), _two_platforms(), options, candidates=_candidates(spots),
                        analysis_crs=CRS)
    assert result.sites["candidate_id"].tolist() in (["C1"], ["C2"])
    assert (result.sites["unmet_covered"] > 0).all()
    assert result.summary["n_proposed"] == 1
    assert "only 1 of the 2" in result.summary["notes"][0]
    # the candidate in the empty platform is scored, but its LQ is undefined
    c = result.candidates.set_index("candidate_id")
    assert c.loc["C3", "demand"] == 0 and np.isnan(c.loc["C3", "lq_producer_services"])
    for zh, en in zip(result.sites["reason_zh"], result.sites["reason_en"], strict=True):
        assert "加权从业人员（高技术制造业×2）" in zh and "名从业人员" not in zh
        assert "weighted employees (high-tech ×2)" in en


def _assert_reasons(sites, unit_zh, unit_en):
    assert len(sites) > 0
    for zh, en in zip(sites["reason_zh"], sites["reason_en"], strict=True):
        assert "nan" not in zh.lower() and "nan" not in en.lower(), (zh, en)
        assert f" {unit_zh}，" in zh, zh
        assert f" {unit_en} within" in en, en


def test_reasons_have_the_unit_of_the_weighting_and_no_nan():
    from geo.io.seed import generate_firms
    from geo.io.zones import load_layer

    # the reported case: five platforms, one zone each, on a population so small that
    # one platform has no manufacturing in reach
    firms = generate_firms(300, 1).firms
    zones = {n: load_layer(n) for n in ("districts", "platforms", "towns")}
    weighted = site_zones(firms, zones, SiteOptions(
        k=5, mask="platforms", one_per_platform=True, weighting="employment",
        high_tech_weight=2.0, seed=1))
    assert (weighted.sites["unmet_covered"] > 0).all() and (weighted.sites["demand"] > 0).all()
    assert len(weighted.sites) == weighted.summary["n_proposed"] < 5
    assert weighted.summary["notes"]
    _assert_reasons(weighted.sites, "加权从业人员（高技术制造业×2）",
                    "weighted employees (high-tech ×2)")
    counted = site_zones(firms, zones, SiteOptions(k=3, mask="none", cell=3000, seed=1))
    _assert_reasons(counted.sites, "家企业", "firms")
    employed = site_zones(firms, zones, SiteOptions(k=3, mask="none", cell=3000, seed=1,
                                                    weighting="employment"))
    _assert_reasons(employed.sites, "名从业人员", "employees")
    weighted_count = site_zones(firms, zones, SiteOptions(k=3, mask="none", cell=3000, seed=1,
                                                          high_tech_weight=1.5))
    _assert_reasons(weighted_count.sites, "加权企业数（高技术制造业×1.5）",
                    "weighted firms (high-tech ×1.5)")


def test_adding_zones_never_lowers_coverage_and_is_deterministic():
    from geo.io.seed import generate_firms
    from geo.io.zones import load_layer

    firms = generate_firms(4000, 3).firms
    zones = {n: load_layer(n) for n in ("districts", "platforms", "towns")}
    covered = []
    for k in (1, 2, 4):
        result = site_zones(firms, zones, SiteOptions(k=k, cell=3000, mask="built-up", seed=5))
        covered.append(result.summary["unmet_covered_by_new_zones"])
        assert result.summary["share_covered_after"] >= result.summary["share_covered_before"]
        assert result.summary["unmet_after"] <= result.summary["unmet_before"] + 1e-9
        # ranks follow the unmet demand each zone adds
        assert result.sites["unmet_covered"].is_monotonic_decreasing
    assert covered == sorted(covered)
    again = site_zones(firms, zones, SiteOptions(k=4, cell=3000, mask="built-up", seed=5))
    pd.testing.assert_frame_equal(result.sites.drop(columns="geometry"),
                                  again.sites.drop(columns="geometry"))


@pytest.mark.slow
def test_cli_writes_ranked_zones(tmp_path):
    out = tmp_path / "sites"
    result = CliRunner().invoke(app, ["site", "--n", "4000", "--k", "2", "--cell", "2000",
                                      "--out", str(out)])
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["synthetic"] is True and summary["solver"].startswith("HiGHS")
    table = pd.read_csv(out / "sites.csv")
    assert table["rank"].tolist() == [1, 2] and table["reason_zh"].str.contains("未满足需求").all()
    zones = gpd.read_file(out / "sites.gpkg", layer="site_zones").to_crs("EPSG:4326")
    centres = gpd.points_from_xy(table["centre_lon"], table["centre_lat"], crs="EPSG:4326")
    assert zones.geometry.contains(gpd.GeoSeries(centres, index=zones.index)).all()
    assert (table["centre_lat_gcj02"] != table["centre_lat"]).all()
    layers = gpd.list_layers(out / "sites.gpkg")["name"].tolist()
    assert {"site_zones", "site_catchments", "site_candidates"} <= set(layers)
    assert "拟建生产性服务业集聚区" in (out / "map.html").read_text(encoding="utf-8")
    # user candidate points and a user mask polygon (WGS84 GeoJSON files)
    candidates = gpd.GeoDataFrame(
        {"id": ["P1", "P2", "P3"], "name": ["甲园", "乙园", "丙园"]},
        geometry=[shapely.Point(120.25, 30.3), shapely.Point(120.5, 30.25),
                  shapely.Point(119.95, 30.05)], crs="EPSG:4326")
    candidates.to_file(tmp_path / "candidates.geojson")
    gpd.GeoDataFrame(geometry=[shapely.box(120.0, 30.0, 120.6, 30.4)], crs="EPSG:4326").to_file(
        tmp_path / "mask.geojson")
    own = CliRunner().invoke(app, [
        "site", "--n", "4000", "--k", "2", "--candidates", str(tmp_path / "candidates.geojson"),
        "--mask", str(tmp_path / "mask.geojson"), "--keep-clusters", "--out", str(tmp_path / "o")])
    assert own.exit_code == 0, own.output
    table = pd.read_csv(tmp_path / "o" / "sites.csv")
    # P3 lies outside the mask; P1 would add no unmet demand, so one zone, and a note
    assert set(table["candidate_id"]) == {"P2"}
    assert table["name_zh"].str.contains("乙园").all()
    assert "only 1 of the 2" in own.output
    bad = CliRunner().invoke(app, ["site", "--n", "2000", "--method", "greedy",
                                   "--out", str(tmp_path / "x")])
    assert bad.exit_code != 0 and "unknown method" in bad.output


# ---------------------------------------------------------------- against brute force
# Independent references: plain numpy all-pairs matrices on integer points, with duplicate
# points and pairs exactly at the radius (3-4-5 offsets), which count (d <= radius).


def _within(a_xy, b_xy, radius):
    d2 = ((a_xy[:, None, :] - b_xy[None, :, :]) ** 2).sum(axis=2)
    return d2 <= radius**2, d2


def _lattice_firms(seed, n=500, step=100.0, side=20):
    rng = np.random.default_rng(seed)
    cells = rng.integers(0, side, (n, 2))
    cells[:40] = cells[40:80]  # duplicate locations
    firms = _frame([tuple(c * step) for c in cells])
    firms["group"] = rng.choice(["manufacturing", "producer_services", "other"], n,
                                p=[0.45, 0.35, 0.2])
    firms["field"] = np.where(firms["group"].eq("producer_services"), "digital", None)
    firms["high_tech"] = rng.random(n) < 0.3
    firms["employees"] = rng.integers(1, 200, n).astype(float)
    return firms


@pytest.mark.parametrize("decay", ["uniform", "gaussian"])
@pytest.mark.parametrize("weighting", ["count", "employment"])
def test_candidate_scores_equal_brute_force(decay, weighting):
    firms = _lattice_firms(4)
    radius = 500.0  # lattice step 100 m: offsets (300, 400) and (500, 0) lie exactly on it
    spots = [(x, y) for x in range(0, 2000, 300) for y in range(0, 2000, 400)]
    options = SiteOptions(k=2, radius=radius, decay=decay, weighting=weighting, mask="none",
                          zone_supply=5.0, high_tech_weight=2.0)
    result = site_zones(firms, _zones(), options, candidates=_candidates(spots))
    xy = np.c_[firms.geometry.x, firms.geometry.y]
    site_xy = np.array(spots, dtype=float) + [X0, Y0]
    weight = np.ones(len(firms)) if weighting == "count" else firms["employees"].to_numpy()
    manufacturing = firms["group"].eq("manufacturing").to_numpy()
    services = firms["group"].eq("producer_services").to_numpy()
    demand = np.where(manufacturing, weight * np.where(firms["high_tech"], 2.0, 1.0), 0.0)
    supply = np.where(services, weight, 0.0)
    city_ratio = supply.sum() / demand.sum()

    def brute_2sfca(supply_xy, supply_weight):
        # R_j = S_j / sum_k P_k f(d_kj), A_i = sum_j R_j f(d_ij), from the formulas
        inside, d2 = _within(supply_xy, xy[manufacturing], radius)
        if decay == "uniform":
            f = inside.astype(float)
        else:
            edge = np.exp(-0.5)
            f = np.where(inside & (d2 < radius**2),
                         (np.exp(-0.5 * d2 / radius**2) - edge) / (1 - edge), 0.0)
        reached = f @ demand[manufacturing]
        ratio = np.divide(supply_weight, reached, out=np.zeros_like(reached), where=reached > 0)
        relative = np.zeros(len(firms))
        relative[manufacturing] = (f.T @ ratio) / city_ratio
        return relative

    _, d2 = _within(xy[services], xy[manufacturing], radius)
    assert (d2 == radius**2).any() and (d2 == 0).any()
    relative = brute_2sfca(xy[services], supply[services])
    unmet = demand * np.clip(1 - relative, 0, None)
    near, _ = _within(site_xy, xy, radius)
    candidates = result.candidates.set_index("candidate_id").loc[
        [f"C{i + 1}" for i in range(len(spots))]]
    for column, want in (("demand", near @ demand), ("supply", near @ supply),
                         ("unmet_demand", near @ unmet)):
        np.testing.assert_allclose(candidates[column], want, rtol=1e-12, atol=1e-9, err_msg=column)
    with np.errstate(invalid="ignore", divide="ignore"):
        access_before = (near @ (demand * relative)) / (near @ demand)
    np.testing.assert_allclose(candidates["access_before"], access_before, rtol=1e-12)
    # after: the chosen zones add zone_supply each at their site
    chosen = [int(c[1:]) - 1 for c in result.sites["candidate_id"]]
    after = brute_2sfca(np.r_[xy[services], site_xy[chosen]],
                        np.r_[supply[services], np.full(len(chosen), 5.0)])
    assert result.summary["unmet_after"] == pytest.approx(
        (demand * np.clip(1 - after, 0, None)).sum(), rel=1e-12)
    np.testing.assert_allclose(result.sites["access_after"],
                               (near[chosen] @ (demand * after)) / (near[chosen] @ demand),
                               rtol=1e-12)
    # the chosen zones are ranked by the unmet demand each adds, greedily
    left = unmet[manufacturing].copy()
    for site, covered in zip(chosen, result.sites["unmet_covered"], strict=True):
        reach = near[site][manufacturing]
        assert covered == pytest.approx(left[reach].sum(), rel=1e-12)
        left[reach] = 0.0


def test_rank_equals_brute_force_greedy():
    from geo.siting.study import _rank

    rng = np.random.default_rng(9)
    demand_xy = rng.integers(0, 40, (400, 2)).astype(float) + [X0, Y0]
    demand_xy[:30] = demand_xy[30:60]
    unmet = rng.random(400) * (rng.random(400) < 0.7)
    sites_xy = rng.integers(0, 40, (12, 2)).astype(float) + [X0, Y0]
    sites_xy[5] = sites_xy[2]  # two sites at one spot: the first wins their tie, then adds 0
    radius = 5.0
    reach, d2 = _within(sites_xy, demand_xy, radius)
    assert (d2 == radius**2).sum() > 5
    left, want_order, want_gain = unmet.copy(), [], []
    remaining = list(range(len(sites_xy)))
    while remaining:
        gains = reach[remaining] @ left
        best = remaining.pop(int(np.argmax(gains)))
        want_order.append(best)
        want_gain.append(left[reach[best]].sum())
        left[reach[best]] = 0.0
    order, gain = _rank(demand_xy, unmet, sites_xy, radius)
    assert order.tolist() == want_order
    np.testing.assert_allclose(gain, want_gain, rtol=1e-12, atol=0)
    assert gain[want_order.index(5)] == 0.0


def test_sums_within_equal_brute_force_with_ties():
    from geo.siting.study import _sums_within

    rng = np.random.default_rng(2)
    points = rng.integers(0, 30, (300, 2)).astype(float) + [X0, Y0]
    points[:20] = points[20:40]
    centres = np.r_[rng.integers(-5, 35, (60, 2)).astype(float) + [X0, Y0], points[:5]]
    columns = rng.random((300, 4))
    near, d2 = _within(centres, points, 5.0)
    assert (d2 == 25).sum() > 5
    np.testing.assert_allclose(_sums_within(centres, points, 5.0, columns), near @ columns,
                               rtol=1e-12, atol=0)
