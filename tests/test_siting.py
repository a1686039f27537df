"""Siting of new producer-service zones: a hand-computed fixture and the CLI."""

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from typer.testing import CliRunner

from geo.cli import app
from geo.errors import ConfigError
from geo.siting import SiteOptions, site_zones

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
    result = site_zones(_firms(), _zones(), SiteOptions(**OPTIONS), candidates=_candidates(),
                        clusters=cluster, analysis_crs=CRS)
    c = result.candidates.set_index("candidate_id")
    assert not c.loc["C2", "eligible"] and "cluster" in c.loc["C2", "excluded"]
    assert result.sites["candidate_id"].iloc[0] != "C2"
    # a weak (not robust) cluster does not exclude
    weak = cluster.assign(robust=False)
    kept = site_zones(_firms(), _zones(), SiteOptions(**OPTIONS), candidates=_candidates(),
                      clusters=weak, analysis_crs=CRS)
    assert kept.sites["candidate_id"].iloc[0] == "C2"
    # platform mask: only C3 lies in the platform
    platform = shapely.box(X0 + 4000, Y0 + 2000, X0 + 6000, Y0 + 4000)
    masked = site_zones(_firms(), _zones(platform), SiteOptions(**{**OPTIONS, "mask": "platforms"}),
                        candidates=_candidates(), analysis_crs=CRS)
    assert masked.candidates["eligible"].tolist() == [False, False, True]
    assert masked.sites["candidate_id"].tolist() == ["C3"]
    assert masked.sites["platform"].iloc[0] == "乙平台"
    with pytest.raises(ConfigError, match="fewer than k"):
        site_zones(_firms(), _zones(platform), SiteOptions(**{**OPTIONS, "mask": "platforms",
                                                              "k": 2}),
                   candidates=_candidates(), analysis_crs=CRS)


def test_one_per_platform_and_spacing():
    # two candidates at B inside one platform, one at A outside
    spots = ((5000, 0), (5100, 0), (500, 0))
    platform = shapely.box(X0 + 4500, Y0 - 500, X0 + 5500, Y0 + 500)
    base = {**OPTIONS, "k": 2}
    free = site_zones(_firms(), _zones(platform), SiteOptions(**base),
                      candidates=_candidates(spots), analysis_crs=CRS)
    limited = site_zones(_firms(), _zones(platform), SiteOptions(**base, one_per_platform=True),
                         candidates=_candidates(spots), analysis_crs=CRS)
    spaced = site_zones(_firms(), _zones(platform), SiteOptions(**base, min_spacing=1000),
                        candidates=_candidates(spots), analysis_crs=CRS)
    for result in (limited, spaced):
        assert sorted(result.sites["candidate_id"]) in (["C1", "C3"], ["C2", "C3"])
    # unconstrained, a second site at B adds nothing but is allowed; covered demand
    # never falls when a zone is added
    assert free.summary["unmet_covered_by_new_zones"] >= limited.summary[
        "unmet_covered_by_new_zones"] - 1e-9


def test_adding_zones_never_lowers_coverage_and_is_deterministic():
    from geo.seed import generate_firms
    from geo.zones import load_layer

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
    assert set(table["candidate_id"]) == {"P1", "P2"}  # P3 lies outside the mask
    assert table["name_zh"].str.contains("甲园|乙园").all()
    bad = CliRunner().invoke(app, ["site", "--n", "2000", "--method", "greedy",
                                   "--out", str(tmp_path / "x")])
    assert bad.exit_code != 0 and "unknown method" in bad.output
