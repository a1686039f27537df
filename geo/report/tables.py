"""The report's tables, in wide form, built from a run folder's long tables.

Every builder takes :class:`~geo.report.data.RunData` and the report's language
and returns a :class:`~geo.report.table.ReportTable` (or ``None`` when the run
did not compute what it shows). Nothing is recomputed here that ``geo run``
computed; ranks, flags and envelope ranges are read off the run's values.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from geo.function_outputs import envelope_runs
from geo.io.industry import FIELDS, label
from geo.messages import pick
from geo.report.data import BASE_A, BASE_B, GRID_LAYER, RunData
from geo.report.table import Column, ReportTable, format_value

PAIR = f"{BASE_A}__{BASE_B}"
# flags (stated in the reading guide): C' resting on one industry, and small numbers
ONE_SIDED_LQ = 0.5
FEW_FIRMS = 20
EG_LOW, EG_HIGH = 0.02, 0.05  # Ellison & Glaeser (1997, p. 909): not / highly localised


def fields_of(data: RunData) -> list[str]:
    """Producer-service fields the run has indices for, in the classification's order."""
    groups = set(data.measures["group"].unique())
    return [f for f in FIELDS if f in groups and f != "other_ps"]


def name_column(lang: str) -> str:
    """Return the zone-name column of the report's language."""
    return "name_zh" if lang == "zh" else "name_en"


def layer_title(data: RunData, layer: str, lang: str) -> str:
    """Name a zone layer for headings: the bundled layers by their Chinese/English names."""
    known = {"districts": ("区县", "Districts"), "platforms": ("重点平台", "Platforms"),
             "towns": ("特色小镇", "Characteristic towns")}
    return pick(lang, *known[layer]) if layer in known else layer


def weight_unit(data: RunData, lang: str) -> str:
    """Name the unit of the zone weights: firms, or the weight column the indices used."""
    if data.weighting == "count":
        return pick(lang, "家", "firms")
    return pick(lang, f"权重：{data.weighting}", f"weight: {data.weighting}")


def wide_measures(data: RunData, layer: str) -> pd.DataFrame:
    """Zone x (group, measure) values of one layer, every zone of the layer included."""
    long = data.measures[data.measures["layer"] == layer]
    wide = long.pivot_table(index="zone_id", columns=["group", "measure"], values="value",
                            aggfunc="first", dropna=False)
    wide.columns = [f"{g}:{m}" for g, m in wide.columns]
    zones = data.zones[layer].set_index("zone_id")
    wide = wide.reindex(zones.index)
    wide["name_zh"] = zones["name_zh"].astype(str)
    wide["name_en"] = zones["name_en"].astype(str) if "name_en" in zones else wide["name_zh"]
    return wide


def measure(wide: pd.DataFrame, key: str) -> pd.Series:
    """Column ``group:measure`` of :func:`wide_measures`, all missing when the run has none."""
    return wide[key] if key in wide else pd.Series(np.nan, index=wide.index)


def total_weight(wide: pd.DataFrame) -> pd.Series:
    """Firms (weight) of every group in a zone, from a group's weight and share."""
    totals = []
    for group in (BASE_A, BASE_B):
        weight, share = measure(wide, f"{group}:weight"), measure(wide, f"{group}:share")
        totals.append(weight / share.where(share > 0))
    return pd.concat(totals, axis=1).max(axis=1).round(6)


def rank_desc(values: pd.Series) -> pd.Series:
    """Rank, 1 for the largest; ties share the best rank; missing values stay unranked."""
    return values.rank(ascending=False, method="min").astype("Int64")


def _flags(frame: pd.DataFrame, lang: str, counted: bool) -> pd.Series:
    """Warnings per zone: C' resting on one industry, or too few firms for a stable index."""
    level_median = frame["level"].median()
    out = []
    for _, row in frame.iterrows():
        notes = []
        lq_m, lq_s = row["lq_m"], row["lq_s"]
        if pd.notna(lq_m) and pd.notna(lq_s) and min(lq_m, lq_s) < ONE_SIDED_LQ \
                and pd.notna(row["level"]) and row["level"] >= level_median:
            which = pick(lang, "制造业", "manufacturing") if lq_m < lq_s else \
                pick(lang, "生产性服务业", "producer-service")
            low = format_value(min(lq_m, lq_s), "f2")
            notes.append(pick(lang, f"C′ 偏高主要来自单一产业：{which} LQ 仅 {low}",
                              f"high C′ rests on one industry: {which} LQ only {low}"))
        if counted:
            small = [(n, w) for n, w in ((pick(lang, "制造业", "manufacturing"), row["w_m"]),
                                         (pick(lang, "生产性服务业", "producer services"),
                                          row["w_s"])) if pd.notna(w) and w < FEW_FIRMS]
            if small:
                text = pick(lang, "、", ", ").join(f"{n} {format_value(w, 'int')}"
                                                   for n, w in small)
                notes.append(pick(lang, f"企业少（{text} 家），指数不稳定",
                                  f"few firms ({text}): the indices are unstable"))
        out.append(pick(lang, "；", "; ").join(notes))
    return pd.Series(out, index=frame.index, dtype=object)


def zone_table(data: RunData, layer: str, lang: str) -> ReportTable:
    """Zones of one layer by firms, LQs, C and C′, with ranks and warnings, sorted by C."""
    wide = wide_measures(data, layer)
    unit = weight_unit(data, lang)
    frame = pd.DataFrame({
        "name": wide[name_column(lang)],
        "firms": total_weight(wide),
        "w_m": measure(wide, f"{BASE_A}:weight"),
        "w_s": measure(wide, f"{BASE_B}:weight"),
        "lq_m": measure(wide, f"{BASE_A}:lq"),
        "lq_s": measure(wide, f"{BASE_B}:lq"),
        "quality": measure(wide, f"{PAIR}:coagg_quality"),
        "level": measure(wide, f"{PAIR}:coagg_level"),
    })
    frame["rank_quality"] = rank_desc(frame["quality"])
    frame["rank_level"] = rank_desc(frame["level"])
    frame["flag"] = _flags(frame, lang, data.weighting == "count")
    frame = frame.sort_values(["quality", "name"], ascending=[False, True], na_position="last")
    title = layer_title(data, layer, lang)
    columns = [
        Column("name", pick(lang, "名称", "Name")),
        Column("firms", pick(lang, "企业总数", "All firms"), "int", unit),
        Column("w_m", pick(lang, "制造业", "Manufacturing"), "int", unit),
        Column("w_s", pick(lang, "生产性服务业", "Producer services"), "int", unit),
        Column("lq_m", pick(lang, "制造业区位熵 LQ", "Manufacturing LQ"), "f2"),
        Column("lq_s", pick(lang, "生产性服务业区位熵 LQ", "Producer-service LQ"), "f2"),
        Column("quality", pick(lang, "协同集聚质量 C", "Co-agglomeration quality C"), "f3"),
        Column("level", pick(lang, "协同集聚水平 C′", "Co-agglomeration level C′"), "f3"),
        Column("rank_quality", pick(lang, "C 排名", "Rank by C"), "int"),
        Column("rank_level", pick(lang, "C′ 排名", "Rank by C′"), "int"),
        Column("flag", pick(lang, "提示", "Flag")),
    ]
    note = pick(
        lang,
        f"制造业与生产性服务业的区位熵与协同集聚指数（{data.weighting} 加权），按 C 从高到低排列；"
        f"参照区为全部研究区。“提示”列标出 C′ 主要来自单一产业（较小的 LQ < {ONE_SIDED_LQ}"
        f" 且 C′ 不低于中位数）和企业少于 {FEW_FIRMS} 家的行。",
        f"Location quotients and co-agglomeration indices of manufacturing and producer "
        f"services ({data.weighting}-weighted), sorted by C; the reference is the whole study "
        f"area. The flag marks rows whose C′ rests on one industry (the smaller LQ "
        f"< {ONE_SIDED_LQ} and C′ at or above the median) and zones with fewer than "
        f"{FEW_FIRMS} firms of a group.")
    return ReportTable(f"zones_{layer}", pick(lang, f"{title}：区位熵与两业协同集聚",
                                              f"{title}: location quotients and "
                                              "co-agglomeration"),
                       frame, columns, note, sheet=title[:31], flag="flag",
                       extra={"layer": layer})


def field_table(data: RunData, layer: str, lang: str) -> ReportTable | None:
    """C of manufacturing with each producer-service field, zones of one layer."""
    fields = fields_of(data)
    if not fields:
        return None
    wide = wide_measures(data, layer)
    frame = pd.DataFrame({"name": wide[name_column(lang)]})
    lq_m = measure(wide, f"{BASE_A}:lq")
    flags: dict[str, list[str]] = {zone: [] for zone in wide.index}
    for f in fields:
        frame[f"lq_{f}"] = measure(wide, f"{f}:lq")
        frame[f"c_{f}"] = measure(wide, f"{BASE_A}__{f}:coagg_quality")
        level = measure(wide, f"{BASE_A}__{f}:coagg_level")
        frame[f"level_{f}"] = level
        # the rule of the zone table, per field: a high C' that rests on one industry
        smaller = pd.concat([lq_m, frame[f"lq_{f}"]], axis=1).min(axis=1)
        one_sided = (smaller < ONE_SIDED_LQ) & (level >= level.median())
        for zone in frame.index[one_sided.fillna(False).to_numpy(bool)]:
            flags[zone].append(label(f, lang))
    frame["flag"] = [pick(lang, "C′ 偏高主要来自单一产业：" + "、".join(names),
                          "high C′ rests on one industry: " + ", ".join(names))
                     if names else "" for names in flags.values()]
    frame = frame.sort_values("name")
    columns = [Column("name", pick(lang, "名称", "Name"))]
    for f in fields:
        columns.append(Column(f"lq_{f}", pick(lang, f"{label(f, 'zh')} LQ",
                                              f"{label(f, 'en')} LQ"), "f2"))
    for f in fields:
        columns.append(Column(f"c_{f}", pick(lang, f"制造业×{label(f, 'zh')} C",
                                             f"Manufacturing × {label(f, 'en').lower()} C"), "f3"))
    for f in fields:
        columns.append(Column(f"level_{f}", pick(lang, f"制造业×{label(f, 'zh')} C′",
                                                 f"Manufacturing × {label(f, 'en').lower()} C′"),
                              "f3"))
    columns.append(Column("flag", pick(lang, "提示", "Flag")))
    title = layer_title(data, layer, lang)
    return ReportTable(
        f"fields_{layer}",
        pick(lang, f"{title}：各生产性服务领域的区位熵及其与制造业的协同集聚质量",
             f"{title}: LQ of each producer-service field and its co-agglomeration "
             "quality with manufacturing"),
        frame, columns,
        pick(lang, "C = 1 − |LQ制造业 − LQ领域| / (LQ制造业 + LQ领域)，C′ = C + LQ制造业 + LQ领域；"
                   f"“提示”列标出 C′ 不低于中位数而较小的 LQ < {ONE_SIDED_LQ} 的领域。",
             "C = 1 − |LQ manufacturing − LQ field| / (LQ manufacturing + LQ field), C′ = C + "
             f"LQ manufacturing + LQ field; the flag names fields whose C′ is at or above the "
             f"median while the smaller LQ < {ONE_SIDED_LQ}."),
        sheet=pick(lang, f"{title}分领域", f"{title} fields")[:31], flag="flag",
        extra={"layer": layer})


def eg_table(data: RunData, lang: str) -> ReportTable:
    """EG γ of the two groups and γc within and across them, per zone layer."""
    coagg = data.coagglomeration.set_index(["layer", "set"])
    groups = data.industry[data.industry["kind"] == "group"].set_index(["layer", "industry"])
    both = f"{BASE_A}+{BASE_B}"
    rows = {}
    for layer in [*data.layers, *data.grids]:
        def pick_value(table: pd.DataFrame, key: tuple, column: str) -> float:
            return float(table.at[key, column]) if key in table.index else np.nan

        gamma_c = pick_value(coagg, (layer, both), "gamma_c")
        rows[layer] = {
            "layer": pick(lang, "网格", "Grid cells") if layer == GRID_LAYER
            else layer_title(data, layer, lang),
            "gamma_m": pick_value(groups, (layer, BASE_A), "eg_gamma"),
            "gamma_s": pick_value(groups, (layer, BASE_B), "eg_gamma"),
            "gamma_c_m": pick_value(coagg, (layer, BASE_A), "gamma_c"),
            "gamma_c_s": pick_value(coagg, (layer, BASE_B), "gamma_c"),
            "gamma_c": gamma_c,
            "reading": eg_reading(gamma_c, lang),
        }
    frame = pd.DataFrame.from_dict(rows, orient="index")
    columns = [
        Column("layer", pick(lang, "空间单元", "Zones")),
        Column("gamma_m", pick(lang, "制造业 EG γ", "Manufacturing EG γ"), "f4"),
        Column("gamma_s", pick(lang, "生产性服务业 EG γ", "Producer-service EG γ"), "f4"),
        Column("gamma_c_m", pick(lang, "制造业内部 γc", "γc within manufacturing"), "f4"),
        Column("gamma_c_s", pick(lang, "生产性服务业内部 γc", "γc within producer services"),
               "f4"),
        Column("gamma_c", pick(lang, "两业之间 γc", "γc of both groups"), "f4"),
        Column("reading", pick(lang, "解读（γc）", "Reading (γc)")),
    ]
    return ReportTable(
        "eg", pick(lang, "Ellison–Glaeser 集聚与协同集聚指数", "Ellison–Glaeser agglomeration "
                   "and co-agglomeration indices"),
        frame, columns,
        pick(lang, f"γ 与 γc 按 Ellison & Glaeser (1997) 第 5、9 式计算；{EG_LOW} 与 {EG_HIGH}"
                   " 为原文的弱、强集聚分界。",
             f"γ and γc by Ellison & Glaeser (1997) eqs. 5 and 9; {EG_LOW} and {EG_HIGH} are "
             "the paper's bounds of weak and strong localisation."),
        sheet="EG")


def eg_reading(gamma: float, lang: str) -> str:
    """Read an EG index by the bounds of Ellison & Glaeser (1997).

    Examples
    --------
    >>> eg_reading(-0.001, "en")
    'slightly below 0: no evidence of locating together (close to random)'
    """
    if not np.isfinite(gamma):
        return "—"
    if gamma < -EG_LOW:
        return pick(lang, f"小于 −{EG_LOW}：彼此回避，比随机布局更分散",
                    f"below −{EG_LOW}: apart, more dispersed than random location")
    if gamma < 0:
        return pick(lang, "略小于 0：没有共同布局的证据（接近随机）",
                    "slightly below 0: no evidence of locating together (close to random)")
    if gamma < EG_LOW:
        return pick(lang, f"0 至 {EG_LOW}：弱集聚", f"0 to {EG_LOW}: weak")
    if gamma <= EG_HIGH:
        return pick(lang, f"{EG_LOW} 至 {EG_HIGH}：中等集聚", f"{EG_LOW} to {EG_HIGH}: moderate")
    return pick(lang, f"大于 {EG_HIGH}：强集聚", f"above {EG_HIGH}: strong")


def _span(runs: list[tuple[float, float, bool]], lang: str) -> str:
    if not runs:
        return "—"
    km = [(format_value(a / 1000, "f2"), format_value(b / 1000, "f2"), first)
          for a, b, first in runs[:2]]
    return pick(lang, "、", ", ").join(f"≤ {b}" if first else f"{a}–{b}" for a, b, first in km)


def distance_table(data: RunData, lang: str) -> ReportTable | None:
    """Per field: distances where manufacturing co-locates with it more (or less) than chance."""
    from geo.function_outputs import function_reading

    functions = {(f.name, f.parameters.get("b")): f for f in data.functions
                 if f.parameters.get("a") == BASE_A}
    if not functions:
        return None
    colocation = data.colocation.set_index(["a", "b"]) if data.colocation is not None else None
    rows = {}
    for b in [BASE_B, *FIELDS]:
        lcross, kd = functions.get(("Lcross", b)), functions.get(("Kd_bilateral", b))
        if lcross is None and kd is None:
            continue
        row = {"field": label(b, lang)}
        for key, result in (("l", lcross), ("kd", kd)):
            runs = envelope_runs(result) if result is not None else {"above": [], "below": []}
            row[f"{key}_above"], row[f"{key}_below"] = (_span(runs["above"], lang),
                                                        _span(runs["below"], lang))
        known = colocation is not None and (BASE_A, b) in colocation.index
        for key, column in (("clq", "clq"), ("clq_p", "p_colocation")):  # p: only with nsim > 0
            row[key] = float(colocation.at[(BASE_A, b), column]) \
                if known and column in colocation.columns else np.nan
        row["reading"] = function_reading(lcross or kd, lang)
        rows[b] = row
    frame = pd.DataFrame.from_dict(rows, orient="index")
    km = "km"
    columns = [
        Column("field", pick(lang, "生产性服务领域", "Producer-service field")),
        Column("l_above", pick(lang, "交叉 L 高于包络线", "Cross-L above envelope"), unit=km),
        Column("l_below", pick(lang, "交叉 L 低于包络线", "Cross-L below envelope"), unit=km),
        Column("kd_above", pick(lang, "Kd 高于包络线", "Kd above envelope"), unit=km),
        Column("kd_below", pick(lang, "Kd 低于包络线", "Kd below envelope"), unit=km),
        Column("clq", pick(lang, "共位商 CLQ（制造业→该领域）",
                           "CLQ (manufacturing → field)"), "f2"),
        Column("clq_p", pick(lang, "CLQ 共位检验 p 值", "CLQ p-value (co-location)"), "f3"),
        Column("reading", pick(lang, "解读（交叉 L）", "Reading (cross-L)")),
    ]
    nsim = data.manifest.get("distance", {}).get("nsim")
    return ReportTable(
        "distance", pick(lang, "制造业与生产性服务业的距离函数与共位商",
                         "Distance functions and co-location quotients of manufacturing "
                         "with producer services"),
        frame, columns,
        pick(lang, f"“≤ x”表示从最小距离直到 x km；包络线来自 {nsim} 次随机标记模拟（逐点）。"
                   "高于包络线：比随机更靠近（共位）；低于：更分离。",
             f"“≤ x” means from the smallest distance up to x km; envelopes from {nsim} "
             "random-labelling simulations (pointwise). Above the envelope: closer than "
             "chance (co-location); below: apart."),
        sheet=pick(lang, "距离函数", "Distance functions"))
