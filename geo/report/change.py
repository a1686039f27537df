"""Tables of a panel by year (``geo run --years``): change per zone, entrants, clusters."""

from __future__ import annotations

import numpy as np
import pandas as pd

from geo.io.industry import label
from geo.messages import pick
from geo.report.data import RunData
from geo.report.table import Column, ReportTable
from geo.report.tables import layer_title

CHANGE_LAYERS = ("districts", "platforms")
_STATUS = {"appeared": ("新出现", "appeared"), "grew": ("扩大", "grew"),
           "stable": ("稳定", "stable"), "merged": ("合并", "merged"),
           "split": ("分裂", "split"), "shrank": ("缩小", "shrank"),
           "vanished": ("消失", "vanished")}


def years(data: RunData) -> tuple[str, str] | None:
    """First and last year of the run's panel, or None without one."""
    panel = data.manifest.get("panel")
    return (str(panel["years"][0]), str(panel["years"][-1])) if panel else None


def change_table(data: RunData, layer: str, lang: str) -> ReportTable | None:
    """C, C′ and the LQs of each zone in the first and last year, their change and p-values."""
    span = years(data)
    changes = data.panel.get("changes")
    if span is None or changes is None:
        return None
    first, last = span
    part = changes[changes["layer"] == layer].set_index("zone_id")
    if part.empty:
        return None
    names = data.zones[layer].set_index(data.zones[layer]["zone_id"].astype(str))
    column = "name_zh" if lang == "zh" else "name_en"
    frame = pd.DataFrame({
        "name": names[column if column in names else "name_zh"].reindex(part.index).astype(str),
        "c_first": part[f"quality_{first}"], "c_last": part[f"quality_{last}"],
        "d_quality": part["d_quality"], "p_quality": part["p_quality"],
        "d_lq_m": part["d_lq_manufacturing"], "p_lq_m": part["p_lq_manufacturing"],
        "d_lq_s": part["d_lq_producer_services"], "p_lq_s": part["p_lq_producer_services"],
        "rank_change": part["rank_change"],
    })
    frame = frame.sort_values(["d_quality", "name"], ascending=[False, True], na_position="last")
    columns = [
        Column("name", pick(lang, "名称", "Name")),
        Column("c_first", f"C {first}", "f3"),
        Column("c_last", f"C {last}", "f3"),
        Column("d_quality", "ΔC", "f3"),
        Column("p_quality", pick(lang, "ΔC 的 p 值", "p of ΔC"), "f3"),
        Column("d_lq_m", pick(lang, "制造业 ΔLQ", "Manufacturing ΔLQ"), "f2"),
        Column("p_lq_m", pick(lang, "p 值", "p"), "f3"),
        Column("d_lq_s", pick(lang, "生产性服务业 ΔLQ", "Producer-service ΔLQ"), "f2"),
        Column("p_lq_s", pick(lang, "p 值", "p"), "f3"),
        Column("rank_change", pick(lang, "C 排名变化（正为上升）", "Rank change by C (+: up)"),
               "int"),
    ]
    title = layer_title(data, layer, lang)
    permutations = data.manifest["panel"].get("permutations")
    return ReportTable(
        f"change_{layer}", pick(lang, f"{title}：{first}–{last} 年两业协同集聚的变化",
                                f"{title}: change of co-agglomeration, {first}–{last}"),
        frame, columns,
        pick(lang, f"p 值来自 {permutations} 次随机重分配（把两年的企业合并后随机分成两年），"
                   "双侧；p ≤ 0.05 的变化不太可能由偶然造成。按 ΔC 从大到小排列。",
             f"p-values from {permutations} random relabellings of the pooled firm-years of "
             "the two years, two-sided; a change with p ≤ 0.05 is unlikely to be chance. "
             "Sorted by ΔC."),
        sheet=pick(lang, f"{title}变化", f"{title} change")[:31], extra={"layer": layer})


def entrant_table(data: RunData, lang: str) -> ReportTable | None:
    """Entrant ratio of new producer services to incumbent manufacturing: all, fields, platforms."""
    span = years(data)
    entrants = data.panel.get("entrants")
    if span is None or entrants is None:
        return None
    part = entrants[entrants["scope"].isin(["all", "field", "platforms"])].copy()
    names = []
    given = part["name"] if "name" in part else pd.Series("", index=part.index)
    for scope, key, name in zip(part["scope"], part["key"], given, strict=True):
        if scope == "platforms":
            names.append(str(name) if isinstance(name, str) and name else str(key))
        else:
            names.append(label(str(key), lang) if key != "other_ps" else
                         pick(lang, "其他生产性服务", "other producer services"))
    scope_names = {"all": pick(lang, "全部", "all"), "field": pick(lang, "领域", "field"),
                   "platforms": pick(lang, "平台", "platform")}
    frame = pd.DataFrame({
        "scope": part["scope"].map(scope_names).to_numpy(), "name": names,
        "n": part["n_entrants"].to_numpy(), "ratio": part["ratio"].to_numpy(),
        "p": part["p_value"].to_numpy(), "clq": part["clq"].to_numpy(),
    }, index=[f"{s}:{k}" for s, k in zip(part["scope"], part["key"], strict=True)])
    first, last = span
    return ReportTable(
        "entrants", pick(lang, f"{int(first) + 1}–{last} 年新设生产性服务业企业与既有制造业的共位",
                         f"New producer-service firms of {int(first) + 1}–{last} next to "
                         "incumbent manufacturing"),
        frame,
        [Column("scope", pick(lang, "范围", "Scope")), Column("name", pick(lang, "名称", "Name")),
         Column("n", pick(lang, "新设企业", "Entrants"), "int", pick(lang, "家", "firms")),
         Column("ratio", pick(lang, "共位比 R（1 为随机）", "Entrant ratio R (1: chance)"), "f2"),
         Column("p", pick(lang, "p 值（R > 1）", "p (R > 1)"), "f3"),
         Column("clq", "CLQ", "f2")],
        pick(lang, "R = 新设企业最近邻中制造业的平均占比 / 全部生产性服务业企业的该占比；"
                   "零假设把新设企业随机放到生产性服务业企业的位置上。R = 1.5 即“比随机多 50%”。",
             "R = the share of manufacturing among the entrants' nearest neighbours over that "
             "of all producer-service firms; the null relocates the entrants among the "
             "producer-service sites. R = 1.5 reads “50 % more than chance”."),
        sheet=pick(lang, "新设企业共位", "Entrants"))


def cluster_change_table(data: RunData, lang: str) -> ReportTable | None:
    """How many clusters appeared, grew, shrank or vanished between the two years."""
    span = years(data)
    clusters = data.panel.get("clusters")
    if span is None or clusters is None:
        return None
    counts = clusters["status"].value_counts()
    rows = [(key, pick(lang, *names), int(counts.get(key, 0))) for key, names in _STATUS.items()]
    frame = pd.DataFrame({"item": [r[1] for r in rows], "value": [r[2] for r in rows]},
                         index=[r[0] for r in rows])
    first, last = span
    return ReportTable(
        "cluster_change", pick(lang, f"生产性服务业集群的变化（{first} → {last}）",
                               f"Producer-service clusters, {first} → {last}"),
        frame,
        [Column("item", pick(lang, "变化", "Change")),
         Column("value", pick(lang, "集群数", "Clusters"), "int")],
        pick(lang, "两年的集群按范围重叠（占较小者面积 25% 以上）对应；"
                   "企业数变化超过 10% 为扩大或缩小。",
             "Clusters of the two years are matched when they share 25 % of the smaller area; "
             "a change of more than 10 % of the firms is growth or shrinkage."),
        sheet=pick(lang, "集群变化", "Cluster change"))


def biggest_change(table: ReportTable) -> str | None:
    """Row of the largest significant change of C (p <= 0.05), or None."""
    frame = table.frame
    significant = frame[(frame["p_quality"] <= 0.05) & np.isfinite(frame["d_quality"])]
    if significant.empty:
        return None
    return str(significant["d_quality"].abs().idxmax())
