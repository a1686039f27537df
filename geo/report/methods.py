"""Tables of the data-and-methods section: the input's checks, the zone layers, the parameters."""

from __future__ import annotations

import pandas as pd

from geo.messages import pick
from geo.report.data import RunData
from geo.report.table import Column, ReportTable
from geo.report.tables import layer_title

SYNTHETIC_ZH = "合成数据：企业为模拟生成，非真实登记信息"
SYNTHETIC_EN = "Synthetic data: the enterprises are simulated, not a real register"


def _items(rows: list[tuple[str, str, object, str]]) -> tuple[pd.DataFrame, dict[str, str]]:
    frame = pd.DataFrame({"item": [r[1] for r in rows], "value": [r[2] for r in rows]},
                         index=[r[0] for r in rows])
    return frame, {r[0]: r[3] for r in rows}


def input_table(data: RunData, lang: str) -> ReportTable:
    """Rows read, kept, rejected and flagged, with every reason and its count."""
    e = data.manifest.get("enterprises", {})
    firms = data.manifest.get("inputs", {}).get("firms", {})
    source = pick(lang, "合成企业样本", "synthetic population") if data.synthetic else \
        str(firms.get("path", firms) if isinstance(firms, dict) else firms)
    rows = [
        ("source", pick(lang, "企业数据", "Enterprises"), source, "text"),
        ("n_read", pick(lang, "读入行数", "Rows read"), e.get("n_read"), "int"),
        ("n_valid", pick(lang, "有效企业", "Valid firms"), e.get("n_valid"), "int"),
        ("n_rejected", pick(lang, "剔除（见 rejects.csv）", "Rejected (see rejects.csv)"),
         e.get("n_rejected"), "int"),
        ("n_flagged", pick(lang, "有标记（见 flagged.csv）", "Flagged (see flagged.csv)"),
         e.get("n_flagged", 0), "int"),
        ("n_suspect_position", pick(lang, "位置存疑（地理编码回退点等）",
                                    "Suspect positions (geocoder fallbacks etc.)"),
         e.get("n_suspect_position", 0), "int"),
        ("n_snapped", pick(lang, "边界外移入研究区（--boundary-tolerance）",
                           "Moved inside the study area (--boundary-tolerance)"),
         e.get("n_snapped", 0), "int"),
        ("blank_rows", pick(lang, "空行（跳过）", "Blank rows (skipped)"), e.get("blank_rows", 0),
         "int"),
    ]
    for kind, what in (("rejected_by_reason", pick(lang, "剔除原因", "Rejected because")),
                       ("flagged_by_reason", pick(lang, "标记原因", "Flagged because"))):
        for i, (reason, count) in enumerate(sorted(e.get(kind, {}).items())):
            rows.append((f"{kind}:{i}", f"{what}：{reason}" if lang == "zh" else
                         f"{what}: {reason}", count, "int"))
    frame, formats = _items(rows)
    return ReportTable(
        "inputs", pick(lang, "输入数据检查", "Checks of the input"), frame,
        [Column("item", pick(lang, "项目", "Item")), Column("value", pick(lang, "数值", "Value"))],
        pick(lang, "剔除的行未参与计算；有标记的行" +
             ("参与计算" if data.manifest.get("parameters", {}).get("keep_flagged") else
              "按设置未参与计算") + "。",
             "Rejected rows are not used; flagged rows are " +
             ("used" if data.manifest.get("parameters", {}).get("keep_flagged") else
              "left out, as configured") + "."),
        sheet=pick(lang, "输入检查", "Input checks"), row_formats=formats)


def source_table(data: RunData, lang: str) -> ReportTable:
    """Each zone layer: zones, source and accuracy, and whether it is approximate."""
    rows = {}
    for layer in data.layers:
        zones = data.zones[layer]
        sources = "; ".join(sorted(map(str, zones["source"].dropna().unique()))) \
            if "source" in zones else ""
        accuracy = "; ".join(sorted(map(str, zones["accuracy"].dropna().unique()))) \
            if "accuracy" in zones else ""
        approximate = "approx" in accuracy.lower() or "近似" in accuracy
        rows[layer] = {"layer": layer_title(data, layer, lang), "zones": len(zones),
                       "source": sources, "accuracy": accuracy,
                       "approximate": pick(lang, "是", "yes") if approximate else
                       pick(lang, "否", "no")}
    frame = pd.DataFrame.from_dict(rows, orient="index")
    return ReportTable(
        "sources", pick(lang, "空间单元图层的来源与精度", "Zone layers: sources and accuracy"),
        frame,
        [Column("layer", pick(lang, "图层", "Layer")),
         Column("zones", pick(lang, "单元数", "Zones"), "int"),
         Column("source", pick(lang, "来源", "Source")),
         Column("accuracy", pick(lang, "精度", "Accuracy")),
         Column("approximate", pick(lang, "近似范围", "Approximate"))],
        pick(lang, "在中国公开出版或展示的地图须送审并标注审图号；本报告中的地图仅供研究参考，"
                   "近似范围的图层不可用作法定边界。",
             "Maps published or displayed in China need a map review number (审图号); the "
             "maps here are for study only, and approximate layers are not legal boundaries."),
        sheet=pick(lang, "图层来源", "Layer sources"))


def parameter_table(data: RunData, lang: str) -> ReportTable:
    """Parameters and seeds that reproduce the run."""
    p = data.manifest.get("parameters", {})
    d = data.manifest.get("distance", {})
    keys = [
        ("analysis_crs", pick(lang, "分析坐标系", "Analysis CRS")),
        ("grid", pick(lang, "网格", "Grid")),
        ("weighting", pick(lang, "加权方式", "Weighting")),
        ("groups", pick(lang, "行业分组", "Industry groups")),
        ("distance_nsim", pick(lang, "距离函数模拟次数", "Distance-function simulations")),
        ("permutations", pick(lang, "局部统计置换次数", "Permutations (local statistics)")),
        ("min_cluster_size", pick(lang, "最小集群规模（家）", "Minimum cluster size (firms)")),
        ("density_bandwidth", pick(lang, "核密度带宽（m）", "Kernel density bandwidth (m)")),
        ("site_k", pick(lang, "拟建集聚区数", "Zones to propose")),
        ("site_radius", pick(lang, "服务半径（m）", "Service radius (m)")),
        ("site_method", pick(lang, "选址模型", "Siting model")),
        ("seed", pick(lang, "随机种子", "Random seed")),
    ]
    rows = [(k, name, p.get(k), "text") for k, name in keys if k in p]
    if d:
        rows += [("k_rmax_m", pick(lang, "交叉 L 最大距离（m）", "Cross-L maximum distance (m)"),
                  d.get("k_rmax_m"), "text"),
                 ("kd_rmax_m", pick(lang, "Kd 最大距离（m）", "Kd maximum distance (m)"),
                  d.get("kd_rmax_m"), "text"),
                 ("points_used", pick(lang, "距离函数所用企业数", "Firms used by K and Kd"),
                  d.get("points_used_for_k_and_kd"), "int")]
    rows.append(("version", pick(lang, "geo 版本", "geo version"),
                 data.manifest.get("versions", {}).get("geo"), "text"))
    rows.append(("created", pick(lang, "运行时间", "Run at"), data.manifest.get("created"), "text"))
    frame, formats = _items([(k, n, "" if v is None else str(v) if f == "text" else v, f)
                             for k, n, v, f in rows])
    return ReportTable(
        "parameters", pick(lang, "参数与随机种子", "Parameters and seeds"), frame,
        [Column("item", pick(lang, "参数", "Parameter")),
         Column("value", pick(lang, "取值", "Value"))],
        pick(lang, "同一输入、同一参数与种子得到相同结果；完整记录见 manifest.json。",
             "The same input, parameters and seeds give the same results; manifest.json holds "
             "the full record."),
        sheet=pick(lang, "参数", "Parameters"), row_formats=formats)
