"""Tables about places: platform and town scorecards, producer-service clusters, proposed zones."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

from geo.io.industry import label
from geo.messages import pick
from geo.report.data import BASE_A, BASE_B, RunData
from geo.report.table import Column, ReportTable
from geo.report.tables import (
    PAIR,
    fields_of,
    layer_title,
    measure,
    name_column,
    rank_desc,
    total_weight,
    weight_unit,
    wide_measures,
)


def _area_name(frame: pd.DataFrame, lang: str) -> pd.Series:
    column = name_column(lang)
    return frame[column].astype(str) if column in frame else frame["name_zh"].astype(str)


def _inside(zones: gpd.GeoDataFrame, areas: gpd.GeoDataFrame) -> pd.Series:
    """Index of the zone that holds each area's representative point (-1: none)."""
    points = gpd.GeoDataFrame(geometry=areas.geometry.representative_point(), crs=areas.crs)
    joined = gpd.sjoin(points, zones[["geometry"]].reset_index(drop=True), how="left",
                       predicate="within")
    joined = joined[~joined.index.duplicated()]
    return joined["index_right"].fillna(-1).astype(int)


def scorecard_table(data: RunData, layer: str, lang: str) -> ReportTable:
    """One row per platform or town: firms by group and field, indices, ranks, clusters, zones."""
    wide = wide_measures(data, layer)
    fields = fields_of(data)
    unit = weight_unit(data, lang)
    frame = pd.DataFrame({
        "name": wide[name_column(lang)],
        "firms": total_weight(wide),
        "w_m": measure(wide, f"{BASE_A}:weight"),
        "w_ht": measure(wide, "high_tech:weight"),
        "w_s": measure(wide, f"{BASE_B}:weight"),
        **{f"w_{f}": measure(wide, f"{f}:weight") for f in fields},
        "lq_m": measure(wide, f"{BASE_A}:lq"),
        "lq_s": measure(wide, f"{BASE_B}:lq"),
        "quality": measure(wide, f"{PAIR}:coagg_quality"),
        "level": measure(wide, f"{PAIR}:coagg_level"),
    })
    peers = int(frame["quality"].notna().sum())
    frame["rank_quality"] = rank_desc(frame["quality"])
    frame["rank_level"] = rank_desc(frame["level"])
    frame["peers"] = peers
    zones = data.zones[layer].to_crs(_analysis_crs(data)).reset_index(drop=True)
    order = pd.Index(data.zones[layer]["zone_id"].astype(str))
    frame["clusters"], frame["cluster_names"] = 0, ""
    clusters = data.areas.get("ps_clusters")
    if clusters is not None and len(clusters):
        where = _inside(zones, clusters.to_crs(zones.crs))
        names = _area_name(clusters, lang)
        for i, zone_id in enumerate(order):
            inside = where.to_numpy() == i
            frame.loc[zone_id, "clusters"] = int(inside.sum())
            frame.loc[zone_id, "cluster_names"] = pick(lang, "；", "; ").join(names[inside])
    sites = data.areas.get("site_zones")
    frame["site"], frame["site_km"] = "", np.nan
    if sites is not None and len(sites):
        sites = sites.to_crs(zones.crs).reset_index(drop=True)
        labels = sites["label_zh" if lang == "zh" else "label_en"].astype(str)
        for i, zone_id in enumerate(order):
            gaps = sites.distance(zones.geometry.iloc[i]).to_numpy()
            nearest = int(np.argmin(gaps))
            frame.loc[zone_id, "site"] = labels.iloc[nearest]
            frame.loc[zone_id, "site_km"] = gaps[nearest] / 1000
    frame = frame.sort_values(["quality", "name"], ascending=[False, True], na_position="last")
    columns = [
        Column("name", pick(lang, "名称", "Name")),
        Column("firms", pick(lang, "企业总数", "All firms"), "int", unit),
        Column("w_m", pick(lang, "制造业", "Manufacturing"), "int", unit),
        Column("w_ht", pick(lang, "其中高技术制造业", "of which high-tech"), "int", unit),
        Column("w_s", pick(lang, "生产性服务业", "Producer services"), "int", unit),
        *[Column(f"w_{f}", label(f, lang), "int", unit) for f in fields],
        Column("lq_m", pick(lang, "制造业 LQ", "Manufacturing LQ"), "f2"),
        Column("lq_s", pick(lang, "生产性服务业 LQ", "Producer-service LQ"), "f2"),
        Column("quality", "C", "f3"),
        Column("level", "C′", "f3"),
        Column("rank_quality", pick(lang, "C 排名", "Rank by C"), "int"),
        Column("rank_level", pick(lang, "C′ 排名", "Rank by C′"), "int"),
        Column("peers", pick(lang, "参与排名数", "Ranked zones"), "int"),
        Column("clusters", pick(lang, "内部集群数", "Clusters inside"), "int"),
        Column("cluster_names", pick(lang, "内部集群", "Clusters inside (names)")),
        Column("site", pick(lang, "最近拟建集聚区", "Nearest proposed zone")),
        Column("site_km", pick(lang, "与拟建集聚区距离", "Distance to it"), "f1", "km"),
    ]
    title = layer_title(data, layer, lang)
    return ReportTable(
        f"cards_{layer}", pick(lang, f"{title}评分卡", f"{title}: scorecards"), frame, columns,
        pick(lang, "集群按其代表点所在的范围计入；与拟建集聚区的距离为两个范围之间的最短距离"
                   "（0 表示相交）。",
             "A cluster counts where its representative point lies; the distance to a proposed "
             "zone is the shortest distance between the two areas (0: they overlap)."),
        sheet=pick(lang, f"{title}评分卡", f"{title} cards")[:31], extra={"layer": layer})


def _analysis_crs(data: RunData) -> str:
    return str(data.manifest.get("parameters", {}).get("analysis_crs", "EPSG:4549"))


def cluster_table(data: RunData, lang: str) -> ReportTable | None:
    """Tabulate the producer-service clusters: size, field, area, stability and where they are."""
    if data.clusters is None or not len(data.clusters):
        return None
    c = data.clusters.copy()
    zh = lang == "zh"
    frame = pd.DataFrame({
        "name": _area_name(c, lang),
        "n_firms": c["n_firms"],
        "field": c["dominant_field"].map(lambda f: label(str(f), lang) if pd.notna(f) else ""),
        "area_km2": c["area_km2"],
        "stability": c.get("stability", pd.Series(np.nan, index=c.index)),
        "robust": c.get("robust", pd.Series(np.nan, index=c.index)).map(
            lambda v: pick(lang, "是", "yes") if v is True or str(v) == "True" else
            pick(lang, "否", "no")),
        "district": c["district" if zh else "district_en"],
        "platform": c["platform" if zh else "platform_en"],
        "town": c["town" if zh else "town_en"],
        "lon": c["centre_lon"], "lat": c["centre_lat"],
        "lon_gcj": c["centre_lon_gcj02"], "lat_gcj": c["centre_lat_gcj02"],
    })
    frame.index = c["cluster_id"].astype(str)
    columns = [
        Column("name", pick(lang, "集群", "Cluster")),
        Column("n_firms", pick(lang, "企业数", "Firms"), "int", pick(lang, "家", "firms")),
        Column("field", pick(lang, "主导领域", "Dominant field")),
        Column("area_km2", pick(lang, "面积", "Area"), "f1", "km²"),
        Column("stability", pick(lang, "稳定性", "Stability"), "f2"),
        Column("robust", pick(lang, "稳健", "Robust")),
        Column("district", pick(lang, "区县", "District")),
        Column("platform", pick(lang, "平台", "Platform")),
        Column("town", pick(lang, "小镇", "Town")),
        Column("lon", pick(lang, "中心经度 WGS84", "Centre lon WGS84"), "lonlat", "°"),
        Column("lat", pick(lang, "中心纬度 WGS84", "Centre lat WGS84"), "lonlat", "°"),
        Column("lon_gcj", pick(lang, "中心经度 GCJ-02", "Centre lon GCJ-02"), "lonlat", "°"),
        Column("lat_gcj", pick(lang, "中心纬度 GCJ-02", "Centre lat GCJ-02"), "lonlat", "°"),
    ]
    size = data.manifest.get("parameters", {}).get("min_cluster_size")
    return ReportTable(
        "clusters", pick(lang, "生产性服务业集群", "Producer-service clusters"), frame, columns,
        pick(lang, f"HDBSCAN 聚类（最小集群 {size} 家企业）；"
                   "稳定性为重复抽样中再次找到该集群的比例，稳健 = 稳定性不低于 0.5。"
                   "GCJ-02 坐标用于高德、腾讯地图。",
             f"HDBSCAN clusters (minimum cluster size {size} firms); stability is the share of "
             "re-runs on resampled firms that find the cluster again, robust = stability of "
             "0.5 or more. GCJ-02 coordinates are for Amap and Tencent maps."),
        sheet=pick(lang, "集群", "Clusters"))


def site_table(data: RunData, lang: str) -> ReportTable | None:
    """Tabulate the proposed producer-service zones: where, how big, what they cover and why."""
    if data.sites is None or not len(data.sites):
        return None
    s = data.sites
    zh = lang == "zh"
    unit = data.manifest.get("siting", {}).get("demand_unit_zh" if zh else "demand_unit_en", "")
    frame = pd.DataFrame({
        "rank": s["rank"], "name": s["name_zh" if zh else "name_en"],
        "lon": s["centre_lon"], "lat": s["centre_lat"],
        "lon_gcj": s["centre_lon_gcj02"], "lat_gcj": s["centre_lat_gcj02"],
        "radius_km": s["radius_m"] / 1000, "demand": s["demand"],
        "covered": s["unmet_covered"],
        "access_before": s["access_before"], "access_after": s["access_after"],
        "reason": s["reason_zh" if zh else "reason_en"],
    })
    frame.index = s["rank"].astype(str)
    columns = [
        Column("rank", pick(lang, "序号", "Rank"), "int"),
        Column("name", pick(lang, "名称", "Name")),
        Column("lon", pick(lang, "中心经度 WGS84", "Centre lon WGS84"), "lonlat", "°"),
        Column("lat", pick(lang, "中心纬度 WGS84", "Centre lat WGS84"), "lonlat", "°"),
        Column("lon_gcj", pick(lang, "中心经度 GCJ-02", "Centre lon GCJ-02"), "lonlat", "°"),
        Column("lat_gcj", pick(lang, "中心纬度 GCJ-02", "Centre lat GCJ-02"), "lonlat", "°"),
        Column("radius_km", pick(lang, "服务半径", "Radius"), "f1", "km"),
        Column("demand", pick(lang, "半径内制造业需求", "Manufacturing demand within radius"),
               "int", unit),
        Column("covered", pick(lang, "新增覆盖的未满足需求", "Unmet demand newly covered"),
               "int", unit),
        Column("access_before", pick(lang, "可达性（建前，占全市平均）",
                                     "Access before (share of city average)"), "pct"),
        Column("access_after", pick(lang, "可达性（建后，占全市平均）",
                                    "Access after (share of city average)"), "pct"),
        Column("reason", pick(lang, "理由", "Reasons")),
    ]
    return ReportTable(
        "sites", pick(lang, "拟建生产性服务业集聚区", "Proposed producer-service zones"),
        frame, columns,
        pick(lang, "GCJ-02 坐标用于高德、腾讯地图；WGS84 用于 GPS、QGIS 与 ArcGIS。",
             "GCJ-02 coordinates are for Amap and Tencent maps; WGS84 for GPS, QGIS and "
             "ArcGIS."),
        sheet=pick(lang, "拟建集聚区", "Proposed zones"))


def siting_summary(data: RunData, lang: str) -> ReportTable | None:
    """Tabulate what the proposed zones change: demand covered before and after."""
    s = data.manifest.get("siting")
    if not s:
        return None
    unit = s.get("demand_unit_zh" if lang == "zh" else "demand_unit_en", "")
    items = [
        ("n_proposed", pick(lang, "拟建集聚区数", "Zones proposed"), s.get("n_proposed"), "int",
         pick(lang, "处", "zones")),
        ("demand_total", pick(lang, "制造业需求总量", "Manufacturing demand"),
         s.get("demand_total"), "int", unit),
        ("unmet_before", pick(lang, "未满足需求（建前）", "Unmet demand before"),
         s.get("unmet_before"), "int", unit),
        ("unmet_covered", pick(lang, "新增覆盖的未满足需求", "Unmet demand newly covered"),
         s.get("unmet_covered_by_new_zones"), "int", unit),
        ("unmet_after", pick(lang, "未满足需求（建后）", "Unmet demand after"),
         s.get("unmet_after"), "int", unit),
        ("share_before", pick(lang, "集群服务半径内的需求占比（建前）",
                              "Demand within reach of a cluster, before"),
         s.get("share_covered_before"), "pct", ""),
        ("share_after", pick(lang, "集群或拟建区服务半径内的需求占比（建后）",
                             "Demand within reach of a cluster or proposed zone, after"),
         s.get("share_covered_after"), "pct", ""),
    ]
    frame = pd.DataFrame({"item": [i[1] for i in items], "value": [i[2] for i in items],
                          "unit": [i[4] for i in items]}, index=[i[0] for i in items])
    return ReportTable(
        "siting", pick(lang, "选址结果概要", "Siting in figures"), frame,
        [Column("item", pick(lang, "项目", "Item")), Column("value", pick(lang, "数值", "Value")),
         Column("unit", pick(lang, "单位", "Unit"))],
        pick(lang, f"模型 {s.get('options', {}).get('method', '')}，求解器 {s.get('solver', '')}，"
                   f"状态 {s.get('status', '')}。",
             f"Model {s.get('options', {}).get('method', '')}, solver {s.get('solver', '')}, "
             f"status {s.get('status', '')}."),
        sheet=pick(lang, "选址概要", "Siting"), row_formats={i[0]: i[3] for i in items})
